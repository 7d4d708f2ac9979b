// Package ollama is the inference.Engine over a real Ollama server, through Ollama's own Go API
// package (github.com/ollama/ollama/api, the version of the server the tests run: v0.6.8).
//
// It sends sampling options as a map, so temperature 0 and seed 0 reach the server (Ollama's
// typed Options struct has omitempty on both and would silently drop them), maps tools and tool
// calls both ways, reports the weights' digest, and turns the two mistakes everyone makes first
// — no server, model not pulled — into typed errors that say what to run.
package ollama

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/metisgo/metis/inference"
)

// DefaultHost is where Ollama listens unless OLLAMA_HOST says otherwise.
const DefaultHost = "127.0.0.1:11434"

// errIncomplete: a stream that ended without its "done" line (the server went away).
var errIncomplete = errors.New("the server's answer ended before it was done")

// stream POSTs body to path and calls fn with each NDJSON line of the answer. Chat and Generate
// use it rather than api.Client's own stream, which (v0.6.8) allocates a 512 KiB line buffer per
// request (the whole client-side cost in BenchmarkGenerate), ends a stream without an error when
// reading the body fails (a cancelled context included: a truncated answer looked complete), and
// drops the HTTP status of an error answer (so a missing model was a plain string). Here an error
// answer is an api.StatusError with its status, like the client's non-streaming calls return.
func (e *Engine) stream(ctx context.Context, path string, body any, fn func(line []byte) error) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base.JoinPath(path).String(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= http.StatusBadRequest {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var status struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(msg, &status) != nil {
			status.Error = strings.TrimSpace(string(msg))
		}
		return api.StatusError{StatusCode: resp.StatusCode, Status: resp.Status, ErrorMessage: status.Error}
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var line json.RawMessage
		if err := dec.Decode(&line); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		var status struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(line, &status) // a line that is not an object fails in fn
		if status.Error != "" {
			return errors.New(status.Error)
		}
		if err := fn(line); err != nil {
			return err
		}
	}
}

// Engine talks to one Ollama server. It is safe for concurrent use.
type Engine struct {
	base      *url.URL
	http      *http.Client
	client    *api.Client
	keepAlive *api.Duration
	digestTTL time.Duration

	mu      sync.Mutex
	digests map[string]cachedDigest
}

type cachedDigest struct {
	digest string
	at     time.Time
}

var _ inference.Engine = (*Engine)(nil)

type options struct {
	host      string
	http      *http.Client
	keepAlive *time.Duration
	digestTTL time.Duration
}

// Option configures New.
type Option func(*options)

// WithHost sets the server, in any form OLLAMA_HOST accepts: "host:port", ":port",
// "http://host:port", "https://host". The default is $OLLAMA_HOST, else 127.0.0.1:11434.
func WithHost(host string) Option { return func(o *options) { o.host = host } }

// WithHTTPClient sets the HTTP client (timeouts, transport). The default is http.DefaultClient;
// requests are bounded by their context, not by a client timeout, because a generation can
// legitimately take minutes.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.http = c } }

// WithKeepAlive sets how long the server keeps a model loaded after a request (Ollama's
// keep_alive; its default is 5 minutes).
func WithKeepAlive(d time.Duration) Option { return func(o *options) { o.keepAlive = &d } }

// WithDigestTTL sets how long Chat and Generate reuse a model's digest before asking the
// server again (default 1 minute). Looking it up costs a request to /api/show, which on a tiny
// model is as long as the generation itself; 0 looks it up on every call, which is what to use
// when models are re-created under the same name while the engine runs.
func WithDigestTTL(d time.Duration) Option { return func(o *options) { o.digestTTL = d } }

// New returns an engine for the server named by the options or $OLLAMA_HOST. It does not
// contact the server; the first request does, and reports ErrServerNotRunning if nothing answers.
func New(opts ...Option) (*Engine, error) {
	o := options{http: http.DefaultClient, digestTTL: time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	base, err := ParseHost(o.host)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		base:      base,
		http:      o.http,
		client:    api.NewClient(base, o.http),
		digestTTL: o.digestTTL,
		digests:   map[string]cachedDigest{},
	}
	if o.keepAlive != nil {
		e.keepAlive = &api.Duration{Duration: *o.keepAlive}
	}
	return e, nil
}

// ParseHost turns an OLLAMA_HOST-style value into the server's base URL, following Ollama's own
// rules (envconfig.Host): no scheme means http, no port means 11434 for http without a scheme
// (80/443 when a scheme is given), and an empty value means 127.0.0.1:11434.
func ParseHost(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return &url.URL{Scheme: "http", Host: DefaultHost}, nil
	}
	defaultPort := "11434"
	scheme, hostport, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		scheme, hostport = "http", s
	case scheme == "http":
		defaultPort = "80"
	case scheme == "https":
		defaultPort = "443"
	default:
		return nil, fmt.Errorf("ollama: host %q: scheme must be http or https", s)
	}
	hostport, path, _ := strings.Cut(hostport, "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, defaultPort
		if ip := net.ParseIP(strings.Trim(hostport, "[]")); ip != nil {
			host = ip.String()
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, fmt.Errorf("ollama: host %q: bad port %q", s, port)
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: path}, nil
}

