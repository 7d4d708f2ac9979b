package agents

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/inference/llm"
	"github.com/metisgo/metis/inference/ollama"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
)

// Publisher receives the agent's signed events: the node's agent_publish client, a log, a test.
type Publisher interface {
	Publish(ctx context.Context, e *event.Event) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, e *event.Event) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, e *event.Event) error { return f(ctx, e) }

// Agent is a running agent. Its module clients sign with the agent's signer, which enforces the
// policy on every transaction they build, whoever calls them and with whatever context: there
// is no other way to the agent's key. Close releases its data dir.
type Agent struct {
	DAT      *dat.Client
	IDAO     *idao.Client
	LazAI    *lazai.Client
	Verifier *verifier.Client

	spec      *Spec
	key       *ecdsa.PrivateKey
	addr      common.Address
	eth       *ethclient.Client
	chainID   *big.Int
	model     llms.Model
	engine    inference.Engine // for the infer tool; nil if the brain is not an engine
	tools     []Tool
	byName    map[string]Tool
	schemas   map[string]*schema
	toolDefs  []llms.Tool
	pubs      []Publisher
	log       *slog.Logger
	guard     *guard
	mem       *memory
	now       func() time.Time
	http      *http.Client
	stepMu    sync.Mutex // one step at a time
	emitMu    sync.Mutex // events are numbered, signed and published in order
	seq       uint64
	modelName string
}

type options struct {
	key     *ecdsa.PrivateKey
	dataDir *string
	model   llms.Model
	engine  inference.Engine
	pubs    []Publisher
	tools   []Tool
	log     *slog.Logger
	http    *http.Client
	now     func() time.Time
	seq     uint64
}

// Option configures New.
type Option func(*options)

// WithKey is the agent's key, instead of the spec's.
func WithKey(k *ecdsa.PrivateKey) Option { return func(o *options) { o.key = k } }

// WithModel is the agent's brain, instead of the one the spec's model section describes. The
// infer tool then needs WithEngine.
func WithModel(m llms.Model) Option { return func(o *options) { o.model = m } }

// WithEngine is the inference engine the brain (unless WithModel) and the infer tool run on,
// instead of a new one of the spec's engine.
func WithEngine(e inference.Engine) Option { return func(o *options) { o.engine = e } }

// WithPublisher adds publishers of the agent's events.
func WithPublisher(p ...Publisher) Option { return func(o *options) { o.pubs = append(o.pubs, p...) } }

// WithTools adds tools of the caller's own next to the spec's.
func WithTools(t ...Tool) Option { return func(o *options) { o.tools = append(o.tools, t...) } }

// WithLogger logs what cannot be an event (a publisher that fails).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithHTTPClient is the client http_fetch uses (default: http.DefaultClient's transport).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.http = c } }

// WithClock replaces time.Now (event times, receipts, the policy's period).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithDataDir is the agent's data dir, instead of the spec's data_dir: where it keeps its spend
// ledger ([LedgerFile]), so that a restarted agent continues its period. "" keeps the ledger in
// memory, which a policy with a period cap refuses.
func WithDataDir(dir string) Option { return func(o *options) { o.dataDir = &dir } }

// WithLastSeq makes the agent number its events after seq: a restarted agent continues after
// the last event the node relayed for it (the node rejects a seq it has seen).
func WithLastSeq(seq uint64) Option { return func(o *options) { o.seq = seq } }

