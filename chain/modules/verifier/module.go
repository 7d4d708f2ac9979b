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

// Gas: a fixed base per method (charged before it runs), then storage, logs, transfers and the
// cross-module calls at EVM prices. submitResult's base covers the EIP-712 hash and signature
// recovery; proveStep's covers the replay of one step (a forward pass of one block or the output
// layer of a small model) plus ReplayGasPerByte per proof byte.
var gasSchedule = map[string]uint64{
	"registerVerifier": 10_000, "unregisterVerifier": 5_000, "withdrawVerifierStake": 5_000,
	"requestCompute": 20_000, "submitResult": 40_000, "attest": 5_000, "finalize": 10_000,
	"challenge": 10_000, "bisect": 5_000, "choose": 5_000, "proveStep": 500_000,
	"revealOutput": 50_000, "challengeToken": 10_000, "proveToken": 20_000,
	"setParams": 2_000,
	"params":    500, "taskCount": 500, "task": 2_000, "dispute": 1_000, "verifiers": 1_000,
	"verifierStake": 500,
}

// ReplayGasPerByte is proveStep's charge per byte of proof, on top of its base; proveToken pays
// it per byte of record and of tokens (4 a token), revealOutput per byte of request and of
// tokens (its base covers loading the model's tokenizer state and the hashing).
const ReplayGasPerByte = 8

// Module is the Verifier system module.
type Module struct {
	params   verifier.Params
	chainID  uint64
	replayer StepReplayer
	router   *metisvm.Router
}

var _ interface {
	metisvm.Module
	metisvm.GenesisInitializer
} = (*Module)(nil)

// New returns the module with p as its genesis parameters, for chain chainID (receipts must
// name it), re-executing disputed steps with r (nil: optimistic tasks are unavailable).
func New(p verifier.Params, chainID uint64, r StepReplayer) *Module {
	m := &Module{params: p, chainID: chainID, replayer: r}
	handlers := map[string]metisvm.Handler{
		"registerVerifier": m.registerVerifier, "unregisterVerifier": m.unregisterVerifier,
		"withdrawVerifierStake": m.withdrawVerifierStake,
		"requestCompute":        m.requestCompute, "submitResult": m.submitResult, "attest": m.attest,
		"finalize": m.finalize, "challenge": m.challenge, "bisect": m.bisect, "choose": m.choose,
		"proveStep": m.proveStep, "setParams": m.setParams,
		"revealOutput": m.revealOutput, "challengeToken": m.challengeToken, "proveToken": m.proveToken,
		"params": m.viewParams, "taskCount": m.viewTaskCount, "task": m.viewTask,
		"dispute": m.viewDispute, "verifiers": m.viewVerifiers, "verifierStake": m.viewVerifierStake,
	}
	m.router = metisvm.NewRouterFor(verifier.ABI, gasSchedule, handlers)
	return m
}

// Address is 0x…0a03.
func (m *Module) Address() common.Address { return verifier.Address }

// ABI is IVerifier's.
func (m *Module) ABI() *abi.ABI { return verifier.ABI }

// Run dispatches a call.
func (m *Module) Run(call *metisvm.Call, input []byte) ([]byte, error) {
	return m.router.Run(call, input)
}

// InitGenesis writes the genesis parameters.
func (m *Module) InitGenesis(call *metisvm.Call) error {
	if !validParams(m.params) {
		return call.Revert("BadParams")
	}
	s := store.New(call)
	writeParams(s, m.params)
	return s.Err()
}

func validParams(p verifier.Params) bool {
	ok := func(b *big.Int) bool { return b != nil && b.Sign() >= 0 && b.BitLen() <= 256 }
	return ok(p.MinProverBond) && ok(p.MinChallengerBond) && ok(p.MinVerifierStake) &&
		p.ChallengeWindow >= 1 && p.ChallengeWindow <= 1_000_000 && p.MoveTimeout >= 1 && p.MoveTimeout <= 100_000 &&
		p.AttestK >= 1 && p.AttestK <= p.AttestN && p.AttestN <= 64 &&
		p.ProtocolCutBps <= 10_000 && p.SlashCutBps <= 10_000 && p.VerifierUnbonding <= 1_000_000
}

var (
	slotParams       = metisvm.Slot("params") // words: see writeParams
	slotTaskCount    = metisvm.Slot("taskCount")
	slotDisputeCount = metisvm.Slot("disputeCount")
	slotVCount       = metisvm.Slot("verifierCount")
)

func writeParams(s *store.S, p verifier.Params) {
	s.SetU256(metisvm.SlotAt(slotParams, 0), uint256.MustFromBig(p.MinProverBond))
	s.SetU256(metisvm.SlotAt(slotParams, 1), uint256.MustFromBig(p.MinChallengerBond))
	s.SetU64(metisvm.SlotAt(slotParams, 2), p.ChallengeWindow)
	s.SetU64(metisvm.SlotAt(slotParams, 3), p.MoveTimeout)
	s.SetU64(metisvm.SlotAt(slotParams, 4), uint64(p.AttestN)<<32|uint64(p.AttestK))
	s.SetU64(metisvm.SlotAt(slotParams, 5), uint64(p.ProtocolCutBps)<<16|uint64(p.SlashCutBps))
	s.SetU256(metisvm.SlotAt(slotParams, 6), uint256.MustFromBig(p.MinVerifierStake))
	s.SetU64(metisvm.SlotAt(slotParams, 7), p.VerifierUnbonding)
}

