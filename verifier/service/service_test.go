package service_test

import (
	"context"
	"log/slog"
	"math"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
	"github.com/metisgo/metis/verifier/service"
)

// Dev accounts by role.
const (
	acctRequester = 1
	acctProver    = 2
)

type env struct {
	t       *testing.T
	ctx     context.Context
	net     *devnet.Net
	dir     string
	classID *big.Int
	vc      *verifier.Client // the requester's
	params  verifier.Params
}

// newEnv starts a node sealing a block every 100ms whose Verifier module replays steps with
// the models in a directory holding one random GGUF model, anchored as a verified model class.
// Moves get 30 blocks and the challenge window 20, so that a loaded machine still makes them.
func newEnv(t *testing.T) *env {
	e := &env{t: t, ctx: context.Background(), dir: t.TempDir()}
	model := devnet.WriteModel(t, e.dir, "tiny.gguf", 5)
	e.net = devnet.Start(t, devnet.Options{Modules: node.DefaultModulesFor(1337, replay.New(e.dir)), Governor: true, BlockTime: 100 * time.Millisecond})
	e.classID = devnet.ModelClass(t, e.ctx, e.net.Eth, e.net.Keys[0], model)
	var err error
	e.vc = verifier.NewClient(e.net.Eth, e.net.Signer(acctRequester))
	p := verifier.DefaultParams()
	p.ChallengeWindow, p.MoveTimeout = 20, 30
	_, err = e.net.Govern(e.ctx, 0, verifier.Address, verifier.ABI, "setParams", p)
	e.ok(err)
	e.params = p
	return e
}

func (e *env) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// logs collects a service's log lines and copies them to the test log until the test ends.
type logs struct {
	mu     sync.Mutex
	t      *testing.T
	name   string
	lines  []string
	closed bool
}

func (l *logs) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := strings.TrimRight(string(b), "\n")
	l.lines = append(l.lines, line)
	if !l.closed {
		l.t.Log(l.name + ": " + line)
	}
	return len(b), nil
}

// eventually waits up to 5s for a line containing s (a service may log a transaction a moment
// after the test saw its effect).
func (l *logs) eventually(s string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l.has(s) {
			return true
		}
	}
	return false
}

func (l *logs) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func (e *env) config(name string, acct int) (service.Config, *logs) {
	l := &logs{t: e.t, name: name}
	return service.Config{
		RPC:       e.net.Node.WSURL(),
		Key:       e.net.Keys[acct],
		ModelDir:  e.dir,
		Logger:    slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Reconnect: 100 * time.Millisecond,
	}, l
}

// start runs a service until the test ends.
func (e *env) start(l *logs, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("%s: %v", l.name, err)
		}
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
	})
}

func (e *env) prover(fault *service.Fault) *logs {
	cfg, l := e.config("prover", acctProver)
	p := service.NewProver(cfg)
	p.Fault = fault
	e.start(l, p.Run)
	return l
}

func (e *env) verifier(acct int, register bool) *logs {
	cfg, l := e.config("verifier"+string(rune('0'+acct)), acct)
	v := service.NewVerifier(cfg)
	v.Register = register
	e.start(l, v.Run)
	return l
}

func (e *env) request(mode verifier.Mode, prompt string, maxTokens int) *big.Int {
	e.t.Helper()
	head, err := e.net.Eth.BlockNumber(e.ctx)
	e.ok(err)
	req := inference.Request{Model: "dat:tiny", Prompt: prompt, Sampling: inference.Sampling{MaxTokens: maxTokens}}
	id, _, err := e.vc.RequestCompute(e.ctx, e.classID, req, mode, head+200, big.NewInt(params.Ether/100))
	e.ok(err)
	return id
}

