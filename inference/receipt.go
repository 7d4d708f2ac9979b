package inference

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gmath "github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// EIP-712 domain of receipts. The domain has no verifying contract: a receipt is checked off
// chain and by the Verifier module alike, and the chain id keeps a dev-chain receipt from
// passing for a mainnet one.
const (
	ReceiptDomainName    = "metis-inference"
	ReceiptDomainVersion = "1"
)

// Receipt commits to one inference run: which engine ran which weights on which input with
// which sampling parameters, what came out, how many tokens that took and, for engines that
// record one, the trace root that the Verifier's one-step dispute bisects. Hashes and the
// signature are hex; floats are decimal strings (the shortest that round-trips a float64), so
// that the JSON form, the EIP-712 form and any re-encoding agree exactly.
//
// A receipt says what was run, not that rerunning it gives the same output: Ollama (llama.cpp)
// does not promise that, inference/gguf does.
type Receipt struct {
	Engine       string          `json:"engine"`
	Model        string          `json:"model"`       // the name the engine was asked for
	ModelDigest  common.Hash     `json:"modelDigest"` // sha256 of the weights (the GGUF file)
	InputDigest  common.Hash     `json:"inputDigest"` // InputDigest(req)
	Sampling     ReceiptSampling `json:"sampling"`
	OutputDigest common.Hash     `json:"outputDigest"` // OutputDigest(resp)
	PromptTokens uint64          `json:"promptTokens"`
	OutputTokens uint64          `json:"outputTokens"`
	TraceRoot    common.Hash     `json:"traceRoot"` // zero when the engine records no trace
	Timestamp    uint64          `json:"timestamp"` // unix seconds, when the receipt was made
	ChainID      uint64          `json:"chainId"`   // EIP-712 domain chain id
	// Signer and Signature are set by Sign. Signature is 65 bytes r||s||v with v 27 or 28, as
	// eth_signTypedData_v4 returns it.
	Signer    common.Address `json:"signer"`
	Signature hexutil.Bytes  `json:"signature"`
}

// ReceiptSampling is Sampling in receipt form: floats and the seed as decimal strings.
type ReceiptSampling struct {
	Temperature string   `json:"temperature"`
	TopK        uint64   `json:"topK"`
	TopP        string   `json:"topP"`
	Seed        string   `json:"seed"` // decimal: a uint64 does not survive JavaScript's numbers
	MaxTokens   uint64   `json:"maxTokens"`
	Stop        []string `json:"stop"`
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func receiptSampling(s Sampling) (ReceiptSampling, error) {
	if s.TopK < 0 || s.MaxTokens < 0 {
		return ReceiptSampling{}, errors.New("inference: negative top_k or max_tokens")
	}
	for _, f := range []float64{s.Temperature, s.TopP} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return ReceiptSampling{}, errors.New("inference: temperature and top_p must be finite")
		}
	}
	stop := s.Stop
	if stop == nil {
		stop = []string{}
	}
	return ReceiptSampling{
		Temperature: formatFloat(s.Temperature),
		TopK:        uint64(s.TopK),
		TopP:        formatFloat(s.TopP),
		Seed:        strconv.FormatUint(s.Seed, 10),
		MaxTokens:   uint64(s.MaxTokens),
		Stop:        stop,
	}, nil
}

// NewReceipt makes the unsigned receipt of a run of req that gave resp on the engine called
// engine. chainID goes into the EIP-712 domain (1337 for the dev chain).
func NewReceipt(engine string, req Request, resp *Response, chainID uint64, now time.Time) (*Receipt, error) {
	if resp == nil {
		return nil, errors.New("inference: receipt of a nil response")
	}
	md, err := ParseDigest(resp.ModelDigest)
	if err != nil {
		return nil, fmt.Errorf("inference: model digest: %w", err)
	}
	var root common.Hash
	if resp.TraceRoot != "" {
		if root, err = parseHash(resp.TraceRoot); err != nil {
			return nil, fmt.Errorf("inference: trace root: %w", err)
		}
	}
	in, err := InputDigest(req)
	if err != nil {
		return nil, err
	}
	out, err := OutputDigest(resp)
	if err != nil {
		return nil, err
	}
	s, err := receiptSampling(req.Sampling)
	if err != nil {
		return nil, err
	}
	if resp.Usage.PromptTokens < 0 || resp.Usage.OutputTokens < 0 || now.Unix() < 0 {
		return nil, errors.New("inference: negative token count or time")
	}
	return &Receipt{
		Engine:       engine,
		Model:        req.Model,
		ModelDigest:  md,
		InputDigest:  in,
		Sampling:     s,
		OutputDigest: out,
		PromptTokens: uint64(resp.Usage.PromptTokens),
		OutputTokens: uint64(resp.Usage.OutputTokens),
		TraceRoot:    root,
		Timestamp:    uint64(now.Unix()),
		ChainID:      chainID,
	}, nil
}

