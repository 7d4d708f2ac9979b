package verifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
)

// loadTask checks that a task exists and returns its id and meta.
func loadTask(call *metisvm.Call, s *store.S, idb *big.Int) (uint64, taskMeta, error) {
	n := s.U64(slotTaskCount)
	if err := s.Err(); err != nil {
		return 0, taskMeta{}, err
	}
	if !idb.IsUint64() || idb.Uint64() == 0 || idb.Uint64() > n {
		return 0, taskMeta{}, call.Revert("UnknownTask", idb)
	}
	id := idb.Uint64()
	meta := metaOf(s.Word(taskWord(id, tMeta)))
	return id, meta, s.Err()
}

func wrongStatus(call *metisvm.Call, id uint64, meta taskMeta) error {
	return call.Revert("WrongStatus", idBig(id), meta.status)
}

func (m *Module) requestCompute(call *metisvm.Call, args []any) ([]any, error) {
	classB, inputDigest, mode, deadline := args[0].(*big.Int), args[1].([32]byte), args[3].(uint8), args[4].(uint64)
	input := args[2].(string)
	if call.Value.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	if mode > uint8(verifier.ModeOptimistic) {
		return nil, metisvm.RevertReason("verifier: unknown mode")
	}
	if deadline <= call.BlockNumber {
		return nil, call.Revert("DeadlinePassed", deadline, call.BlockNumber)
	}
	out, err := call.CallMethod(dat.Address, dat.ABI, nil, "classInfo", classB)
	if err != nil {
		if ce, ok := err.(*metisvm.CallError); ok {
			return nil, &metisvm.RevertError{Data: ce.Data} // ClassNotFound, as DAT says it
		}
		return nil, err
	}
	class := *abi.ConvertType(out[0], new(dat.ClassInfo)).(*dat.ClassInfo)
	switch dat.Status(class.Status) {
	case dat.StatusVerified, dat.StatusActive, dat.StatusDeprecated:
	default:
		return nil, metisvm.RevertReason("verifier: the model class is not verified")
	}
	if dat.Kind(class.Kind) != dat.Model {
		return nil, metisvm.RevertReason("verifier: the class is not a model")
	}
	s := store.New(call)
	p := readParams(s)
	id := s.U64(slotTaskCount) + 1
	s.SetU64(slotTaskCount, id)
	s.SetAddr(taskWord(id, tRequester), call.Caller)
	s.SetU256(taskWord(id, tClass), u256(classB))
	s.SetWord(taskWord(id, tModelDigest), class.IntegrityHash)
	s.SetWord(taskWord(id, tInputDigest), inputDigest)
	s.SetU256(taskWord(id, tFee), call.Value)
	meta := taskMeta{mode: mode, status: uint8(verifier.StatusRequested), deadline: deadline}
	var chosen []common.Address
	if mode == uint8(verifier.ModeAttest) {
		chosen, err = choose(call, s, id, int(p.AttestN))
		if err != nil {
			return nil, err
		}
		s.SetU64(taskWord(id, tVerifiers), uint64(len(chosen)))
		for i, v := range chosen {
			s.SetAddr(taskVerifierSlot(id, uint64(i)), v)
		}
	}
	s.SetWord(taskWord(id, tMeta), meta.word())
	if s.Err() == nil {
		s.Fail(call.EmitEvent("TaskRequested", idBig(id), call.Caller, classB, mode, bigOf(call.Value), deadline, inputDigest, input))
	}
	if s.Err() == nil && chosen != nil {
		s.Fail(call.EmitEvent("VerifiersChosen", idBig(id), chosen))
	}
	return []any{idBig(id)}, s.Err()
}

