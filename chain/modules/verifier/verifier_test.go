package verifier_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

const (
	requester  = 1
	prover     = 2
	challenger = 3
)

type env struct {
	t        *testing.T
	ctx      context.Context
	net      *devnet.Net
	dir      string
	model    string // path of the GGUF file
	classID  *big.Int
	engine   *gguf.Engine
	cl       []*chaintx.Client // Verifier module, per dev account, fixed gas
	gas      map[string][]uint64
	maxMoves int
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, ctx: context.Background(), dir: t.TempDir(), engine: gguf.New(), gas: map[string][]uint64{}}
	e.model = filepath.Join(e.dir, "tiny.gguf")
	w := gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 7)
	if err := w.WriteFile(e.model); err != nil {
		t.Fatal(err)
	}
	e.net = devnet.Start(t, devnet.Options{Modules: node.DefaultModulesFor(1337, replay.New(e.dir))})
	for i := range 10 {
		c := chaintx.New(e.net.Eth, verifier.Address, verifier.ABI, e.net.Signer(i))
		e.cl = append(e.cl, c)
	}
	// The model's DAT class: integrity hash = the file's sha256, owned by account 0, verified by
	// a validator (account 9: an owner may not attest its own class).
	raw, err := os.ReadFile(e.model)
	e.ok(err)
	digest := sha256.Sum256(raw)
	dc := dat.NewClient(e.net.Eth, e.net.Signer(0))
	val := dat.NewClient(e.net.Eth, e.net.Signer(9))
	lz := lazai.NewClient(e.net.Eth, e.net.Signer(9))
	_, err = lz.Stake(e.ctx, big.NewInt(params.Ether))
	e.ok(err)
	_, err = val.RegisterValidator(e.ctx)
	e.ok(err)
	e.classID, _, err = dc.CreateClass(e.ctx, dat.ClassParams{Kind: uint8(dat.Model), MetadataURI: "file://tiny.gguf",
		IntegrityHash: digest, UsageFee: big.NewInt(1e12)})
	e.ok(err)
	_, err = val.Attest(e.ctx, e.classID, true)
	e.ok(err)
	return e
}

func (e *env) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// send sends a Verifier call from account i with a fixed gas limit (so that refused moves are
// mined and fail) and records the gas of successful ones by method.
func (e *env) send(i int, value *big.Int, method string, args ...any) (*types.Receipt, error) {
	r, err := e.cl[i].Send(e.ctx, chaintx.TxOptions{Value: value, GasLimit: 8_000_000}, method, args...)
	if err == nil {
		e.gas[method] = append(e.gas[method], r.GasUsed)
	}
	return r, err
}

func (e *env) must(i int, value *big.Int, method string, args ...any) *types.Receipt {
	e.t.Helper()
	r, err := e.send(i, value, method, args...)
	e.ok(err)
	return r
}

func (e *env) refused(err error, name string) {
	e.t.Helper()
	var te *chaintx.TxError
	if err == nil || !errors.As(err, &te) {
		e.t.Fatalf("want a mined failure %s, got %v", name, err)
	}
	if got := chaintx.ErrorName(err); got != name {
		e.t.Fatalf("error %v, want %s", err, name)
	}
}

func (e *env) head() uint64 {
	n, err := e.net.Eth.BlockNumber(e.ctx)
	e.ok(err)
	return n
}

// advanceTo seals blocks until the head is at least n (any transaction makes a block).
func (e *env) advanceTo(n uint64) {
	e.t.Helper()
	lz := lazai.NewClient(e.net.Eth, e.net.Signer(9))
	for e.head() < n {
		_, err := lz.RouteFees(e.ctx, lazai.SourceOther, big.NewInt(1))
		e.ok(err)
	}
}

func (e *env) task(id *big.Int) verifier.TaskInfo {
	e.t.Helper()
	out, err := chaintx.CallInto[verifier.TaskInfo](e.ctx, e.cl[0], "task", id)
	e.ok(err)
	return out
}

func (e *env) dispute(id *big.Int) verifier.DisputeInfo {
	e.t.Helper()
	out, err := chaintx.CallInto[verifier.DisputeInfo](e.ctx, e.cl[0], "dispute", id)
	e.ok(err)
	return out
}

func topicOf(r *types.Receipt, name string) *big.Int { return topicN(r, name, 1) }

// disputeOf is the dispute id of a Challenged event: its second indexed argument (the first is
// the task id).
func disputeOf(r *types.Receipt) *big.Int { return topicN(r, "Challenged", 2) }