// Host returns the server's base URL.
func (e *Engine) Host() string { return e.base.String() }

// Client returns the underlying Ollama API client, for what this package does not wrap
// (pull, create, list).
func (e *Engine) Client() *api.Client { return e.client }

// Name implements inference.Engine.
func (e *Engine) Name() string { return "ollama" }

// Options returns the options map sent to Ollama for s. Temperature and seed are always present,
// zero included. TopK, TopP and MaxTokens are sent only when set, because zero means "the
// engine's default" for them in inference.Sampling and llama.cpp reads top_p=0 as "keep one
// token". The seed must fit in 32 bits: llama.cpp's seed is a uint32, and a larger one would be
// truncated silently, so that two receipts with different seeds would describe the same run.
func Options(s inference.Sampling) (map[string]any, error) {
	if s.Seed > math.MaxUint32 {
		return nil, fmt.Errorf("ollama: seed %d does not fit llama.cpp's 32-bit seed", s.Seed)
	}
	opts := map[string]any{
		"temperature": s.Temperature,
		"seed":        s.Seed,
	}
	if s.TopK != 0 {
		opts["top_k"] = s.TopK
	}
	if s.TopP != 0 {
		opts["top_p"] = s.TopP
	}
	if s.MaxTokens != 0 {
		opts["num_predict"] = s.MaxTokens
	}
	if len(s.Stop) > 0 {
		opts["stop"] = s.Stop
	}
	return opts, nil
}

// Generate implements inference.Engine: a completion of req.Prompt through the model's template.
func (e *Engine) Generate(ctx context.Context, req inference.Request) (*inference.Response, error) {
	opts, err := Options(req.Sampling)
	if err != nil {
		return nil, err
	}
	stream := req.Stream != nil
	greq := &api.GenerateRequest{
		Model:     req.Model,
		Prompt:    req.Prompt,
		Stream:    &stream,
		KeepAlive: e.keepAlive,
		Options:   opts,
	}
	var text strings.Builder
	var last api.GenerateResponse
	var streamErr error
	err = e.stream(ctx, "/api/generate", greq, func(line []byte) error {
		var r api.GenerateResponse
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("decoding the server's answer: %w", err)
		}
		text.WriteString(r.Response)
		if req.Stream != nil && r.Response != "" {
			if err := req.Stream(r.Response); err != nil {
				streamErr = err
				return err
			}
		}
		last = r
		return nil
	})
	if streamErr != nil {
		return nil, streamErr
	}
	if err == nil && !last.Done {
		err = errIncomplete
	}
	if err != nil {
		return nil, e.wrap(ctx, req.Model, err)
	}
	resp := &inference.Response{
		Model:      req.Model,
		Text:       text.String(),
		Usage:      inference.Usage{PromptTokens: last.PromptEvalCount, OutputTokens: last.EvalCount},
		DoneReason: last.DoneReason,
	}
	if resp.ModelDigest, err = e.cachedDigest(ctx, req.Model); err != nil {
		return nil, err
	}
	return resp, nil
}

// Chat implements inference.Engine. With tools, Ollama 0.6.8 parses tool calls out of the
// model's text using the model's template, and while tools are present it holds back streamed
// text until it knows whether the output is a tool call: req.Stream then sees one chunk at the
// end (or none, for a tool call).
func (e *Engine) Chat(ctx context.Context, req inference.Request) (*inference.Response, error) {
	opts, err := Options(req.Sampling)
	if err != nil {
		return nil, err
	}
	msgs, err := toAPIMessages(req.Messages)
	if err != nil {
		return nil, err
	}
	tools, err := toAPITools(req.Tools)
	if err != nil {
		return nil, err
	}
	stream := req.Stream != nil
	creq := &api.ChatRequest{
		Model:     req.Model,
		Messages:  msgs,
		Stream:    &stream,
		KeepAlive: e.keepAlive,
		Tools:     tools,
		Options:   opts,
	}
	var text strings.Builder
	var calls []api.ToolCall
	var last api.ChatResponse
	var streamErr error
	err = e.stream(ctx, "/api/chat", creq, func(line []byte) error {
		var r api.ChatResponse
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("decoding the server's answer: %w", err)
		}
		text.WriteString(r.Message.Content)
		calls = append(calls, r.Message.ToolCalls...)
		if req.Stream != nil && r.Message.Content != "" {
			if err := req.Stream(r.Message.Content); err != nil {
				streamErr = err
				return err
			}
		}
		last = r
		return nil
	})
	if streamErr != nil {
		return nil, streamErr
	}
	if err == nil && !last.Done {
		err = errIncomplete
	}
	if err != nil {
		return nil, e.wrap(ctx, req.Model, err)
	}
	resp := &inference.Response{
		Model:      req.Model,
		Text:       text.String(),
		Usage:      inference.Usage{PromptTokens: last.PromptEvalCount, OutputTokens: last.EvalCount},
		DoneReason: last.DoneReason,
	}
	if resp.ToolCalls, err = fromAPIToolCalls(calls); err != nil {
		return nil, err
	}
	if resp.ModelDigest, err = e.cachedDigest(ctx, req.Model); err != nil {
		return nil, err
	}
	return resp, nil
}

