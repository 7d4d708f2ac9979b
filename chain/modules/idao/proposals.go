package idao

import (
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
)

func (m *Module) propose(call *metisvm.Call, args []any) ([]any, error) {
	daoB := args[0].(*big.Int)
	targets, values, calldatas := args[1].([]common.Address), args[2].([]*big.Int), args[3].([][]byte)
	desc := args[4].(string)
	switch {
	case len(targets) == 0:
		return nil, call.Revert("BadProposal", "no calls")
	case len(targets) != len(values) || len(targets) != len(calldatas):
		return nil, call.Revert("BadProposal", "targets, values and calldatas differ in length")
	case len(targets) > idao.MaxCalls:
		return nil, call.Revert("BadProposal", "too many calls")
	case len(desc) > idao.MaxDescription:
		return nil, call.Revert("StringTooLong", big.NewInt(int64(len(desc))), big.NewInt(idao.MaxDescription))
	}
	dao, ok := toID(daoB)
	if !ok {
		return nil, call.Revert("UnknownDAO", daoB)
	}
	if dao != idao.RootDAO {
		// A community exists for every registered class.
		if _, err := moduleView(call, dat.Address, dat.ABI, "classInfo", daoB); err != nil {
			if _, failed := err.(*metisvm.CallError); failed {
				return nil, call.Revert("UnknownDAO", daoB)
			}
			return nil, err
		}
		for i, t := range targets {
			if t != dat.Address || values[i].Sign() != 0 {
				return nil, call.Revert("BadProposal", "a community proposal may only call the DAT module, without value")
			}
		}
	}
	s := store.New(call)
	p := readParams(s)
	if err := s.Err(); err != nil {
		return nil, err
	}
	var prior uint64
	if call.BlockNumber > 0 {
		prior = call.BlockNumber - 1
	}
	votes, err := power(call, dao, call.Caller, prior)
	if err != nil {
		return nil, err
	}
	threshold := p.ProposalThreshold
	if dao != idao.RootDAO {
		threshold = big.NewInt(1)
	}
	if votes.Cmp(threshold) < 0 {
		return nil, call.Revert("BelowThreshold", votes, threshold)
	}

	id := s.U64(slotProposalCount) + 1
	s.SetU64(slotProposalCount, id)
	t := times{snapshot: call.BlockNumber + p.VotingDelay}
	t.deadline = t.snapshot + p.VotingPeriod
	s.SetU64(pWord(id, pDao), dao)
	s.SetAddr(pWord(id, pProposer), call.Caller)
	s.SetWord(pWord(id, pTimes), t.word())
	s.SetU64(pWord(id, pCalls), uint64(len(targets)))
	for i := range targets {
		s.SetAddr(callWord(id, uint64(i), 0), targets[i])
		s.SetU256(callWord(id, uint64(i), 1), uint256.MustFromBig(values[i]))
		s.SetBytes(callDataSlot(id, uint64(i)), calldatas[i])
	}
	s.SetBytes(descSlot(id), []byte(desc))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ProposalCreated", idBig(id), daoB, call.Caller, targets, values, calldatas,
			t.snapshot, t.deadline, desc))
	}
	return []any{idBig(id)}, s.Err()
}

func (m *Module) castVote(call *metisvm.Call, args []any) ([]any, error) {
	return m.vote(call, args[0].(*big.Int), args[1].(uint8), "")
}

func (m *Module) castVoteWithReason(call *metisvm.Call, args []any) ([]any, error) {
	return m.vote(call, args[0].(*big.Int), args[1].(uint8), args[2].(string))
}

