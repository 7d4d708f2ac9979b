package verifier

import (
	"math/big"

	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

func (m *Module) challenge(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	id, meta, err := loadTask(call, s, idb)
	if err != nil {
		return nil, err
	}
	if meta.mode != uint8(verifier.ModeOptimistic) || meta.status != uint8(verifier.StatusSubmitted) {
		return nil, wrongStatus(call, id, meta)
	}
	if call.BlockNumber > meta.windowEnd {
		return nil, call.Revert("WindowClosed", meta.windowEnd, call.BlockNumber)
	}
	p := readParams(s)
	if call.Value.ToBig().Cmp(p.MinChallengerBond) < 0 {
		return nil, call.Revert("BadBond", bigOf(call.Value), p.MinChallengerBond)
	}
	if call.Caller == s.Addr(taskWord(id, tProver)) {
		return nil, metisvm.RevertReason("verifier: a prover cannot challenge itself")
	}
	r := disputeRange{lo: 0, hi: s.U64(taskWord(id, tSteps)), deadline: call.BlockNumber + p.MoveTimeout, challengerMoves: 1}
	d := m.openDispute(s, call, id, meta, r, s.Word(taskWord(id, tTraceRoot)), 0)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Challenged", idb, idBig(d), call.Caller, bigOf(call.Value)))
	}
	return []any{idBig(d)}, s.Err()
}

// loadMove checks that dispute idb is running, that the caller is the side to move (prover:
// wantProver), and that its deadline has not passed.
func loadMove(call *metisvm.Call, s *store.S, idb *big.Int, wantProver bool) (uint64, uint64, disputeRange, error) {
	n := s.U64(slotDisputeCount)
	if err := s.Err(); err != nil {
		return 0, 0, disputeRange{}, err
	}
	if !idb.IsUint64() || idb.Uint64() == 0 || idb.Uint64() > n {
		return 0, 0, disputeRange{}, call.Revert("UnknownDispute", idb)
	}
	d := idb.Uint64()
	task := s.U64(disputeWord(d, dTask))
	flags := s.U64(disputeWord(d, dFlags))
	r := rangeOf(s.Word(disputeWord(d, dRange)))
	mover := s.Addr(disputeWord(d, dChallenger))
	if wantProver {
		mover = s.Addr(taskWord(task, tProver))
	}
	if err := s.Err(); err != nil {
		return 0, 0, r, err
	}
	if flags&flagResolved != 0 {
		return 0, 0, r, call.Revert("BadMove", "the dispute is resolved")
	}
	if (flags&flagProverToMove != 0) != wantProver || call.Caller != mover {
		return 0, 0, r, call.Revert("NotYourMove", idb, call.Caller)
	}
	if call.BlockNumber > r.deadline {
		return 0, 0, r, call.Revert("MoveTimedOut", idb, r.deadline)
	}
	return d, task, r, nil
}

func (m *Module) bisect(call *metisvm.Call, args []any) ([]any, error) {
	idb, left, right := args[0].(*big.Int), args[1].([32]byte), args[2].([32]byte)
	s := store.New(call)
	d, _, r, err := loadMove(call, s, idb, true)
	if err != nil {
		return nil, err
	}
	if s.U64(disputeWord(d, dFlags))&flagToken != 0 {
		return nil, call.Revert("BadMove", "a token dispute: prove it with proveToken")
	}
	if r.hi-r.lo < 2 {
		return nil, call.Revert("BadMove", "the dispute is at one step: prove it with proveStep")
	}
	if replay.NodeOf(left, right) != s.Word(disputeWord(d, dNode)) {
		return nil, call.Revert("BadMove", "the children do not hash to the disputed node")
	}
	p := readParams(s)
	r.proverMoves++
	r.deadline = call.BlockNumber + p.MoveTimeout
	s.SetWord(disputeWord(d, dLeft), left)
	s.SetWord(disputeWord(d, dRight), right)
	s.SetWord(disputeWord(d, dRange), r.word())
	s.SetU64(disputeWord(d, dFlags), flagLive)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Bisected", idb, r.lo, r.hi, left, right))
	}
	return nil, s.Err()
}

func (m *Module) choose(call *metisvm.Call, args []any) ([]any, error) {
	idb, left := args[0].(*big.Int), args[1].(bool)
	s := store.New(call)
	d, _, r, err := loadMove(call, s, idb, false)
	if err != nil {
		return nil, err
	}
	k := replay.Split(r.lo, r.hi) - r.lo // the RFC 6962 split, as the trace tree is built
	if left {
		r.hi = r.lo + k
		s.SetWord(disputeWord(d, dNode), s.Word(disputeWord(d, dLeft)))
	} else {
		r.lo += k
		s.SetWord(disputeWord(d, dNode), s.Word(disputeWord(d, dRight)))
	}
	p := readParams(s)
	r.challengerMoves++
	r.deadline = call.BlockNumber + p.MoveTimeout
	s.SetWord(disputeWord(d, dRange), r.word())
	s.SetU64(disputeWord(d, dFlags), flagLive|flagProverToMove)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Chosen", idb, r.lo, r.hi, left))
	}
	return nil, s.Err()
}

