// Package fleet runs the example agents of 'metis up' against a node: a data provider and a
// data validator that anchor, verify, activate and mint a dataset DAT; a model agent that
// anchors a GGUF model and serves compute tasks with proofs (verifier/service's Prover), a
// requester that pays for an optimistic task on it and a verifier (verifier/service's Verifier)
// that re-runs results and would challenge a wrong one; and governance agents that stake, one
// proposing a change of LazAI's fee split, two voting for it with reasons, the proposer queuing
// and executing it when due. Every action is a real transaction of the agent's own dev account.
//
// The agents are the agents runtime's (agents.New, Handle) with scripted brains: before each
// step the fleet has the agent's model say the tool call its role needs, a tiny GGUF made for
// that reply (agents/internal/chatscript) and run by the embedded engine, so nothing is
// downloaded and the run is the same every time. With Config.Ollama the brains are a real
// Ollama model told what to do; when such a model answers without the call, the fleet runs the
// tool itself (as a spec's fallback would) so that the scenario still completes.
//
// The agents are registered in the iDAO (owner: dev account 0) before they start, and each
// one's events, from the runtime and from the services it runs, are signed by its key, numbered
// in one sequence and published to the node's agent stream, where agent_subscribe and
// agent_recent serve them, and written one a line to the live log (Line).
package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/agents"
	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/agents/stream"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/service"
)

// Member is one agent of the fleet.
type Member struct {
	Name       string
	DevAccount int // its key: this dev account's
	Role       string
}

// Members are the fleet's agents. Dev account 0 owns them in the iDAO.
var Members = []Member{
	{"provider", 1, "data provider: anchors a dataset as a DAT class, activates it once verified, mints a token"},
	{"validator", 2, "data validator: stakes, registers, attests the dataset and the model"},
	{"model", 3, "model agent: anchors the GGUF model as a DAT class and serves compute tasks with proofs"},
	{"requester", 4, "requests an optimistic compute task on the model"},
	{"verifier", 5, "verifier: re-runs every result and would challenge a wrong one"},
	{"proposer", 6, "stakes, proposes a LazAI fee-split change, queues and executes it"},
	{"voter-a", 7, "stakes and votes on proposals, with reasons"},
	{"voter-b", 8, "stakes and votes on proposals, with reasons"},
}

// NewSplit is the fee split the proposer proposes: 60% of fees to Holders Mining.
var NewSplit = lazai.Split{HoldersBps: 6000, ValidatorsBps: 2000, TreasuryBps: 1000, BurnBps: 1000}

// Config says where the fleet runs.
type Config struct {
	// RPC is the node's WebSocket URL (ws://…).
	RPC string
	// ModelDir holds the GGUF models the model agent serves (and the node's Verifier module
	// replays from); Model is the one it anchors, a file in ModelDir.
	ModelDir string
	Model    string
	// WorkDir receives the dataset file, the scripted brains and each agent's data dir (its
	// spend ledger, WorkDir/NAME).
	WorkDir string
	// Ollama, when set, is the Ollama model the agents think with (at OllamaHost, default
	// Ollama's), instead of scripted brains.
	Ollama     string
	OllamaHost string
	// Publisher relays the agents' events to the node's stream (node.Agents().PublishLocal in
	// the node's process); nil publishes them with agent_publish over RPC.
	Publisher agents.Publisher
	// Out receives the live log, one line per event (nil: none).
	Out io.Writer
	// Logger receives the services' log lines and the fleet's diagnostics (default: none).
	Logger *slog.Logger
}

type member struct {
	Member
	id    *identity
	a     *agents.Agent    // nil for the verifier, which is a service only
	brain *scripted        // nil with Ollama
	dat   *dat.Client      // read-only clients
	lz    *lazai.Client    //
	gov   *idao.Client     //
	vc    *verifier.Client //
}