// Embed implements inference.Engine through /api/embed (one vector per input, as the server
// normalises them).
func (e *Engine) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	resp, err := e.client.Embed(ctx, &api.EmbedRequest{Model: model, Input: inputs, KeepAlive: e.keepAlive})
	if err != nil {
		return nil, e.wrap(ctx, model, err)
	}
	if len(resp.Embeddings) != len(inputs) {
		return nil, fmt.Errorf("ollama: embed %s: %d embeddings for %d inputs", model, len(resp.Embeddings), len(inputs))
	}
	return resp.Embeddings, nil
}

// blobRE finds the weights blob in the Modelfile that /api/show returns: its FROM line names the
// blob file, which Ollama stores under the sha256 of its content.
var blobRE = regexp.MustCompile(`(?m)^FROM\s+\S*sha256[-:]([0-9a-f]{64})\s*$`)

// ModelDigest implements inference.Engine. It is the sha256 of the model's weights blob, i.e. of
// the GGUF file the model was created from ("sha256:<hex>"), not Ollama's manifest digest from
// /api/tags: the weights digest is the same whichever engine or server runs the file, equals what
// `sha256sum model.gguf` prints, and is what a model DAT anchors. The template and parameters
// the server adds are not covered by it; a receipt's input digest covers the request instead.
func (e *Engine) ModelDigest(ctx context.Context, model string) (string, error) {
	show, err := e.client.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return "", e.wrap(ctx, model, err)
	}
	m := blobRE.FindStringSubmatch(show.Modelfile)
	if m == nil {
		return "", fmt.Errorf("ollama: model %s: no weights blob in the server's Modelfile", model)
	}
	d := "sha256:" + m[1]
	e.mu.Lock()
	e.digests[model] = cachedDigest{digest: d, at: time.Now()}
	e.mu.Unlock()
	return d, nil
}

func (e *Engine) cachedDigest(ctx context.Context, model string) (string, error) {
	e.mu.Lock()
	c, ok := e.digests[model]
	e.mu.Unlock()
	if ok && time.Since(c.at) < e.digestTTL {
		return c.digest, nil
	}
	return e.ModelDigest(ctx, model)
}

func toAPIMessages(msgs []inference.Message) ([]api.Message, error) {
	out := make([]api.Message, len(msgs))
	for i, m := range msgs {
		out[i] = api.Message{Role: m.Role, Content: m.Content}
		for _, tc := range m.ToolCalls {
			var args api.ToolCallFunctionArguments
			if len(tc.Arguments) > 0 {
				if err := json.Unmarshal(tc.Arguments, &args); err != nil {
					return nil, fmt.Errorf("ollama: message %d: tool call %s: arguments must be a JSON object: %w", i, tc.Name, err)
				}
			}
			out[i].ToolCalls = append(out[i].ToolCalls, api.ToolCall{
				Function: api.ToolCallFunction{Name: tc.Name, Arguments: args},
			})
		}
		// Ollama 0.6.8's messages have no tool name or call id: a tool result is matched to its
		// call by position, as the model's template lays them out.
	}
	return out, nil
}

func toAPITools(tools []inference.Tool) (api.Tools, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	out := make(api.Tools, len(tools))
	for i, t := range tools {
		out[i] = api.Tool{Type: "function"}
		out[i].Function.Name = t.Name
		out[i].Function.Description = t.Description
		params := t.Parameters
		if len(params) == 0 || string(params) == "null" {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		if err := json.Unmarshal(params, &out[i].Function.Parameters); err != nil {
			return nil, fmt.Errorf("ollama: tool %s: parameters are not a JSON Schema object Ollama accepts: %w", t.Name, err)
		}
	}
	return out, nil
}

func fromAPIToolCalls(calls []api.ToolCall) ([]inference.ToolCall, error) {
	var out []inference.ToolCall
	for i, c := range calls {
		// encoding/json sorts map keys, so the same call always gives the same bytes.
		args, err := json.Marshal(map[string]any(c.Function.Arguments))
		if err != nil {
			return nil, fmt.Errorf("ollama: tool call %s: %w", c.Function.Name, err)
		}
		if c.Function.Arguments == nil {
			args = []byte("{}")
		}
		// Ollama 0.6.8 gives calls no id; number them in order so that callers (langchaingo's
		// agents) can pair results with calls.
		out = append(out, inference.ToolCall{ID: "call_" + strconv.Itoa(i), Name: c.Function.Name, Arguments: args})
	}
	return out, nil
}