func (m *Module) proveStep(call *metisvm.Call, args []any) ([]any, error) {
	idb, proof := args[0].(*big.Int), args[1].([]byte)
	if err := call.UseGas(uint64(len(proof)) * ReplayGasPerByte); err != nil {
		return nil, err
	}
	s := store.New(call)
	d, task, r, err := loadMove(call, s, idb, true)
	if err != nil {
		return nil, err
	}
	if s.U64(disputeWord(d, dFlags))&flagToken != 0 {
		return nil, call.Revert("BadMove", "a token dispute: prove it with proveToken")
	}
	if r.hi-r.lo != 1 {
		return nil, call.Revert("BadMove", "not at one step yet: bisect")
	}
	if m.replayer == nil {
		return nil, call.Revert("ModelUnavailable", s.Word(taskWord(task, tModelDigest)))
	}
	rec, err := m.receipt(s, task)
	if err != nil {
		return nil, err
	}
	claimed := s.Word(disputeWord(d, dNode))
	r.proverMoves++
	s.SetWord(disputeWord(d, dRange), r.word())
	step, rerr := m.replayer.ReplayStep(rec, s.U64(taskWord(task, tSteps)), r.lo, proof)
	if rerr != nil {
		return nil, m.resolve(call, s, d, false, "invalid one-step proof: "+rerr.Error())
	}
	replayed := replay.LeafHash(step)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("StepReplayed", idb, r.lo, [32]byte(claimed), replayed))
	}
	if replayed == claimed {
		return nil, m.resolve(call, s, d, true, "the step replays to the prover's leaf")
	}
	return nil, m.resolve(call, s, d, false, "the step replays to a different leaf")
}

// resolve settles dispute d: the loser's bond goes to the winner minus slashCutBps to LazAI. A
// losing prover's task is rejected and the fee refunded; after a winning prover the task is
// Submitted again, open to further challenges until its window ends, and the window is extended
// to at least moveTimeout blocks from now: a dispute (perhaps opened by the prover's accomplice
// and played slowly) must not run the window out under other challengers.
func (m *Module) resolve(call *metisvm.Call, s *store.S, d uint64, proverWon bool, reason string) error {
	task := s.U64(disputeWord(d, dTask))
	meta := metaOf(s.Word(taskWord(task, tMeta)))
	p := readParams(s)
	prover := s.Addr(taskWord(task, tProver))
	challenger := s.Addr(disputeWord(d, dChallenger))
	flags := uint64(flagLive|flagResolved) | s.U64(disputeWord(d, dFlags))&flagToken
	if proverWon {
		flags |= flagProverWon
	}
	s.SetU64(disputeWord(d, dFlags), flags)
	if err := s.Err(); err != nil {
		return err
	}
	var loser, winner = challenger, prover
	var forfeit *uint256.Int
	if proverWon {
		forfeit = s.U256(disputeWord(d, dBond))
		meta.status = uint8(verifier.StatusSubmitted)
		meta.windowEnd = max(meta.windowEnd, call.BlockNumber+p.MoveTimeout)
	} else {
		loser, winner = prover, challenger
		forfeit = s.U256(taskWord(task, tBond))
		s.SetU256(taskWord(task, tBond), new(uint256.Int))
		meta.status = uint8(verifier.StatusRejected)
		// The challenger's own bond comes back, and the requester gets the fee back.
		s.Fail(call.Transfer(challenger, s.U256(disputeWord(d, dBond))))
		if s.Err() == nil {
			s.Fail(call.Transfer(s.Addr(taskWord(task, tRequester)), s.U256(taskWord(task, tFee))))
		}
	}
	s.SetWord(taskWord(task, tMeta), meta.word())
	cut := new(uint256.Int).Mul(forfeit, uint256.NewInt(uint64(p.SlashCutBps)))
	cut.Div(cut, uint256.NewInt(10_000))
	if err := s.Err(); err != nil {
		return err
	}
	if !cut.IsZero() {
		if _, err := call.CallMethod(lazai.Address, lazai.ABI, cut, "routeFees", uint8(lazai.SourceCompute)); err != nil {
			return err
		}
	}
	s.Fail(call.Transfer(winner, new(uint256.Int).Sub(forfeit, cut)))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Slashed", loser, bigOf(forfeit), reason))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("DisputeResolved", idBig(d), idBig(task), proverWon, reason))
	}
	if !proverWon && s.Err() == nil {
		s.Fail(call.EmitEvent("TaskRejected", idBig(task), reason))
	}
	return s.Err()
}