type fleet struct {
	cfg     Config
	chainID *big.Int
	eth     *ethclient.Client
	rc      *rpc.Client
	members map[string]*member
	out     *LogPublisher
	outMu   sync.Mutex

	valMu    sync.Mutex // the validator's steps, across the data and compute flows
	valReady bool
}

// Run registers the fleet's agents, starts them and plays the scenario until ctx ends. It
// returns an error only when the fleet cannot start; what fails later is an error event of the
// agent concerned and a line of the log.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WorkDir == "" || cfg.ModelDir == "" || cfg.Model == "" {
		return errors.New("fleet: Config needs WorkDir, ModelDir and Model")
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	rc, err := rpc.DialContext(dctx, cfg.RPC)
	cancel()
	if err != nil {
		return fmt.Errorf("fleet: dial %s: %w", cfg.RPC, err)
	}
	defer rc.Close()
	f := &fleet{cfg: cfg, rc: rc, eth: ethclient.NewClient(rc), members: map[string]*member{}}
	if f.chainID, err = f.eth.ChainID(ctx); err != nil {
		return fmt.Errorf("fleet: chain id: %w", err)
	}
	pub := cfg.Publisher
	if pub == nil {
		pub = agents.PublisherFunc(func(ctx context.Context, e *event.Event) error { return stream.Publish(ctx, rc, e) })
	}
	pubs := []agents.Publisher{pub}
	if cfg.Out != nil {
		f.out = NewLogPublisher(cfg.Out)
		pubs = append(pubs, f.out)
	}
	accts := core.DevAccounts()
	for _, m := range Members {
		mm := &member{Member: m, id: newIdentity(m.Name, accts[m.DevAccount].Key, pubs...)}
		mm.dat = dat.NewClient(f.eth, nil)
		mm.lz = lazai.NewClient(f.eth, nil)
		mm.gov = idao.NewClient(f.eth, nil)
		mm.vc = verifier.NewClient(f.eth, nil)
		f.members[m.Name] = mm
	}
	if err := f.register(ctx); err != nil {
		return err
	}
	engine := gguf.New()
	for _, m := range Members {
		if m.Name == "verifier" {
			continue
		}
		if err := f.newAgent(ctx, f.members[m.Name], engine); err != nil {
			return err
		}
	}
	f.logf("%d agents registered in the iDAO (owner %s); starting them", len(Members), accts[0].Address.Hex())

	var wg sync.WaitGroup
	spawn := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	for _, m := range f.members {
		if m.a != nil {
			spawn(func() { _ = m.a.Run(ctx) })
		}
	}
	next := cfg.Logger.Handler()
	model, ver := f.members["model"], f.members["verifier"]
	spawn(func() {
		p := service.NewProver(serviceConfig(cfg.RPC, cfg.ModelDir, model.id, f.chainID, next))
		_ = runService(ctx, model.id, "prover", p.Run)
	})
	spawn(func() {
		v := service.NewVerifier(serviceConfig(cfg.RPC, cfg.ModelDir, ver.id, f.chainID, next))
		v.Register = true
		_ = runService(ctx, ver.id, "verifier", v.Run)
	})
	for name, flow := range map[string]func(context.Context) error{"data": f.data, "compute": f.compute, "governance": f.governance} {
		spawn(func() {
			if err := flow(ctx); err != nil && ctx.Err() == nil {
				f.logf("%s flow stopped: %v", name, err)
				cfg.Logger.Error("fleet flow stopped", "flow", name, "err", err)
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	for _, m := range f.members {
		if m.a != nil {
			_ = m.a.Close()
		}
	}
	return nil
}

// logf writes a line of the fleet's own to the live log.
func (f *fleet) logf(format string, args ...any) {
	f.cfg.Logger.Info(fmt.Sprintf(format, args...))
	if f.cfg.Out == nil {
		return
	}
	f.outMu.Lock()
	defer f.outMu.Unlock()
	fmt.Fprintf(f.cfg.Out, "%s  %-10s %-9s %s\n", time.Now().Format("15:04:05.000"), "metis-up", "", fmt.Sprintf(format, args...))
}

// register registers every member not yet active in the iDAO, owned by dev account 0, with all
// the transactions sent at once so that they take one block.
func (f *fleet) register(ctx context.Context) error {
	owner := core.DevAccounts()[0]
	gov := f.members[Members[0].Name].gov
	chainID, err := f.eth.ChainID(ctx)
	if err != nil {
		return err
	}
	nonce, err := f.eth.PendingNonceAt(ctx, owner.Address)
	if err != nil {
		return err
	}
	head, err := f.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return err
	}
	tip := big.NewInt(params.GWei)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	signer := types.LatestSignerForChainID(chainID)
	var sent []*types.Transaction
	for _, m := range Members {
		addr := f.members[m.Name].id.addr
		if info, err := gov.Agent(ctx, addr); err == nil && info.Active {
			continue
		}
		data, err := idao.ABI.Pack("registerAgent", addr, m.Name, "metis-up:"+m.Role, new(big.Int))
		if err != nil {
			return err
		}
		to := idao.Address
		tx, err := types.SignNewTx(owner.Key, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce,
			GasTipCap: tip, GasFeeCap: feeCap, Gas: 500_000, To: &to, Data: data})
		if err != nil {
			return err
		}
		if err := f.eth.SendTransaction(ctx, tx); err != nil {
			return fmt.Errorf("fleet: registering %s: %w", m.Name, err)
		}
		nonce++
		sent = append(sent, tx)
	}
	for _, tx := range sent {
		var r *types.Receipt
		err := waitUntil(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
			var err error
			r, err = f.eth.TransactionReceipt(ctx, tx.Hash())
			return err == nil, nil
		})
		if err != nil {
			return err
		}
		if r.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("fleet: registerAgent %s failed in block %s", tx.Hash().Hex(), r.BlockNumber)
		}
	}
	return nil
}

