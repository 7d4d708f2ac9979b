package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/inference/ollama/ollamatest"
)

// tinyServer starts Ollama with a tiny random llama named "tiny" and returns the server's host
// and the model file's sha256.
func tinyServer(t *testing.T) (host, digest string) {
	t.Helper()
	s := ollamatest.Start(t)
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	p := gguf.LlamaParams{Dim: 32, Layers: 1, Heads: 2, KVHeads: 1, FFN: 64, Context: 256,
		RopeTheta: 10000, NormEps: 1e-5, Type: gguf.F32}
	if err := gguf.RandomLlama(p, gguf.ByteVocab(), 3).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	s.Create(t, "tiny", path, "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return s.Host, "0x" + hex.EncodeToString(sum[:])
}

// splitReceipt separates the streamed text from the receipt JSON that follows it.
func splitReceipt(t *testing.T, out string) (string, *inference.Receipt) {
	t.Helper()
	i := strings.Index(out, "\n{\n")
	if i < 0 {
		t.Fatalf("no receipt in output:\n%s", out)
	}
	var r inference.Receipt
	if err := json.Unmarshal([]byte(out[i+1:]), &r); err != nil {
		t.Fatalf("receipt: %v\n%s", err, out[i+1:])
	}
	return out[:i], &r
}

func TestInferOllama(t *testing.T) {
	host, digest := tinyServer(t)
	out := mustMetis(t, "infer", "--engine", "ollama", "--host", host, "--model", "tiny",
		"--dev-account", "1", "--seed", "0", "--temperature", "0", "--max-tokens", "20", "hello")
	text, r := splitReceipt(t, out)
	dev := core.DevAccounts()[1].Address
	if err := r.VerifyBy(dev); err != nil {
		t.Fatal(err)
	}
	if r.Engine != "ollama" || r.Model != "tiny" || r.ModelDigest.Hex() != digest || r.ChainID != 1337 ||
		r.Sampling.MaxTokens != 20 || r.OutputTokens != 20 {
		t.Errorf("receipt %+v (want model digest %s)", r, digest)
	}
	// The receipt commits to exactly the text that was streamed.
	wantIn, _ := inference.InputDigest(inference.Request{Model: "tiny", Prompt: "hello"})
	wantOut, _ := inference.OutputDigest(&inference.Response{Text: text})
	if r.InputDigest != wantIn || r.OutputDigest != wantOut {
		t.Errorf("digests in %s out %s, want %s %s", r.InputDigest, r.OutputDigest, wantIn, wantOut)
	}
}

func TestInferKeystoreAndReceiptFile(t *testing.T) {
	host, _ := tinyServer(t)
	dir := t.TempDir()
	key, _ := crypto.GenerateKey()
	ks := keystore.NewKeyStore(filepath.Join(dir, "ks"), keystore.LightScryptN, keystore.LightScryptP)
	acct, err := ks.ImportECDSA(key, "pw")
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("pw\n"), 0o600)
	rfile := filepath.Join(dir, "receipt.json")
	out := mustMetis(t, "infer", "--host", host, "--model", "tiny", "--keystore", acct.URL.Path,
		"--password-file", pwFile, "--receipt-out", rfile, "--chain-id", "7", "--max-tokens", "8", "hi")
	if strings.Contains(out, "signature") {
		t.Errorf("receipt on stdout despite --receipt-out:\n%s", out)
	}
	b, err := os.ReadFile(rfile)
	if err != nil {
		t.Fatal(err)
	}
	var r inference.Receipt
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyBy(acct.Address); err != nil || r.ChainID != 7 {
		t.Errorf("verify: %v, chain id %d", err, r.ChainID)
	}
}

func TestInferErrors(t *testing.T) {
	host, _ := tinyServer(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"model not found": {[]string{"--host", host, "--model", "llama9", "x"}, "ollama pull llama9"},
		"no server":       {[]string{"--host", "127.0.0.1:1", "--model", "tiny", "x"}, "ollama serve"},
		"two keys":        {[]string{"--host", host, "--model", "tiny", "--key", "01", "--dev-account", "0", "x"}, "at most one"},
		"bad engine":      {[]string{"--engine", "gpt", "--model", "tiny", "x"}, "use ollama or gguf"},
		"no model":        {[]string{"x"}, "model"},
		"bad dev account": {[]string{"--host", host, "--model", "tiny", "--dev-account", "10", "x"}, "dev accounts"},
	} {
		code, _, errOut := metis(t, append([]string{"infer"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want an error mentioning %q", name, code, errOut, tc.want)
		}
	}
}

func TestInferUnsigned(t *testing.T) {
	host, _ := tinyServer(t)
	code, out, errOut := metis(t, "infer", "--host", host, "--model", "tiny", "--max-tokens", "8", "hi")
	if code != 0 || !strings.Contains(errOut, "not signed") {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	_, r := splitReceipt(t, out)
	if len(r.Signature) != 0 {
		t.Error("unsigned receipt has a signature")
	}
}

// TestInferGGUF runs the embedded engine: no server, and the receipt carries the trace root.
func TestInferGGUF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	p := gguf.LlamaParams{Dim: 32, Layers: 1, Heads: 2, KVHeads: 1, FFN: 64, Context: 256,
		RopeTheta: 10000, NormEps: 1e-5, Type: gguf.F32}
	if err := gguf.RandomLlama(p, gguf.ByteVocab(), 3).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	sum := sha256.Sum256(b)
	run := func() (string, *inference.Receipt) {
		return splitReceipt(t, mustMetis(t, "infer", "--engine", "gguf", "--model", path,
			"--max-tokens", "8", "--dev-account", "0", "hello"))
	}
	text, r := run()
	if err := r.VerifyBy(core.DevAccounts()[0].Address); err != nil {
		t.Fatal(err)
	}
	if r.Engine != "gguf" || r.ModelDigest.Hex() != "0x"+hex.EncodeToString(sum[:]) ||
		r.OutputTokens != 8 || r.TraceRoot == (common.Hash{}) {
		t.Errorf("receipt %+v", r)
	}
	// Bit-exact engine: a second run commits to the same output and trace.
	text2, r2 := run()
	if text2 != text || r2.OutputDigest != r.OutputDigest || r2.TraceRoot != r.TraceRoot {
		t.Errorf("second run differs: %q vs %q", text2, text)
	}
}