// ParseDigest reads a model digest as engines report it, "sha256:<64 hex>" (a bare or 0x-prefixed
// 64-hex-digit value is taken as sha256 too).
func ParseDigest(s string) (common.Hash, error) {
	if rest, ok := strings.CutPrefix(s, "sha256:"); ok {
		s = rest
	} else if strings.Contains(s, ":") {
		return common.Hash{}, fmt.Errorf("digest %q: only sha256 is supported", s)
	}
	return parseHash(s)
}

func parseHash(s string) (common.Hash, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return common.Hash{}, fmt.Errorf("%q is not 32 hex bytes", s)
	}
	return common.BytesToHash(b), nil
}

// Domain prefixes of the input and output digests, so that neither can be passed off as the
// other or as a hash of something else.
const (
	inputDigestPrefix  = "metis-inference-input-v1\n"
	outputDigestPrefix = "metis-inference-output-v1\n"
)

// InputDigest is sha256 over a canonical encoding of what the model was given: the kind of call
// ("generate" when there are no messages, else "chat"), the model name, the prompt or the
// messages, and the tools. Sampling is committed separately in the receipt. The encoding is
// JSON with a fixed field order, no HTML escaping, and every embedded JSON value (tool
// parameters, tool-call arguments) re-encoded with sorted keys and numbers kept as written, so
// that equal inputs hash equal whatever their whitespace or key order.
func InputDigest(req Request) (common.Hash, error) {
	type msg struct {
		Role      string     `json:"role"`
		Content   string     `json:"content"`
		ToolCalls []ToolCall `json:"tool_calls"`
		ToolName  string     `json:"tool_name"`
	}
	in := struct {
		Kind     string `json:"kind"`
		Model    string `json:"model"`
		Prompt   string `json:"prompt"`
		Messages []msg  `json:"messages"`
		Tools    []Tool `json:"tools"`
	}{Kind: "chat", Model: req.Model, Prompt: req.Prompt, Messages: []msg{}, Tools: []Tool{}}
	if len(req.Messages) == 0 {
		in.Kind = "generate"
	}
	for _, m := range req.Messages {
		calls, err := canonicalCalls(m.ToolCalls)
		if err != nil {
			return common.Hash{}, err
		}
		in.Messages = append(in.Messages, msg{m.Role, m.Content, calls, m.ToolName})
	}
	for _, t := range req.Tools {
		p, err := canonicalJSON(t.Parameters)
		if err != nil {
			return common.Hash{}, fmt.Errorf("inference: tool %s parameters: %w", t.Name, err)
		}
		in.Tools = append(in.Tools, Tool{Name: t.Name, Description: t.Description, Parameters: p})
	}
	return digestJSON(inputDigestPrefix, in)
}

// OutputDigest is sha256 over the canonical encoding of what the model produced: its text and
// its tool calls (name and arguments; ids are the engine's bookkeeping and left out).
func OutputDigest(resp *Response) (common.Hash, error) {
	calls, err := canonicalCalls(resp.ToolCalls)
	if err != nil {
		return common.Hash{}, err
	}
	for i := range calls {
		calls[i].ID = ""
	}
	out := struct {
		Text      string     `json:"text"`
		ToolCalls []ToolCall `json:"tool_calls"`
	}{resp.Text, calls}
	return digestJSON(outputDigestPrefix, out)
}

func canonicalCalls(calls []ToolCall) ([]ToolCall, error) {
	out := []ToolCall{}
	for _, c := range calls {
		a, err := canonicalJSON(c.Arguments)
		if err != nil {
			return nil, fmt.Errorf("inference: tool call %s arguments: %w", c.Name, err)
		}
		out = append(out, ToolCall{ID: c.ID, Name: c.Name, Arguments: a})
	}
	return out, nil
}

