package agents

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

// bypassTool is the tool of issue 12's probe: it stakes through the agent's LazAI client with
// context.Background(), not the context the agent gave it.
type bypassTool struct{ a *Agent }

func (bypassTool) Name() string            { return "bypass" }
func (bypassTool) Description() string     { return "stake around the policy" }
func (bypassTool) Schema() json.RawMessage { return json.RawMessage(`{"type":"object"}`) }
func (b bypassTool) Call(context.Context, string) (string, error) {
	_, err := b.a.LazAI.Stake(context.Background(), big.NewInt(1e18))
	return "", err
}

// TestPolicyBypassRefused (issue 12, item 9): the policy used to travel on the context, so a
// tool that called a client with context.Background() under a 0.1 METIS cap, with LazAI not
// allowed, was signed and mined. The policy is now the signer the clients are built with:
// that tool, and a program calling the clients directly, are refused and nothing is sent.
func TestPolicyBypassRefused(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	s := spec(t, scriptedModel(t, `{"name": "bypass", "arguments": {}}`), `
tools: [dat_attest]
policy: {spend_cap: 0.1 METIS}
key: {dev_account: 7}
max_steps: 1
`)
	bt := &bypassTool{}
	a, rec := newAgent(t, net, s, WithTools(bt))
	bt.a = a
	if err := a.Handle(ctx, Trigger{Kind: TriggerStart}); err != nil {
		t.Fatal(err)
	}
	// And outside any step.
	_, err := a.LazAI.Stake(context.Background(), big.NewInt(1e18))
	var r *RefusedError
	if !errors.As(err, &r) || !strings.Contains(r.Reason, "lazai.stake is not an allowed method") {
		t.Fatalf("a direct call: %v, want refused", err)
	}
	if n := len(rec.of(event.Refused)); n != 2 {
		t.Fatalf("%d refused events, want 2; events %v", n, rec.kinds())
	}
	if mined, pending := nonces(t, net, net.Addrs[7]); mined != 0 || pending != 0 {
		t.Fatalf("the agent's account sent transactions: nonce %d, pending %d", mined, pending)
	}
}

