package verifier_test

import (
	"context"
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

// Dev accounts by role.
const (
	acctRequester = 1
	acctProver    = 2
	acctBlocks    = 9 // sends transfers to advance the chain
)

type clientEnv struct {
	t       *testing.T
	ctx     context.Context
	net     *devnet.Net
	model   string
	classID *big.Int
	cl      []*verifier.Client // per dev account
}

// newClientEnv starts a node whose Verifier module replays steps with the models in a
// directory holding one random GGUF model, anchored as a verified model class.
func newClientEnv(t *testing.T) *clientEnv {
	e := &clientEnv{t: t, ctx: context.Background()}
	dir := t.TempDir()
	e.model = devnet.WriteModel(t, dir, "tiny.gguf", 11)
	e.net = devnet.Start(t, devnet.Options{Modules: node.DefaultModulesFor(1337, replay.New(dir))})
	e.classID = devnet.ModelClass(t, e.ctx, e.net.Eth, e.net.Keys[0], e.model)
	for i := range e.net.Keys {
		e.cl = append(e.cl, verifier.NewClient(e.net.Eth, e.net.Signer(i)))
	}
	return e
}

func (e *clientEnv) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *clientEnv) head() uint64 {
	n, err := e.net.Eth.BlockNumber(e.ctx)
	e.ok(err)
	return n
}

