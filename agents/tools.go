package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/tmc/langchaingo/tools"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/verifier"
)

// Tool is a langchaingo tool whose input is a JSON object described by a JSON Schema. The
// agent offers Schema to the model and validates the model's arguments against it before Call.
type Tool interface {
	tools.Tool
	Schema() json.RawMessage
}

// ArgError is a tool's complaint about its arguments beyond what the schema says (an amount
// that does not parse, say). The agent treats it as an invalid tool call: the model is shown
// it and asked again.
type ArgError struct{ Msg string }

func (e *ArgError) Error() string { return e.Msg }

func argErrorf(format string, args ...any) error { return &ArgError{Msg: fmt.Sprintf(format, args...)} }

// builtin is a tool the spec can name.
type builtin struct {
	name    string
	desc    string
	schema  *schema
	raw     string
	module  *module  // the module it calls, nil for off-chain tools
	methods []string // the module methods it may send (for the default policy)
	config  []string // the per-tool config keys it takes
	run     func(ctx context.Context, a *Agent, cfg ToolSpec, args json.RawMessage) (any, error)
}

const (
	idSchema     = `{"type":["string","integer"],"pattern":"^[0-9]{1,78}$","minimum":0,"description":"a decimal id"}`
	amountSchema = `{"type":["string","number"],"description":"an amount of METIS, e.g. \"0.5\" (or \"100 wei\")"}`
	addrSchema   = `{"type":"string","pattern":"^0x[0-9a-fA-F]{40}$"}`
)

