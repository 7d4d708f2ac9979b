// Package llm adapts any inference.Engine (Ollama, the embedded gguf engine) to langchaingo's
// llms.Model, with tool calling, so that langchaingo's chains, agents and executor run on local
// models. langchaingo's own Ollama provider ignores tools (tmc/langchaingo#965); this adapter
// passes them through and returns the model's tool calls both as ContentChoice.ToolCalls (the
// tools API) and as ContentChoice.FuncCall (the older functions API that langchaingo's
// OpenAI-functions agent reads).
package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/inference"
)

// Model is a langchaingo llms.Model over an inference.Engine. It is safe for concurrent use if
// the engine is.
type Model struct {
	engine     inference.Engine
	model      string
	sampling   inference.Sampling
	onResponse func(inference.Request, *inference.Response)
}

var _ llms.Model = (*Model)(nil)

// Option configures New.
type Option func(*Model)

// WithSampling sets the default sampling parameters; the zero value (greedy, seed 0) is the
// default default. Non-zero call options (llms.WithTemperature...) override them field by field:
// langchaingo cannot tell an explicit zero from an unset option, so a zero call option leaves
// the default in place.
func WithSampling(s inference.Sampling) Option { return func(m *Model) { m.sampling = s } }

// WithResponseHook calls fn after every successful call with the exact request sent to the
// engine and its response, which is what inference.NewReceipt needs to sign a receipt of it.
func WithResponseHook(fn func(inference.Request, *inference.Response)) Option {
	return func(m *Model) { m.onResponse = fn }
}

// New returns the llms.Model that runs model on engine.
func New(engine inference.Engine, model string, opts ...Option) *Model {
	m := &Model{engine: engine, model: model}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Call implements llms.Model: one user message, the reply's text.
func (m *Model) Call(ctx context.Context, prompt string, options ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, m, prompt, options...)
}

// GenerateContent implements llms.Model through the engine's Chat.
func (m *Model) GenerateContent(ctx context.Context, messages []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	var opts llms.CallOptions
	for _, o := range options {
		o(&opts)
	}
	req, err := m.request(messages, opts)
	if err != nil {
		return nil, err
	}
	if opts.StreamingFunc != nil {
		stream := opts.StreamingFunc
		req.Stream = func(chunk string) error { return stream(ctx, []byte(chunk)) }
	}
	resp, err := m.engine.Chat(ctx, req)
	if err != nil {
		return nil, err
	}
	if m.onResponse != nil {
		m.onResponse(req, resp)
	}
	choice := &llms.ContentChoice{
		Content:    resp.Text,
		StopReason: resp.DoneReason,
		GenerationInfo: map[string]any{
			"PromptTokens":     resp.Usage.PromptTokens,
			"CompletionTokens": resp.Usage.OutputTokens,
			"TotalTokens":      resp.Usage.PromptTokens + resp.Usage.OutputTokens,
			"ModelDigest":      resp.ModelDigest,
			"Engine":           m.engine.Name(),
		},
	}
	if resp.TraceRoot != "" {
		choice.GenerationInfo["TraceRoot"] = resp.TraceRoot
	}
	for _, tc := range resp.ToolCalls {
		choice.ToolCalls = append(choice.ToolCalls, llms.ToolCall{
			ID:           tc.ID,
			Type:         "function",
			FunctionCall: &llms.FunctionCall{Name: tc.Name, Arguments: string(tc.Arguments)},
		})
	}
	if len(choice.ToolCalls) > 0 {
		choice.FuncCall = choice.ToolCalls[0].FunctionCall
	}
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{choice}}, nil
}