func topicN(r *types.Receipt, name string, n int) *big.Int {
	for _, l := range r.Logs {
		if l.Address == verifier.Address && l.Topics[0] == verifier.ABI.Events[name].ID && len(l.Topics) > n {
			return l.Topics[n].Big()
		}
	}
	return nil
}

// request opens a task for prompt and returns its id and the request.
func (e *env) request(mode verifier.Mode, prompt string, maxTokens int) (*big.Int, inference.Request) {
	e.t.Helper()
	req := inference.Request{Model: e.model, Prompt: prompt, Sampling: inference.Sampling{MaxTokens: maxTokens}}
	digest, err := inference.InputDigest(req)
	e.ok(err)
	r := e.must(requester, big.NewInt(1e16), "requestCompute", e.classID, [32]byte(digest), prompt, uint8(mode), e.head()+50)
	return topicOf(r, "TaskRequested"), req
}

// run executes the request as the prover and returns the signed receipt and the trace.
func (e *env) run(req inference.Request) (*inference.Receipt, *gguf.Trace) {
	e.t.Helper()
	resp, tr, err := e.engine.GenerateTrace(e.ctx, req)
	e.ok(err)
	rcpt, err := inference.NewReceipt("gguf", req, resp, 1337, time.Unix(1_800_000_000, 0))
	e.ok(err)
	e.ok(rcpt.Sign(e.net.Keys[prover]))
	return rcpt, tr
}

func abiReceipt(r *inference.Receipt) verifier.Receipt {
	stop := r.Sampling.Stop
	if stop == nil {
		stop = []string{}
	}
	return verifier.Receipt{
		Engine: r.Engine, Model: r.Model, ModelDigest: r.ModelDigest, InputDigest: r.InputDigest,
		Temperature: r.Sampling.Temperature, TopK: r.Sampling.TopK, TopP: r.Sampling.TopP, Seed: r.Sampling.Seed,
		MaxTokens: r.Sampling.MaxTokens, Stop: stop, OutputDigest: r.OutputDigest, PromptTokens: r.PromptTokens,
		OutputTokens: r.OutputTokens, TraceRoot: r.TraceRoot, Timestamp: r.Timestamp, ChainId: r.ChainID,
		Signature: r.Signature,
	}
}

var bond = big.NewInt(1e17)

// reveal reveals the run's output tokens (the prover's move after submitResult).
func (e *env) reveal(id *big.Int, req inference.Request, tokens []uint32) (*types.Receipt, error) {
	e.t.Helper()
	in, err := verifier.EncodeRequest(req)
	e.ok(err)
	if tokens == nil {
		tokens = []uint32{}
	}
	return e.send(prover, nil, "revealOutput", id, tokens, in)
}

// TestAttestation: three registered verifiers are chosen; two matching attestations finalize;
// the fee pays the prover, the protocol cut and the model's holders; double finalize refuses.
func TestAttestation(t *testing.T) {
	e := newEnv(t)
	for _, v := range []int{4, 5, 6} {
		e.must(v, big.NewInt(params.Ether), "registerVerifier")
	}
	_, err := e.send(4, big.NewInt(params.Ether), "registerVerifier")
	e.refused(err, "AlreadyVerifier")
	_, err = e.send(7, big.NewInt(1), "registerVerifier")
	e.refused(err, "InsufficientStake")

	id, req := e.request(verifier.ModeAttest, "hello", 8)
	tk := e.task(id)
	if len(tk.Verifiers) != 3 {
		t.Fatalf("chosen %v", tk.Verifiers)
	}
	rcpt, _ := e.run(req)
	_, err = e.send(prover, big.NewInt(1), "submitResult", id, abiReceipt(rcpt), uint64(0))
	e.refused(err, "BadBond")
	forged := *rcpt
	forged.OutputTokens++
	_, err = e.send(prover, bond, "submitResult", id, abiReceipt(&forged), uint64(0))
	e.refused(err, "BadReceipt") // the signature no longer matches
	_, err = e.send(prover, bond, "submitResult", big.NewInt(99), abiReceipt(rcpt), uint64(0))
	e.refused(err, "UnknownTask")
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(0))
	_, err = e.send(7, nil, "attest", id, [32]byte(rcpt.OutputDigest))
	e.refused(err, "NotChosen")
	e.must(4, nil, "attest", id, [32]byte(rcpt.OutputDigest))
	_, err = e.send(4, nil, "attest", id, [32]byte(rcpt.OutputDigest))
	e.refused(err, "AlreadyAttested")
	_, err = e.send(requester, nil, "finalize", id)
	e.refused(err, "TooEarly")
	e.must(5, nil, "attest", id, [32]byte(rcpt.OutputDigest))

	before, _ := e.net.Eth.BalanceAt(e.ctx, e.net.Addrs[prover], nil)
	classBefore, _ := classRevenue(e)
	e.must(requester, nil, "finalize", id)
	after, _ := e.net.Eth.BalanceAt(e.ctx, e.net.Addrs[prover], nil)
	if verifier.Status(e.task(id).Status) != verifier.StatusFinalized {
		t.Fatalf("status %v", verifier.Status(e.task(id).Status))
	}
	royalty := new(big.Int).Mul(big.NewInt(1e12), new(big.Int).SetUint64(rcpt.PromptTokens+rcpt.OutputTokens))
	classAfter, _ := classRevenue(e)
	if d := new(big.Int).Sub(classAfter, classBefore); d.Cmp(royalty) != 0 {
		t.Fatalf("model class earned %v, want the royalty %v", d, royalty)
	}
	// fee 0.01 METIS − 5% cut − royalty, plus the bond back.
	want := new(big.Int).Sub(big.NewInt(1e16), big.NewInt(5e14))
	want.Sub(want, royalty).Add(want, bond)
	if got := new(big.Int).Sub(after, before); got.Cmp(want) != 0 {
		t.Fatalf("prover received %v, want %v", got, want)
	}
	_, err = e.send(requester, nil, "finalize", id)
	e.refused(err, "WrongStatus")

	// Verifiers unbond before they withdraw.
	e.must(6, nil, "unregisterVerifier")
	_, err = e.send(6, nil, "withdrawVerifierStake")
	e.refused(err, "StillUnbonding")
}