// choose picks n distinct registered verifiers with a partial Fisher-Yates shuffle seeded by
// keccak256(task id, block number, requester): deterministic, and O(n) storage reads.
func choose(call *metisvm.Call, s *store.S, task uint64, n int) ([]common.Address, error) {
	count := s.U64(slotVCount)
	if err := s.Err(); err != nil {
		return nil, err
	}
	if count < uint64(n) {
		return nil, call.Revert("NotEnoughVerifiers", idBig(count), big.NewInt(int64(n)))
	}
	seed := crypto.Keccak256(metisvm.Uint64Key(task).Bytes(), metisvm.Uint64Key(call.BlockNumber).Bytes(), call.Caller.Bytes())
	swapped := map[uint64]uint64{} // position → index it holds after swaps
	at := func(i uint64) uint64 {
		if v, ok := swapped[i]; ok {
			return v
		}
		return i
	}
	out := make([]common.Address, 0, n)
	for j := uint64(0); j < uint64(n); j++ {
		r := new(big.Int).SetBytes(crypto.Keccak256(seed, metisvm.Uint64Key(j).Bytes()))
		k := j + r.Mod(r, new(big.Int).SetUint64(count-j)).Uint64()
		vj, vk := at(j), at(k)
		swapped[j], swapped[k] = vk, vj
		out = append(out, s.Addr(vListSlot(vk)))
	}
	return out, s.Err()
}

func (m *Module) submitResult(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	rc := *abi.ConvertType(args[1], new(verifier.Receipt)).(*verifier.Receipt)
	steps := args[2].(uint64)
	s := store.New(call)
	id, meta, err := loadTask(call, s, idb)
	if err != nil {
		return nil, err
	}
	if meta.status != uint8(verifier.StatusRequested) {
		return nil, wrongStatus(call, id, meta)
	}
	if call.BlockNumber > meta.deadline {
		return nil, call.Revert("DeadlinePassed", meta.deadline, call.BlockNumber)
	}
	p := readParams(s)
	if call.Value.ToBig().Cmp(p.MinProverBond) < 0 {
		return nil, call.Revert("BadBond", bigOf(call.Value), p.MinProverBond)
	}
	bad := func(reason string) error { return call.Revert("BadReceipt", reason) }
	// ReceiptToInference refuses what inference.Receipt's JSON form could not carry (invalid
	// UTF-8, non-canonical numbers), so the receipt checked here is the one anyone can re-check.
	rec, err := verifier.ReceiptToInference(rc)
	if err != nil {
		return nil, bad(err.Error())
	}
	switch {
	case rec.ChainID != m.chainID:
		return nil, bad("chain id differs from this chain's")
	case rec.ModelDigest != s.Word(taskWord(id, tModelDigest)):
		return nil, bad("model digest differs from the model class's integrity hash")
	case rec.InputDigest != s.Word(taskWord(id, tInputDigest)):
		return nil, bad("input digest differs from the task's")
	}
	signer, err := rec.Recover()
	if err != nil {
		return nil, bad("signature: " + err.Error())
	}
	if signer != call.Caller {
		return nil, bad("signed by " + signer.Hex() + ", not the sender")
	}
	if meta.mode == uint8(verifier.ModeOptimistic) {
		if rec.Engine != "gguf" || rec.TraceRoot == (common.Hash{}) {
			return nil, bad("optimistic tasks need a gguf receipt with a trace root")
		}
		if m.replayer == nil {
			return nil, call.Revert("ModelUnavailable", rec.ModelDigest)
		}
		want, err := m.replayer.StepCount(rec)
		if errors.Is(err, ErrNoModel) {
			return nil, call.Revert("ModelUnavailable", rec.ModelDigest)
		}
		if err != nil {
			return nil, bad(err.Error())
		}
		if steps != want {
			return nil, bad("steps differ from the run's leaf count")
		}
	}
	// What a later one-step replay needs beyond the task's own words: the sampling parameters
	// and the token counts (about five words, where the whole receipt would take thirty).
	sampling, err := json.Marshal(rec.Sampling)
	if err != nil {
		return nil, err
	}
	meta.status = uint8(verifier.StatusSubmitted)
	meta.windowEnd = call.BlockNumber + p.ChallengeWindow
	s.SetWord(taskWord(id, tMeta), meta.word())
	s.SetAddr(taskWord(id, tProver), call.Caller)
	s.SetWord(taskWord(id, tOutputDigest), rec.OutputDigest)
	s.SetWord(taskWord(id, tTraceRoot), rec.TraceRoot)
	s.SetU64(taskWord(id, tSteps), steps)
	s.SetU256(taskWord(id, tBond), call.Value)
	s.SetBytes(taskReceiptSlot(id), sampling)
	s.SetWord(taskWord(id, tTokens), tokensWord(rec.PromptTokens, rec.OutputTokens))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ResultSubmitted", idb, call.Caller, rc.OutputDigest, rc.TraceRoot, steps, meta.windowEnd))
	}
	return nil, s.Err()
}

