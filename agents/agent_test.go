package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/agents/internal/chatscript"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/internal/devnet"
)

// recorder is a Publisher that keeps the events and checks each one's signature.
type recorder struct {
	t      testing.TB
	mu     sync.Mutex
	events []*event.Event
	notify chan struct{}
}

func newRecorder(t testing.TB) *recorder { return &recorder{t: t, notify: make(chan struct{}, 1)} }

func (r *recorder) Publish(_ context.Context, e *event.Event) error {
	if err := e.Verify(); err != nil {
		r.t.Errorf("event %d (%s) does not verify: %v", e.Seq, e.Kind, err)
	}
	if b, _ := json.Marshal(e); len(b) > event.MaxSize {
		r.t.Errorf("event %d (%s) is %d bytes", e.Seq, e.Kind, len(b))
	}
	r.mu.Lock()
	if n := len(r.events); n > 0 && r.events[n-1].Seq+1 != e.Seq {
		r.t.Errorf("event seq %d after %d", e.Seq, r.events[n-1].Seq)
	}
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) kinds() []event.Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]event.Kind, len(r.events))
	for i, e := range r.events {
		out[i] = e.Kind
	}
	return out
}

func (r *recorder) of(k event.Kind) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, e := range r.events {
		if e.Kind == k {
			var m map[string]any
			if err := json.Unmarshal(e.Data, &m); err != nil {
				r.t.Errorf("%s data: %v", k, err)
			}
			out = append(out, m)
		}
	}
	return out
}

// waitFor waits until an event of kind k arrives.
func (r *recorder) waitFor(ctx context.Context, k event.Kind) {
	r.t.Helper()
	for {
		if len(r.of(k)) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			r.t.Fatalf("no %s event; got %v", k, r.kinds())
		case <-r.notify:
		}
	}
}

// scriptedModel writes a GGUF model that answers every chat with reply.
func scriptedModel(t testing.TB, reply string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "brain.gguf")
	if err := chatscript.WriteFile(path, reply); err != nil {
		t.Fatal(err)
	}
	return path
}