func classRevenue(e *env) (*big.Int, error) {
	dc := dat.NewClient(e.net.Eth, nil)
	c, err := dc.Class(e.ctx, e.classID)
	if err != nil {
		return nil, err
	}
	return c.TotalRevenue, nil
}

// TestOptimisticUnchallenged: an honest result finalizes after the window; a late challenge and
// a double finalize refuse; an unserved task expires and refunds.
func TestOptimisticUnchallenged(t *testing.T) {
	e := newEnv(t)
	id, req := e.request(verifier.ModeOptimistic, "the quick brown fox", 6)
	rcpt, tr := e.run(req)
	_, err := e.send(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(tr.Steps)+1))
	e.refused(err, "BadReceipt") // the leaf count must be the run's
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(tr.Steps)))
	_, err = e.reveal(id, req, tr.Output())
	e.ok(err)
	_, err = e.send(requester, nil, "finalize", id)
	e.refused(err, "TooEarly")
	e.advanceTo(e.task(id).WindowEnd)
	e.must(requester, nil, "finalize", id)
	_, err = e.send(challenger, bond, "challenge", id)
	e.refused(err, "WrongStatus")
	_, err = e.send(requester, nil, "finalize", id)
	e.refused(err, "WrongStatus")

	// A second task: the window closes, then a challenge is late.
	id2, req2 := e.request(verifier.ModeOptimistic, "late", 4)
	rcpt2, tr2 := e.run(req2)
	e.must(prover, bond, "submitResult", id2, abiReceipt(rcpt2), uint64(len(tr2.Steps)))
	e.advanceTo(e.task(id2).WindowEnd + 1)
	_, err = e.send(challenger, bond, "challenge", id2)
	e.refused(err, "WindowClosed")

	// A task nobody serves expires; the requester gets the fee back.
	id3, _ := e.request(verifier.ModeOptimistic, "nobody", 4)
	e.advanceTo(e.task(id3).Deadline + 1)
	before, _ := e.net.Eth.BalanceAt(e.ctx, e.net.Addrs[requester], nil)
	r := e.must(prover, nil, "finalize", id3) // anyone may call it
	after, _ := e.net.Eth.BalanceAt(e.ctx, e.net.Addrs[requester], nil)
	if d := new(big.Int).Sub(after, before); d.Cmp(big.NewInt(1e16)) != 0 || verifier.Status(e.task(id3).Status) != verifier.StatusExpired {
		t.Fatalf("refund %v (receipt %s), status %v", d, r.TxHash, verifier.Status(e.task(id3).Status))
	}
}