// New builds an agent from its spec on a node connection (dial it over WebSocket for chain
// triggers). Nothing is sent or published until Run or Handle.
func New(ctx context.Context, spec *Spec, eth *ethclient.Client, opts ...Option) (*Agent, error) {
	o := options{log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: time.Now, http: &http.Client{}}
	for _, f := range opts {
		f(&o)
	}
	if spec == nil || eth == nil {
		return nil, errors.New("agents: New needs a spec and a node connection")
	}
	a := &Agent{spec: spec, eth: eth, pubs: o.pubs, log: o.log, now: o.now, http: o.http,
		seq: o.seq, mem: newMemory(spec.Memory), byName: map[string]Tool{}, schemas: map[string]*schema{}}
	var err error
	if a.key = o.key; a.key == nil {
		if a.key, err = spec.LoadKey(); err != nil {
			return nil, err
		}
	}
	a.addr = crypto.PubkeyToAddress(a.key.PublicKey)
	if a.chainID, err = eth.ChainID(ctx); err != nil {
		return nil, fmt.Errorf("agents: chain id: %w", err)
	}

	a.modelName = spec.Model.Model
	if spec.Model.Engine == "gguf" {
		a.modelName = spec.path(spec.Model.Model)
	}
	a.engine, a.model = o.engine, o.model
	if a.model == nil {
		if a.engine == nil {
			if a.engine, err = newEngine(spec.Model); err != nil {
				return nil, err
			}
		}
		a.model = llm.New(a.engine, a.modelName, llm.WithSampling(spec.Model.Sampling))
	}

	for _, ts := range spec.Tools {
		b := builtinTool(ts.Name)
		if b == nil {
			return nil, fmt.Errorf("agents: unknown tool %q", ts.Name)
		}
		if err := a.addTool(&boundTool{b: b, a: a, cfg: ts}); err != nil {
			return nil, err
		}
	}
	for _, t := range o.tools {
		if err := a.addTool(t); err != nil {
			return nil, err
		}
	}
	pol := spec.Policy
	if pol.Allow == nil {
		pol.Allow = defaultAllow(spec.Tools)
	}
	dir := spec.DataPath()
	if o.dataDir != nil {
		dir = *o.dataDir
	}
	if pol.PeriodCap != nil && dir == "" {
		return nil, errors.New("agents: policy.period_cap needs a data dir to remember spending across restarts (the spec's data_dir, or WithDataDir)")
	}
	period := pol.Period
	if period <= 0 {
		period = DefaultPeriod
	}
	led, err := openLedger(dir, a.addr, period, a.now())
	if err != nil {
		return nil, err
	}
	reader := dat.NewClient(eth, nil)
	owner := func(tokenID *big.Int) (common.Address, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		t, err := reader.Token(ctx, tokenID)
		return t.Owner, err
	}
	a.guard = newGuard(pol, a.addr, a.now, led, owner)
	signer := a.guard.signer(a.key, a.chainID, a.refused, a.sent)
	a.DAT, a.IDAO = dat.NewClient(eth, signer), idao.NewClient(eth, signer)
	a.LazAI, a.Verifier = lazai.NewClient(eth, signer), verifier.NewClient(eth, signer)
	return a, nil
}

// Close releases the agent's data dir (its spend ledger's file and lock). The agent must not
// sign afterwards.
func (a *Agent) Close() error {
	a.guard.mu.Lock()
	defer a.guard.mu.Unlock()
	return a.guard.led.close()
}

func newEngine(m ModelSpec) (inference.Engine, error) {
	switch m.Engine {
	case "", "gguf":
		return gguf.New(), nil
	case "ollama":
		var opts []ollama.Option
		if m.Host != "" {
			opts = append(opts, ollama.WithHost(m.Host))
		}
		return ollama.New(opts...)
	}
	return nil, fmt.Errorf("agents: unknown engine %q", m.Engine)
}

func (a *Agent) addTool(t Tool) error {
	if _, dup := a.byName[t.Name()]; dup {
		return fmt.Errorf("agents: two tools named %q", t.Name())
	}
	s, err := compileSchema(string(t.Schema()))
	if err != nil {
		return fmt.Errorf("agents: tool %q: schema: %w", t.Name(), err)
	}
	a.schemas[t.Name()] = s
	a.tools = append(a.tools, t)
	a.byName[t.Name()] = t
	a.toolDefs = append(a.toolDefs, llms.Tool{Type: "function", Function: &llms.FunctionDefinition{
		Name: t.Name(), Description: t.Description(), Parameters: t.Schema()}})
	return nil
}