// systemPrompts say who each agent is.
var systemPrompts = map[string]string{
	"provider":  "You are a data provider on the metis chain. You anchor datasets as Data Anchoring Tokens and mint usage tokens of them.",
	"validator": "You are a data validator on the metis chain. You check that anchored data matches its integrity hash and attest it.",
	"model":     "You are a model agent on the metis chain. You anchor your model as a Data Anchoring Token and serve compute tasks on it.",
	"requester": "You pay for verifiable inference on models anchored on the metis chain.",
	"proposer":  "You are a member of the iDAO. You propose changes that make Holders Mining more rewarding.",
	"voter-a":   "You are a member of the iDAO. You vote on every proposal, always with a reason.",
	"voter-b":   "You are a member of the iDAO. You vote on every proposal, always with a reason.",
}

// specs are the agents' tools and policies, after name and model.
var specs = map[string]string{
	"provider": `tools: [dat_create_class, dat_mint]
policy: {spend_cap: 1 METIS, gas_cap: 3000000, allow: [{module: dat, methods: [createClass, activateClass, mint]}]}`,
	"validator": `tools: [lazai_stake, dat_attest]
policy: {spend_cap: 5 METIS, gas_cap: 3000000, allow: [{module: lazai, methods: [stake]}, {module: dat, methods: [registerValidator, attest]}]}`,
	"model": `tools: [dat_create_class]
policy: {spend_cap: 1 METIS, gas_cap: 3000000}`,
	"requester": `tools: [{name: verify_request, model: tiny}]
policy: {spend_cap: 1 METIS, gas_cap: 3000000}`,
	"proposer": `tools: [lazai_stake, idao_propose]
policy: {spend_cap: 20 METIS, gas_cap: 5000000, allow: [{module: lazai, methods: [stake]}, {module: idao, methods: [propose, queue, execute]}]}`,
	"voter-a": `tools: [lazai_stake, idao_vote]
policy: {spend_cap: 200 METIS, gas_cap: 3000000}`,
	"voter-b": `tools: [lazai_stake, idao_vote]
policy: {spend_cap: 200 METIS, gas_cap: 3000000}`,
}

