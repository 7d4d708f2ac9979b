package gguf

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/metisgo/metis/inference"
)

// DefaultMaxTokens is how many tokens a request with Sampling.MaxTokens == 0 may generate.
const DefaultMaxTokens = 128

// Engine is the embedded inference.Engine: Request.Model is the path of a GGUF file, loaded on
// first use and cached (keyed by path, size and modification time, so a rewritten file is
// reloaded). It is safe for concurrent use; runs share the immutable weights and nothing else.
type Engine struct {
	maxTokens int

	mu     sync.Mutex
	models map[modelKey]*modelEntry
}

type modelKey struct {
	path  string
	size  int64
	mtime time.Time
}

type modelEntry struct {
	once sync.Once
	m    *Model
	err  error
}

var _ inference.Engine = (*Engine)(nil)

// Option configures New.
type Option func(*Engine)

// WithMaxTokens sets the generation limit used when a request leaves Sampling.MaxTokens at 0.
func WithMaxTokens(n int) Option { return func(e *Engine) { e.maxTokens = n } }

// New returns an engine.
func New(opts ...Option) *Engine {
	e := &Engine{maxTokens: DefaultMaxTokens, models: map[modelKey]*modelEntry{}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Name is "gguf".
func (e *Engine) Name() string { return "gguf" }

// Model returns the loaded model at path, loading it once.
func (e *Engine) Model(path string) (*Model, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("gguf: model %q: %w", path, err)
	}
	k := modelKey{abs, st.Size(), st.ModTime()}
	e.mu.Lock()
	ent := e.models[k]
	if ent == nil {
		// Drop older versions of the same file so a rewritten model does not pin the old one.
		for old := range e.models {
			if old.path == abs {
				delete(e.models, old)
			}
		}
		ent = &modelEntry{}
		e.models[k] = ent
	}
	e.mu.Unlock()
	ent.once.Do(func() { ent.m, ent.err = Load(abs) })
	if ent.err != nil {
		return nil, fmt.Errorf("gguf: model %q: %w", path, ent.err)
	}
	return ent.m, nil
}

// ModelDigest is "sha256:" + hex of the GGUF file's bytes: what sha256sum prints, and what
// inference/ollama's ModelDigest reports for a model created from the same file (it reads the
// weights blob's digest from /api/show, not the manifest digest /api/tags lists). So receipts of
// the two engines name the same weights the same way.
func (e *Engine) ModelDigest(ctx context.Context, model string) (string, error) {
	m, err := e.Model(model)
	if err != nil {
		return "", err
	}
	return m.Digest(), nil
}

// Generate completes req.Prompt as raw text, like Ollama's raw generate: the BOS token is added
// when the model asks for it and special-token texts in the prompt are parsed.
func (e *Engine) Generate(ctx context.Context, req inference.Request) (*inference.Response, error) {
	resp, _, err := e.GenerateTrace(ctx, req)
	return resp, err
}

// GenerateTrace is Generate that also returns the run's trace (for receipts and replay).
func (e *Engine) GenerateTrace(ctx context.Context, req inference.Request) (*inference.Response, *Trace, error) {
	m, err := e.Model(req.Model)
	if err != nil {
		return nil, nil, err
	}
	return e.complete(ctx, m, req, m.Vocab.Encode(req.Prompt, true), nil)
}

// Chat renders the messages with the chat format (see chat.go), generates, and returns a tool call
// when tools were offered and the reply is one.
func (e *Engine) Chat(ctx context.Context, req inference.Request) (*inference.Response, error) {
	resp, _, err := e.ChatTrace(ctx, req)
	return resp, err
}

// ChatTrace is Chat that also returns the run's trace.
func (e *Engine) ChatTrace(ctx context.Context, req inference.Request) (*inference.Response, *Trace, error) {
	m, err := e.Model(req.Model)
	if err != nil {
		return nil, nil, err
	}
	f := m.chatFormat()
	prompt, err := f.render(req.Messages, req.Tools)
	if err != nil {
		return nil, nil, err
	}
	resp, tr, err := e.complete(ctx, m, req, m.Vocab.Encode(prompt, true), f.stops)
	if err != nil {
		return nil, nil, err
	}
	if len(req.Tools) > 0 {
		if call, ok := parseToolCall(resp.Text, req.Tools); ok {
			resp.ToolCalls = []inference.ToolCall{call}
			resp.Text = ""
		}
	}
	return resp, tr, nil
}

// complete runs the model and assembles text, streaming and stop strings.
func (e *Engine) complete(ctx context.Context, m *Model, req inference.Request, prompt []uint32, extraStops []string) (*inference.Response, *Trace, error) {
	s := req.Sampling
	if s.Temperature < 0 || s.TopP < 0 || s.TopK < 0 || s.MaxTokens < 0 || math.IsNaN(s.Temperature) || math.IsNaN(s.TopP) {
		return nil, nil, errors.New("gguf: negative or NaN sampling parameter")
	}
	maxTokens := s.MaxTokens
	if maxTokens == 0 {
		maxTokens = e.maxTokens
	}
	stops := append(append([]string(nil), s.Stop...), extraStops...)
	var out strings.Builder
	sent, end := 0, -1 // bytes of out already streamed; where a stop string cut the text
	flush := func(upTo int) error {
		if req.Stream == nil || upTo <= sent {
			return nil
		}
		chunk := out.String()[sent:upTo]
		sent = upTo
		return req.Stream(chunk)
	}
	onToken := func(tok uint32) (bool, error) {
		out.WriteString(m.Vocab.Piece(tok))
		text := out.String()
		if i := firstStop(text, stops); i >= 0 {
			end = i
			return true, flush(i)
		}
		return false, flush(streamable(text, stops))
	}
	tr, err := m.Run(ctx, prompt, SamplingParams{Temperature: float32(s.Temperature), TopK: s.TopK, TopP: float32(s.TopP)}, s.Seed, maxTokens, onToken)
	if err != nil {
		return nil, nil, err
	}
	text := out.String()
	if end >= 0 {
		text = text[:end]
	}
	if err := flush(len(text)); err != nil {
		return nil, nil, err
	}
	return &inference.Response{
		Model:       req.Model,
		ModelDigest: m.Digest(),
		Text:        text,
		Usage:       inference.Usage{PromptTokens: len(prompt), OutputTokens: len(tr.Output())},
		TraceRoot:   "0x" + hex.EncodeToString(tr.Root[:]),
		DoneReason:  tr.DoneReason,
	}, tr, nil
}

// firstStop returns where the earliest stop string starts in text, or -1.
func firstStop(text string, stops []string) int {
	best := -1
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(text, st); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// streamable is how much of text can be streamed now: not a tail that might still become a stop
// string, and not an incomplete UTF-8 sequence (byte tokens arrive one byte at a time).
func streamable(text string, stops []string) int {
	n := len(text)
	for _, st := range stops {
		for k := min(len(st)-1, len(text)); k > 0; k-- {
			if strings.HasSuffix(text, st[:k]) {
				n = min(n, len(text)-k)
				break
			}
		}
	}
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		if utf8.RuneStart(text[i]) {
			if !utf8.FullRuneInString(text[i:n]) {
				n = i
			}
			break
		}
	}
	return n
}

// Embed returns one vector per input: the mean over the input's tokens (BOS included) of the final
// hidden state after the output norm, summed in float64 in token order, then scaled to unit
// length (as Ollama's /api/embed normalises its vectors).
func (e *Engine) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	m, err := e.Model(model)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, 0, len(inputs))
	for _, in := range inputs {
		hs, err := m.Hidden(ctx, m.Vocab.Encode(in, true))
		if err != nil {
			return nil, err
		}
		sum := make([]float64, m.Params.Dim)
		for _, h := range hs {
			for i, v := range h {
				sum[i] += float64(v)
			}
		}
		var norm float64
		for i := range sum {
			sum[i] /= float64(len(hs))
			norm += float64(sum[i] * sum[i])
		}
		norm = math.Sqrt(norm)
		v := make([]float32, len(sum))
		for i, s := range sum {
			if norm > 0 {
				v[i] = float32(s / norm)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// parseToolCall reads a reply that is a JSON object {"name": ..., "arguments": {...}} (or
// "parameters" instead of "arguments", optionally inside a ``` fence or Qwen's <tool_call> tags)
// naming one of the tools.
func parseToolCall(text string, tools []inference.Tool) (inference.ToolCall, bool) {
	s := strings.TrimSpace(text)
	if inner, ok := strings.CutPrefix(s, "<tool_call>"); ok { // Qwen 2.5's tool-call tags
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(inner), "</tool_call>"))
	}
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "```json"), "```")
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	}
	var c struct {
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.Name == "" {
		return inference.ToolCall{}, false
	}
	args := c.Arguments
	if args == nil {
		args = c.Parameters
	}
	if args == nil {
		args = json.RawMessage("{}")
	}
	for _, t := range tools {
		if t.Name == c.Name {
			return inference.ToolCall{ID: "call_0", Name: c.Name, Arguments: args}, true
		}
	}
	return inference.ToolCall{}, false
}