// spec parses a spec whose model is the file at model; the rest is given in YAML.
func spec(t testing.TB, model, rest string) *Spec {
	t.Helper()
	s, err := ParseSpec([]byte(fmt.Sprintf("name: tester\nmodel: {engine: gguf, model: %q, max_tokens: 64}\n%s", model, rest)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newAgent(t testing.TB, net *devnet.Net, s *Spec, opts ...Option) (*Agent, *recorder) {
	t.Helper()
	rec := newRecorder(t)
	a, err := New(context.Background(), s, net.Eth, append([]Option{WithPublisher(rec)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, rec
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nonces is what the chain says account a has sent: mined and pending.
func nonces(t testing.TB, net *devnet.Net, a common.Address) (uint64, uint64) {
	t.Helper()
	mined, err := net.Eth.NonceAt(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := net.Eth.PendingNonceAt(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return mined, pending
}

// TestAgentTriggerSendsTx: a real agent on a dev node, woken by a chain event (a new DAT
// class), asks its model (a real GGUF file on the embedded engine), which calls lazai_stake;
// the tool sends a real transaction, signed after the policy passed it, and the agent emits
// tx_sent and tx_mined. The stake is on chain.
func TestAgentTriggerSendsTx(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	model := scriptedModel(t, `{"name": "lazai_stake", "arguments": {"amount": "1.5"}}`)
	s := spec(t, model, `
tools: [lazai_stake, remember]
triggers:
  - chain: class_created
    prompt: A new dataset was anchored; stake to back the network.
policy: {spend_cap: 2 METIS, gas_cap: 1000000}
key: {dev_account: 1}
max_steps: 1
`)
	a, rec := newAgent(t, net, s)
	if a.Address() != net.Addrs[1] {
		t.Fatalf("agent address %s, want dev account 1", a.Address())
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	rec.waitFor(ctx, event.Started)

	// The trigger: dev account 0 anchors a dataset. The subscription may start just after
	// Started, so keep anchoring until the agent reacts.
	owner := dat.NewClient(net.Eth, net.Signer(0))
	for len(rec.of(event.TxMined)) == 0 {
		if _, _, err := owner.CreateClass(ctx, dat.ClassParams{Kind: uint8(dat.Dataset), MetadataURI: "ipfs://data"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-rec.notify:
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("no tx_mined; events %v", rec.kinds())
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	stake, err := a.LazAI.StakeOf(ctx, a.Address())
	if err != nil {
		t.Fatal(err)
	}
	if stake.Cmp(big.NewInt(15e17)) < 0 {
		t.Errorf("stake %s, want at least 1.5 METIS", stake)
	}
	kinds := rec.kinds()
	want := []event.Kind{event.Started, event.Thought, event.ToolCall, event.TxSent, event.TxMined}
	for i, k := range want {
		if i >= len(kinds) || kinds[i] != k {
			t.Fatalf("events %v, want them to begin %v", kinds, want)
		}
	}
	if kinds[len(kinds)-1] != event.Stopped {
		t.Errorf("last event %s, want stopped", kinds[len(kinds)-1])
	}
	sent, mined := rec.of(event.TxSent)[0], rec.of(event.TxMined)[0]
	if sent["hash"] != mined["hash"] || sent["method"] != "lazai.stake" || mined["status"] != float64(1) {
		t.Errorf("tx_sent %v, tx_mined %v", sent, mined)
	}
	tc := rec.of(event.ToolCall)[0]
	if tc["tool"] != "lazai_stake" {
		t.Errorf("tool_call %v", tc)
	}
	// The trigger's event reached the model: it is in the remembered conversation.
	hist := a.mem.history()
	if len(hist) == 0 || !strings.Contains(fmt.Sprint(hist[0].Parts), "class_created") {
		t.Errorf("memory does not hold the trigger: %v", hist)
	}
}

// TestPolicyRefuses is acceptance 2: told by its model to overspend, to call a method it may not
// or to exceed its gas cap, an agent signs nothing (the chain has no transaction from its
// address) and emits refused.
func TestPolicyRefuses(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	for i, tc := range []struct {
		name, reply, policy, reason string
	}{
		{"overspend value", `{"name": "lazai_stake", "arguments": {"amount": "5"}}`,
			`{spend_cap: 1 METIS}`, "over the per-transaction spend cap"},
		{"overspend with gas", `{"name": "lazai_stake", "arguments": {"amount": "1"}}`,
			`{spend_cap: 1 METIS}`, "cost up to"},
		{"forbidden method", `{"name": "lazai_claim", "arguments": {}}`,
			`{spend_cap: 1, allow: [{module: lazai, methods: [stake]}]}`, "lazai.claim is not an allowed method"},
		{"forbidden module", `{"name": "lazai_stake", "arguments": {"amount": "0.1"}}`,
			`{spend_cap: 1, allow: [{module: dat, methods: ["*"]}]}`, "lazai.stake is not an allowed method"},
		{"gas cap", `{"name": "lazai_stake", "arguments": {"amount": "0.1"}}`,
			`{spend_cap: 1, gas_cap: 21000}`, "over the gas cap of 21000"},
		{"gas cost cap", `{"name": "lazai_stake", "arguments": {"amount": "0.1"}}`,
			`{spend_cap: 1, max_gas_cost: 1 gwei}`, "gas cost up to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxFor(t)
			acct := 2 + i
			s := spec(t, scriptedModel(t, tc.reply), fmt.Sprintf(`
tools: [lazai_stake, lazai_claim]
policy: %s
key: {dev_account: %d}
max_steps: 1
`, tc.policy, acct))
			a, rec := newAgent(t, net, s)
			if err := a.Handle(ctx, Trigger{Kind: TriggerStart}); err != nil {
				t.Fatal(err)
			}
			refused := rec.of(event.Refused)
			if len(refused) != 1 || !strings.Contains(fmt.Sprint(refused[0]["reason"]), tc.reason) {
				t.Fatalf("refused events %v, want one saying %q; events %v", refused, tc.reason, rec.kinds())
			}
			if n := len(rec.of(event.TxSent)) + len(rec.of(event.TxMined)); n != 0 {
				t.Errorf("%d tx events", n)
			}
			if mined, pending := nonces(t, net, net.Addrs[acct]); mined != 0 || pending != 0 {
				t.Errorf("the chain has transactions from the agent: nonce %d, pending %d", mined, pending)
			}
		})
	}
}

// TestPolicyPeriodCap: the period cap counts what was signed before.
func TestPolicyPeriodCap(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	s := spec(t, scriptedModel(t, `{"name": "lazai_stake", "arguments": {"amount": "0.6"}}`), `
tools: [lazai_stake]
policy: {spend_cap: 1, period_cap: 1, period: 1h}
key: {dev_account: 8}
max_steps: 1
data_dir: `+t.TempDir()+`
`)
	a, rec := newAgent(t, net, s)
	for range 2 {
		if err := a.Handle(ctx, Trigger{Kind: TriggerInterval}); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.of(event.TxMined)) != 1 || len(rec.of(event.Refused)) != 1 ||
		!strings.Contains(fmt.Sprint(rec.of(event.Refused)[0]["reason"]), "over the period cap") {
		t.Fatalf("events %v; refused %v", rec.kinds(), rec.of(event.Refused))
	}
	if mined, _ := nonces(t, net, net.Addrs[8]); mined != 1 {
		t.Errorf("nonce %d, want 1", mined)
	}
}

// TestInvalidToolCallFallback: a model whose tool calls are invalid (an unknown tool, arguments
// that are not JSON, arguments that break the schema or do not parse) is told its error and
// asked again, max_retries times, then the spec's fallback runs, a real transaction here.
func TestInvalidToolCallFallback(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	for i, reply := range []string{
		`{"name": "transfer_everything", "arguments": {"to": "me"}}`,
		`{"name": "lazai_stake", "arguments": {"amount": }`,
		`{"name": "lazai_stake", "arguments": {"amount": "1", "bonus": true}}`,
		`{"name": "lazai_stake", "arguments": {"amount": "a lot"}}`,
		`{"arguments": {"amount": "1"}}`,
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ctx := ctxFor(t)
			acct := 2 + i
			s := spec(t, scriptedModel(t, reply), fmt.Sprintf(`
tools: [lazai_stake]
policy: {spend_cap: 1}
key: {dev_account: %d}
max_retries: 2
fallback: {tool: lazai_stake, args: {amount: "0.25"}}
`, acct))
			a, rec := newAgent(t, net, s)
			if err := a.Handle(ctx, Trigger{Kind: TriggerStart}); err != nil {
				t.Fatal(err)
			}
			errs := rec.of(event.Error)
			if len(errs) != 3 {
				t.Fatalf("%d error events, want 3 (one per attempt): %v", len(errs), errs)
			}
			for j, e := range errs {
				if e["stage"] != "tool_call" || e["attempt"] != float64(j+1) {
					t.Errorf("error event %v", e)
				}
			}
			calls := rec.of(event.ToolCall)
			if len(calls) == 0 || calls[len(calls)-1]["fallback"] != true {
				t.Fatalf("no fallback tool_call: %v", calls)
			}
			if len(rec.of(event.TxMined)) != 1 {
				t.Fatalf("events %v", rec.kinds())
			}
			stake, err := a.LazAI.StakeOf(ctx, a.Address())
			if err != nil || stake.Cmp(big.NewInt(25e16)) != 0 {
				t.Errorf("stake %v %v, want 0.25 METIS", stake, err)
			}
		})
	}
}

// TestInferTool: the infer tool runs the local model and emits an inference event with a
// receipt signed by the agent.
func TestInferTool(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	s := spec(t, scriptedModel(t, `{"name": "infer", "arguments": {"prompt": "summarise the data"}}`), `
tools: [infer]
policy: {spend_cap: 0}
key: {dev_account: 1}
max_steps: 1
`)
	a, rec := newAgent(t, net, s)
	if err := a.Handle(ctx, Trigger{Kind: TriggerStart}); err != nil {
		t.Fatal(err)
	}
	inf := rec.of(event.Inference)
	if len(inf) != 1 {
		t.Fatalf("events %v", rec.kinds())
	}
	b, _ := json.Marshal(inf[0]["receipt"])
	var rc inference.Receipt
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	if err := rc.VerifyBy(a.Address()); err != nil {
		t.Error(err)
	}
	if rc.Engine != "gguf" || rc.ChainID != 1337 || rc.TraceRoot == (common.Hash{}) {
		t.Errorf("receipt %+v", rc)
	}
}

// TestHTTPFetchAndNotes: http_fetch reads from an allowed host (a real local server) and the
// result reaches the model; a host not allowed is an invalid call.
func TestHTTPFetchAndNotes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct{ url, want string }{
		{srv.URL + "/data", `"truncated":true`},
		{"http://example.invalid/", "is not allowed"},
	} {
		s := spec(t, scriptedModel(t, fmt.Sprintf(`{"name": "http_fetch", "arguments": {"url": %q}}`, tc.url)), fmt.Sprintf(`
tools: [{name: http_fetch, allow_hosts: [%q], max_bytes: 10}, remember]
policy: {spend_cap: 0}
key: {dev_account: 1}
max_steps: 1
max_retries: 0
fallback: {tool: remember, args: {key: fetch, value: failed}}
`, host))
		a, _ := newAgent(t, net, s)
		if err := a.Handle(ctx, Trigger{Kind: TriggerStart}); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(a.mem.history())
		if !strings.Contains(got, tc.want) && !strings.Contains(fmt.Sprint(a.Note("fetch")), "failed") {
			t.Errorf("%s: history %s", tc.url, got)
		}
		if strings.Contains(tc.want, "not allowed") {
			if v, ok := a.Note("fetch"); !ok || v != "failed" {
				t.Errorf("fallback did not run: %q %v", v, ok)
			}
		}
	}
}

// fakeModel is an llms.Model that replies from a function. It stands beside the tests above,
// which run the same paths on a real GGUF model, to reach what a real model file cannot be
// made to do: panic, or return nothing.
type fakeModel func(msgs []llms.MessageContent) (*llms.ContentResponse, error)

func (f fakeModel) GenerateContent(_ context.Context, msgs []llms.MessageContent, _ ...llms.CallOption) (*llms.ContentResponse, error) {
	return f(msgs)
}

func (f fakeModel) Call(ctx context.Context, prompt string, opts ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, f, prompt, opts...)
}

// TestModelOutputNeverCrashes: a model that panics, returns no choices, or calls tools through
// the tools API with bad arguments leaves the agent running and reporting errors.
func TestModelOutputNeverCrashes(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	s := spec(t, "unused.gguf", `
tools: [remember]
policy: {spend_cap: 0}
key: {dev_account: 1}
max_retries: 1
`)
	for name, m := range map[string]fakeModel{
		"panic": func([]llms.MessageContent) (*llms.ContentResponse, error) { panic("model exploded") },
		"empty": func([]llms.MessageContent) (*llms.ContentResponse, error) { return &llms.ContentResponse{}, nil },
		"nil":   func([]llms.MessageContent) (*llms.ContentResponse, error) { return nil, nil },
		"tools api bad args": func([]llms.MessageContent) (*llms.ContentResponse, error) {
			return &llms.ContentResponse{Choices: []*llms.ContentChoice{{ToolCalls: []llms.ToolCall{{ID: "c1", Type: "function",
				FunctionCall: &llms.FunctionCall{Name: "remember", Arguments: `{"key": 5}`}}}}}}, nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			a, rec := newAgent(t, net, s, WithModel(m))
			err := a.Handle(ctx, Trigger{Kind: TriggerStart})
			if name == "panic" && err == nil {
				t.Error("a panicking step returned no error")
			}
			if len(rec.of(event.Error)) == 0 {
				t.Errorf("no error event: %v", rec.kinds())
			}
			// The agent still works afterwards.
			if err := a.Handle(ctx, Trigger{Kind: TriggerInterval}); err != nil && name != "panic" {
				t.Error(err)
			}
		})
	}
}

func TestMemoryBounds(t *testing.T) {
	m := newMemory(MemorySpec{MaxMessages: 3, MaxNotes: 1})
	msg := func(s string) llms.MessageContent { return llms.TextParts(llms.ChatMessageTypeHuman, s) }
	m.add([]llms.MessageContent{msg("a"), msg("b")})
	m.add([]llms.MessageContent{msg("c"), msg("d")})
	if h := m.history(); len(h) != 2 || fmt.Sprint(h[0].Parts) != "[c]" {
		t.Errorf("history %v", h)
	}
	m.add([]llms.MessageContent{msg("1"), msg("2"), msg("3"), msg("4")})
	if len(m.history()) != 2 {
		t.Error("an oversized turn was kept")
	}
	if err := m.setNote("k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := m.setNote("k2", "v"); err == nil {
		t.Error("note bound not enforced")
	}
	if err := m.setNote("k", ""); err != nil || m.notesText() != "" {
		t.Error("note not forgotten")
	}
}

// stakeTool is a tool of the caller's own that sends through the agent's client directly,
// skipping the builtins' early check: the agent's signer still refuses what the policy forbids.
type stakeTool struct{ a *Agent }

func (stakeTool) Name() string            { return "my_stake" }
func (stakeTool) Description() string     { return "stake my way" }
func (stakeTool) Schema() json.RawMessage { return json.RawMessage(`{"type":"object"}`) }
func (c stakeTool) Call(ctx context.Context, _ string) (string, error) {
	_, err := c.a.LazAI.Stake(ctx, big.NewInt(1e17))
	return "", err
}

func TestPolicyAtSigningPoint(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := ctxFor(t)
	s := spec(t, scriptedModel(t, `{"name": "my_stake", "arguments": {}}`), `
tools: [lazai_stake]
policy: {spend_cap: 1, allow: [{module: dat, methods: ["*"]}]}
key: {dev_account: 9}
max_steps: 1
`)
	ct := &stakeTool{}
	a, rec := newAgent(t, net, s, WithTools(ct))
	ct.a = a
	if err := a.Handle(ctx, Trigger{Kind: TriggerStart}); err != nil {
		t.Fatal(err)
	}
	refused := rec.of(event.Refused)
	if len(refused) != 1 || refused[0]["method"] != "lazai.stake" || refused[0]["gas"] == nil {
		t.Fatalf("refused %v; events %v; errors %v", refused, rec.kinds(), rec.of(event.Error))
	}
	if mined, pending := nonces(t, net, net.Addrs[9]); mined != 0 || pending != 0 {
		t.Errorf("nonce %d, pending %d", mined, pending)
	}
	// The result the model saw says why.
	if !strings.Contains(fmt.Sprint(a.mem.history()), "refused by policy") {
		t.Errorf("history %v", a.mem.history())
	}
}