var builtins = func() []*builtin {
	bs := []*builtin{
		{name: "dat_create_class", module: moduleByName("dat"), methods: []string{"createClass"},
			desc: "Register a DAT class anchoring a dataset, model, agent or compute resource; returns its class id.",
			raw: `{"type":"object","additionalProperties":false,"required":["kind","metadata_uri"],"properties":{
				"kind":{"type":"string","enum":["dataset","model","agent","compute"]},
				"metadata_uri":{"type":"string","maxLength":2048},
				"integrity_hash":{"type":"string","pattern":"^0x[0-9a-fA-F]{64}$","description":"content Merkle root (default: none)"},
				"policy_uri":{"type":"string","maxLength":2048},
				"unit_decimals":{"type":"integer","minimum":0,"maximum":18},
				"usage_fee":` + amountSchema + `,
				"parents":{"type":"array","items":` + idSchema + `}}}`,
			run: runCreateClass},
		{name: "dat_mint", module: moduleByName("dat"), methods: []string{"mint"},
			desc: "Mint a token of an active DAT class (as its owner or operator); returns the token id.",
			raw: `{"type":"object","additionalProperties":false,"required":["class_id","value"],"properties":{
				"class_id":` + idSchema + `,"to":` + addrSchema + `,
				"value":` + idSchema + `,"share_ratio":` + idSchema + `,
				"expire_at":{"type":"integer","minimum":0}}}`,
			run: runMint},
		{name: "dat_attest", module: moduleByName("dat"), methods: []string{"attest"},
			desc: "As a data validator, approve or reject a registered DAT class.",
			raw: `{"type":"object","additionalProperties":false,"required":["class_id","approve"],"properties":{
				"class_id":` + idSchema + `,"approve":{"type":"boolean"}}}`,
			run: runAttest},
		{name: "lazai_stake", module: moduleByName("lazai"), methods: []string{"stake"},
			desc: "Stake METIS in Holders Mining (it earns a share of every fee and gives voting power).",
			raw:  `{"type":"object","additionalProperties":false,"required":["amount"],"properties":{"amount":` + amountSchema + `}}`,
			run:  runStake},
		{name: "lazai_claim", module: moduleByName("lazai"), methods: []string{"claim"},
			desc: "Claim Holders Mining rewards.",
			raw:  `{"type":"object","additionalProperties":false,"properties":{}}`,
			run:  runClaim},
		{name: "idao_propose", module: moduleByName("idao"), methods: []string{"propose"},
			desc: "Open an iDAO proposal of calls (target, value, hex data) with a description; returns its id.",
			raw: `{"type":"object","additionalProperties":false,"required":["description"],"properties":{
				"description":{"type":"string","maxLength":8192},"dao":` + idSchema + `,
				"calls":{"type":"array","items":{"type":"object","additionalProperties":false,"required":["target"],"properties":{
					"target":` + addrSchema + `,"value":` + amountSchema + `,"data":{"type":"string","pattern":"^0x([0-9a-fA-F]{2})*$"}}}}}}`,
			run: runPropose},
		{name: "idao_vote", module: moduleByName("idao"), methods: []string{"castVote", "castVoteWithReason"},
			desc: "Vote on an iDAO proposal: for, against or abstain, with a reason recorded on chain.",
			raw: `{"type":"object","additionalProperties":false,"required":["proposal_id","support"],"properties":{
				"proposal_id":` + idSchema + `,"support":{"type":"string","enum":["for","against","abstain"]},
				"reason":{"type":"string","maxLength":4096}}}`,
			run: runVote},
		{name: "verify_request", module: moduleByName("verifier"), methods: []string{"requestCompute"},
			desc: "Pay for a verifiable inference task on the model of a DAT class; returns the task id.",
			raw: `{"type":"object","additionalProperties":false,"required":["model_class_id","prompt","fee"],"properties":{
				"model_class_id":` + idSchema + `,"prompt":{"type":"string","maxLength":8192},"fee":` + amountSchema + `,
				"mode":{"type":"string","enum":["attest","optimistic"]},
				"deadline_blocks":{"type":"integer","minimum":1,"maximum":1000000}}}`,
			config: []string{"model"},
			run:    runVerifyRequest},
		{name: "infer", config: []string{"model", "max_tokens"},
			desc: "Run a prompt on the local model and get its answer, with a signed receipt of the run.",
			raw:  `{"type":"object","additionalProperties":false,"required":["prompt"],"properties":{"prompt":{"type":"string","maxLength":16384}}}`,
			run:  runInfer},
		{name: "http_fetch", config: []string{"allow_hosts", "max_bytes", "timeout"},
			desc: "GET a URL (only from the allowed hosts) and return its status and body text.",
			raw:  `{"type":"object","additionalProperties":false,"required":["url"],"properties":{"url":{"type":"string","maxLength":4096}}}`,
			run:  runFetch},
		{name: "remember",
			desc: "Keep a note under a key across triggers (an empty value forgets it).",
			raw: `{"type":"object","additionalProperties":false,"required":["key","value"],"properties":{
				"key":{"type":"string","pattern":"^.{1,128}$"},"value":{"type":"string","maxLength":4096}}}`,
			run: runRemember},
	}
	for _, b := range bs {
		s, err := compileSchema(b.raw)
		if err != nil {
			panic("agents: schema of " + b.name + ": " + err.Error())
		}
		b.schema = s
		compact, _ := json.Marshal(s)
		b.raw = string(compact)
	}
	return bs
}()

func builtinTool(name string) *builtin {
	for _, b := range builtins {
		if b.name == name {
			return b
		}
	}
	return nil
}

func builtinNames() []string {
	out := make([]string, len(builtins))
	for i, b := range builtins {
		out[i] = b.name
	}
	return out
}

// boundTool is a builtin bound to an agent and its config.
type boundTool struct {
	b   *builtin
	a   *Agent
	cfg ToolSpec
}

func (t *boundTool) Name() string            { return t.b.name }
func (t *boundTool) Description() string     { return t.b.desc }
func (t *boundTool) Schema() json.RawMessage { return json.RawMessage(t.b.raw) }

