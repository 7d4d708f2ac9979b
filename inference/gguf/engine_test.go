package gguf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metisgo/metis/inference"
)

func tinyFile(t testing.TB, w *LlamaWeights) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEngineGenerate(t *testing.T) {
	path := tinyFile(t, RandomLlama(TinyParams(F32), ByteVocab(), 42))
	e := New()
	req := inference.Request{Model: path, Prompt: "Once upon a time", Sampling: inference.Sampling{MaxTokens: 24}}
	var chunks []string
	req.Stream = func(c string) error { chunks = append(chunks, c); return nil }
	resp, tr, err := e.GenerateTrace(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(chunks, ""); got != resp.Text {
		t.Errorf("streamed %q, response text %q", got, resp.Text)
	}
	if resp.DoneReason != "length" || resp.Usage.OutputTokens != 24 || resp.Usage.PromptTokens != 1+3+16+2*3 {
		// BOS, the "▁" prefix as 3 byte tokens, 16 bytes of text whose 3 spaces are "▁" too.
		t.Errorf("done %q usage %+v", resp.DoneReason, resp.Usage)
	}
	if resp.TraceRoot != "0x"+hex.EncodeToString(tr.Root[:]) {
		t.Errorf("trace root %s", resp.TraceRoot)
	}
	b, _ := os.ReadFile(path)
	sum := sha256.Sum256(b)
	if want := "sha256:" + hex.EncodeToString(sum[:]); resp.ModelDigest != want {
		t.Errorf("digest %s, want %s", resp.ModelDigest, want)
	}
	if d, _ := e.ModelDigest(context.Background(), path); d != resp.ModelDigest {
		t.Errorf("ModelDigest %s", d)
	}
	// Same request, same everything.
	req.Stream = nil
	again, err := e.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Text != resp.Text || again.TraceRoot != resp.TraceRoot {
		t.Errorf("second run differs")
	}
	// A seeded sampled run differs from greedy but repeats itself.
	req.Sampling = inference.Sampling{Temperature: 1, Seed: 3, MaxTokens: 24}
	s1, _ := e.Generate(context.Background(), req)
	s2, _ := e.Generate(context.Background(), req)
	if s1.Text != s2.Text || s1.TraceRoot != s2.TraceRoot || s1.TraceRoot == resp.TraceRoot {
		t.Errorf("seeded runs: %q/%s vs %q/%s", s1.Text, s1.TraceRoot, s2.Text, s2.TraceRoot)
	}
}

func TestEngineStopString(t *testing.T) {
	path := tinyFile(t, asciiLlama(F32, 42))
	e := New()
	full, err := e.Generate(context.Background(), inference.Request{Model: path, Prompt: "Hello", Sampling: inference.Sampling{MaxTokens: 30}})
	if err != nil {
		t.Fatal(err)
	}
	// Stop at a substring that appears in the middle of the greedy output.
	stop := full.Text[10:13]
	cut := strings.Index(full.Text, stop)
	var streamed strings.Builder
	resp, err := e.Generate(context.Background(), inference.Request{Model: path, Prompt: "Hello",
		Sampling: inference.Sampling{MaxTokens: 30, Stop: []string{stop}},
		Stream:   func(c string) error { streamed.WriteString(c); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != full.Text[:cut] || resp.DoneReason != "stop" || streamed.String() != resp.Text {
		t.Errorf("stop %q: text %q (want %q), done %q, streamed %q", stop, resp.Text, full.Text[:cut], resp.DoneReason, streamed.String())
	}
	// A stream error ends the run with that error.
	boom := errors.New("boom")
	_, err = e.Generate(context.Background(), inference.Request{Model: path, Prompt: "Hello",
		Stream: func(string) error { return boom }})
	if !errors.Is(err, boom) {
		t.Errorf("stream error: got %v", err)
	}
}

func TestEngineCancel(t *testing.T) {
	path := tinyFile(t, RandomLlama(TinyParams(F32), ByteVocab(), 42))
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := New().Generate(ctx, inference.Request{Model: path, Prompt: "x", Sampling: inference.Sampling{MaxTokens: 200},
		Stream: func(string) error {
			if n++; n == 3 {
				cancel()
			}
			return nil
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestEngineReloadsRewrittenFile(t *testing.T) {
	path := tinyFile(t, RandomLlama(TinyParams(F32), ByteVocab(), 1))
	e := New()
	d1, err := e.ModelDigest(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := RandomLlama(TinyParams(F16), ByteVocab(), 1).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	d2, err := e.ModelDigest(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if d1 == d2 {
		t.Error("rewritten model file kept its old digest")
	}
	if _, err := e.ModelDigest(context.Background(), filepath.Join(t.TempDir(), "missing.gguf")); err == nil {
		t.Error("missing model accepted")
	}
}

func TestEngineEmbed(t *testing.T) {
	path := tinyFile(t, RandomLlama(TinyParams(Q8_0), ByteVocab(), 42))
	e := New()
	vs, err := e.Embed(context.Background(), path, []string{"alpha", "beta", "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || len(vs[0]) != 64 {
		t.Fatalf("got %d vectors of %d", len(vs), len(vs[0]))
	}
	var norm float64
	for _, v := range vs[0] {
		norm += float64(v) * float64(v)
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("norm² %v, want 1", norm)
	}
	for i := range vs[0] {
		if vs[0][i] != vs[2][i] {
			t.Fatal("same input, different embedding")
		}
	}
}

func TestEngineChat(t *testing.T) {
	p := TinyParams(F32)
	p.Context = 1024 // the tool description alone is a few hundred byte tokens
	path := tinyFile(t, RandomLlama(p, ByteVocab(), 42))
	e := New()
	tools := []inference.Tool{{Name: "get_weather", Description: "Weather for a city", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}
	resp, err := e.Chat(context.Background(), inference.Request{Model: path, Tools: tools, Sampling: inference.Sampling{MaxTokens: 8},
		Messages: []inference.Message{{Role: inference.RoleSystem, Content: "Be brief."}, {Role: inference.RoleUser, Content: "Weather in Paris?"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.OutputTokens == 0 || resp.TraceRoot == "" {
		t.Errorf("response %+v", resp)
	}
	// The random model does not call tools; the rendering and parsing are checked directly.
	prompt, err := (chatFormat{}).render([]inference.Message{
		{Role: inference.RoleUser, Content: "Weather in Paris?"},
		{Role: inference.RoleAssistant, ToolCalls: []inference.ToolCall{{Name: "get_weather", Arguments: json.RawMessage(`{"city":"Paris"}`)}}},
		{Role: inference.RoleTool, ToolName: "get_weather", Content: "sunny"},
	}, tools)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|im_start|>system\nYou can call these tools. To call one, reply with only a JSON object {\"name\": <tool name>, \"arguments\": <arguments object>}.\nTools:\n" +
		`{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}` + "<|im_end|>\n" +
		"<|im_start|>user\nWeather in Paris?<|im_end|>\n" +
		"<|im_start|>assistant\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}<|im_end|>\n" +
		"<|im_start|>tool\nsunny<|im_end|>\n<|im_start|>assistant\n"
	if prompt != want {
		t.Errorf("ChatML prompt:\n%s\nwant:\n%s", prompt, want)
	}
	l2, _ := (chatFormat{style: styleLlama2}).render([]inference.Message{
		{Role: inference.RoleSystem, Content: "S"}, {Role: inference.RoleUser, Content: "U1"},
		{Role: inference.RoleAssistant, Content: "A1"}, {Role: inference.RoleUser, Content: "U2"}}, nil)
	if want := "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]"; l2 != want {
		t.Errorf("llama2 prompt %q, want %q", l2, want)
	}
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{`{"name":"get_weather","arguments":{"city":"Paris"}}`, true},
		{"```json\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}\n```", true},
		{`{"name":"other","arguments":{}}`, false},
		{`the weather is nice`, false},
	} {
		call, ok := parseToolCall(c.text, tools)
		if ok != c.ok || (ok && call.Name != "get_weather") {
			t.Errorf("parseToolCall(%q) = %+v, %v", c.text, call, ok)
		}
	}
}

func TestStreamable(t *testing.T) {
	cases := []struct {
		text  string
		stops []string
		want  int
	}{
		{"hello", nil, 5},
		{"hello <|im", []string{"<|im_end|>"}, 6},
		{"caf\xc3", nil, 3},     // incomplete é held back
		{"caf\xc3\xa9", nil, 5}, // complete
		{"\xe2\x96", nil, 0},    // incomplete ▁
		{"ab\xff", nil, 3},      // invalid byte: nothing to wait for
	}
	for _, c := range cases {
		if got := streamable(c.text, c.stops); got != c.want {
			t.Errorf("streamable(%q, %q) = %d, want %d", c.text, c.stops, got, c.want)
		}
	}
}

// TestEngineConcurrent runs requests on one engine from several goroutines (run with -race): the
// model is shared and immutable, every run has its own cache and PRNG, so results do not mix.
func TestEngineConcurrent(t *testing.T) {
	path := tinyFile(t, RandomLlama(TinyParams(F16), ByteVocab(), 9))
	e := New()
	want, err := e.Generate(context.Background(), inference.Request{Model: path, Prompt: "p", Sampling: inference.Sampling{Temperature: 0.8, Seed: 1, MaxTokens: 16}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			got, err := e.Generate(context.Background(), inference.Request{Model: path, Prompt: "p", Sampling: inference.Sampling{Temperature: 0.8, Seed: 1, MaxTokens: 16}})
			if err == nil && (got.Text != want.Text || got.TraceRoot != want.TraceRoot) {
				err = errors.New("concurrent run differs")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
