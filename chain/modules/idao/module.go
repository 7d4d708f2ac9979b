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
	"github.com/metisgo/metis/lazai"
)

// gasSchedule is each method's fixed base gas, charged before it runs.
var gasSchedule = map[string]uint64{
	"propose": 20_000, "castVote": 5_000, "castVoteWithReason": 5_000, "queue": 5_000,
	"execute": 10_000, "cancel": 2_000, "setParams": 2_000,
	"registerAgent": 10_000, "deregisterAgent": 5_000,
	"params": 500, "proposalCount": 500, "state": 1_000, "proposal": 2_000, "hasVoted": 500,
	"getVotes": 1_000, "quorum": 1_000, "agent": 1_000, "agents": 1_000,
}

// Module is the iDAO system module.
type Module struct {
	params idao.Params
	router *metisvm.Router
}

var _ interface {
	metisvm.Module
	metisvm.GenesisInitializer
} = (*Module)(nil)

// New returns the module with p as its genesis parameters.
func New(p idao.Params) *Module {
	m := &Module{params: p}
	handlers := map[string]metisvm.Handler{
		"propose": m.propose, "castVote": m.castVote, "castVoteWithReason": m.castVoteWithReason,
		"queue": m.queue, "execute": m.execute, "cancel": m.cancel, "setParams": m.setParams,
		"registerAgent": m.registerAgent, "deregisterAgent": m.deregisterAgent,
		"params": m.viewParams, "proposalCount": m.viewProposalCount, "state": m.viewState,
		"proposal": m.viewProposal, "hasVoted": m.viewHasVoted, "getVotes": m.viewGetVotes,
		"quorum": m.viewQuorum, "agent": m.viewAgent, "agents": m.viewAgents,
	}
	m.router = metisvm.NewRouterFor(idao.ABI, gasSchedule, handlers)
	// A plain transfer to the iDAO funds the treasury.
	m.router.Receive(func(*metisvm.Call, []any) ([]any, error) { return nil, nil })
	return m
}

// Address is 0x…0a02.
func (m *Module) Address() common.Address { return idao.Address }

// ABI is IIDAO's.
func (m *Module) ABI() *abi.ABI { return idao.ABI }

// Run dispatches a call.
func (m *Module) Run(call *metisvm.Call, input []byte) ([]byte, error) {
	return m.router.Run(call, input)
}

// InitGenesis writes the genesis parameters.
func (m *Module) InitGenesis(call *metisvm.Call) error {
	if !m.params.Valid() {
		return call.Revert("BadParams")
	}
	s := store.New(call)
	writeParams(s, m.params)
	return s.Err()
}

var (
	slotVotingDelay   = metisvm.Slot("params.votingDelay")
	slotVotingPeriod  = metisvm.Slot("params.votingPeriod")
	slotQuorumBps     = metisvm.Slot("params.quorumBps")
	slotThreshold     = metisvm.Slot("params.proposalThreshold")
	slotTimelock      = metisvm.Slot("params.timelockDelay")
	slotGrace         = metisvm.Slot("params.gracePeriod")
	slotProposalCount = metisvm.Slot("proposalCount")
	slotAgentCount    = metisvm.Slot("agentCount")
)

func writeParams(s *store.S, p idao.Params) {
	s.SetU64(slotVotingDelay, p.VotingDelay)
	s.SetU64(slotVotingPeriod, p.VotingPeriod)
	s.SetU64(slotQuorumBps, uint64(p.QuorumBps))
	s.SetU256(slotThreshold, uint256.MustFromBig(p.ProposalThreshold))
	s.SetU64(slotTimelock, p.TimelockDelay)
	s.SetU64(slotGrace, p.GracePeriod)
}

func readParams(s *store.S) idao.Params {
	return idao.Params{
		VotingDelay: s.U64(slotVotingDelay), VotingPeriod: s.U64(slotVotingPeriod),
		QuorumBps: uint16(s.U64(slotQuorumBps)), ProposalThreshold: s.U256(slotThreshold).ToBig(),
		TimelockDelay: s.U64(slotTimelock), GracePeriod: s.U64(slotGrace),
	}
}

// Proposal words (from Slot("proposal", id)).
const (
	pDao = iota
	pProposer
	pTimes // snapshot, deadline, eta: three uint64 in one word
	pFlags // canceled (bit 0), executed (bit 1)
	pFor
	pAgainst
	pAbstain
	pCalls // number of calls
)

func idKey(id uint64) common.Hash { return metisvm.Uint64Key(id) }
func pWord(id uint64, w uint64) common.Hash {
	return metisvm.SlotAt(metisvm.Slot("proposal", idKey(id)), w)
}
func callWord(id, i, w uint64) common.Hash {
	return metisvm.SlotAt(metisvm.Slot("proposalCall", idKey(id), metisvm.Uint64Key(i)), w)
}
func callDataSlot(id, i uint64) common.Hash {
	return metisvm.Slot("proposalCalldata", idKey(id), metisvm.Uint64Key(i))
}
func descSlot(id uint64) common.Hash { return metisvm.Slot("proposalDescription", idKey(id)) }
func votedSlot(id uint64, a common.Address) common.Hash {
	return metisvm.Slot("voted", idKey(id), metisvm.AddressKey(a))
}