func (m *Module) attest(call *metisvm.Call, args []any) ([]any, error) {
	idb, digest := args[0].(*big.Int), args[1].([32]byte)
	s := store.New(call)
	id, meta, err := loadTask(call, s, idb)
	if err != nil {
		return nil, err
	}
	if meta.mode != uint8(verifier.ModeAttest) || meta.status != uint8(verifier.StatusSubmitted) {
		return nil, wrongStatus(call, id, meta)
	}
	chosen := false
	for i, n := uint64(0), s.U64(taskWord(id, tVerifiers)); i < n && s.Err() == nil; i++ {
		if s.Addr(taskVerifierSlot(id, i)) == call.Caller {
			chosen = true
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if !chosen {
		return nil, call.Revert("NotChosen", idb, call.Caller)
	}
	if s.U64(taskAttestSlot(id, call.Caller)) != 0 {
		return nil, call.Revert("AlreadyAttested", idb, call.Caller)
	}
	approve := common.Hash(digest) == s.Word(taskWord(id, tOutputDigest))
	vote := uint64(2)
	if approve {
		vote = 1
		meta.approvals++
	} else {
		meta.rejections++
	}
	s.SetU64(taskAttestSlot(id, call.Caller), vote)
	s.SetWord(taskWord(id, tMeta), meta.word())
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Attested", idb, call.Caller, approve))
	}
	return nil, s.Err()
}

func (m *Module) finalize(call *metisvm.Call, args []any) ([]any, error) {
	idb := args[0].(*big.Int)
	s := store.New(call)
	id, meta, err := loadTask(call, s, idb)
	if err != nil {
		return nil, err
	}
	p := readParams(s)
	switch verifier.Status(meta.status) {
	case verifier.StatusRequested:
		if call.BlockNumber <= meta.deadline {
			return nil, call.Revert("TooEarly", call.BlockNumber, meta.deadline)
		}
		return nil, m.expire(call, s, id, meta, false)
	case verifier.StatusSubmitted:
		if meta.mode == uint8(verifier.ModeAttest) {
			switch {
			case meta.approvals >= p.AttestK:
				if err := m.slashAttesters(call, s, id, p, 2); err != nil {
					return nil, err
				}
				return nil, m.succeed(call, s, id, meta, p)
			case meta.rejections > p.AttestN-p.AttestK:
				if err := m.slashAttesters(call, s, id, p, 1); err != nil {
					return nil, err
				}
				return nil, m.reject(call, s, id, meta, p, "attesters disagreed")
			case call.BlockNumber > meta.windowEnd:
				return nil, m.expire(call, s, id, meta, true)
			}
			return nil, call.Revert("TooEarly", call.BlockNumber, meta.windowEnd)
		}
		if call.BlockNumber <= meta.windowEnd {
			return nil, call.Revert("TooEarly", call.BlockNumber, meta.windowEnd)
		}
		// The trace root does not commit to the output: without the tokens revealed and open to
		// dispute, the output digest is unchecked.
		if s.Word(taskWord(id, tOutput)) == (common.Hash{}) {
			if err := s.Err(); err != nil {
				return nil, err
			}
			return nil, m.reject(call, s, id, meta, p, "the output was not revealed")
		}
		return nil, m.succeed(call, s, id, meta, p)
	case verifier.StatusChallenged:
		d := s.U64(taskWord(id, tDispute))
		r := rangeOf(s.Word(disputeWord(d, dRange)))
		flags := s.U64(disputeWord(d, dFlags))
		if err := s.Err(); err != nil {
			return nil, err
		}
		if call.BlockNumber <= r.deadline {
			return nil, call.Revert("TooEarly", call.BlockNumber, r.deadline)
		}
		proverMissed := flags&flagProverToMove != 0
		reason := "the challenger missed its move deadline"
		if proverMissed {
			reason = "the prover missed its move deadline"
		}
		return nil, m.resolve(call, s, d, !proverMissed, reason)
	}
	return nil, wrongStatus(call, id, meta)
}

// succeed pays out a verified result: the protocol cut to LazAI, the model's royalty to the
// class's holders, the rest and the bond to the prover.
func (m *Module) succeed(call *metisvm.Call, s *store.S, id uint64, meta taskMeta, p verifier.Params) error {
	fee := s.U256(taskWord(id, tFee))
	bond := s.U256(taskWord(id, tBond))
	prover := s.Addr(taskWord(id, tProver))
	classB := s.U256(taskWord(id, tClass)).ToBig()
	rc, err := m.receipt(s, id)
	if err != nil {
		return err
	}
	meta.status = uint8(verifier.StatusFinalized)
	s.SetWord(taskWord(id, tMeta), meta.word())
	if err := s.Err(); err != nil {
		return err
	}
	cut := new(uint256.Int).Mul(fee, uint256.NewInt(uint64(p.ProtocolCutBps)))
	cut.Div(cut, uint256.NewInt(10_000))
	if !cut.IsZero() {
		if _, err := call.CallMethod(lazai.Address, lazai.ABI, cut, "routeFees", uint8(lazai.SourceCompute)); err != nil {
			return err
		}
	}
	rest := new(uint256.Int).Sub(fee, cut)
	// The model's royalty: its usage fee per token of the run, paid to the class's holders.
	if out, err := call.CallMethod(dat.Address, dat.ABI, nil, "classInfo", classB); err == nil {
		class := *abi.ConvertType(out[0], new(dat.ClassInfo)).(*dat.ClassInfo)
		// The token counts are the prover's (uint64 each): add them as big integers, since a
		// wrapped sum would shrink the royalty.
		tokens := new(big.Int).Add(new(big.Int).SetUint64(rc.PromptTokens), new(big.Int).SetUint64(rc.OutputTokens))
		royalty := new(big.Int).Mul(class.UsageFee, tokens)
		if royalty.Cmp(rest.ToBig()) > 0 {
			royalty = rest.ToBig()
		}
		if royalty.Sign() > 0 {
			if _, err := call.CallMethod(dat.Address, dat.ABI, u256(royalty), "settleRevenue", classB); err == nil {
				rest.Sub(rest, u256(royalty))
			} // a class that cannot take revenue (revoked) leaves the royalty to the prover
		}
	}
	paid := new(uint256.Int).Add(rest, bond)
	s.Fail(call.Transfer(prover, paid))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("TaskFinalized", idBig(id), prover, bigOf(rest), bigOf(cut)))
	}
	return s.Err()
}