// waitStatus waits until the task is in one of the final statuses and returns it.
func (e *env) waitSettled(id *big.Int) verifier.TaskInfo {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		t, err := e.vc.Task(e.ctx, id)
		e.ok(err)
		switch verifier.Status(t.Status) {
		case verifier.StatusFinalized, verifier.StatusRejected, verifier.StatusExpired:
			return t
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s still %s", id, verifier.Status(t.Status))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServicesOptimisticHonest: a prover serves an optimistic task, a verifier re-runs it,
// agrees, and the result finalizes when the window ends, with no manual step.
func TestServicesOptimisticHonest(t *testing.T) {
	e := newEnv(t)
	pl := e.prover(nil)
	vl := e.verifier(3, false)
	id := e.request(verifier.ModeOptimistic, "Once upon a time", 8)
	task := e.waitSettled(id)
	if verifier.Status(task.Status) != verifier.StatusFinalized || task.Prover != e.net.Addrs[acctProver] {
		t.Fatalf("task %+v", task)
	}
	if task.DisputeId.Sign() != 0 {
		t.Errorf("an honest result was disputed (dispute %s)", task.DisputeId)
	}
	if !vl.eventually("result agrees with own run") || !pl.eventually("result submitted") {
		t.Error("the services did not log their decisions")
	}
}

// TestServicesAttest: three verifier services register themselves; an attest task chooses
// them, two or more attest the prover's output, and the task finalizes.
func TestServicesAttest(t *testing.T) {
	e := newEnv(t)
	e.prover(nil)
	var vls []*logs
	for _, a := range []int{4, 5, 6} {
		vls = append(vls, e.verifier(a, true))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		vs, err := e.vc.Verifiers(e.ctx)
		e.ok(err)
		if len(vs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d verifiers registered", len(vs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	id := e.request(verifier.ModeAttest, "Attested by three", 6)
	task := e.waitSettled(id)
	if verifier.Status(task.Status) != verifier.StatusFinalized || task.Approvals < e.params.AttestK || task.Rejections != 0 {
		t.Fatalf("task %s %+v", verifier.Status(task.Status), task)
	}
	attested := 0
	for _, l := range vls {
		if l.eventually("msg=attested") {
			attested++
		}
	}
	if attested < int(e.params.AttestK) {
		t.Errorf("%d verifiers logged an attestation", attested)
	}
}

// TestServicesLyingProver: a prover that tampers with one step of its trace is challenged by
// the verifier service, loses the bisection at that step, and is slashed; each side makes at
// most ceil(log2(steps)) + 2 moves.
func TestServicesLyingProver(t *testing.T) {
	e := newEnv(t)
	const fault = 37
	pl := e.prover(&service.Fault{Step: fault})
	vl := e.verifier(3, false)
	resolved := make(chan *verifier.DisputeResolved, 4)
	sub, err := e.vc.WatchDisputeResolved(e.ctx, resolved)
	e.ok(err)
	defer sub.Unsubscribe()
	replayed := make(chan *verifier.StepReplayed, 4)
	sub2, err := e.vc.WatchStepReplayed(e.ctx, replayed)
	e.ok(err)
	defer sub2.Unsubscribe()

	id := e.request(verifier.ModeOptimistic, "A lie in the middle", 8)
	task := e.waitSettled(id)
	if verifier.Status(task.Status) != verifier.StatusRejected {
		t.Fatalf("the lying prover's task is %s", verifier.Status(task.Status))
	}
	var ev *verifier.DisputeResolved
	select {
	case ev = <-resolved:
	case <-time.After(10 * time.Second):
		t.Fatal("no DisputeResolved")
	}
	if ev.ProverWon || ev.TaskId.Cmp(id) != 0 {
		t.Fatalf("DisputeResolved %+v", ev)
	}
	select {
	case st := <-replayed:
		if st.Step != fault || st.Claimed == st.Replayed {
			t.Errorf("StepReplayed %+v: want step %d refuted", st, fault)
		}
	case <-time.After(10 * time.Second):
		t.Error("no StepReplayed: the prover did not prove the step")
	}
	d, err := e.vc.Dispute(e.ctx, ev.DisputeId)
	e.ok(err)
	bound := uint32(math.Ceil(math.Log2(float64(task.Steps)))) + 2
	if d.ProverMoves > bound || d.ChallengerMoves > bound || d.Hi-d.Lo != 1 || d.Lo != fault {
		t.Errorf("dispute %+v: want leaf [%d,%d) and at most %d moves per side over %d steps", d, fault, fault+1, bound, task.Steps)
	}
	t.Logf("%d steps: prover %d moves, challenger %d (bound %d): %s", task.Steps, d.ProverMoves, d.ChallengerMoves, bound, ev.Reason)
	for _, want := range []struct {
		l    *logs
		line string
	}{{vl, "msg=challenged"}, {vl, "msg=chose"}, {vl, "dispute won"}, {pl, "FAULT INJECTION"}, {pl, "msg=bisected"}, {pl, `msg="proved step"`}} {
		if !want.l.eventually(want.line) {
			t.Errorf("%s did not log %q", want.l.name, want.line)
		}
	}
}