// game plays a dispute: the prover defends leaves (its claim), the challenger bisects toward the
// leftmost leaf where its honest leaves differ; proveStep uses BuildProof on the honest trace.
// skipProver / skipChallenger stop that side from moving at the given move count.
func (e *env) game(d *big.Int, claim, honest [][32]byte, tr *gguf.Trace, req inference.Request, lieAt int) {
	e.t.Helper()
	claimTree, honestTree := replay.NewTree(claim), replay.NewTree(honest)
	for {
		di := e.dispute(d)
		if di.Resolved {
			break
		}
		lo, hi := int(di.Lo), int(di.Hi)
		if di.ProverToMove {
			if hi-lo == 1 {
				proof, err := replay.BuildProof(tr, req, lo)
				e.ok(err)
				e.must(prover, nil, "proveStep", d, proof)
				continue
			}
			mid := int(replay.Split(uint64(lo), uint64(hi)))
			l, err := claimTree.NodeHash(lo, mid)
			e.ok(err)
			r, err := claimTree.NodeHash(mid, hi)
			e.ok(err)
			e.must(prover, nil, "bisect", d, l, r)
			continue
		}
		// The challenger: reads the revealed children from the Bisected event of the last move.
		mid := int(replay.Split(uint64(lo), uint64(hi)))
		hl, err := honestTree.NodeHash(lo, mid)
		e.ok(err)
		cl, err := claimTree.NodeHash(lo, mid)
		e.ok(err)
		e.must(challenger, nil, "choose", d, hl != cl)
	}
	di := e.dispute(d)
	e.maxMoves = max(e.maxMoves, int(di.ProverMoves), int(di.ChallengerMoves))
	if limit := int(math.Ceil(math.Log2(float64(len(claim))))) + 2; int(di.ProverMoves) > limit || int(di.ChallengerMoves) > limit {
		e.t.Fatalf("%d leaves: %d prover and %d challenger moves, more than ⌈log₂ n⌉+2 = %d", len(claim), di.ProverMoves, di.ChallengerMoves, limit)
	}
	_ = lieAt
}