func readParams(s *store.S) verifier.Params {
	nk := s.U64(metisvm.SlotAt(slotParams, 4))
	cuts := s.U64(metisvm.SlotAt(slotParams, 5))
	return verifier.Params{
		MinProverBond:     s.U256(metisvm.SlotAt(slotParams, 0)).ToBig(),
		MinChallengerBond: s.U256(metisvm.SlotAt(slotParams, 1)).ToBig(),
		ChallengeWindow:   s.U64(metisvm.SlotAt(slotParams, 2)),
		MoveTimeout:       s.U64(metisvm.SlotAt(slotParams, 3)),
		AttestN:           uint32(nk >> 32), AttestK: uint32(nk),
		ProtocolCutBps: uint16(cuts >> 16), SlashCutBps: uint16(cuts),
		MinVerifierStake:  s.U256(metisvm.SlotAt(slotParams, 6)).ToBig(),
		VerifierUnbonding: s.U64(metisvm.SlotAt(slotParams, 7)),
	}
}

// Task words (from Slot("task", id)).
const (
	tRequester = iota
	tClass
	tModelDigest
	tInputDigest
	tMeta // mode, status, deadline, windowEnd, approvals, rejections (see taskMeta)
	tFee
	tProver
	tOutputDigest
	tTraceRoot
	tSteps
	tBond
	tDispute
	tVerifiers // count; verifier i at Slot("taskVerifier", id, i)
	tTokens    // prompt and output token counts
	tOutput    // sha256 of the revealed output tokens (u32 LE each); zero: not revealed
)

type taskMeta struct {
	mode, status          uint8
	deadline, windowEnd   uint64
	approvals, rejections uint32
}

func (t taskMeta) word() common.Hash {
	var w common.Hash
	w[0], w[1] = t.mode, t.status
	putU64(w[2:10], t.deadline)
	putU64(w[10:18], t.windowEnd)
	putU64(w[18:26], uint64(t.approvals)<<32|uint64(t.rejections))
	return w
}

func metaOf(w common.Hash) taskMeta {
	ar := getU64(w[18:26])
	return taskMeta{mode: w[0], status: w[1], deadline: getU64(w[2:10]), windowEnd: getU64(w[10:18]),
		approvals: uint32(ar >> 32), rejections: uint32(ar)}
}

func putU64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (56 - 8*i))
	}
}

func getU64(b []byte) (v uint64) {
	for i := 0; i < 8; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func key(id uint64) common.Hash { return metisvm.Uint64Key(id) }
func taskWord(id, w uint64) common.Hash {
	return metisvm.SlotAt(metisvm.Slot("task", key(id)), w)
}
func taskVerifierSlot(id, i uint64) common.Hash {
	return metisvm.Slot("taskVerifier", key(id), metisvm.Uint64Key(i))
}
func taskAttestSlot(id uint64, a common.Address) common.Hash {
	return metisvm.Slot("taskAttest", key(id), metisvm.AddressKey(a))
}
func taskReceiptSlot(id uint64) common.Hash { return metisvm.Slot("taskSampling", key(id)) }

// Dispute words (from Slot("dispute", id)).
const (
	dTask = iota
	dChallenger
	dBond
	dRange // lo, hi, moveDeadline, proverMoves, challengerMoves (see disputeRange)
	dNode
	dFlags // proverToMove (bit 0), resolved (bit 1), proverWon (bit 2)
	dLeft
	dRight
	dToken // a token dispute (flagToken): the output token index k
)

type disputeRange struct {
	lo, hi, deadline uint64
	proverMoves      uint32
	challengerMoves  uint32
}

func (r disputeRange) word() common.Hash {
	var w common.Hash
	putU64(w[0:8], r.lo)
	putU64(w[8:16], r.hi)
	putU64(w[16:24], r.deadline)
	putU64(w[24:32], uint64(r.proverMoves)<<32|uint64(r.challengerMoves))
	return w
}

func rangeOf(w common.Hash) disputeRange {
	pc := getU64(w[24:32])
	return disputeRange{lo: getU64(w[0:8]), hi: getU64(w[8:16]), deadline: getU64(w[16:24]),
		proverMoves: uint32(pc >> 32), challengerMoves: uint32(pc)}
}

const (
	flagProverToMove = 1
	flagResolved     = 2
	flagProverWon    = 4
	// flagLive is always set, so the flags word never returns to zero between moves: each move
	// then rewrites a nonzero slot (2,900 gas) instead of setting a zero one (20,000).
	flagLive = 8
	// flagToken marks a token dispute (challengeToken): one prover move, proveToken.
	flagToken = 16
)

func disputeWord(id, w uint64) common.Hash {
	return metisvm.SlotAt(metisvm.Slot("dispute", key(id)), w)
}

func vStakeSlot(a common.Address) common.Hash { return metisvm.Slot("vstake", metisvm.AddressKey(a)) }
func vReadySlot(a common.Address) common.Hash { return metisvm.Slot("vready", metisvm.AddressKey(a)) }
func vIndexSlot(a common.Address) common.Hash { return metisvm.Slot("vindex", metisvm.AddressKey(a)) }
func vListSlot(i uint64) common.Hash          { return metisvm.Slot("vlist", metisvm.Uint64Key(i)) }
func bigOf(u *uint256.Int) *big.Int           { return u.ToBig() }
func idBig(id uint64) *big.Int                { return new(big.Int).SetUint64(id) }
func u256(b *big.Int) *uint256.Int            { return uint256.MustFromBig(b) }
func governance(call *metisvm.Call) error {
	if call.Caller != metisvm.IDAOAddress {
		return call.Revert("NotGovernance", call.Caller)
	}
	return nil
}