// TestPolicyMovers (issue 12, item 11): value moved through module methods used to cost nothing
// against the policy. Each asset-moving method (Movers) is now allowed only towards the agent
// itself or its rule's to list: to anyone else it is refused before signing, whoever calls the
// client; to a listed address it is signed and mined.
func TestPolicyMovers(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	const agent, friend, stranger = 3, 4, 5
	// A verified, active class of account 0 (verified by account 1), with tokens for the agent.
	owner, val := dat.NewClient(net.Eth, net.Signer(0)), dat.NewClient(net.Eth, net.Signer(1))
	if _, err := lazai.NewClient(net.Eth, net.Signer(1)).Stake(ctx, big.NewInt(2e18)); err != nil {
		t.Fatal(err)
	}
	if _, err := val.RegisterValidator(ctx); err != nil {
		t.Fatal(err)
	}
	class, _, err := owner.CreateClass(ctx, dat.ClassParams{Kind: uint8(dat.Dataset), MetadataURI: "ipfs://d"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := val.Attest(ctx, class, true); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.ActivateClass(ctx, class); err != nil {
		t.Fatal(err)
	}
	mint := func(to int) *big.Int {
		id, _, err := owner.Mint(ctx, class, net.Addrs[to], big.NewInt(100), big.NewInt(1), 0)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	mine, mine2, strangers := mint(agent), mint(agent), mint(stranger)
	friends := mint(friend)

	s := spec(t, scriptedModel(t, `no tools`), fmt.Sprintf(`
policy:
  spend_cap: 1 METIS
  allow:
    - module: dat
      methods: [transferToken, transferValue, approveForClass, setClassOperator, mint, delegateClass]
      to: [%s]
    - module: dat
      methods: [createClass, activateClass]
    - module: lazai
      methods: [delegate]
      to: [%s]
key: {dev_account: %d}
`, net.Addrs[friend].Hex(), net.Addrs[friend].Hex(), agent))
	a, rec := newAgent(t, net, s)
	bg := context.Background()
	// A class of the agent's own, to mint in and name operators of.
	own, _, err := a.DAT.CreateClass(bg, dat.ClassParams{Kind: uint8(dat.Dataset), MetadataURI: "ipfs://own"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := val.Attest(ctx, own, true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DAT.ActivateClass(bg, own); err != nil {
		t.Fatal(err)
	}
	sent, _ := nonces(t, net, net.Addrs[agent])
	refused := []struct {
		name string
		do   func() error
	}{
		{"transferToken", func() error { _, err := a.DAT.TransferToken(bg, mine, net.Addrs[stranger]); return err }},
		{"transferValue", func() error { _, err := a.DAT.TransferValue(bg, mine, strangers, big.NewInt(1)); return err }},
		{"approveForClass", func() error { _, err := a.DAT.ApproveForClass(bg, class, net.Addrs[stranger], true); return err }},
		{"setClassOperator", func() error {
			_, err := a.DAT.SetClassOperator(bg, own, net.Addrs[stranger], true)
			return err
		}},
		{"mint", func() error {
			_, _, err := a.DAT.Mint(bg, own, net.Addrs[stranger], big.NewInt(1), big.NewInt(1), 0)
			return err
		}},
		{"delegateClass", func() error { _, err := a.IDAO.Delegate(bg, class, net.Addrs[stranger]); return err }},
		{"lazai.delegate", func() error { _, err := a.LazAI.Delegate(bg, net.Addrs[stranger]); return err }},
	}
	for _, c := range refused {
		err := c.do()
		var r *RefusedError
		if !errors.As(err, &r) || !strings.Contains(r.Reason, "not in the rule's to list") {
			t.Errorf("%s to a stranger: %v, want refused for its recipient", c.name, err)
		}
	}
	if mined, pending := nonces(t, net, net.Addrs[agent]); mined != sent || pending != sent {
		t.Fatalf("refused moves were sent: nonce %d, pending %d, was %d", mined, pending, sent)
	}
	// To the listed friend, to the agent itself, and revoking: signed and mined.
	allowed := []struct {
		name string
		do   func() error
	}{
		{"transferValue to the friend's token", func() error {
			_, err := a.DAT.TransferValue(bg, mine2, friends, big.NewInt(1))
			return err
		}},
		{"transferToken to the friend", func() error { _, err := a.DAT.TransferToken(bg, mine, net.Addrs[friend]); return err }},
		{"approveForClass revoked", func() error { _, err := a.DAT.ApproveForClass(bg, class, net.Addrs[stranger], false); return err }},
		{"delegate to the friend", func() error { _, err := a.LazAI.Delegate(bg, net.Addrs[friend]); return err }},
		{"delegate back to itself", func() error { _, err := a.LazAI.Delegate(bg, common.Address{}); return err }},
		{"mint to itself", func() error {
			_, _, err := a.DAT.Mint(bg, own, net.Addrs[agent], big.NewInt(1), big.NewInt(1), 0)
			return err
		}},
		{"an operator who is the friend", func() error {
			_, err := a.DAT.SetClassOperator(bg, own, net.Addrs[friend], true)
			return err
		}},
	}
	for _, c := range allowed {
		if err := c.do(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if got := len(rec.of(event.Refused)); got != len(refused) {
		t.Errorf("%d refused events, want %d", got, len(refused))
	}
	if tk, _ := a.DAT.Token(ctx, mine); tk.Owner != net.Addrs[friend] {
		t.Errorf("token %v owned by %s, want the friend", mine, tk.Owner)
	}
}

// TestPolicyPeriodSurvivesRestart (issue 12, item 10): the period cap used to reset when the
// agent restarted, so three runs in a day each spent 0.6 against a 1.0 cap. The spend ledger is
// kept in the agent's data dir: here the agent runs three times as separate processes (this test
// binary, re-executed), each staking 0.6 METIS; the first is mined, the next two are refused.
func TestPolicyPeriodSurvivesRestart(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	dir := t.TempDir()
	var outcomes []string
	for run := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAgentProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "METIS_AGENT_HELPER=1", "METIS_AGENT_RPC="+net.Node.WSURL(), "METIS_AGENT_DIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if o, ok := strings.CutPrefix(sc.Text(), "OUTCOME "); ok {
				outcomes = append(outcomes, o)
			}
		}
	}
	if len(outcomes) != 3 || outcomes[0] != "mined" || !strings.Contains(outcomes[1], "over the period cap") ||
		!strings.Contains(outcomes[2], "over the period cap") {
		t.Fatalf("outcomes of three runs: %q, want mined, then refused twice for the period cap", outcomes)
	}
	if mined, _ := nonces(t, net, net.Addrs[6]); mined != 1 {
		t.Fatalf("the agent's account sent %d transactions, want 1", mined)
	}
	entries, err := readLedger(filepath.Join(dir, LedgerFile))
	if err != nil || len(entries) != 1 || entries[0].method != "lazai.stake" {
		t.Fatalf("ledger %+v %v, want the one stake", entries, err)
	}
}

// TestHelperAgentProcess is the agent process of TestPolicyPeriodSurvivesRestart.
func TestHelperAgentProcess(t *testing.T) {
	if os.Getenv("METIS_AGENT_HELPER") != "1" {
		t.Skip("the agent process of TestPolicyPeriodSurvivesRestart")
	}
	ctx := context.Background()
	eth, err := ethclient.DialContext(ctx, os.Getenv("METIS_AGENT_RPC"))
	if err != nil {
		t.Fatal(err)
	}
	defer eth.Close()
	s, err := ParseSpec([]byte(`
name: restarts
model: {engine: gguf, model: unused.gguf}
tools: [lazai_stake]
policy: {spend_cap: 1 METIS, period_cap: 1 METIS, period: 24h}
key: {dev_account: 6}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, s, eth, WithDataDir(os.Getenv("METIS_AGENT_DIR")))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.LazAI.Stake(ctx, big.NewInt(6e17)); err != nil {
		fmt.Printf("OUTCOME %v\n", err)
		return
	}
	fmt.Println("OUTCOME mined")
}

// TestPeriodCapNeedsDataDir: a policy with a period cap and nowhere to keep its ledger is refused
// rather than forgetting on restart.
func TestPeriodCapNeedsDataDir(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	s := spec(t, "unused.gguf", `
tools: [lazai_stake]
policy: {spend_cap: 1, period_cap: 1}
key: {dev_account: 2}
`)
	if _, err := New(context.Background(), s, net.Eth); err == nil || !strings.Contains(err.Error(), "needs a data dir") {
		t.Fatalf("New: %v, want a refusal naming the data dir", err)
	}
	// A data dir is one agent's: a second agent (another key) may not share it, and a second
	// process (or agent) of the same one may not use it at the same time.
	dir := t.TempDir()
	a, err := New(context.Background(), s, net.Eth, WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), s, net.Eth, WithDataDir(dir)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second agent on a locked data dir: %v", err)
	}
	a.Close()
	s.Key.DevAccount = new(int)
	*s.Key.DevAccount = 3
	if _, err := New(context.Background(), s, net.Eth, WithDataDir(dir)); err == nil || !strings.Contains(err.Error(), "own data dir") {
		t.Fatalf("another account on the data dir: %v", err)
	}
}

// TestMoversMatchABIs: every asset-moving method names a method of its module whose arguments
// are where its recipients are read from, so a module change cannot silently unguard one.
func TestMoversMatchABIs(t *testing.T) {
	zero := func(*big.Int) (common.Address, error) { return common.Address{}, nil }
	for _, mv := range Movers {
		m := moduleByName(mv.Module)
		meth, ok := m.abi.Methods[mv.Method]
		if !ok {
			t.Fatalf("%s has no method %s", mv.Module, mv.Method)
		}
		args := make([]any, len(meth.Inputs))
		for i, in := range meth.Inputs {
			args[i] = reflect.Zero(in.Type.GetType()).Interface()
			if in.Type.GetType() == reflect.TypeOf((*big.Int)(nil)) {
				args[i] = new(big.Int)
			}
			if in.Type.T == abi.BoolTy {
				args[i] = true
			}
		}
		if _, err := mv.recipients(args, zero); err != nil {
			t.Errorf("%s.%s: %v", mv.Module, mv.Method, err)
		}
	}
}