func (f *fleet) newAgent(ctx context.Context, m *member, engine *gguf.Engine) error {
	model := "{engine: gguf, model: scripted}"
	if m.Name == "requester" {
		// The brain's sampling is also the compute request's: keep the task short.
		model = "{engine: gguf, model: scripted, max_tokens: 8}"
	}
	if f.cfg.Ollama != "" {
		model = fmt.Sprintf("{engine: ollama, model: %q", f.cfg.Ollama)
		if f.cfg.OllamaHost != "" {
			model += fmt.Sprintf(", host: %q", f.cfg.OllamaHost)
		}
		model += "}"
	}
	src := fmt.Sprintf("name: %s\nmodel: %s\nsystem: %q\n%s\nmax_steps: 1\nmax_retries: 1\n",
		m.Name, model, systemPrompts[m.Name], specs[m.Name])
	spec, err := agents.ParseSpec([]byte(src))
	if err != nil {
		return fmt.Errorf("fleet: spec of %s: %w", m.Name, err)
	}
	// Each agent keeps its spend ledger in the work dir, as 'metis agent run' does in its own.
	opts := []agents.Option{agents.WithKey(m.id.key), agents.WithPublisher(m.id), agents.WithLogger(f.cfg.Logger),
		agents.WithDataDir(filepath.Join(f.cfg.WorkDir, m.Name))}
	if f.cfg.Ollama == "" {
		m.brain = newScripted(engine, f.cfg.WorkDir, m.Name)
		opts = append(opts, agents.WithModel(m.brain), agents.WithEngine(engine))
	}
	m.a, err = agents.New(ctx, spec, f.eth, opts...)
	return err
}