// canonicalJSON re-encodes a JSON value with sorted object keys, no insignificant whitespace and
// numbers exactly as written; empty becomes null.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null"), nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	b, err := marshalNoEscape(v)
	return json.RawMessage(b), err
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func digestJSON(prefix string, v any) (common.Hash, error) {
	b, err := marshalNoEscape(v)
	if err != nil {
		return common.Hash{}, err
	}
	return sha256.Sum256(append([]byte(prefix), b...)), nil
}

// receiptTypes are the EIP-712 types of a receipt. Field order is part of the type hash: never
// reorder, only add a new version.
var receiptTypes = apitypes.Types{
	"EIP712Domain": {
		{Name: "name", Type: "string"},
		{Name: "version", Type: "string"},
		{Name: "chainId", Type: "uint256"},
	},
	"InferenceReceipt": {
		{Name: "engine", Type: "string"},
		{Name: "model", Type: "string"},
		{Name: "modelDigest", Type: "bytes32"},
		{Name: "inputDigest", Type: "bytes32"},
		{Name: "sampling", Type: "Sampling"},
		{Name: "outputDigest", Type: "bytes32"},
		{Name: "promptTokens", Type: "uint256"},
		{Name: "outputTokens", Type: "uint256"},
		{Name: "traceRoot", Type: "bytes32"},
		{Name: "timestamp", Type: "uint256"},
	},
	"Sampling": {
		{Name: "temperature", Type: "string"},
		{Name: "topK", Type: "uint256"},
		{Name: "topP", Type: "string"},
		{Name: "seed", Type: "uint256"},
		{Name: "maxTokens", Type: "uint256"},
		{Name: "stop", Type: "string[]"},
	},
}

func u256(v uint64) *big.Int { return new(big.Int).SetUint64(v) }

// TypedData returns the receipt as EIP-712 typed data, what a wallet's eth_signTypedData_v4
// signs (Signer and Signature are not part of it).
func (r *Receipt) TypedData() (apitypes.TypedData, error) {
	seed, err := strconv.ParseUint(r.Sampling.Seed, 10, 64)
	if err != nil {
		return apitypes.TypedData{}, fmt.Errorf("inference: receipt seed %q: %w", r.Sampling.Seed, err)
	}
	stop := make([]any, len(r.Sampling.Stop))
	for i, s := range r.Sampling.Stop {
		stop[i] = s
	}
	return apitypes.TypedData{
		Types:       receiptTypes,
		PrimaryType: "InferenceReceipt",
		Domain: apitypes.TypedDataDomain{
			Name:    ReceiptDomainName,
			Version: ReceiptDomainVersion,
			ChainId: (*gmath.HexOrDecimal256)(u256(r.ChainID)),
		},
		Message: apitypes.TypedDataMessage{
			"engine":      r.Engine,
			"model":       r.Model,
			"modelDigest": r.ModelDigest[:],
			"inputDigest": r.InputDigest[:],
			"sampling": map[string]any{
				"temperature": r.Sampling.Temperature,
				"topK":        u256(r.Sampling.TopK),
				"topP":        r.Sampling.TopP,
				"seed":        u256(seed),
				"maxTokens":   u256(r.Sampling.MaxTokens),
				"stop":        stop,
			},
			"outputDigest": r.OutputDigest[:],
			"promptTokens": u256(r.PromptTokens),
			"outputTokens": u256(r.OutputTokens),
			"traceRoot":    r.TraceRoot[:],
			"timestamp":    u256(r.Timestamp),
		},
	}, nil
}

// Hash is the EIP-712 digest that the signature signs: keccak256("\x19\x01" ‖ domainSeparator ‖
// hashStruct(receipt)).
func (r *Receipt) Hash() (common.Hash, error) {
	td, err := r.TypedData()
	if err != nil {
		return common.Hash{}, err
	}
	h, _, err := apitypes.TypedDataAndHash(td)
	if err != nil {
		return common.Hash{}, fmt.Errorf("inference: receipt typed data: %w", err)
	}
	return common.BytesToHash(h), nil
}

