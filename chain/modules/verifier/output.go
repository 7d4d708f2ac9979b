package verifier

import (
	"encoding/json"
	"errors"
	"math/big"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

// revealOutput: the prover reveals the output tokens of an optimistic result, checked by the
// StepReplayer against the receipt (see IVerifier.revealOutput).
func (m *Module) revealOutput(call *metisvm.Call, args []any) ([]any, error) {
	idb, tokens, request := args[0].(*big.Int), args[1].([]uint32), args[2].(string)
	if err := call.UseGas(uint64(len(request)+4*len(tokens)) * ReplayGasPerByte); err != nil {
		return nil, err
	}
	s := store.New(call)
	id, meta, err := loadTask(call, s, idb)
	if err != nil {
		return nil, err
	}
	st := verifier.Status(meta.status)
	if meta.mode != uint8(verifier.ModeOptimistic) || (st != verifier.StatusSubmitted && st != verifier.StatusChallenged) {
		return nil, wrongStatus(call, id, meta)
	}
	prover := s.Addr(taskWord(id, tProver))
	revealed := s.Word(taskWord(id, tOutput))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if call.Caller != prover {
		return nil, call.Revert("NotProver", idb, call.Caller)
	}
	if call.BlockNumber > meta.windowEnd {
		return nil, call.Revert("WindowClosed", meta.windowEnd, call.BlockNumber)
	}
	if revealed != (common.Hash{}) {
		return nil, call.Revert("AlreadyRevealed", idb)
	}
	rec, err := m.receipt(s, id)
	if err != nil {
		return nil, err
	}
	if m.replayer == nil {
		return nil, call.Revert("ModelUnavailable", rec.ModelDigest)
	}
	var req inference.Request
	if err := json.Unmarshal([]byte(request), &req); err != nil {
		return nil, call.Revert("BadOutput", "the request is not an inference request: "+err.Error())
	}
	if err := m.replayer.CheckOutput(rec, req, tokens); err != nil {
		if errors.Is(err, ErrNoModel) {
			return nil, call.Revert("ModelUnavailable", rec.ModelDigest)
		}
		return nil, call.Revert("BadOutput", err.Error())
	}
	h := replay.TokensHash(tokens)
	s.SetWord(taskWord(id, tOutput), h)
	// Whoever compares the tokens with their own run gets at least moveTimeout blocks to
	// dispute one, as after any other move.
	if end := call.BlockNumber + readParams(s).MoveTimeout; meta.windowEnd < end {
		meta.windowEnd = end
		s.SetWord(taskWord(id, tMeta), meta.word())
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("OutputRevealed", idb, h, tokens))
	}
	return nil, s.Err()
}

// challengeToken opens a token dispute: the challenger claims that the trace's output step for
// output token k sampled another token than the revealed one.
func (m *Module) challengeToken(call *metisvm.Call, args []any) ([]any, error) {
	idb, k := args[0].(*big.Int), args[1].(uint64)
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
	if s.Word(taskWord(id, tOutput)) == (common.Hash{}) {
		return nil, call.Revert("OutputNotRevealed", idb)
	}
	prompt, output := tokensOf(s.Word(taskWord(id, tTokens)))
	steps := s.U64(taskWord(id, tSteps))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if k >= output {
		return nil, call.Revert("BadMove", "no such output token")
	}
	// steps = L·(P+O−1) + O was checked against the model at submission (StepCount), so the
	// layer count follows from it without loading the model. A StepReplayer that accepted
	// counts outside that form would make this divide by zero or wrap: refuse them.
	width, carry := bits.Add64(prompt, output-1, 0)
	if prompt == 0 || steps < output || carry != 0 {
		return nil, call.Revert("BadMove", "the receipt's token counts do not describe a run")
	}
	layers := (steps - output) / width
	leaf, err := replay.OutputLeaf(int(layers), int(prompt), int(output), int(k))
	if err != nil {
		return nil, call.Revert("BadMove", err.Error())
	}
	r := disputeRange{lo: uint64(leaf), hi: uint64(leaf) + 1, deadline: call.BlockNumber + p.MoveTimeout, challengerMoves: 1}
	d := m.openDispute(s, call, id, meta, r, common.Hash{}, flagToken)
	s.SetU64(disputeWord(d, dToken), k)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Challenged", idb, idBig(d), call.Caller, bigOf(call.Value)))
	}
	return []any{idBig(d)}, s.Err()
}

// openDispute records a new dispute over task id by the caller with its bond (call.Value), the
// prover to move, and marks the task Challenged.
func (m *Module) openDispute(s *store.S, call *metisvm.Call, id uint64, meta taskMeta, r disputeRange, node common.Hash, flags uint64) uint64 {
	d := s.U64(slotDisputeCount) + 1
	s.SetU64(slotDisputeCount, d)
	s.SetU64(disputeWord(d, dTask), id)
	s.SetAddr(disputeWord(d, dChallenger), call.Caller)
	s.SetU256(disputeWord(d, dBond), call.Value)
	s.SetWord(disputeWord(d, dRange), r.word())
	if node != (common.Hash{}) {
		s.SetWord(disputeWord(d, dNode), node)
	}
	s.SetU64(disputeWord(d, dFlags), flagLive|flagProverToMove|flags)
	s.SetU64(taskWord(id, tDispute), d)
	meta.status = uint8(verifier.StatusChallenged)
	s.SetWord(taskWord(id, tMeta), meta.word())
	return d
}

// proveToken: the prover answers a token dispute with the output step's state record and its
// audit path; the step's sampled token equal to the revealed one wins.
func (m *Module) proveToken(call *metisvm.Call, args []any) ([]any, error) {
	idb, tokens, record, path := args[0].(*big.Int), args[1].([]uint32), args[2].([]byte), args[3].([][32]byte)
	if err := call.UseGas(uint64(len(record)+4*len(tokens)) * ReplayGasPerByte); err != nil {
		return nil, err
	}
	s := store.New(call)
	d, task, r, err := loadMove(call, s, idb, true)
	if err != nil {
		return nil, err
	}
	flags := s.U64(disputeWord(d, dFlags))
	k := s.U64(disputeWord(d, dToken))
	revealed := s.Word(taskWord(task, tOutput))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if flags&flagToken == 0 {
		return nil, call.Revert("BadMove", "not a token dispute: bisect or proveStep")
	}
	if replay.TokensHash(tokens) != revealed || k >= uint64(len(tokens)) {
		return nil, call.Revert("BadMove", "the tokens are not the revealed ones")
	}
	rec, err := m.receipt(s, task)
	if err != nil {
		return nil, err
	}
	if m.replayer == nil {
		return nil, call.Revert("ModelUnavailable", rec.ModelDigest)
	}
	next, perr := m.replayer.OutputToken(rec, s.U64(taskWord(task, tSteps)), k, record, path)
	if errors.Is(perr, ErrNoModel) {
		return nil, call.Revert("ModelUnavailable", rec.ModelDigest)
	}
	r.proverMoves++
	s.SetWord(disputeWord(d, dRange), r.word())
	if perr != nil {
		return nil, m.resolve(call, s, d, false, "invalid output-step proof: "+perr.Error())
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("TokenProved", idb, k, tokens[k], next))
	}
	if next == tokens[k] {
		return nil, m.resolve(call, s, d, true, "the trace sampled the revealed token")
	}
	return nil, m.resolve(call, s, d, false, "the trace sampled another token than the revealed one")
}