// reject refunds the fee and forfeits the prover's bond to the requester (minus the slash cut to
// LazAI): in attest mode after a rejecting majority, in optimistic mode when the output was not
// revealed by the end of the window. A dispute the prover loses is settled by resolve instead.
func (m *Module) reject(call *metisvm.Call, s *store.S, id uint64, meta taskMeta, p verifier.Params, reason string) error {
	requester := s.Addr(taskWord(id, tRequester))
	fee := s.U256(taskWord(id, tFee))
	bond := s.U256(taskWord(id, tBond))
	meta.status = uint8(verifier.StatusRejected)
	s.SetWord(taskWord(id, tMeta), meta.word())
	if err := s.Err(); err != nil {
		return err
	}
	cut := new(uint256.Int).Mul(bond, uint256.NewInt(uint64(p.SlashCutBps)))
	cut.Div(cut, uint256.NewInt(10_000))
	if !cut.IsZero() {
		if _, err := call.CallMethod(lazai.Address, lazai.ABI, cut, "routeFees", uint8(lazai.SourceCompute)); err != nil {
			return err
		}
	}
	s.Fail(call.Transfer(requester, new(uint256.Int).Add(fee, new(uint256.Int).Sub(bond, cut))))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Slashed", s.Addr(taskWord(id, tProver)), bigOf(bond), reason))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("TaskRejected", idBig(id), reason))
	}
	return s.Err()
}