// Call validates input against the schema and runs the tool; the result is JSON.
func (t *boundTool) Call(ctx context.Context, input string) (string, error) {
	if err := validateArgs(t.b.schema, json.RawMessage(input)); err != nil {
		return "", &ArgError{Msg: err.Error()}
	}
	out, err := t.b.run(ctx, t.a, t.cfg, json.RawMessage(input))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeArgs decodes validated arguments into v.
func decodeArgs(args json.RawMessage, v any) error {
	if err := json.Unmarshal(args, v); err != nil {
		return argErrorf("arguments: %v", err)
	}
	return nil
}

// num is an id or integer given as a JSON string or number.
type num struct{ *big.Int }

func (n *num) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		return fmt.Errorf("%s is not a non-negative integer", b)
	}
	n.Int = v
	return nil
}

func (n num) or(d int64) *big.Int {
	if n.Int == nil {
		return big.NewInt(d)
	}
	return n.Int
}

// amount is an amount of METIS given as a JSON string or number.
type amount struct{ *big.Int }

func (a *amount) UnmarshalJSON(b []byte) error {
	v, err := ParseAmount(strings.Trim(string(b), `"`))
	if err != nil {
		return err
	}
	a.Int = v
	return nil
}

// send runs one transaction of a tool: the policy's early check of method and value, then
// do, whose Send passes the policy hook; a mined transaction becomes a tx_mined event.
func (a *Agent) send(ctx context.Context, m *module, method string, value *big.Int, do func(context.Context) (*types.Receipt, error)) (*types.Receipt, error) {
	if r := a.guard.checkCall(m.address, m.abi.Methods[method].ID, value); r != nil {
		a.refused(ctx, r)
		return nil, r
	}
	rcpt, err := do(ctx)
	if rcpt != nil {
		a.emit(ctx, event.TxMined, map[string]any{
			"hash": rcpt.TxHash, "block": rcpt.BlockNumber, "status": rcpt.Status, "gasUsed": rcpt.GasUsed,
			"method": m.name + "." + method,
		})
	}
	return rcpt, err
}

