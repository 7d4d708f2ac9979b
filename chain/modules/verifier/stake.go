package verifier

import (
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/verifier"
)

func (m *Module) registerVerifier(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	if s.U64(vIndexSlot(call.Caller)) != 0 || !s.U256(vStakeSlot(call.Caller)).IsZero() {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("AlreadyVerifier", call.Caller)
	}
	min := s.U256(metisvm.SlotAt(slotParams, 6))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if call.Value.Lt(min) || call.Value.IsZero() {
		return nil, call.Revert("InsufficientStake", bigOf(call.Value), bigOf(min))
	}
	s.SetU256(vStakeSlot(call.Caller), call.Value)
	n := s.U64(slotVCount)
	s.SetAddr(vListSlot(n), call.Caller)
	s.SetU64(slotVCount, n+1)
	s.SetU64(vIndexSlot(call.Caller), n+1)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("VerifierRegistered", call.Caller, bigOf(call.Value)))
	}
	return nil, s.Err()
}

func (m *Module) unregisterVerifier(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	idx := s.U64(vIndexSlot(call.Caller))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if idx == 0 {
		return nil, call.Revert("NotVerifier", call.Caller)
	}
	n := s.U64(slotVCount)
	if last := n - 1; idx-1 != last {
		moved := s.Addr(vListSlot(last))
		s.SetAddr(vListSlot(idx-1), moved)
		s.SetU64(vIndexSlot(moved), idx)
	}
	s.SetAddr(vListSlot(n-1), common.Address{})
	s.SetU64(slotVCount, n-1)
	s.SetU64(vIndexSlot(call.Caller), 0)
	ready := call.BlockNumber + s.U64(metisvm.SlotAt(slotParams, 7))
	s.SetU64(vReadySlot(call.Caller), ready)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("VerifierUnbonding", call.Caller, ready))
	}
	return nil, s.Err()
}

func (m *Module) withdrawVerifierStake(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	st := s.U256(vStakeSlot(call.Caller))
	idx := s.U64(vIndexSlot(call.Caller))
	ready := s.U64(vReadySlot(call.Caller))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if idx != 0 || st.IsZero() {
		return nil, call.Revert("NotVerifier", call.Caller)
	}
	if call.BlockNumber < ready {
		return nil, call.Revert("StillUnbonding", ready, call.BlockNumber)
	}
	s.SetU256(vStakeSlot(call.Caller), new(uint256.Int))
	s.SetU64(vReadySlot(call.Caller), 0)
	if s.Err() == nil {
		s.Fail(call.Transfer(call.Caller, st))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("VerifierWithdrawn", call.Caller, bigOf(st)))
	}
	return nil, s.Err()
}

func (m *Module) setParams(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	p := *abi.ConvertType(args[0], new(verifier.Params)).(*verifier.Params)
	if !validParams(p) {
		return nil, call.Revert("BadParams")
	}
	s := store.New(call)
	writeParams(s, p)
	return nil, s.Err()
}

// Views.

func (m *Module) viewParams(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{readParams(s)}, s.Err()
}

func (m *Module) viewTaskCount(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{idBig(s.U64(slotTaskCount))}, s.Err()
}

func (m *Module) viewTask(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	id, meta, err := loadTask(call, s, idb)
	if err != nil {
		return nil, err
	}
	info := verifier.TaskInfo{
		Id: idb, Requester: s.Addr(taskWord(id, tRequester)), ModelClassId: bigOf(s.U256(taskWord(id, tClass))),
		ModelDigest: s.Word(taskWord(id, tModelDigest)), InputDigest: s.Word(taskWord(id, tInputDigest)),
		Mode: meta.mode, Fee: bigOf(s.U256(taskWord(id, tFee))), Deadline: meta.deadline, Status: meta.status,
		Prover: s.Addr(taskWord(id, tProver)), OutputDigest: s.Word(taskWord(id, tOutputDigest)),
		TraceRoot: s.Word(taskWord(id, tTraceRoot)), Steps: s.U64(taskWord(id, tSteps)),
		ProverBond: bigOf(s.U256(taskWord(id, tBond))), WindowEnd: meta.windowEnd,
		Verifiers: []common.Address{}, Approvals: meta.approvals, Rejections: meta.rejections,
		DisputeId: idBig(s.U64(taskWord(id, tDispute))), OutputTokensHash: s.Word(taskWord(id, tOutput)),
	}
	for i, n := uint64(0), s.U64(taskWord(id, tVerifiers)); i < n && s.Err() == nil; i++ {
		info.Verifiers = append(info.Verifiers, s.Addr(taskVerifierSlot(id, i)))
	}
	return []any{info}, s.Err()
}

func (m *Module) viewDispute(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	n := s.U64(slotDisputeCount)
	if err := s.Err(); err != nil {
		return nil, err
	}
	if !idb.IsUint64() || idb.Uint64() == 0 || idb.Uint64() > n {
		return nil, call.Revert("UnknownDispute", idb)
	}
	d := idb.Uint64()
	r := rangeOf(s.Word(disputeWord(d, dRange)))
	flags := s.U64(disputeWord(d, dFlags))
	info := verifier.DisputeInfo{
		Id: idb, TaskId: idBig(s.U64(disputeWord(d, dTask))), Challenger: s.Addr(disputeWord(d, dChallenger)),
		Bond: bigOf(s.U256(disputeWord(d, dBond))), Lo: r.lo, Hi: r.hi, Node: s.Word(disputeWord(d, dNode)),
		ProverToMove: flags&flagProverToMove != 0, MoveDeadline: r.deadline,
		ProverMoves: r.proverMoves, ChallengerMoves: r.challengerMoves,
		Resolved: flags&flagResolved != 0, ProverWon: flags&flagProverWon != 0,
		OutputToken: flags&flagToken != 0, TokenIndex: s.U64(disputeWord(d, dToken)),
	}
	return []any{info}, s.Err()
}

func (m *Module) viewVerifiers(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	n := s.U64(slotVCount)
	out := make([]common.Address, 0, min(n, 4096))
	for i := uint64(0); i < n && s.Err() == nil; i++ {
		out = append(out, s.Addr(vListSlot(i)))
	}
	return []any{out}, s.Err()
}

func (m *Module) viewVerifierStake(call *metisvm.Call, args []any) ([]any, error) {
	a := args[0].(common.Address)
	s := store.New(call)
	return []any{bigOf(s.U256(vStakeSlot(a))), s.U64(vReadySlot(a)), s.U64(vIndexSlot(a)) != 0}, s.Err()
}