// TestDisputes (acceptance 1 and 2): a prover who tampers with one step loses the bisection and
// is slashed, whatever step it tampers with and however long the trace; a challenger who disputes
// an honest result loses; a side that misses its move deadline loses; moves per side stay within
// ⌈log₂ n⌉ + 2.
func TestDisputes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		prompt    string
		maxTokens int
		lie       func(n int) int // which leaf the prover tampers with; -1: honest
	}{
		{"a", 3, func(n int) int { return 0 }},
		{"bisection", 9, func(n int) int { return n / 2 }},
		{"one step on chain", 17, func(n int) int { return n - 1 }},
		{"honest", 5, func(int) int { return -1 }},
	} {
		id, req := e.request(verifier.ModeOptimistic, tc.prompt, tc.maxTokens)
		rcpt, tr := e.run(req)
		honest := replay.Leaves(tr)
		claim := append([][32]byte(nil), honest...)
		lie := tc.lie(len(claim))
		if lie >= 0 {
			claim[lie][0] ^= 0xff
			rcpt.TraceRoot = replay.NewTree(claim).Root()
			rcpt.Signature = nil
			e.ok(rcpt.Sign(e.net.Keys[prover]))
		}
		e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(claim)))
		_, err := e.reveal(id, req, tr.Output()) // the output is honest; the trace root may not be
		e.ok(err)
		challengerHonest := lie >= 0
		var d *big.Int
		r := e.must(challenger, bond, "challenge", id)
		d = disputeOf(r)
		if challengerHonest {
			e.game(d, claim, honest, tr, req, lie)
		} else {
			// A challenger disputing an honest result: it must claim some leaf differs; pretend
			// its trace differs at the last leaf.
			wrong := append([][32]byte(nil), honest...)
			wrong[len(wrong)-1][1] ^= 1
			e.game(d, claim, wrong, tr, req, -1)
		}
		di := e.dispute(d)
		tk := e.task(id)
		if lie >= 0 {
			if di.ProverWon || verifier.Status(tk.Status) != verifier.StatusRejected {
				t.Fatalf("lie at leaf %d of %d: prover won %v, status %v", lie, len(claim), di.ProverWon, verifier.Status(tk.Status))
			}
			if di.Hi-di.Lo != 1 || int(di.Lo) != lie {
				t.Fatalf("the bisection ended at [%d,%d), the lie was at %d", di.Lo, di.Hi, lie)
			}
			if tk.ProverBond.Sign() != 0 {
				t.Fatalf("the lying prover kept its bond %v", tk.ProverBond)
			}
		} else {
			if !di.ProverWon || verifier.Status(tk.Status) != verifier.StatusSubmitted {
				t.Fatalf("honest prover: won %v, status %v", di.ProverWon, verifier.Status(tk.Status))
			}
			e.advanceTo(tk.WindowEnd + 1)
			e.must(requester, nil, "finalize", id)
		}
		t.Logf("%d leaves, lie at %d: %d prover moves, %d challenger moves", len(claim), lie, di.ProverMoves, di.ChallengerMoves)
	}

	// Deadlines: a prover that does not answer a challenge loses; a challenger that does not
	// choose loses.
	id, req := e.request(verifier.ModeOptimistic, "silent prover", 4)
	rcpt, tr := e.run(req)
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(tr.Steps)))
	d := disputeOf(e.must(challenger, bond, "challenge", id))
	_, err := e.send(challenger, nil, "choose", d, true)
	e.refused(err, "NotYourMove")
	_, err = e.send(requester, nil, "finalize", id)
	e.refused(err, "TooEarly")
	e.advanceTo(e.dispute(d).MoveDeadline + 1)
	_, err = e.send(prover, nil, "bisect", d, [32]byte{}, [32]byte{})
	e.refused(err, "MoveTimedOut")
	e.must(requester, nil, "finalize", id)
	if di := e.dispute(d); !di.Resolved || di.ProverWon {
		t.Fatalf("silent prover: %+v", di)
	}

	id, req = e.request(verifier.ModeOptimistic, "silent challenger", 4)
	rcpt, tr = e.run(req)
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(len(tr.Steps)))
	d = disputeOf(e.must(challenger, bond, "challenge", id))
	leaves := replay.NewTree(replay.Leaves(tr))
	mid := int(replay.Split(0, uint64(len(tr.Steps))))
	l, _ := leaves.NodeHash(0, mid)
	r, _ := leaves.NodeHash(mid, len(tr.Steps))
	_, err = e.send(prover, nil, "bisect", d, r, l)
	e.refused(err, "BadMove") // children that do not hash to the node
	e.must(prover, nil, "bisect", d, l, r)
	e.advanceTo(e.dispute(d).MoveDeadline + 1)
	e.must(prover, nil, "finalize", id)
	if di := e.dispute(d); !di.Resolved || !di.ProverWon {
		t.Fatalf("silent challenger: %+v", di)
	}
	_, err = e.send(prover, nil, "proveStep", d, []byte{1})
	e.refused(err, "BadMove")
	_, err = e.send(prover, nil, "bisect", big.NewInt(99), l, r)
	e.refused(err, "UnknownDispute")

	t.Logf("gas: submitResult %v, challenge %v, bisect %v, choose %v, proveStep %v",
		e.gas["submitResult"], e.gas["challenge"], minMax(e.gas["bisect"]), minMax(e.gas["choose"]), e.gas["proveStep"])
}

func minMax(v []uint64) [2]uint64 {
	if len(v) == 0 {
		return [2]uint64{}
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return [2]uint64{lo, hi}
}

// TestRoyaltyTokenCountsDoNotWrap (issue 12, item 8): the royalty is the usage fee per token of
// the run, and the token counts are the prover's. They used to be added as uint64s, so a prover
// claiming 2^64−1 prompt tokens and 1 output token wrapped the count to zero and kept the
// model's royalty; added without wrapping, the royalty (capped at the fee less the cut) goes to
// the model's holders.
func TestRoyaltyTokenCountsDoNotWrap(t *testing.T) {
	e := newEnv(t)
	for _, v := range []int{4, 5, 6} {
		e.must(v, big.NewInt(params.Ether), "registerVerifier")
	}
	id, req := e.request(verifier.ModeAttest, "hello", 8)
	rcpt, _ := e.run(req)
	rcpt.PromptTokens, rcpt.OutputTokens = math.MaxUint64, 1
	e.ok(rcpt.Sign(e.net.Keys[prover]))
	e.must(prover, bond, "submitResult", id, abiReceipt(rcpt), uint64(0))
	e.must(4, nil, "attest", id, [32]byte(rcpt.OutputDigest))
	e.must(5, nil, "attest", id, [32]byte(rcpt.OutputDigest))
	before, _ := classRevenue(e)
	e.must(requester, nil, "finalize", id)
	after, _ := classRevenue(e)
	want := new(big.Int).Sub(big.NewInt(1e16), big.NewInt(5e14)) // the fee less the 5% cut
	if got := new(big.Int).Sub(after, before); got.Cmp(want) != 0 {
		t.Fatalf("the model's holders got %v, want the royalty capped at %v", got, want)
	}
}