// request builds the engine request: messages, tools (from llms.WithTools and the older
// llms.WithFunctions) and sampling.
func (m *Model) request(messages []llms.MessageContent, opts llms.CallOptions) (inference.Request, error) {
	req := inference.Request{Model: m.model, Sampling: m.sampling}
	if opts.Model != "" {
		req.Model = opts.Model
	}
	s := &req.Sampling
	if opts.Temperature != 0 {
		s.Temperature = opts.Temperature
	}
	if opts.TopK != 0 {
		s.TopK = opts.TopK
	}
	if opts.TopP != 0 {
		s.TopP = opts.TopP
	}
	if opts.Seed < 0 {
		return req, fmt.Errorf("llm: negative seed %d", opts.Seed)
	}
	if opts.Seed != 0 {
		s.Seed = uint64(opts.Seed)
	}
	if opts.MaxTokens != 0 {
		s.MaxTokens = opts.MaxTokens
	}
	if len(opts.StopWords) > 0 {
		s.Stop = opts.StopWords
	}
	if opts.JSONMode {
		return req, errors.New("llm: JSON mode is not supported by inference engines")
	}

	var err error
	if req.Messages, err = toMessages(messages); err != nil {
		return req, err
	}
	for _, t := range opts.Tools {
		if t.Type != "" && t.Type != "function" {
			return req, fmt.Errorf("llm: tool type %q: only function tools are supported", t.Type)
		}
		if t.Function == nil {
			return req, errors.New("llm: function tool without a function definition")
		}
		tool, err := toTool(*t.Function)
		if err != nil {
			return req, err
		}
		req.Tools = append(req.Tools, tool)
	}
	for _, f := range opts.Functions {
		tool, err := toTool(f)
		if err != nil {
			return req, err
		}
		req.Tools = append(req.Tools, tool)
	}
	return req, nil
}

func toTool(f llms.FunctionDefinition) (inference.Tool, error) {
	var params json.RawMessage
	switch p := f.Parameters.(type) {
	case nil:
	case json.RawMessage:
		params = p
	case []byte:
		params = p
	case string:
		params = json.RawMessage(p)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return inference.Tool{}, fmt.Errorf("llm: tool %s parameters: %w", f.Name, err)
		}
		params = b
	}
	if params != nil && !json.Valid(params) {
		return inference.Tool{}, fmt.Errorf("llm: tool %s parameters are not JSON", f.Name)
	}
	return inference.Tool{Name: f.Name, Description: f.Description, Parameters: params}, nil
}

// toMessages maps langchaingo messages to engine messages. A message's text parts are joined; an
// AI message's ToolCall parts become its ToolCalls; each ToolCallResponse part becomes a RoleTool
// message of its own (named after the call it answers when the part does not say), which is how
// the chat templates of tool-calling models expect results.
func toMessages(in []llms.MessageContent) ([]inference.Message, error) {
	var out []inference.Message
	callNames := map[string]string{} // tool call id -> tool name
	for i, mc := range in {
		role, err := role(mc.Role)
		if err != nil {
			return nil, fmt.Errorf("llm: message %d: %w", i, err)
		}
		msg := inference.Message{Role: role}
		var text []string
		var results []inference.Message
		for _, part := range mc.Parts {
			switch p := part.(type) {
			case llms.TextContent:
				text = append(text, p.Text)
			case llms.ToolCall:
				if p.FunctionCall == nil {
					return nil, fmt.Errorf("llm: message %d: tool call %q without a function", i, p.ID)
				}
				args := json.RawMessage(p.FunctionCall.Arguments)
				if len(args) == 0 {
					args = json.RawMessage("{}")
				}
				msg.ToolCalls = append(msg.ToolCalls, inference.ToolCall{ID: p.ID, Name: p.FunctionCall.Name, Arguments: args})
				callNames[p.ID] = p.FunctionCall.Name
			case llms.ToolCallResponse:
				name := p.Name
				if name == "" {
					name = callNames[p.ToolCallID]
				}
				results = append(results, inference.Message{Role: inference.RoleTool, Content: p.Content, ToolName: name})
			default:
				return nil, fmt.Errorf("llm: message %d: content part %T is not supported (text and tool calls only)", i, part)
			}
		}
		msg.Content = strings.Join(text, "")
		if mc.Role == llms.ChatMessageTypeFunction || mc.Role == llms.ChatMessageTypeTool {
			// A function or tool message with plain text (langchaingo's OpenAI-functions agent
			// writes tool observations this way) is a tool result.
			msg.Role = inference.RoleTool
		}
		if len(text) > 0 || len(msg.ToolCalls) > 0 || len(results) == 0 {
			out = append(out, msg)
		}
		out = append(out, results...)
	}
	return out, nil
}

func role(t llms.ChatMessageType) (string, error) {
	switch t {
	case llms.ChatMessageTypeSystem:
		return inference.RoleSystem, nil
	case llms.ChatMessageTypeHuman, llms.ChatMessageTypeGeneric:
		return inference.RoleUser, nil
	case llms.ChatMessageTypeAI:
		return inference.RoleAssistant, nil
	case llms.ChatMessageTypeTool, llms.ChatMessageTypeFunction:
		return inference.RoleTool, nil
	}
	return "", fmt.Errorf("unknown message role %q", t)
}
