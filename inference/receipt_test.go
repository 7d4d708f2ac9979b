package inference_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/metisgo/metis/inference"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// devKey is account 0 of the dev chain's mnemonic ("test test ... junk", m/44'/60'/0'/0/0).
const devKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

func sampleReceipt(t testing.TB) *inference.Receipt {
	t.Helper()
	req := inference.Request{
		Model: "adder",
		Messages: []inference.Message{
			{Role: inference.RoleUser, Content: "What is 2 + 3? <b>&</b>"},
		},
		Tools: []inference.Tool{{Name: "add", Description: "Add.", Parameters: json.RawMessage(`{"type":"object"}`)}},
		Sampling: inference.Sampling{Temperature: 0.7, TopK: 40, TopP: 0.9, Seed: 1<<63 + 5, MaxTokens: 64,
			Stop: []string{"\n\n"}},
	}
	resp := &inference.Response{
		Model:       "adder",
		ModelDigest: "sha256:" + strings.Repeat("ab", 32),
		ToolCalls:   []inference.ToolCall{{ID: "call_0", Name: "add", Arguments: json.RawMessage(`{"b": 3, "a": 2}`)}},
		Usage:       inference.Usage{PromptTokens: 40, OutputTokens: 5},
		TraceRoot:   "0x" + strings.Repeat("cd", 32),
	}
	r, err := inference.NewReceipt("gguf", req, resp, 1337, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReceiptSignVerify(t *testing.T) {
	key, _ := crypto.HexToECDSA(devKey)
	addr := crypto.PubkeyToAddress(key.PublicKey)
	r := sampleReceipt(t)
	if _, err := r.Recover(); err == nil {
		t.Error("an unsigned receipt recovered a signer")
	}
	if err := r.Sign(key); err != nil {
		t.Fatal(err)
	}
	if r.Signer != addr {
		t.Errorf("signer %s, want %s", r.Signer, addr)
	}
	if err := r.VerifyBy(addr); err != nil {
		t.Fatal(err)
	}
	other, _ := crypto.GenerateKey()
	if err := r.VerifyBy(crypto.PubkeyToAddress(other.PublicKey)); !errors.Is(err, inference.ErrBadSignature) {
		t.Errorf("verified by the wrong address: %v", err)
	}
}

// TestReceiptTamper changes each signed field in turn: every change must break verification.
func TestReceiptTamper(t *testing.T) {
	key, _ := crypto.HexToECDSA(devKey)
	addr := crypto.PubkeyToAddress(key.PublicKey)
	flip := func(h *common.Hash) { h[31] ^= 1 }
	tampers := map[string]func(r *inference.Receipt){
		"engine":       func(r *inference.Receipt) { r.Engine = "ollama" },
		"model":        func(r *inference.Receipt) { r.Model += "x" },
		"modelDigest":  func(r *inference.Receipt) { flip(&r.ModelDigest) },
		"inputDigest":  func(r *inference.Receipt) { flip(&r.InputDigest) },
		"temperature":  func(r *inference.Receipt) { r.Sampling.Temperature = "0.8" },
		"topK":         func(r *inference.Receipt) { r.Sampling.TopK++ },
		"topP":         func(r *inference.Receipt) { r.Sampling.TopP = "1" },
		"seed":         func(r *inference.Receipt) { r.Sampling.Seed = "1" },
		"maxTokens":    func(r *inference.Receipt) { r.Sampling.MaxTokens++ },
		"stop":         func(r *inference.Receipt) { r.Sampling.Stop = nil },
		"stopText":     func(r *inference.Receipt) { r.Sampling.Stop = []string{"\n"} },
		"outputDigest": func(r *inference.Receipt) { flip(&r.OutputDigest) },
		"promptTokens": func(r *inference.Receipt) { r.PromptTokens++ },
		"outputTokens": func(r *inference.Receipt) { r.OutputTokens-- },
		"traceRoot":    func(r *inference.Receipt) { r.TraceRoot = common.Hash{} },
		"timestamp":    func(r *inference.Receipt) { r.Timestamp++ },
		"chainId":      func(r *inference.Receipt) { r.ChainID = 1 },
		"signer":       func(r *inference.Receipt) { r.Signer[0] ^= 1 },
		"signature":    func(r *inference.Receipt) { r.Signature[10] ^= 1 },
		"v":            func(r *inference.Receipt) { r.Signature[64] = 29 },
	}
	for name, tamper := range tampers {
		r := sampleReceipt(t)
		if err := r.Sign(key); err != nil {
			t.Fatal(err)
		}
		tamper(r)
		if err := r.VerifyBy(addr); err == nil {
			t.Errorf("%s: tampered receipt still verifies", name)
		}
	}
}

func TestReceiptJSONGolden(t *testing.T) {
	key, _ := crypto.HexToECDSA(devKey)
	r := sampleReceipt(t)
	if err := r.Sign(key); err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "receipt.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("receipt JSON changed (a change here breaks every stored receipt; run with -update only on purpose):\n%s", got)
	}
	var back inference.Receipt
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(); err != nil {
		t.Errorf("golden receipt does not verify: %v", err)
	}
	again, _ := json.MarshalIndent(&back, "", "  ")
	if !bytes.Equal(append(again, '\n'), want) {
		t.Errorf("JSON round trip changed the receipt:\n%s", again)
	}
}

func TestReceiptJSONStrict(t *testing.T) {
	good, err := json.Marshal(sampleReceipt(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"unknown field":        {`"engine":`, `"extra":1,"engine":`},
		"missing field":        {`"traceRoot":"0x` + strings.Repeat("cd", 32) + `",`, ``},
		"non-canonical float":  {`"temperature":"0.7"`, `"temperature":"0.70"`},
		"non-canonical seed":   {`"seed":"9223372036854775813"`, `"seed":"09223372036854775813"`},
		"short hash":           {`"modelDigest":"0x` + strings.Repeat("ab", 32), `"modelDigest":"0x` + strings.Repeat("ab", 31)},
		"short signature":      {`"signature":"0x"`, `"signature":"0x00"`},
		"infinite temperature": {`"temperature":"0.7"`, `"temperature":"+Inf"`},
	} {
		bad := strings.Replace(string(good), edit[0], edit[1], 1)
		if bad == string(good) {
			t.Fatalf("%s: edit did not apply to %s", name, good)
		}
		var r inference.Receipt
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
}

func TestDigestsCanonical(t *testing.T) {
	a := inference.Request{Model: "m", Messages: []inference.Message{{Role: "assistant",
		ToolCalls: []inference.ToolCall{{Name: "add", Arguments: json.RawMessage(`{"a": 2, "b": 3}`)}}}},
		Tools: []inference.Tool{{Name: "add", Parameters: json.RawMessage(`{"type":"object","properties":{}}`)}}}
	b := a
	b.Messages = []inference.Message{{Role: "assistant",
		ToolCalls: []inference.ToolCall{{Name: "add", Arguments: json.RawMessage("{\"b\":3,\n\"a\":2}")}}}}
	b.Tools = []inference.Tool{{Name: "add", Parameters: json.RawMessage(`{ "properties": {}, "type": "object" }`)}}
	b.Sampling.Seed = 99 // sampling is not part of the input digest
	da, err := inference.InputDigest(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := inference.InputDigest(b)
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Error("key order or whitespace changed the input digest")
	}
	c := a
	c.Prompt = "x"
	if dc, _ := inference.InputDigest(c); dc == da {
		t.Error("prompt not covered by the input digest")
	}
	gen := inference.Request{Model: "m", Prompt: "hi"}
	chat := inference.Request{Model: "m", Prompt: "hi", Messages: []inference.Message{}}
	dg, _ := inference.InputDigest(gen)
	dch, _ := inference.InputDigest(chat)
	if dg != dch {
		t.Error("an empty message list should read as generate")
	}
	if _, err := inference.InputDigest(inference.Request{Tools: []inference.Tool{{Name: "x", Parameters: json.RawMessage(`{`)}}}); err == nil {
		t.Error("malformed tool parameters accepted")
	}
	o1, _ := inference.OutputDigest(&inference.Response{Text: "a", ToolCalls: []inference.ToolCall{{ID: "call_0", Name: "f", Arguments: json.RawMessage(`{}`)}}})
	o2, _ := inference.OutputDigest(&inference.Response{Text: "a", ToolCalls: []inference.ToolCall{{ID: "other", Name: "f", Arguments: json.RawMessage(` { } `)}}})
	if o1 != o2 {
		t.Error("tool call ids or whitespace changed the output digest")
	}
}

func TestNewReceiptErrors(t *testing.T) {
	ok := &inference.Response{ModelDigest: "sha256:" + strings.Repeat("00", 32)}
	for name, resp := range map[string]*inference.Response{
		"nil":          nil,
		"md5 digest":   {ModelDigest: "md5:abc"},
		"short digest": {ModelDigest: "sha256:abcd"},
		"bad root":     {ModelDigest: ok.ModelDigest, TraceRoot: "zz"},
	} {
		if _, err := inference.NewReceipt("x", inference.Request{}, resp, 1, time.Unix(0, 0)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := inference.NewReceipt("x", inference.Request{}, ok, 1, time.Unix(0, 0)); err != nil {
		t.Errorf("valid response: %v", err)
	}
}

// FuzzReceiptJSON: decoding outside bytes never panics, and whatever decodes re-encodes to a
// form that decodes to the same receipt (hash included).
func FuzzReceiptJSON(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "receipt.golden.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"engine":"x","sampling":{"temperature":"1e400"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r inference.Receipt
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		h1, err1 := r.Hash()
		_, _ = r.Recover()
		out, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("decoded receipt does not encode: %v", err)
		}
		var back inference.Receipt
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-encoded receipt does not decode: %v\n%s", err, out)
		}
		h2, err2 := back.Hash()
		if (err1 == nil) != (err2 == nil) || h1 != h2 {
			t.Fatalf("hash changed over a JSON round trip: %v %v / %v %v", h1, err1, h2, err2)
		}
	})
}
