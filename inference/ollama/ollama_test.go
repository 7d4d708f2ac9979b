package ollama_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/inference/internal/ollamatest"
	"github.com/metisgo/metis/inference/internal/scripted"
	"github.com/metisgo/metis/inference/ollama"
)

func TestMain(m *testing.M) { ollamatest.Main(m) }

// tinyParams is a random llama small enough to load in a blink.
var tinyParams = gguf.LlamaParams{Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128, Context: 512,
	RopeTheta: 10000, NormEps: 1e-5, Type: gguf.F32}

var files struct {
	once        sync.Once
	dir         string
	tiny, adder string
	err         error
}

// models writes the test models once per test binary and creates them on the shared server.
func models(t testing.TB) (*ollamatest.Server, *ollama.Engine) {
	t.Helper()
	s := ollamatest.Shared(t)
	files.once.Do(func() {
		files.dir = s.Scratch()
		files.tiny = filepath.Join(files.dir, "tiny.gguf")
		if files.err = gguf.RandomLlama(tinyParams, gguf.ByteVocab(), 7).WriteFile(files.tiny); files.err != nil {
			return
		}
		files.adder = filepath.Join(files.dir, "adder.gguf")
		files.err = scripted.WriteFile(files.adder, scripted.AdderRules(2, 3, false))
	})
	if files.err != nil {
		t.Fatal(files.err)
	}
	s.Create(t, "tiny", files.tiny, "")
	s.Create(t, "adder", files.adder, scripted.Modelfile)
	e, err := ollama.New(ollama.WithHost(s.Host))
	if err != nil {
		t.Fatal(err)
	}
	return s, e
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestGenerate(t *testing.T) {
	_, e := models(t)
	ctx := context.Background()
	req := inference.Request{Model: "tiny", Prompt: "The quick brown fox", Sampling: inference.Sampling{MaxTokens: 16}}
	first, err := e.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Usage.OutputTokens != 16 || first.DoneReason != "length" {
		t.Errorf("usage %+v, done %q; want 16 output tokens and done_reason length", first.Usage, first.DoneReason)
	}
	// The byte vocabulary gives one prompt token per byte, plus <s> and the space prefix's bytes.
	if first.Usage.PromptTokens < len("The quick brown fox") {
		t.Errorf("prompt tokens %d, want at least one per byte", first.Usage.PromptTokens)
	}
	if first.ModelDigest != fileDigest(t, files.tiny) {
		t.Errorf("response digest %s, want the GGUF file's %s", first.ModelDigest, fileDigest(t, files.tiny))
	}
	// Greedy decoding (the zero Sampling) repeats itself.
	second, err := e.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Text != second.Text {
		t.Errorf("greedy runs differ: %q vs %q", first.Text, second.Text)
	}
}

func TestChatStreaming(t *testing.T) {
	_, e := models(t)
	var chunks []string
	resp, err := e.Chat(context.Background(), inference.Request{
		Model:    "tiny",
		Messages: []inference.Message{{Role: inference.RoleUser, Content: "hi"}},
		Sampling: inference.Sampling{MaxTokens: 12},
		Stream:   func(c string) error { chunks = append(chunks, c); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 2 {
		t.Errorf("%d chunks streamed, want one per token or so", len(chunks))
	}
	if got := strings.Join(chunks, ""); got != resp.Text {
		t.Errorf("streamed %q, response text %q", got, resp.Text)
	}
	if resp.Usage.OutputTokens != 12 {
		t.Errorf("usage %+v", resp.Usage)
	}
}

func TestChatScriptedReply(t *testing.T) {
	_, e := models(t)
	resp, err := e.Chat(context.Background(), inference.Request{
		Model:    "adder",
		Messages: []inference.Message{{Role: inference.RoleUser, Content: "hello?"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != scripted.ChatReply || resp.DoneReason != "stop" {
		t.Errorf("text %q done %q, want %q and stop", resp.Text, resp.DoneReason, scripted.ChatReply)
	}
}

func TestStreamErrorStops(t *testing.T) {
	_, e := models(t)
	stop := errors.New("enough")
	n := 0
	_, err := e.Generate(context.Background(), inference.Request{
		Model: "tiny", Prompt: "x", Sampling: inference.Sampling{MaxTokens: 200},
		Stream: func(string) error { n++; return stop },
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d chunks, want the callback's error after 1", err, n)
	}
}

var addTool = inference.Tool{
	Name:        "add",
	Description: "Add two integers.",
	Parameters: json.RawMessage(`{"type":"object","required":["a","b"],"properties":{
		"a":{"type":"integer","description":"first addend"},
		"b":{"type":"integer","description":"second addend"}}}`),
}

// TestToolCallRoundTrip: the model calls add, Ollama parses the call out of its text with the
// template's tool-call shape, the test runs the tool, sends the result back as a tool message,
// and the model's final answer is read off that result.
func TestToolCallRoundTrip(t *testing.T) {
	_, e := models(t)
	ctx := context.Background()
	msgs := []inference.Message{{Role: inference.RoleUser, Content: "What is 2 + 3?"}}
	resp, err := e.Chat(ctx, inference.Request{Model: "adder", Messages: msgs, Tools: []inference.Tool{addTool}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 1 {
		t.Fatalf("tool calls %+v (text %q), want one", resp.ToolCalls, resp.Text)
	}
	call := resp.ToolCalls[0]
	if call.Name != "add" || string(call.Arguments) != `{"a":2,"b":3}` || call.ID == "" {
		t.Fatalf("tool call %+v %s", call, call.Arguments)
	}
	var args struct{ A, B int }
	if err := json.Unmarshal(call.Arguments, &args); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		result string
		want   string
	}{
		{result: itoa(args.A + args.B), want: "The sum is 5."},
		// The answer follows the tool's result, not a script: a different result, a different answer.
		{result: "7", want: "The sum is 7."},
		// The machine reads the last byte only: a result that does not end in a digit stumps it.
		{result: "five", want: scripted.Unsure},
	} {
		history := append(append([]inference.Message(nil), msgs...),
			inference.Message{Role: inference.RoleAssistant, ToolCalls: resp.ToolCalls},
			inference.Message{Role: inference.RoleTool, ToolName: "add", Content: tc.result})
		final, err := e.Chat(ctx, inference.Request{Model: "adder", Messages: history, Tools: []inference.Tool{addTool}})
		if err != nil {
			t.Fatal(err)
		}
		if final.Text != tc.want || len(final.ToolCalls) != 0 {
			t.Errorf("after tool result %q: text %q calls %+v, want %q", tc.result, final.Text, final.ToolCalls, tc.want)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestEmbed(t *testing.T) {
	_, e := models(t)
	vecs, err := e.Embed(context.Background(), "tiny", []string{"alpha", "beta"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 2 || len(vecs[0]) != tinyParams.Dim || len(vecs[1]) != tinyParams.Dim {
		t.Fatalf("got %d vectors of %d", len(vecs), len(vecs[0]))
	}
	same := true
	for i := range vecs[0] {
		same = same && vecs[0][i] == vecs[1][i]
	}
	if same {
		t.Error("different inputs gave the same embedding")
	}
}

func TestModelDigest(t *testing.T) {
	_, e := models(t)
	for name, path := range map[string]string{"tiny": files.tiny, "adder": files.adder} {
		d, err := e.ModelDigest(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if want := fileDigest(t, path); d != want {
			t.Errorf("%s: digest %s, want sha256 of the GGUF file %s", name, d, want)
		}
	}
}

func TestModelNotFound(t *testing.T) {
	_, e := models(t)
	ctx := context.Background()
	const name = "no-such-model"
	req := inference.Request{Model: name, Prompt: "x", Messages: []inference.Message{{Role: "user", Content: "x"}}}
	calls := map[string]func() error{
		"generate": func() error { _, err := e.Generate(ctx, req); return err },
		"chat":     func() error { _, err := e.Chat(ctx, req); return err },
		"stream": func() error {
			r := req
			r.Stream = func(string) error { return nil }
			_, err := e.Chat(ctx, r)
			return err
		},
		"embed":  func() error { _, err := e.Embed(ctx, name, []string{"x"}); return err },
		"digest": func() error { _, err := e.ModelDigest(ctx, name); return err },
	}
	for what, call := range calls {
		err := call()
		var nf *ollama.ModelNotFoundError
		if !errors.Is(err, ollama.ErrModelNotFound) || !errors.As(err, &nf) || nf.Model != name {
			t.Errorf("%s: error %v, want ErrModelNotFound", what, err)
			continue
		}
		if !strings.Contains(err.Error(), "ollama pull "+name) {
			t.Errorf("%s: error %q does not say how to pull the model", what, err)
		}
	}
}

func TestServerNotRunning(t *testing.T) {
	// A port that was free a moment ago and that nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	e, err := ollama.New(ollama.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Generate(context.Background(), inference.Request{Model: "tiny", Prompt: "x"})
	if !errors.Is(err, ollama.ErrServerNotRunning) {
		t.Fatalf("error %v, want ErrServerNotRunning", err)
	}
	for _, want := range []string{"ollama serve", "OLLAMA_HOST", host} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCancel(t *testing.T) {
	_, e := models(t)
	// Warm the digest cache, so that Generate has no request of its own left to fail after the
	// cancelled stream: the error must come from the stream itself.
	if _, err := e.ModelDigest(context.Background(), "tiny"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chunks := 0
	_, err := e.Generate(ctx, inference.Request{
		Model: "tiny", Prompt: "x", Sampling: inference.Sampling{MaxTokens: 4000},
		Stream: func(string) error {
			chunks++
			cancel() // the client must notice and stop reading
			return nil
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v after %d chunks, want context.Canceled", err, chunks)
	}
}

// recorder is a real reverse proxy in front of the server that keeps each request body, so the
// test sees exactly the bytes the engine sends.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) start(t *testing.T, s *ollamatest.Server) *httptest.Server {
	proxy := httputil.NewSingleHostReverseProxy(s.URL)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSamplingZerosReachServer: temperature 0 and seed 0 are in the request the server gets, and
// the server acts on them (a fixed seed repeats a sampled run; no seed does not).
func TestSamplingZerosReachServer(t *testing.T) {
	s, _ := models(t)
	var rec recorder
	proxy := rec.start(t, s)
	e, err := ollama.New(ollama.WithHost(proxy.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.Generate(ctx, inference.Request{Model: "tiny", Prompt: "zero", Sampling: inference.Sampling{MaxTokens: 4}}); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Options map[string]any `json:"options"`
	}
	rec.mu.Lock()
	err = json.Unmarshal(rec.bodies[0], &sent)
	rec.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := sent.Options["temperature"]; !ok || v != 0.0 {
		t.Errorf("options sent %v: want temperature 0", sent.Options)
	}
	if v, ok := sent.Options["seed"]; !ok || v != 0.0 {
		t.Errorf("options sent %v: want seed 0", sent.Options)
	}

	// Honoured: at temperature 1, seed 0 twice gives the same text, while the server's default
	// (a random seed) gives different texts; 24 tokens from a near-uniform 259-token distribution
	// collide with probability ~0.
	sampled := inference.Request{Model: "tiny", Prompt: "zero", Sampling: inference.Sampling{Temperature: 1, Seed: 0, MaxTokens: 24}}
	a, err := e.Generate(ctx, sampled)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Generate(ctx, sampled)
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != b.Text {
		t.Errorf("seed 0 not honoured: %q vs %q", a.Text, b.Text)
	}
	raw := func() string {
		body := `{"model":"tiny","prompt":"zero","stream":false,"options":{"temperature":1,"num_predict":24}}`
		resp, err := http.Post(s.URL.String()+"/api/generate", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct{ Response string }
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r.Response
	}
	if x, y := raw(), raw(); x == y {
		t.Errorf("without a seed the server repeated itself (%q): the seed test above proves nothing", x)
	}
}

func TestParseHost(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "http://127.0.0.1:11434",
		"0.0.0.0":                "http://0.0.0.0:11434",
		":1234":                  "http://127.0.0.1:1234",
		"example.com:99":         "http://example.com:99",
		"http://example.com":     "http://example.com:80",
		"https://example.com/ol": "https://example.com:443/ol",
		"[::1]:5":                "http://[::1]:5",
	} {
		u, err := ollama.ParseHost(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("ParseHost(%q) = %s, want %s", in, u, want)
		}
	}
	for _, bad := range []string{"ftp://x", "x:notaport", "x:70000"} {
		if _, err := ollama.ParseHost(bad); err == nil {
			t.Errorf("ParseHost(%q) accepted", bad)
		}
	}
}

func TestSeedTooLarge(t *testing.T) {
	if _, err := ollama.Options(inference.Sampling{Seed: 1 << 32}); err == nil {
		t.Error("a 33-bit seed was accepted")
	}
}
