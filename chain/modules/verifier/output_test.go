package verifier_test

import (
	"math/big"
	"slices"
	"testing"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

// balance is account i's balance.
func (e *env) balance(i int) *big.Int {
	e.t.Helper()
	b, err := e.net.Eth.BalanceAt(e.ctx, e.net.Addrs[i], nil)
	e.ok(err)
	return b
}

// forge signs, as the prover, a receipt of the honest run req but claiming the output of tokens
// (its digest and count) and the trace root root, for a run of steps leaves.
func (e *env) forge(req inference.Request, rc *inference.Receipt, tokens []uint32, root [32]byte) *inference.Receipt {
	e.t.Helper()
	m, err := e.engine.Model(e.model)
	e.ok(err)
	resp := &inference.Response{Text: m.Vocab.Decode(slices.DeleteFunc(slices.Clone(tokens), m.Vocab.IsEOG))}
	out, err := inference.OutputDigest(resp)
	e.ok(err)
	f := *rc
	f.OutputDigest, f.OutputTokens, f.TraceRoot = out, uint64(len(tokens)), root
	f.Signature = nil
	e.ok(f.Sign(e.net.Keys[prover]))
	return &f
}

// fullRun finds a prompt whose run of maxTokens tokens ends by length (no end-of-generation token).
func (e *env) fullRun(maxTokens int) (inference.Request, *gguf.Trace) {
	e.t.Helper()
	for i := range 50 {
		req := inference.Request{Model: e.model, Prompt: "run " + string(rune('a'+i)), Sampling: inference.Sampling{MaxTokens: maxTokens}}
		_, tr, err := e.engine.GenerateTrace(e.ctx, req)
		e.ok(err)
		if tr.DoneReason == "length" && len(tr.Output()) == maxTokens {
			return req, tr
		}
	}
	e.t.Fatal("no prompt runs to its token limit")
	return inference.Request{}, nil
}

// requestFor opens an optimistic task for req.
func (e *env) requestFor(req inference.Request) *big.Int {
	e.t.Helper()
	digest, err := inference.InputDigest(req)
	e.ok(err)
	r := e.must(requester, big.NewInt(1e16), "requestCompute", e.classID, [32]byte(digest), req.Prompt, uint8(verifier.ModeOptimistic), e.head()+50)
	return topicOf(r, "TaskRequested")
}

// TestOutputReveal: the output reveal and the token dispute close the gap between the trace root
// and the receipt's output (its digest, token count and ending), on real runs.
func TestOutputReveal(t *testing.T) {
	e := newEnv(t)

	// An honest reveal finalizes; the reveal is the prover's alone, once, and a token dispute
	// needs it.
	req, tr := e.fullRun(6)
	id := e.requestFor(req)
	rcpt, _ := e.run(req)
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(tr.Steps)))
	_, err := e.send(challenger, bond, "challengeToken", id, uint64(0))
	e.refused(err, "OutputNotRevealed")
	in, _ := verifier.EncodeRequest(req)
	_, err = e.send(challenger, nil, "revealOutput", id, tr.Output(), in)
	e.refused(err, "NotProver")
	other := req
	other.Sampling.Seed = 5 // the receipt's sampling is binding
	_, err = e.reveal(id, other, tr.Output())
	e.refused(err, "BadOutput")
	_, err = e.reveal(id, req, tr.Output()[:len(tr.Output())-1])
	e.refused(err, "BadOutput")
	r, err := e.reveal(id, req, tr.Output())
	e.ok(err)
	if h := e.task(id).OutputTokensHash; h != replay.TokensHash(tr.Output()) {
		t.Fatalf("stored tokens hash %x", h)
	}
	if len(r.Logs) == 0 || r.Logs[0].Topics[0] != verifier.ABI.Events["OutputRevealed"].ID {
		t.Fatal("no OutputRevealed event")
	}
	_, err = e.reveal(id, req, tr.Output())
	e.refused(err, "AlreadyRevealed")
	e.advanceTo(e.task(id).WindowEnd + 1)
	e.must(requester, nil, "finalize", id)
	if st := verifier.Status(e.task(id).Status); st != verifier.StatusFinalized {
		t.Fatalf("honest reveal: status %v", st)
	}

	// A false output digest over an honest trace: refused at reveal, whatever tokens are
	// revealed; unrevealed, the result is rejected at the window's end and the bond goes to
	// the requester (minus the slash cut).
	req, tr = e.fullRun(5)
	id = e.requestFor(req)
	rcpt, _ = e.run(req)
	lie := *rcpt
	lie.OutputDigest[0] ^= 1
	lie.Signature = nil
	e.ok(lie.Sign(e.net.Keys[prover]))
	e.must(prover, bond, "submitResult", id, abiReceipt(&lie), uint64(len(tr.Steps)))
	_, err = e.reveal(id, req, tr.Output())
	e.refused(err, "BadOutput")
	e.advanceTo(e.task(id).WindowEnd + 1)
	before := e.balance(requester)
	e.must(challenger, nil, "finalize", id)
	got := new(big.Int).Sub(e.balance(requester), before)
	want := new(big.Int).Add(big.NewInt(1e16), new(big.Int).Sub(bond, big.NewInt(1e16))) // fee + bond − 10%
	if st := verifier.Status(e.task(id).Status); st != verifier.StatusRejected || got.Cmp(want) != 0 {
		t.Fatalf("unrevealed output: status %v, requester got %v, want %v", st, got, want)
	}

	// A truncated run: the honest trace of the first 4 tokens of a run that goes on to 8, its
	// output digest consistent with those 4. Nothing ended the run there: refused.
	req, tr = e.fullRun(8)
	id = e.requestFor(req)
	rcpt, _ = e.run(req)
	short := req
	short.Sampling.MaxTokens = 4
	_, trShort, err := e.engine.GenerateTrace(e.ctx, short)
	e.ok(err)
	if !slices.Equal(trShort.Output(), tr.Output()[:4]) {
		t.Fatal("the 4-token run is not a prefix of the 8-token run")
	}
	cut := e.forge(req, rcpt, trShort.Output(), trShort.Root)
	e.must(prover, bond, "submitResult", id, abiReceipt(cut), uint64(len(trShort.Steps)))
	_, err = e.reveal(id, req, trShort.Output())
	e.refused(err, "BadOutput")
	// Nor can it reveal more tokens than it claimed.
	_, err = e.reveal(id, req, tr.Output())
	e.refused(err, "BadOutput")

	// A prover whose honest trace sampled other tokens than the ones it reveals (and signs the
	// output digest of) loses the token dispute.
	req, tr = e.fullRun(6)
	id = e.requestFor(req)
	rcpt, _ = e.run(req)
	fake := slices.Clone(tr.Output())
	const k = 3
	fake[k] = 3 + 'Z' // the byte token "Z"
	if fake[k] == tr.Output()[k] {
		fake[k]++
	}
	forged := e.forge(req, rcpt, fake, tr.Root)
	e.must(prover, bond, "submitResult", id, abiReceipt(forged), uint64(len(tr.Steps)))
	_, err = e.reveal(id, req, fake)
	e.ok(err) // digest, count and ending all agree with the false tokens
	_, err = e.send(challenger, bond, "challengeToken", id, uint64(len(fake)))
	e.refused(err, "BadMove")
	d := disputeOf(e.must(challenger, bond, "challengeToken", id, uint64(k)))
	di := e.dispute(d)
	if !di.OutputToken || di.TokenIndex != k || !di.ProverToMove || di.Hi-di.Lo != 1 {
		t.Fatalf("token dispute %+v", di)
	}
	if s := tr.Steps[di.Lo]; s.Kind != gguf.StepOutput || s.Pos != tr.PromptLen-1+k {
		t.Fatalf("the dispute's leaf %d is step %+v, not output token %d's", di.Lo, s, k)
	}
	tree := replay.NewTree(replay.Leaves(tr))
	rec, path, err := replay.TokenProof(tr, tree, k)
	e.ok(err)
	_, err = e.send(prover, nil, "proveStep", d, []byte{1})
	e.refused(err, "BadMove")
	_, err = e.send(prover, nil, "proveToken", d, tr.Output(), rec, path)
	e.refused(err, "BadMove") // not the revealed tokens
	e.must(prover, nil, "proveToken", d, fake, rec, path)
	di, tk := e.dispute(d), e.task(id)
	if di.ProverWon || !di.Resolved || verifier.Status(tk.Status) != verifier.StatusRejected || tk.ProverBond.Sign() != 0 {
		t.Fatalf("false tokens: dispute %+v, status %v", di, verifier.Status(tk.Status))
	}
	if di.ProverMoves > 2 || di.ChallengerMoves > 2 {
		t.Fatalf("token dispute: %d prover and %d challenger moves", di.ProverMoves, di.ChallengerMoves)
	}

	// A challenger disputing a correct token loses its bond to the prover; the result then
	// finalizes. A proof of another leaf, or with a bad path, would have lost.
	req, tr = e.fullRun(6)
	id = e.requestFor(req)
	rcpt, _ = e.run(req)
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(tr.Steps)))
	_, err = e.reveal(id, req, tr.Output())
	e.ok(err)
	d = disputeOf(e.must(challenger, bond, "challengeToken", id, uint64(2)))
	tree = replay.NewTree(replay.Leaves(tr))
	rec, path, err = replay.TokenProof(tr, tree, 2)
	e.ok(err)
	before = e.balance(prover)
	r = e.must(prover, nil, "proveToken", d, tr.Output(), rec, path)
	gas := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	gain := new(big.Int).Add(new(big.Int).Sub(e.balance(prover), before), gas)
	if di := e.dispute(d); !di.ProverWon || gain.Cmp(big.NewInt(9e16)) != 0 {
		t.Fatalf("correct token: dispute %+v, prover gained %v", di, gain)
	}
	tk = e.task(id)
	if verifier.Status(tk.Status) != verifier.StatusSubmitted || tk.WindowEnd < r.BlockNumber.Uint64()+verifier.DefaultParams().MoveTimeout {
		t.Fatalf("after a won token dispute: status %v, window end %d", verifier.Status(tk.Status), tk.WindowEnd)
	}
	e.advanceTo(tk.WindowEnd + 1)
	e.must(requester, nil, "finalize", id)
	if st := verifier.Status(e.task(id).Status); st != verifier.StatusFinalized {
		t.Fatalf("status %v", st)
	}

	// A prover that does not answer a token dispute in time loses.
	req, tr = e.fullRun(4)
	id = e.requestFor(req)
	rcpt, _ = e.run(req)
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(tr.Steps)))
	_, err = e.reveal(id, req, tr.Output())
	e.ok(err)
	d = disputeOf(e.must(challenger, bond, "challengeToken", id, uint64(0)))
	_, err = e.send(requester, nil, "finalize", id)
	e.refused(err, "TooEarly")
	e.advanceTo(e.dispute(d).MoveDeadline + 1)
	rec, path, err = replay.TokenProof(tr, replay.NewTree(replay.Leaves(tr)), 0)
	e.ok(err)
	_, err = e.send(prover, nil, "proveToken", d, tr.Output(), rec, path)
	e.refused(err, "MoveTimedOut")
	e.must(challenger, nil, "finalize", id)
	if di, tk := e.dispute(d), e.task(id); di.ProverWon || verifier.Status(tk.Status) != verifier.StatusRejected {
		t.Fatalf("silent prover: %+v, status %v", di, verifier.Status(tk.Status))
	}

	t.Logf("gas: revealOutput %v, challengeToken %v, proveToken %v (record %d bytes, path %d)",
		minMax(e.gas["revealOutput"]), minMax(e.gas["challengeToken"]), minMax(e.gas["proveToken"]), len(rec), len(path))
}