// mine advances the chain by n blocks with transfers.
func (e *clientEnv) mine(n int) {
	e.t.Helper()
	to := e.net.Addrs[acctBlocks]
	for range n {
		nonce, err := e.net.Eth.PendingNonceAt(e.ctx, to)
		e.ok(err)
		tx, err := types.SignNewTx(e.net.Keys[acctBlocks], types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
			ChainID: big.NewInt(1337), Nonce: nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
			Gas: 21000, To: &to})
		e.ok(err)
		e.ok(e.net.Eth.SendTransaction(e.ctx, tx))
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := e.net.Eth.TransactionReceipt(e.ctx, tx.Hash()); err == nil {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatal("transfer not mined")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// prove runs req on the model as a prover would and returns its signed receipt and trace.
func (e *clientEnv) prove(req inference.Request, signer int) (*inference.Receipt, *gguf.Trace) {
	e.t.Helper()
	local := req
	local.Model = e.model
	resp, tr, err := gguf.New().GenerateTrace(e.ctx, local)
	e.ok(err)
	rc, err := inference.NewReceipt("gguf", req, resp, 1337, time.Now())
	e.ok(err)
	e.ok(rc.Sign(e.net.Keys[signer]))
	return rc, tr
}

func wantErr(t *testing.T, err error, name string) {
	t.Helper()
	if got := verifier.ErrorName(err); got != name {
		t.Fatalf("error %v (name %q), want %s", err, got, name)
	}
}

func TestClientVerifierStake(t *testing.T) {
	e := newClientEnv(t)
	v := e.cl[5]
	p, err := v.Params(e.ctx)
	e.ok(err)
	if !reflect.DeepEqual(p, verifier.DefaultParams()) {
		t.Errorf("params %+v, want the defaults", p)
	}
	_, err = v.RegisterVerifier(e.ctx, big.NewInt(1))
	wantErr(t, err, "InsufficientStake")
	_, err = v.RegisterVerifier(e.ctx, nil)
	e.ok(err)
	_, err = v.RegisterVerifier(e.ctx, nil)
	wantErr(t, err, "AlreadyVerifier")
	st, err := v.VerifierStake(e.ctx, v.From())
	e.ok(err)
	if !st.Active || st.Stake.Cmp(p.MinVerifierStake) != 0 || st.ReadyAt != 0 {
		t.Errorf("stake %+v", st)
	}
	vs, err := v.Verifiers(e.ctx)
	e.ok(err)
	if len(vs) != 1 || vs[0] != v.From() {
		t.Errorf("verifiers %v", vs)
	}
	r, err := v.UnregisterVerifier(e.ctx)
	e.ok(err)
	st, err = v.VerifierStake(e.ctx, v.From())
	e.ok(err)
	if st.Active || st.ReadyAt != r.BlockNumber.Uint64()+p.VerifierUnbonding {
		t.Errorf("after unregister: %+v (unregistered in block %d)", st, r.BlockNumber)
	}
	_, err = v.WithdrawVerifierStake(e.ctx)
	wantErr(t, err, "StillUnbonding")
	e.mine(int(p.VerifierUnbonding))
	before, err := e.net.Eth.BalanceAt(e.ctx, v.From(), nil)
	e.ok(err)
	r, err = v.WithdrawVerifierStake(e.ctx)
	e.ok(err)
	after, err := e.net.Eth.BalanceAt(e.ctx, v.From(), nil)
	e.ok(err)
	gas := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	if got := new(big.Int).Sub(new(big.Int).Add(after, gas), before); got.Cmp(p.MinVerifierStake) != 0 {
		t.Errorf("withdrew %s, want %s", got, p.MinVerifierStake)
	}
}

// TestClientAttest walks an attest task through the client: four verifiers registered, three
// chosen, the published request read back from TaskRequested, a signed receipt submitted, two
// matching attestations (k = 2), finalize paying the prover, and the errors on the way.
func TestClientAttest(t *testing.T) {
	e := newClientEnv(t)
	for _, i := range []int{4, 5, 6, 7} {
		_, err := e.cl[i].RegisterVerifier(e.ctx, nil)
		e.ok(err)
	}
	requested := make(chan *verifier.TaskRequested, 4)
	sub, err := e.cl[0].WatchTaskRequested(e.ctx, requested)
	e.ok(err)
	defer sub.Unsubscribe()
	finalized := make(chan *verifier.TaskFinalized, 4)
	sub2, err := e.cl[0].WatchTaskFinalized(e.ctx, finalized)
	e.ok(err)
	defer sub2.Unsubscribe()

	req := inference.Request{Model: "dat:tiny", Prompt: "Attest this", Sampling: inference.Sampling{MaxTokens: 6, Temperature: 0.5, Seed: 3}}
	fee := big.NewInt(params.Ether / 100)
	_, _, err = e.cl[acctRequester].RequestCompute(e.ctx, big.NewInt(99), req, verifier.ModeAttest, e.head()+50, fee)
	wantErr(t, err, "ClassNotFound")
	id, _, err := e.cl[acctRequester].RequestCompute(e.ctx, e.classID, req, verifier.ModeAttest, e.head()+50, fee)
	e.ok(err)
	if n, err := e.cl[0].TaskCount(e.ctx); err != nil || n != 1 || id.Uint64() != 1 {
		t.Fatalf("task id %v, count %d, %v", id, n, err)
	}
	ev := <-requested
	got, err := ev.Request()
	e.ok(err)
	if got.Prompt != req.Prompt || got.Model != req.Model || !reflect.DeepEqual(got.Sampling, req.Sampling) ||
		ev.TaskId.Cmp(id) != 0 || verifier.Mode(ev.Mode) != verifier.ModeAttest || ev.Fee.Cmp(fee) != 0 {
		t.Fatalf("TaskRequested %+v, request %+v", ev, got)
	}
	task, err := e.cl[0].Task(e.ctx, id)
	e.ok(err)
	if verifier.Status(task.Status) != verifier.StatusRequested || len(task.Verifiers) != 3 || task.Requester != e.net.Addrs[acctRequester] {
		t.Fatalf("task %+v", task)
	}

	rc, _ := e.prove(req, acctProver)
	_, err = e.cl[acctProver].SubmitResult(e.ctx, big.NewInt(7), rc, 0, nil)
	wantErr(t, err, "UnknownTask")
	_, err = e.cl[acctProver].SubmitResult(e.ctx, id, rc, 0, big.NewInt(1))
	wantErr(t, err, "BadBond")
	other, _ := e.prove(req, acctRequester) // signed by someone else than the sender
	_, err = e.cl[acctProver].SubmitResult(e.ctx, id, other, 0, nil)
	wantErr(t, err, "BadReceipt")
	_, err = e.cl[acctProver].SubmitResult(e.ctx, id, rc, 0, nil)
	e.ok(err)

	var notChosen int
	var chosen []int
	for _, i := range []int{4, 5, 6, 7} {
		if slices.Contains(task.Verifiers, e.net.Addrs[i]) {
			chosen = append(chosen, i)
		} else {
			notChosen = i
		}
	}
	_, err = e.cl[notChosen].Attest(e.ctx, id, rc.OutputDigest)
	wantErr(t, err, "NotChosen")
	_, err = e.cl[chosen[0]].Attest(e.ctx, id, rc.OutputDigest)
	e.ok(err)
	_, err = e.cl[chosen[0]].Attest(e.ctx, id, rc.OutputDigest)
	wantErr(t, err, "AlreadyAttested")
	_, err = e.cl[0].Finalize(e.ctx, id)
	wantErr(t, err, "TooEarly")
	_, err = e.cl[chosen[1]].Attest(e.ctx, id, rc.OutputDigest)
	e.ok(err)
	task, err = e.cl[0].Task(e.ctx, id)
	e.ok(err)
	if task.Approvals != 2 || task.Prover != e.net.Addrs[acctProver] || task.OutputDigest != rc.OutputDigest {
		t.Fatalf("task after attestations %+v", task)
	}
	_, err = e.cl[0].Finalize(e.ctx, id)
	e.ok(err)
	fin := <-finalized
	if fin.TaskId.Cmp(id) != 0 || fin.Prover != e.net.Addrs[acctProver] || fin.Paid.Sign() <= 0 {
		t.Errorf("TaskFinalized %+v", fin)
	}
	_, err = e.cl[0].Finalize(e.ctx, id)
	wantErr(t, err, "WrongStatus")
}

// TestClientOptimistic: an honest optimistic result stands through an unchallenged window and
// finalizes; a challenge after the window is refused.
func TestClientOptimistic(t *testing.T) {
	e := newClientEnv(t)
	submitted := make(chan *verifier.ResultSubmitted, 4)
	sub, err := e.cl[0].WatchResultSubmitted(e.ctx, submitted)
	e.ok(err)
	defer sub.Unsubscribe()

	req := inference.Request{Model: "dat:tiny", Prompt: "Optimism", Sampling: inference.Sampling{MaxTokens: 5}}
	id, _, err := e.cl[acctRequester].RequestCompute(e.ctx, e.classID, req, verifier.ModeOptimistic, e.head()+50, big.NewInt(params.Ether/100))
	e.ok(err)
	rc, tr := e.prove(req, acctProver)
	steps := uint64(len(tr.Steps))
	_, err = e.cl[acctProver].SubmitResult(e.ctx, id, rc, steps+1, nil)
	wantErr(t, err, "BadReceipt")
	r, err := e.cl[acctProver].SubmitResult(e.ctx, id, rc, steps, nil)
	e.ok(err)
	ev := <-submitted
	p, err := e.cl[0].Params(e.ctx)
	e.ok(err)
	if ev.TaskId.Cmp(id) != 0 || ev.TraceRoot != rc.TraceRoot || ev.Steps != steps || ev.WindowEnd != r.BlockNumber.Uint64()+p.ChallengeWindow {
		t.Fatalf("ResultSubmitted %+v", ev)
	}
	if root, err := replay.NewTree(replay.Leaves(tr)).NodeHash(0, int(steps)); err != nil || root != ev.TraceRoot {
		t.Fatalf("trace root %x, tree root %x (%v)", ev.TraceRoot, root, err)
	}
	_, err = e.cl[0].Finalize(e.ctx, id)
	wantErr(t, err, "TooEarly")
	_, err = e.cl[3].RevealOutput(e.ctx, id, tr.Output(), req)
	wantErr(t, err, "NotProver")
	_, err = e.cl[acctProver].RevealOutput(e.ctx, id, tr.Output(), req)
	e.ok(err)
	if got, err := e.cl[0].RevealedOutput(e.ctx, id); err != nil || !slices.Equal(got, tr.Output()) {
		t.Fatalf("revealed output %v (%v), want %v", got, err, tr.Output())
	}
	e.mine(int(p.ChallengeWindow))
	_, _, err = e.cl[3].Challenge(e.ctx, id, nil)
	wantErr(t, err, "WindowClosed")
	proverBefore, err := e.net.Eth.BalanceAt(e.ctx, e.net.Addrs[acctProver], nil)
	e.ok(err)
	_, err = e.cl[0].Finalize(e.ctx, id)
	e.ok(err)
	task, err := e.cl[0].Task(e.ctx, id)
	e.ok(err)
	if verifier.Status(task.Status) != verifier.StatusFinalized {
		t.Fatalf("status %s", verifier.Status(task.Status))
	}
	proverAfter, err := e.net.Eth.BalanceAt(e.ctx, e.net.Addrs[acctProver], nil)
	e.ok(err)
	if gain := new(big.Int).Sub(proverAfter, proverBefore); gain.Cmp(p.MinProverBond) <= 0 {
		t.Errorf("the prover gained %s: not its bond plus a fee", gain)
	}
}