type times struct{ snapshot, deadline, eta uint64 }

func (t times) word() common.Hash {
	var w common.Hash
	put := func(off int, v uint64) {
		for i := 0; i < 8; i++ {
			w[off+i] = byte(v >> (56 - 8*i))
		}
	}
	put(8, t.snapshot)
	put(16, t.deadline)
	put(24, t.eta)
	return w
}

func timesOf(w common.Hash) times {
	get := func(off int) (v uint64) {
		for i := 0; i < 8; i++ {
			v = v<<8 | uint64(w[off+i])
		}
		return v
	}
	return times{snapshot: get(8), deadline: get(16), eta: get(24)}
}

const (
	flagCanceled = 1
	flagExecuted = 2
)

func bigOf(u *uint256.Int) *big.Int  { return u.ToBig() }
func idBig(id uint64) *big.Int       { return new(big.Int).SetUint64(id) }
func u256(b *big.Int) *uint256.Int   { return uint256.MustFromBig(b) }
func toID(b *big.Int) (uint64, bool) { return b.Uint64(), b.IsUint64() }

// moduleView calls a view of another module and returns its single output; a failed view is a
// *metisvm.CallError.
func moduleView(call *metisvm.Call, to common.Address, a *abi.ABI, method string, args ...any) (any, error) {
	out, err := call.CallMethod(to, a, nil, method, args...)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// power is a voter's voting power in dao at the end of block.
func power(call *metisvm.Call, dao uint64, voter common.Address, block uint64) (*big.Int, error) {
	var v any
	var err error
	if dao == idao.RootDAO {
		v, err = moduleView(call, lazai.Address, lazai.ABI, "getPastVotes", voter, block)
	} else {
		v, err = moduleView(call, dat.Address, dat.ABI, "getPastClassVotes", idBig(dao), voter, block)
	}
	if err != nil {
		return nil, err
	}
	return v.(*big.Int), nil
}

// totalPower is a dao's total voting power at the end of block.
func totalPower(call *metisvm.Call, dao uint64, block uint64) (*big.Int, error) {
	var v any
	var err error
	if dao == idao.RootDAO {
		v, err = moduleView(call, lazai.Address, lazai.ABI, "getPastTotalStake", block)
	} else {
		v, err = moduleView(call, dat.Address, dat.ABI, "getPastTotalShares", idBig(dao), block)
	}
	if err != nil {
		return nil, err
	}
	return v.(*big.Int), nil
}

// quorumAt is ⌊total power × quorumBps / 10⁴⌋.
func quorumAt(call *metisvm.Call, s *store.S, dao, block uint64) (*big.Int, error) {
	total, err := totalPower(call, dao, block)
	if err != nil {
		return nil, err
	}
	q := new(big.Int).Mul(total, new(big.Int).SetUint64(s.U64(slotQuorumBps)))
	return q.Div(q, big.NewInt(10_000)), s.Err()
}

// stateOf evaluates a proposal's state at the call's block.
func stateOf(call *metisvm.Call, s *store.S, id uint64) (idao.State, error) {
	flags := s.U64(pWord(id, pFlags))
	t := timesOf(s.Word(pWord(id, pTimes)))
	if err := s.Err(); err != nil {
		return 0, err
	}
	n := call.BlockNumber
	switch {
	case flags&flagExecuted != 0:
		return idao.Executed, nil
	case flags&flagCanceled != 0:
		return idao.Canceled, nil
	case n <= t.snapshot:
		return idao.Pending, nil
	case n <= t.deadline:
		return idao.Active, nil
	}
	dao := s.U64(pWord(id, pDao))
	q, err := quorumAt(call, s, dao, t.snapshot)
	if err != nil {
		return 0, err
	}
	forV, against, abstain := s.U256(pWord(id, pFor)), s.U256(pWord(id, pAgainst)), s.U256(pWord(id, pAbstain))
	if err := s.Err(); err != nil {
		return 0, err
	}
	reached := new(uint256.Int).Add(forV, abstain).Cmp(u256(q)) >= 0
	switch {
	case !reached || !forV.Gt(against):
		return idao.Defeated, nil
	case t.eta == 0:
		return idao.Succeeded, nil
	case n > t.eta+s.U64(slotGrace):
		return idao.Expired, s.Err()
	}
	return idao.Queued, s.Err()
}

// loadProposal checks that id exists.
func loadProposal(call *metisvm.Call, s *store.S, idb *big.Int) (uint64, error) {
	id, ok := toID(idb)
	count := s.U64(slotProposalCount)
	if err := s.Err(); err != nil {
		return 0, err
	}
	if !ok || id == 0 || id > count {
		return 0, call.Revert("UnknownProposal", idb)
	}
	return id, nil
}