// path resolves a path of the spec against its directory.
func (s *Spec) path(p string) string {
	if p == "" || filepath.IsAbs(p) || s.Dir == "" {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// DataPath is the spec's data_dir resolved against its directory ("" if it names none).
func (s *Spec) DataPath() string { return s.path(s.DataDir) }

// toolModel is the model a tool runs: its own, or the brain's.
func (a *Agent) toolModel(cfg ToolSpec) string {
	if cfg.Model == "" {
		return a.modelName
	}
	if a.spec.Model.Engine == "gguf" {
		return a.spec.path(cfg.Model)
	}
	return cfg.Model
}

// LoadKey returns the key the spec names: a dev account's, or a keystore file's decrypted with
// the password from password_file or $password_env (empty if neither).
func (s *Spec) LoadKey() (*ecdsa.PrivateKey, error) {
	switch {
	case s.Key.DevAccount != nil:
		accts := core.DevAccounts()
		i := *s.Key.DevAccount
		if i < 0 || i >= len(accts) {
			return nil, fmt.Errorf("agents: key.dev_account %d: there are %d dev accounts", i, len(accts))
		}
		return accts[i].Key, nil
	case s.Key.Keystore != "":
		blob, err := os.ReadFile(s.path(s.Key.Keystore))
		if err != nil {
			return nil, fmt.Errorf("agents: key.keystore: %w", err)
		}
		var password string
		switch {
		case s.Key.PasswordFile != "":
			b, err := os.ReadFile(s.path(s.Key.PasswordFile))
			if err != nil {
				return nil, fmt.Errorf("agents: key.password_file: %w", err)
			}
			password = strings.TrimRight(string(b), "\r\n")
		case s.Key.PasswordEnv != "":
			password = os.Getenv(s.Key.PasswordEnv)
		}
		k, err := keystore.DecryptKey(blob, password)
		if err != nil {
			return nil, fmt.Errorf("agents: key.keystore %s: %w", s.Key.Keystore, err)
		}
		return k.PrivateKey, nil
	}
	return nil, errors.New("agents: no key: the spec has no key section and none was given")
}

// Address is the agent's account.
func (a *Agent) Address() common.Address { return a.addr }

// Name is the spec's name.
func (a *Agent) Name() string { return a.spec.Name }

// Tools are the agent's tools, in the order the model sees them.
func (a *Agent) Tools() []Tool { return append([]Tool(nil), a.tools...) }

// Note returns one of the agent's notes.
func (a *Agent) Note(key string) (string, bool) { return a.mem.note(key) }

// maxEventData keeps an event under event.MaxSize with room for the envelope.
const maxEventData = event.MaxSize - 2048

// emit numbers, signs and publishes an event. Publishing failures are logged: an agent does not
// stop because a dashboard is away.
func (a *Agent) emit(ctx context.Context, kind event.Kind, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		raw, _ = json.Marshal(map[string]string{"error": "event data: " + err.Error()})
	}
	if len(raw) > maxEventData {
		raw, _ = json.Marshal(map[string]any{"truncated": true, "size": len(raw), "preview": clip(string(raw), 4096)})
	}
	a.emitMu.Lock()
	defer a.emitMu.Unlock()
	a.seq++
	e := &event.Event{Name: a.spec.Name, Kind: kind, Seq: a.seq, Time: a.now().UnixMilli(), Data: raw}
	if err := e.Sign(a.key); err != nil {
		a.log.Error("agent event not signed", "kind", kind, "err", err)
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, p := range a.pubs {
		if err := p.Publish(pctx, e); err != nil {
			a.log.Warn("agent event not published", "kind", kind, "seq", e.Seq, "err", err)
		}
	}
}

func (a *Agent) emitError(ctx context.Context, stage string, err error, kv ...any) {
	d := map[string]any{"stage": stage, "error": clip(err.Error(), 4096)}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i].(string)] = kv[i+1]
	}
	a.emit(ctx, event.Error, d)
}

func (a *Agent) refused(ctx context.Context, r *RefusedError) {
	d := map[string]any{"reason": r.Reason, "to": r.To, "method": r.Method, "value": r.Value.String()}
	if r.Gas != 0 {
		d["gas"] = r.Gas
	}
	if r.Cost != nil {
		d["maxCost"] = r.Cost.String()
	}
	a.emit(ctx, event.Refused, d)
}

func (a *Agent) sent(ctx context.Context, tx *types.Transaction) {
	d := map[string]any{"hash": tx.Hash(), "nonce": tx.Nonce(), "value": tx.Value().String(),
		"gas": tx.Gas(), "maxFeePerGas": tx.GasFeeCap().String()}
	if tx.To() != nil {
		d["to"] = *tx.To()
		d["method"] = methodName(*tx.To(), tx.Data())
	}
	a.emit(ctx, event.TxSent, d)
}