// Sign signs the receipt with key and sets Signer and Signature.
func (r *Receipt) Sign(key *ecdsa.PrivateKey) error {
	h, err := r.Hash()
	if err != nil {
		return err
	}
	sig, err := crypto.Sign(h[:], key)
	if err != nil {
		return err
	}
	sig[64] += 27
	r.Signature = sig
	r.Signer = crypto.PubkeyToAddress(key.PublicKey)
	return nil
}

// ErrBadSignature is returned (wrapped) when a receipt's signature does not check out.
var ErrBadSignature = errors.New("inference: bad receipt signature")

// Recover returns the address whose key signed the receipt as it stands now; any change to a
// signed field changes the address (or fails).
func (r *Receipt) Recover() (common.Address, error) {
	if len(r.Signature) != 65 {
		return common.Address{}, fmt.Errorf("%w: %d bytes, want 65", ErrBadSignature, len(r.Signature))
	}
	v := r.Signature[64]
	if v != 27 && v != 28 {
		return common.Address{}, fmt.Errorf("%w: v = %d, want 27 or 28", ErrBadSignature, v)
	}
	h, err := r.Hash()
	if err != nil {
		return common.Address{}, err
	}
	sig := append([]byte(nil), r.Signature...)
	sig[64] -= 27
	pub, err := crypto.SigToPub(h[:], sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// VerifyBy checks that addr signed the receipt (and that the Signer field says so too).
func (r *Receipt) VerifyBy(addr common.Address) error {
	got, err := r.Recover()
	if err != nil {
		return err
	}
	if got != addr {
		return fmt.Errorf("%w: signed by %s, not %s", ErrBadSignature, got, addr)
	}
	if r.Signer != addr {
		return fmt.Errorf("%w: signer field %s, signature by %s", ErrBadSignature, r.Signer, got)
	}
	return nil
}

// Verify checks the signature against the receipt's own Signer field.
func (r *Receipt) Verify() error { return r.VerifyBy(r.Signer) }

// MarshalJSON writes the receipt's stable JSON form: the fields in declaration order, hashes and
// the signature as 0x-hex, no HTML escaping.
func (r Receipt) MarshalJSON() ([]byte, error) {
	type plain Receipt // no methods: no recursion
	p := plain(r)
	if p.Sampling.Stop == nil {
		p.Sampling.Stop = []string{}
	}
	if p.Signature == nil {
		p.Signature = hexutil.Bytes{}
	}
	return marshalNoEscape(p)
}

// UnmarshalJSON reads the JSON form strictly: unknown fields, a missing field, or a value that is
// not canonical (so that two encodings of one receipt could differ) are errors. It checks the
// form, not the signature; call Verify or VerifyBy for that.
func (r *Receipt) UnmarshalJSON(b []byte) error {
	type plain Receipt
	var p plain
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil {
		return fmt.Errorf("inference: receipt JSON: %w", err)
	}
	if d.More() {
		return errors.New("inference: receipt JSON: trailing data")
	}
	// Every field must be present: decode once more into presence markers.
	var present map[string]json.RawMessage
	if err := json.Unmarshal(b, &present); err != nil {
		return fmt.Errorf("inference: receipt JSON: %w", err)
	}
	for _, k := range []string{"engine", "model", "modelDigest", "inputDigest", "sampling", "outputDigest",
		"promptTokens", "outputTokens", "traceRoot", "timestamp", "chainId", "signer", "signature"} {
		if _, ok := present[k]; !ok {
			return fmt.Errorf("inference: receipt JSON: missing %q", k)
		}
	}
	s := p.Sampling
	for name, f := range map[string]string{"temperature": s.Temperature, "topP": s.TopP} {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || formatFloat(v) != f {
			return fmt.Errorf("inference: receipt JSON: sampling.%s %q is not a canonical finite decimal", name, f)
		}
	}
	if seed, err := strconv.ParseUint(s.Seed, 10, 64); err != nil || strconv.FormatUint(seed, 10) != s.Seed {
		return fmt.Errorf("inference: receipt JSON: sampling.seed %q is not a canonical uint64", s.Seed)
	}
	if len(p.Signature) != 0 && len(p.Signature) != 65 {
		return fmt.Errorf("inference: receipt JSON: signature is %d bytes, want 0 or 65", len(p.Signature))
	}
	if p.Sampling.Stop == nil {
		p.Sampling.Stop = []string{}
	}
	*r = Receipt(p)
	return nil
}