// act has the agent make one tool call in one step: its model is told the task (and, scripted,
// says the call); done reports from the chain whether the call took effect. When it did not
// (a real model that answered in text), the fleet runs the tool itself, under the agent's
// policy, as a spec's fallback would.
func (f *fleet) act(ctx context.Context, m *member, task, tool string, args map[string]any, done func(context.Context) (bool, error)) error {
	raw, err := json.Marshal(args)
	if err != nil {
		return err
	}
	if m.brain != nil {
		if err := m.brain.say(tool, args); err != nil {
			return err
		}
	}
	prompt := fmt.Sprintf("%s Call the tool %s with the arguments %s.", task, tool, raw)
	if err := m.a.Handle(ctx, agents.Trigger{Kind: "task", Prompt: prompt}); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if ok, err := done(ctx); err == nil && ok {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.logf("%s: the model did not make the %s call; running it directly", m.Name, tool)
	for _, t := range m.a.Tools() {
		if t.Name() == tool {
			if _, err := t.Call(ctx, string(raw)); err != nil {
				return fmt.Errorf("%s: %s: %w", m.Name, tool, err)
			}
		}
	}
	if ok, err := done(ctx); err != nil || !ok {
		return fmt.Errorf("%s: %s did not take effect (%v)", m.Name, tool, err)
	}
	return nil
}

// waitUntil polls cond until it holds or ctx ends; cond's errors count as not yet.
func waitUntil(ctx context.Context, every time.Duration, cond func(context.Context) (bool, error)) error {
	for {
		if ok, err := cond(ctx); err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// findClass is the newest class owned by owner with the integrity hash, or nil.
func (f *fleet) findClass(ctx context.Context, c *dat.Client, owner common.Address, integrity [32]byte) (*big.Int, error) {
	n, err := c.ClassCount(ctx)
	if err != nil {
		return nil, err
	}
	for id := n; id >= 1 && id+256 > n; id-- {
		cl, err := c.Class(ctx, new(big.Int).SetUint64(id))
		if err != nil {
			return nil, err
		}
		if cl.Owner == owner && cl.IntegrityHash == integrity {
			return cl.Id, nil
		}
	}
	return nil, nil
}

// anchor has m create a class of kind for the file at path unless one of its own with the
// file's hash exists, and returns its id.
func (f *fleet) anchor(ctx context.Context, m *member, kind, path, usageFee, why string) (*big.Int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	var id *big.Int
	find := func(ctx context.Context) (bool, error) {
		var err error
		id, err = f.findClass(ctx, m.dat, m.id.addr, sum)
		return id != nil, err
	}
	if ok, _ := find(ctx); ok {
		f.logf("%s: %s %s is already class %s", m.Name, kind, filepath.Base(path), id)
		return id, nil
	}
	err = f.act(ctx, m, why, "dat_create_class", map[string]any{"kind": kind, "metadata_uri": "file://" + filepath.Base(path),
		"integrity_hash": hexutil.Encode(sum[:]), "usage_fee": usageFee}, find)
	return id, err
}

// verify has the validator (staked and registered on first use) attest a class, and waits
// until it is verified.
func (f *fleet) verify(ctx context.Context, classID *big.Int) error {
	f.valMu.Lock()
	defer f.valMu.Unlock()
	v := f.members["validator"]
	if !f.valReady {
		if ok, err := v.dat.IsValidator(ctx, v.id.addr); err != nil {
			return err
		} else if !ok {
			min := big.NewInt(params.Ether)
			if p, err := v.dat.Params(ctx); err == nil {
				min = p.ValidatorMinStake
			}
			if st, err := v.lz.StakeOf(ctx, v.id.addr); err != nil || st.Cmp(min) < 0 {
				err := f.act(ctx, v, "Stake what a data validator must hold.", "lazai_stake", map[string]any{"amount": agents.FormatAmount(min)},
					func(ctx context.Context) (bool, error) {
						st, err := v.lz.StakeOf(ctx, v.id.addr)
						return err == nil && st.Cmp(min) >= 0, err
					})
				if err != nil {
					return err
				}
			}
			if _, err := v.a.DAT.RegisterValidator(ctx); err != nil {
				return fmt.Errorf("validator: registerValidator: %w", err)
			}
		}
		f.valReady = true
	}
	verified := func(ctx context.Context) (bool, error) {
		c, err := v.dat.Class(ctx, classID)
		st := dat.Status(c.Status)
		return err == nil && (st == dat.StatusVerified || st == dat.StatusActive), err
	}
	if ok, _ := verified(ctx); ok {
		return nil
	}
	return f.act(ctx, v, fmt.Sprintf("Class %s's content matches its integrity hash: approve it.", classID),
		"dat_attest", map[string]any{"class_id": classID.String(), "approve": true}, verified)
}

// data is the dataset's story: anchored by the provider, verified by the validator, activated
// and minted.
func (f *fleet) data(ctx context.Context) error {
	p := f.members["provider"]
	path := filepath.Join(f.cfg.WorkDir, "dataset.csv")
	var b strings.Builder
	b.WriteString("city,year,rainfall_mm\n")
	for i, c := range []string{"Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Perth"} {
		fmt.Fprintf(&b, "%s,%d,%d\n", c, 2024, 400+97*i)
	}
	fmt.Fprintf(&b, "# written by metis up at %s\n", time.Now().UTC().Format(time.RFC3339Nano))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	id, err := f.anchor(ctx, p, "dataset", path, "0.001", "Anchor your new dataset as a DAT class so that validators can verify it.")
	if err != nil {
		return err
	}
	if err := f.verify(ctx, id); err != nil {
		return err
	}
	if _, err := p.a.DAT.ActivateClass(ctx, id); err != nil {
		return fmt.Errorf("provider: activateClass: %w", err)
	}
	minted := func(ctx context.Context) (bool, error) {
		ts, err := p.dat.TokensOf(ctx, p.id.addr)
		if err != nil {
			return false, err
		}
		for _, t := range ts {
			if info, err := p.dat.Token(ctx, t); err == nil && info.ClassId.Cmp(id) == 0 {
				return true, nil
			}
		}
		return false, nil
	}
	if err := f.act(ctx, p, fmt.Sprintf("Class %s is verified and active: mint yourself a usage token of it.", id),
		"dat_mint", map[string]any{"class_id": id.String(), "value": "1000", "share_ratio": "10"}, minted); err != nil {
		return err
	}
	f.logf("dataset class %s verified, active and minted", id)
	return nil
}

// compute is the model's story: anchored and verified, then a task on it requested, served by
// the prover and checked by the verifier until it settles.
func (f *fleet) compute(ctx context.Context) error {
	m, r := f.members["model"], f.members["requester"]
	id, err := f.anchor(ctx, m, "model", f.cfg.Model, "0", "Anchor your model as a DAT class so that tasks can be run on it.")
	if err != nil {
		return err
	}
	if err := f.verify(ctx, id); err != nil {
		return err
	}
	before, err := r.vc.TaskCount(ctx)
	if err != nil {
		return err
	}
	var task *big.Int
	requested := func(ctx context.Context) (bool, error) {
		n, err := r.vc.TaskCount(ctx)
		if err != nil {
			return false, err
		}
		for i := n; i > before; i-- {
			t, err := r.vc.Task(ctx, new(big.Int).SetUint64(i))
			if err == nil && t.Requester == r.id.addr {
				task = t.Id
				return true, nil
			}
		}
		return false, nil
	}
	if err := f.act(ctx, r, fmt.Sprintf("Model class %s is verified: pay for an optimistic, provable run of it.", id), "verify_request",
		map[string]any{"model_class_id": id.String(), "prompt": "Once upon a time", "fee": "0.01", "mode": "optimistic", "deadline_blocks": 100},
		requested); err != nil {
		return err
	}
	var t verifier.TaskInfo
	if err := waitUntil(ctx, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		var err error
		t, err = r.vc.Task(ctx, task)
		st := verifier.Status(t.Status)
		return err == nil && st >= verifier.StatusFinalized, err
	}); err != nil {
		return err
	}
	f.logf("compute task %s %s: prover %s, %d steps, trace root %s", task, verifier.Status(t.Status), t.Prover.Hex()[:10]+"…", t.Steps, shortHash(common.Hash(t.TraceRoot).Hex()))
	return nil
}

// governance is the fee split's story: three agents stake, one proposes 60% of fees to
// Holders Mining, two vote for it with reasons, the proposer queues and executes it.
func (f *fleet) governance(ctx context.Context) error {
	p, va, vb := f.members["proposer"], f.members["voter-a"], f.members["voter-b"]
	stake := func(m *member, amount string) error {
		want, _ := agents.ParseAmount(amount)
		before, err := m.lz.StakeOf(ctx, m.id.addr)
		if err != nil {
			return err
		}
		want.Add(want, before)
		return f.act(ctx, m, "Stake in Holders Mining: it earns a share of every fee and gives you a vote.", "lazai_stake",
			map[string]any{"amount": amount}, func(ctx context.Context) (bool, error) {
				st, err := m.lz.StakeOf(ctx, m.id.addr)
				return err == nil && st.Cmp(want) >= 0, err
			})
	}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, s := range []struct {
		m      *member
		amount string
	}{{p, "10"}, {va, "100"}, {vb, "100"}} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = stake(s.m, s.amount) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The proposal threshold counts the votes of the block before the proposal.
	gp, err := p.gov.Params(ctx)
	if err != nil {
		return err
	}
	if err := waitUntil(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		head, err := f.eth.BlockNumber(ctx)
		if err != nil || head == 0 {
			return false, err
		}
		v, err := p.lz.PastVotes(ctx, p.id.addr, head-1)
		return err == nil && v.Cmp(gp.ProposalThreshold) >= 0, err
	}); err != nil {
		return err
	}
	calldata, err := lazai.ABI.Pack("setSplit", NewSplit)
	if err != nil {
		return err
	}
	before, err := p.gov.ProposalCount(ctx)
	if err != nil {
		return err
	}
	var id *big.Int
	proposed := func(ctx context.Context) (bool, error) {
		n, err := p.gov.ProposalCount(ctx)
		if err != nil {
			return false, err
		}
		for i := n; i > before; i-- {
			pi, err := p.gov.Proposal(ctx, new(big.Int).SetUint64(i))
			if err == nil && pi.Proposer == p.id.addr {
				id = pi.Id
				return true, nil
			}
		}
		return false, nil
	}
	desc := "Send 60% of fees to Holders Mining (from 50%), taking it from the treasury: LazAI split 6000/2000/1000/1000."
	if err := f.act(ctx, p, "Propose the fee-split change.", "idao_propose", map[string]any{"description": desc,
		"calls": []map[string]any{{"target": lazai.Address.Hex(), "data": hexutil.Encode(calldata)}}}, proposed); err != nil {
		return err
	}
	state := func(want ...idao.State) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			st, err := p.gov.State(ctx, id)
			for _, w := range want {
				if err == nil && st == w {
					return true, nil
				}
			}
			return false, err
		}
	}
	if err := waitUntil(ctx, 250*time.Millisecond, state(idao.Active)); err != nil {
		return err
	}
	reasons := map[*member]string{
		va: "More of every fee to stakers raises the APR and rewards those who secure the chain.",
		vb: "The treasury keeps 10%, enough for grants; holders earning more brings more stake.",
	}
	for i, v := range []*member{va, vb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.act(ctx, v, fmt.Sprintf("Proposal %s is open: %s Vote on it, with your reason.", id, desc), "idao_vote",
				map[string]any{"proposal_id": id.String(), "support": "for", "reason": reasons[v]}, func(ctx context.Context) (bool, error) {
					return v.gov.HasVoted(ctx, id, v.id.addr)
				})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:2]...); err != nil {
		return err
	}
	if err := waitUntil(ctx, 250*time.Millisecond, state(idao.Succeeded, idao.Defeated, idao.Expired, idao.Canceled)); err != nil {
		return err
	}
	if st, _ := p.gov.State(ctx, id); st != idao.Succeeded {
		return fmt.Errorf("proposal %s is %s", id, st)
	}
	if _, err := p.a.IDAO.Queue(ctx, id); err != nil {
		return fmt.Errorf("proposer: queue: %w", err)
	}
	// Execute once the timelock has passed: the block after the eta.
	if err := waitUntil(ctx, 250*time.Millisecond, func(ctx context.Context) (bool, error) {
		pi, err := p.gov.Proposal(ctx, id)
		if err != nil {
			return false, err
		}
		head, err := f.eth.BlockNumber(ctx)
		return err == nil && head+1 >= pi.Eta, err
	}); err != nil {
		return err
	}
	if err := waitUntil(ctx, time.Second, func(ctx context.Context) (bool, error) {
		if done, _ := state(idao.Executed)(ctx); done {
			return true, nil
		}
		_, err := p.a.IDAO.Execute(ctx, id, nil)
		if err != nil {
			f.cfg.Logger.Info("execute not yet", "proposal", id, "err", err)
		}
		return err == nil, err
	}); err != nil {
		return err
	}
	s, err := p.lz.Split(ctx)
	if err != nil {
		return err
	}
	f.logf("proposal %s executed: LazAI's fee split is now %d/%d/%d/%d (holders/validators/treasury/burn, bps)",
		id, s.HoldersBps, s.ValidatorsBps, s.TreasuryBps, s.BurnBps)
	return nil
}