func (m *Module) vote(call *metisvm.Call, idb *big.Int, support uint8, reason string) ([]any, error) {
	s := store.New(call)
	id, err := loadProposal(call, s, idb)
	if err != nil {
		return nil, err
	}
	if support > idao.Abstain {
		return nil, call.Revert("BadSupport", support)
	}
	if len(reason) > idao.MaxDescription {
		return nil, call.Revert("StringTooLong", big.NewInt(int64(len(reason))), big.NewInt(idao.MaxDescription))
	}
	st, err := stateOf(call, s, id)
	if err != nil {
		return nil, err
	}
	if st != idao.Active {
		return nil, call.Revert("WrongState", idb, uint8(st))
	}
	if s.Bool(votedSlot(id, call.Caller)) {
		return nil, call.Revert("AlreadyVoted", idb, call.Caller)
	}
	t := timesOf(s.Word(pWord(id, pTimes)))
	weight, err := power(call, s.U64(pWord(id, pDao)), call.Caller, t.snapshot)
	if err != nil {
		return nil, err
	}
	if weight.Sign() == 0 {
		return nil, call.Revert("NoVotingPower", call.Caller)
	}
	s.SetBool(votedSlot(id, call.Caller), true)
	tally := pWord(id, pAgainst)
	switch support {
	case idao.For:
		tally = pWord(id, pFor)
	case idao.Abstain:
		tally = pWord(id, pAbstain)
	}
	v := s.U256(tally)
	s.SetU256(tally, v.Add(v, u256(weight)))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("VoteCast", call.Caller, idb, support, weight, reason))
	}
	return []any{weight}, s.Err()
}

func (m *Module) queue(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	id, err := loadProposal(call, s, idb)
	if err != nil {
		return nil, err
	}
	st, err := stateOf(call, s, id)
	if err != nil {
		return nil, err
	}
	if st != idao.Succeeded {
		return nil, call.Revert("WrongState", idb, uint8(st))
	}
	t := timesOf(s.Word(pWord(id, pTimes)))
	t.eta = call.BlockNumber + s.U64(slotTimelock)
	if t.eta == 0 {
		t.eta = 1 // eta 0 means "not queued"; block 0 is genesis, so this never changes timing
	}
	s.SetWord(pWord(id, pTimes), t.word())
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ProposalQueued", idb, t.eta))
	}
	return nil, s.Err()
}

func (m *Module) execute(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	id, err := loadProposal(call, s, idb)
	if err != nil {
		return nil, err
	}
	st, err := stateOf(call, s, id)
	if err != nil {
		return nil, err
	}
	if st != idao.Queued {
		return nil, call.Revert("WrongState", idb, uint8(st))
	}
	t := timesOf(s.Word(pWord(id, pTimes)))
	if call.BlockNumber < t.eta {
		return nil, call.Revert("TimelockNotReady", t.eta, call.BlockNumber)
	}
	// Executed before the calls, so a call back into execute finds it done.
	s.SetU64(pWord(id, pFlags), s.U64(pWord(id, pFlags))|flagExecuted)
	dao := s.U64(pWord(id, pDao))
	n := s.U64(pWord(id, pCalls))
	for i := uint64(0); i < n && s.Err() == nil; i++ {
		target := s.Addr(callWord(id, i, 0))
		value := s.U256(callWord(id, i, 1))
		data := s.Bytes(callDataSlot(id, i))
		if err := s.Err(); err != nil {
			return nil, err
		}
		if dao != idao.RootDAO {
			wrapped, err := dat.ABI.Pack("executeAsCommunity", idBig(dao), data)
			if err != nil {
				return nil, err
			}
			target, data, value = dat.Address, wrapped, new(uint256.Int)
		}
		ret, err := call.CallContract(target, data, value, call.Gas())
		if err != nil {
			return nil, call.Revert("CallFailed", new(big.Int).SetUint64(i), ret)
		}
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ProposalExecuted", idb))
	}
	return nil, s.Err()
}

func (m *Module) cancel(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	id, err := loadProposal(call, s, idb)
	if err != nil {
		return nil, err
	}
	if proposer := s.Addr(pWord(id, pProposer)); s.Err() == nil && proposer != call.Caller {
		return nil, call.Revert("NotProposer", call.Caller)
	}
	st, err := stateOf(call, s, id)
	if err != nil {
		return nil, err
	}
	if st != idao.Pending {
		return nil, call.Revert("WrongState", idb, uint8(st))
	}
	s.SetU64(pWord(id, pFlags), s.U64(pWord(id, pFlags))|flagCanceled)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ProposalCanceled", idb))
	}
	return nil, s.Err()
}