func txResult(r *types.Receipt, kv ...any) map[string]any {
	out := map[string]any{"tx": r.TxHash, "block": r.BlockNumber}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func runCreateClass(ctx context.Context, a *Agent, _ ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		Kind          string `json:"kind"`
		MetadataURI   string `json:"metadata_uri"`
		IntegrityHash string `json:"integrity_hash"`
		PolicyURI     string `json:"policy_uri"`
		UnitDecimals  uint8  `json:"unit_decimals"`
		UsageFee      amount `json:"usage_fee"`
		Parents       []num  `json:"parents"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	kind, err := dat.ParseKind(in.Kind)
	if err != nil {
		return nil, argErrorf("%v", err)
	}
	p := dat.ClassParams{Kind: uint8(kind), MetadataURI: in.MetadataURI, PolicyURI: in.PolicyURI,
		UnitDecimals: in.UnitDecimals, UsageFee: in.UsageFee.Int, Parents: []*big.Int{}}
	if in.IntegrityHash != "" {
		p.IntegrityHash = common.HexToHash(in.IntegrityHash)
	}
	for _, x := range in.Parents {
		p.Parents = append(p.Parents, x.Int)
	}
	var id *big.Int
	r, err := a.send(ctx, moduleByName("dat"), "createClass", nil, func(ctx context.Context) (*types.Receipt, error) {
		var r *types.Receipt
		var err error
		id, r, err = a.DAT.CreateClass(ctx, p)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	return txResult(r, "class_id", id.String()), nil
}

func runMint(ctx context.Context, a *Agent, _ ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		ClassID    num    `json:"class_id"`
		To         string `json:"to"`
		Value      num    `json:"value"`
		ShareRatio num    `json:"share_ratio"`
		ExpireAt   uint64 `json:"expire_at"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	to := a.Address()
	if in.To != "" {
		to = common.HexToAddress(in.To)
	}
	var id *big.Int
	r, err := a.send(ctx, moduleByName("dat"), "mint", nil, func(ctx context.Context) (*types.Receipt, error) {
		var r *types.Receipt
		var err error
		id, r, err = a.DAT.Mint(ctx, in.ClassID.Int, to, in.Value.Int, in.ShareRatio.or(1), in.ExpireAt)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	return txResult(r, "token_id", id.String()), nil
}

func runAttest(ctx context.Context, a *Agent, _ ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		ClassID num  `json:"class_id"`
		Approve bool `json:"approve"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	r, err := a.send(ctx, moduleByName("dat"), "attest", nil, func(ctx context.Context) (*types.Receipt, error) {
		return a.DAT.Attest(ctx, in.ClassID.Int, in.Approve)
	})
	if err != nil {
		return nil, err
	}
	return txResult(r), nil
}

func runStake(ctx context.Context, a *Agent, _ ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		Amount amount `json:"amount"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	r, err := a.send(ctx, moduleByName("lazai"), "stake", in.Amount.Int, func(ctx context.Context) (*types.Receipt, error) {
		return a.LazAI.Stake(ctx, in.Amount.Int)
	})
	if err != nil {
		return nil, err
	}
	return txResult(r, "staked", FormatAmount(in.Amount.Int)), nil
}

func runClaim(ctx context.Context, a *Agent, _ ToolSpec, _ json.RawMessage) (any, error) {
	r, err := a.send(ctx, moduleByName("lazai"), "claim", nil, func(ctx context.Context) (*types.Receipt, error) {
		return a.LazAI.Claim(ctx)
	})
	if err != nil {
		return nil, err
	}
	return txResult(r), nil
}

func runPropose(ctx context.Context, a *Agent, _ ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		Description string `json:"description"`
		DAO         num    `json:"dao"`
		Calls       []struct {
			Target string `json:"target"`
			Value  amount `json:"value"`
			Data   string `json:"data"`
		} `json:"calls"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	calls := make([]idao.Call, 0, len(in.Calls))
	for i, c := range in.Calls {
		data, err := hexutil.Decode(orHex(c.Data))
		if err != nil {
			return nil, argErrorf("calls[%d].data: %v", i, err)
		}
		calls = append(calls, idao.Call{Target: common.HexToAddress(c.Target), Value: c.Value.Int, Data: data})
	}
	var id *big.Int
	r, err := a.send(ctx, moduleByName("idao"), "propose", nil, func(ctx context.Context) (*types.Receipt, error) {
		var r *types.Receipt
		var err error
		id, r, err = a.IDAO.Propose(ctx, in.DAO.or(idao.RootDAO), calls, in.Description)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	return txResult(r, "proposal_id", id.String()), nil
}

func orHex(s string) string {
	if s == "" {
		return "0x"
	}
	return s
}

func runVote(ctx context.Context, a *Agent, _ ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		ProposalID num    `json:"proposal_id"`
		Support    string `json:"support"`
		Reason     string `json:"reason"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	support, err := idao.ParseSupport(in.Support)
	if err != nil {
		return nil, argErrorf("%v", err)
	}
	method := "castVoteWithReason"
	if in.Reason == "" {
		method = "castVote"
	}
	r, err := a.send(ctx, moduleByName("idao"), method, nil, func(ctx context.Context) (*types.Receipt, error) {
		return a.IDAO.CastVote(ctx, in.ProposalID.Int, support, in.Reason)
	})
	if err != nil {
		return nil, err
	}
	return txResult(r, "support", in.Support), nil
}

func runVerifyRequest(ctx context.Context, a *Agent, cfg ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		ModelClassID   num    `json:"model_class_id"`
		Prompt         string `json:"prompt"`
		Fee            amount `json:"fee"`
		Mode           string `json:"mode"`
		DeadlineBlocks uint64 `json:"deadline_blocks"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	mode := verifier.ModeAttest
	if in.Mode == "optimistic" {
		mode = verifier.ModeOptimistic
	}
	if in.DeadlineBlocks == 0 {
		in.DeadlineBlocks = 100
	}
	head, err := a.eth.BlockNumber(ctx)
	if err != nil {
		return nil, err
	}
	req := inference.Request{Model: a.toolModel(cfg), Prompt: in.Prompt, Sampling: a.spec.Model.Sampling}
	var id *big.Int
	r, err := a.send(ctx, moduleByName("verifier"), "requestCompute", in.Fee.Int, func(ctx context.Context) (*types.Receipt, error) {
		var r *types.Receipt
		var err error
		id, r, err = a.Verifier.RequestCompute(ctx, in.ModelClassID.Int, req, mode, head+in.DeadlineBlocks, in.Fee.Int)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	return txResult(r, "task_id", id.String()), nil
}

func runInfer(ctx context.Context, a *Agent, cfg ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		Prompt string `json:"prompt"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	if a.engine == nil {
		return nil, errors.New("infer: the agent has no inference engine (its brain is not one)")
	}
	s := a.spec.Model.Sampling
	if cfg.MaxTokens > 0 {
		s.MaxTokens = cfg.MaxTokens
	}
	req := inference.Request{Model: a.toolModel(cfg), Sampling: s,
		Messages: []inference.Message{{Role: inference.RoleUser, Content: in.Prompt}}}
	resp, err := a.engine.Chat(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	rc, err := inference.NewReceipt(a.engine.Name(), req, resp, a.chainID.Uint64(), a.now())
	if err != nil {
		return nil, fmt.Errorf("infer: receipt: %w", err)
	}
	if err := rc.Sign(a.key); err != nil {
		return nil, fmt.Errorf("infer: signing the receipt: %w", err)
	}
	a.emit(ctx, event.Inference, map[string]any{"receipt": rc, "text": clip(resp.Text, 8192)})
	return map[string]any{"text": resp.Text, "output_digest": rc.OutputDigest, "trace_root": rc.TraceRoot}, nil
}

func runFetch(ctx context.Context, a *Agent, cfg ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		URL string `json:"url"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, argErrorf("url %q: want an http or https URL", in.URL)
	}
	if !hostAllowed(cfg.AllowHosts, u) {
		return nil, argErrorf("host %q is not allowed (allowed: %s)", u.Host, strings.Join(cfg.AllowHosts, ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	client := *a.http
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if !hostAllowed(cfg.AllowHosts, r.URL) {
			return fmt.Errorf("redirect to %q is not allowed", r.URL.Host)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("http_fetch: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("http_fetch: %w", err)
	}
	truncated := int64(len(body)) > cfg.MaxBytes
	if truncated {
		body = body[:cfg.MaxBytes]
	}
	return map[string]any{"status": resp.StatusCode, "body": string(body), "truncated": truncated}, nil
}

func hostAllowed(allow []string, u *url.URL) bool {
	for _, h := range allow {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, u.Hostname()) {
			return true
		}
	}
	return false
}

func runRemember(_ context.Context, a *Agent, _ ToolSpec, args json.RawMessage) (any, error) {
	var in struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := decodeArgs(args, &in); err != nil {
		return nil, err
	}
	if err := a.mem.setNote(in.Key, in.Value); err != nil {
		return nil, argErrorf("%v", err)
	}
	return map[string]any{"ok": true}, nil
}

// defaultAllow is the policy's allow list when the spec gives none: the methods of the tools.
func defaultAllow(ts []ToolSpec) []Allow {
	out := []Allow{}
	for _, t := range ts {
		b := builtinTool(t.Name)
		if b == nil || b.module == nil {
			continue
		}
		a := Allow{Module: b.module.name, Address: b.module.address}
		if err := a.setMethods(b.methods); err != nil {
			panic("agents: builtin " + b.name + ": " + err.Error())
		}
		out = append(out, a)
	}
	return out
}

// clip shortens s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

var _ Tool = (*boundTool)(nil)
