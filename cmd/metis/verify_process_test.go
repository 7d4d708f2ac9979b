package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/verifier"
)

// Issue 7, acceptance 3: the verifier and prover services, started as processes against a node
// process, resolve tasks end to end with no manual step.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// metisBinary builds the metis command once per test run.
func metisBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "metis-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "metis")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuf is a process's output, safe to read while it is written.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a metis process started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuf // stdout and stderr
}

// startProc starts metis with args; the process is killed when the test ends, and its output
// is logged if the test failed.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(metisBinary(t), args...), out: &syncBuf{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("--- %s (%s) output:\n%s", name, strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

// eventually waits up to d for the process to print s.
func (p *proc) eventually(s string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(p.out.String(), s) {
			return true
		}
	}
	return false
}

var wsRE = regexp.MustCompile(`WebSocket\s+(ws://\S+)`)

// startNodeProc starts 'metis node --dev' on a free port sealing a block every 250ms, with the
// GGUF files of modelDir for one-step replay, and returns its WebSocket URL.
func startNodeProc(t *testing.T, modelDir string) string {
	t.Helper()
	cmd := exec.Command(metisBinary(t), "node", "--dev", "--http.addr", "127.0.0.1:0", "--model-dir", modelDir,
		"--block-time", "250ms", "--no-keys", "--log.level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("--- node log:\n%s", logs.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := wsRE.FindStringSubmatch(sc.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return m[1]
		}
	}
	t.Fatal("the node printed no WebSocket address")
	return ""
}

type procEnv struct {
	t       *testing.T
	ctx     context.Context
	ws      string
	models  string
	eth     *ethclient.Client
	classID *big.Int
	vc      *verifier.Client // dev account 1, the requester
}

func newProcEnv(t *testing.T) *procEnv {
	if testing.Short() {
		t.Skip("builds metis and runs processes")
	}
	e := &procEnv{t: t, ctx: context.Background(), models: t.TempDir()}
	model := devnet.WriteModel(t, e.models, "tiny.gguf", 21)
	e.ws = startNodeProc(t, e.models)
	var err error
	if e.eth, err = ethclient.DialContext(e.ctx, e.ws); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.eth.Close)
	accts := core.DevAccounts()
	e.classID = devnet.ModelClass(t, e.ctx, e.eth, accts[0].Key, model)
	e.vc = verifier.NewClient(e.eth, bind.NewKeyedTransactor(accts[1].Key, big.NewInt(metisvm.DevChainID)))
	return e
}

func (e *procEnv) service(name string, args ...string) *proc {
	return startProc(e.t, name, append(args, "--models", e.models, "--rpc", e.ws)...)
}

func (e *procEnv) request(mode verifier.Mode, prompt string) *big.Int {
	e.t.Helper()
	head, err := e.eth.BlockNumber(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	req := inference.Request{Model: "dat:tiny", Prompt: prompt, Sampling: inference.Sampling{MaxTokens: 8}}
	id, _, err := e.vc.RequestCompute(e.ctx, e.classID, req, mode, head+200, big.NewInt(params.Ether/100))
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *procEnv) waitSettled(id *big.Int) verifier.TaskInfo {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		t, err := e.vc.Task(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		switch verifier.Status(t.Status) {
		case verifier.StatusFinalized, verifier.StatusRejected, verifier.StatusExpired:
			return t
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("task %s still %s after 2 minutes", id, verifier.Status(t.Status))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestVerifyServicesProcesses: a node, a prover and three verifiers, each its own metis
// process. The verifiers register themselves; an attest task and an optimistic task are
// requested through the client and both finalize with no further step.
func TestVerifyServicesProcesses(t *testing.T) {
	e := newProcEnv(t)
	prover := e.service("prover", "prover", "run", "--dev-account", "2")
	var vs []*proc
	for _, a := range []string{"3", "4", "5"} {
		vs = append(vs, e.service("verifier"+a, "verifier", "run", "--dev-account", a))
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		list, err := e.vc.Verifiers(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 verifier processes registered", len(list))
		}
	}
	attest := e.request(verifier.ModeAttest, "Three verifiers agree")
	optimistic := e.request(verifier.ModeOptimistic, "Nobody objects")
	for _, id := range []*big.Int{attest, optimistic} {
		task := e.waitSettled(id)
		if verifier.Status(task.Status) != verifier.StatusFinalized || task.Prover != core.DevAccounts()[2].Address {
			t.Fatalf("task %s: %s, prover %s", id, verifier.Status(task.Status), task.Prover)
		}
		if task.DisputeId.Sign() != 0 {
			t.Errorf("task %s was disputed", id)
		}
	}
	if !prover.eventually(`msg="result submitted" task=2`, 5*time.Second) {
		t.Error("the prover process did not log its submissions")
	}
	attested, agreed := 0, 0
	for _, v := range vs {
		if v.eventually("msg=attested task=1", 2*time.Second) {
			attested++
		}
		if v.eventually(`msg="result agrees with own run" task=2`, 2*time.Second) {
			agreed++
		}
	}
	if attested < 2 || agreed != 3 {
		t.Errorf("%d verifier processes attested task 1 (want at least 2), %d agreed with task 2 (want 3)", attested, agreed)
	}
}

// TestVerifyServicesProcessesLyingProver: a prover process started with the hidden test flag
// --fault-step commits to a trace with one tampered step; a verifier process challenges it and
// wins the bisection, which the node settles by re-executing that step.
func TestVerifyServicesProcessesLyingProver(t *testing.T) {
	e := newProcEnv(t)
	prover := e.service("prover", "prover", "run", "--dev-account", "2", "--fault-step", "41")
	v := e.service("verifier", "verifier", "run", "--dev-account", "3", "--no-register")
	id := e.request(verifier.ModeOptimistic, "One step is a lie")
	task := e.waitSettled(id)
	if verifier.Status(task.Status) != verifier.StatusRejected {
		t.Fatalf("the lying prover's task is %s", verifier.Status(task.Status))
	}
	d, err := e.vc.Dispute(e.ctx, task.DisputeId)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Resolved || d.ProverWon || d.Lo != 41 || d.Challenger != core.DevAccounts()[3].Address {
		t.Fatalf("dispute %+v", d)
	}
	if !v.eventually("dispute won", 5*time.Second) || !prover.eventually("dispute lost", 5*time.Second) {
		t.Error("the processes did not log the outcome")
	}
}