func (m *Module) setParams(call *metisvm.Call, args []any) ([]any, error) {
	if call.Caller != idao.Address {
		return nil, call.Revert("NotGovernance", call.Caller)
	}
	p := *abi.ConvertType(args[0], new(idao.Params)).(*idao.Params)
	if !p.Valid() {
		return nil, call.Revert("BadParams")
	}
	s := store.New(call)
	writeParams(s, p)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ParamsChanged", p.VotingDelay, p.VotingPeriod, p.QuorumBps,
			p.ProposalThreshold, p.TimelockDelay, p.GracePeriod))
	}
	return nil, s.Err()
}

// Views.

func (m *Module) viewParams(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{readParams(s)}, s.Err()
}

func (m *Module) viewProposalCount(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{idBig(s.U64(slotProposalCount))}, s.Err()
}

func (m *Module) viewState(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	id, err := loadProposal(call, s, args[0].(*big.Int))
	if err != nil {
		return nil, err
	}
	st, err := stateOf(call, s, id)
	return []any{uint8(st)}, err
}

func (m *Module) viewProposal(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	id, err := loadProposal(call, s, idb)
	if err != nil {
		return nil, err
	}
	st, err := stateOf(call, s, id)
	if err != nil {
		return nil, err
	}
	t := timesOf(s.Word(pWord(id, pTimes)))
	dao := s.U64(pWord(id, pDao))
	q, err := quorumAt(call, s, dao, t.snapshot)
	if err != nil {
		// Before the snapshot the total power is not known yet.
		if _, failed := err.(*metisvm.CallError); !failed {
			return nil, err
		}
		q = new(big.Int)
	}
	n := s.U64(pWord(id, pCalls))
	info := idao.ProposalInfo{
		Id: idb, Dao: idBig(dao), Proposer: s.Addr(pWord(id, pProposer)), State: uint8(st),
		Snapshot: t.snapshot, Deadline: t.deadline, Eta: t.eta,
		ForVotes: bigOf(s.U256(pWord(id, pFor))), AgainstVotes: bigOf(s.U256(pWord(id, pAgainst))),
		AbstainVotes: bigOf(s.U256(pWord(id, pAbstain))), Quorum: q,
		Targets: []common.Address{}, Values: []*big.Int{}, Calldatas: [][]byte{},
		Description: string(s.Bytes(descSlot(id))),
	}
	for i := uint64(0); i < n && s.Err() == nil; i++ {
		info.Targets = append(info.Targets, s.Addr(callWord(id, i, 0)))
		info.Values = append(info.Values, bigOf(s.U256(callWord(id, i, 1))))
		info.Calldatas = append(info.Calldatas, s.Bytes(callDataSlot(id, i)))
	}
	return []any{info}, s.Err()
}

func (m *Module) viewHasVoted(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	id, err := loadProposal(call, s, args[0].(*big.Int))
	if err != nil {
		return nil, err
	}
	return []any{s.Bool(votedSlot(id, args[1].(common.Address)))}, s.Err()
}

func (m *Module) viewGetVotes(call *metisvm.Call, args []any) ([]any, error) {
	daoB, a, block := args[0].(*big.Int), args[1].(common.Address), args[2].(uint64)
	dao, ok := toID(daoB)
	if !ok {
		return nil, call.Revert("UnknownDAO", daoB)
	}
	v, err := power(call, dao, a, block)
	if err != nil {
		return nil, passRevert(err)
	}
	return []any{v}, nil
}

func (m *Module) viewQuorum(call *metisvm.Call, args []any) ([]any, error) {
	daoB, block := args[0].(*big.Int), args[1].(uint64)
	dao, ok := toID(daoB)
	if !ok {
		return nil, call.Revert("UnknownDAO", daoB)
	}
	s := store.New(call)
	q, err := quorumAt(call, s, dao, block)
	if err != nil {
		return nil, passRevert(err)
	}
	return []any{q}, nil
}

// passRevert returns another module's revert data (FutureBlock, ClassNotFound, ...) as this
// call's, so clients see the named error.
func passRevert(err error) error {
	if ce, ok := err.(*metisvm.CallError); ok && len(ce.Data) >= 4 {
		return &metisvm.RevertError{Data: ce.Data}
	}
	return err
}