// expire refunds the requester (and returns a submitted prover's bond).
func (m *Module) expire(call *metisvm.Call, s *store.S, id uint64, meta taskMeta, submitted bool) error {
	fee := s.U256(taskWord(id, tFee))
	meta.status = uint8(verifier.StatusExpired)
	s.SetWord(taskWord(id, tMeta), meta.word())
	s.Fail(call.Transfer(s.Addr(taskWord(id, tRequester)), fee))
	if submitted && s.Err() == nil {
		s.Fail(call.Transfer(s.Addr(taskWord(id, tProver)), s.U256(taskWord(id, tBond))))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("TaskExpired", idBig(id), bigOf(fee)))
	}
	return s.Err()
}

// slashAttesters takes slashCutBps of the stake of each chosen verifier whose attestation was
// wrongVote (1 approve, 2 reject) and sends it to LazAI.
func (m *Module) slashAttesters(call *metisvm.Call, s *store.S, id uint64, p verifier.Params, wrongVote uint64) error {
	total := new(uint256.Int)
	for i, n := uint64(0), s.U64(taskWord(id, tVerifiers)); i < n && s.Err() == nil; i++ {
		v := s.Addr(taskVerifierSlot(id, i))
		if s.U64(taskAttestSlot(id, v)) != wrongVote {
			continue
		}
		st := s.U256(vStakeSlot(v))
		cut := new(uint256.Int).Mul(st, uint256.NewInt(uint64(p.SlashCutBps)))
		cut.Div(cut, uint256.NewInt(10_000))
		if cut.IsZero() {
			continue
		}
		s.SetU256(vStakeSlot(v), new(uint256.Int).Sub(st, cut))
		total.Add(total, cut)
		if s.Err() == nil {
			s.Fail(call.EmitEvent("Slashed", v, bigOf(cut), "attested against the outcome"))
		}
	}
	if err := s.Err(); err != nil || total.IsZero() {
		return err
	}
	_, err := call.CallMethod(lazai.Address, lazai.ABI, total, "routeFees", uint8(lazai.SourceCompute))
	return err
}

// receipt rebuilds, from the task's words, the receipt fields a one-step replay reads (the
// signature was checked at submission and is not kept).
func (m *Module) receipt(s *store.S, id uint64) (*inference.Receipt, error) {
	raw := s.Bytes(taskReceiptSlot(id))
	prompt, output := tokensOf(s.Word(taskWord(id, tTokens)))
	rec := &inference.Receipt{
		Engine: "gguf", ModelDigest: s.Word(taskWord(id, tModelDigest)), InputDigest: s.Word(taskWord(id, tInputDigest)),
		OutputDigest: s.Word(taskWord(id, tOutputDigest)), PromptTokens: prompt, OutputTokens: output,
		TraceRoot: s.Word(taskWord(id, tTraceRoot)), ChainID: m.chainID,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &rec.Sampling); err != nil {
		return nil, fmt.Errorf("verifier: stored sampling of task %d: %w", id, err)
	}
	return rec, nil
}

func tokensWord(prompt, output uint64) common.Hash {
	var w common.Hash
	putU64(w[16:24], prompt)
	putU64(w[24:32], output)
	return w
}

func tokensOf(w common.Hash) (prompt, output uint64) { return getU64(w[16:24]), getU64(w[24:32]) }
