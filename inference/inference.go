// Package inference is the one interface through which metis runs a language model: an Engine
// chats (with tool calls), generates, streams, embeds, and reports the model's digest and the
// tokens it used. Two engines implement it: inference/ollama (a real Ollama server) and
// inference/gguf (an embedded, pure-Go, bit-exact runner whose runs can be replayed step by step
// for verifiable compute).
//
// The types here are plain data so that receipts (receipt.go) can commit to exactly what was run.
package inference

import (
	"context"
	"encoding/json"
)

// Role of a chat message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
)

// Message is one turn of a chat.
type Message struct {
	Role      string     `json:"role"`
	Content   string     `json:"content"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"` // set on assistant messages that call tools
	ToolName  string     `json:"tool_name,omitempty"`  // set on RoleTool messages: which tool answered
}

// Tool describes a function the model may call; Parameters is a JSON Schema object.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

// ToolCall is the model asking to run a tool with JSON arguments.
type ToolCall struct {
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// Sampling are the parameters that decide which token is picked. The zero value is greedy
// decoding (temperature 0) with seed 0; engines must send zeros explicitly, not drop them.
type Sampling struct {
	Temperature float64  `json:"temperature"`
	TopK        int      `json:"top_k"`
	TopP        float64  `json:"top_p"`
	Seed        uint64   `json:"seed"`
	MaxTokens   int      `json:"max_tokens"` // 0 means the engine's default
	Stop        []string `json:"stop,omitempty"`
}

// Request is one chat or generate call. For Generate, Prompt is used and Messages ignored; for
// Chat, Messages (and Tools) are used.
type Request struct {
	Model    string    `json:"model"`
	Prompt   string    `json:"prompt,omitempty"`
	Messages []Message `json:"messages,omitempty"`
	Tools    []Tool    `json:"tools,omitempty"`
	Sampling Sampling  `json:"sampling"`
	// Stream, when set, receives each piece of output text as it is produced. Returning an
	// error stops the run and that error is returned.
	Stream func(chunk string) error `json:"-"`
}

// Usage counts tokens.
type Usage struct {
	PromptTokens int `json:"prompt_tokens"`
	OutputTokens int `json:"output_tokens"`
}

// Response is the result of Chat or Generate.
type Response struct {
	Model       string     `json:"model"`
	ModelDigest string     `json:"model_digest"` // e.g. "sha256:…"
	Text        string     `json:"text"`
	ToolCalls   []ToolCall `json:"tool_calls,omitempty"`
	Usage       Usage      `json:"usage"`
	// TraceRoot is set by engines that record a replayable trace (inference/gguf): the Merkle root
	// over the per-step state hashes. Empty otherwise.
	TraceRoot string `json:"trace_root,omitempty"`
	// DoneReason is "stop" (end of sequence or stop string) or "length" (MaxTokens reached).
	DoneReason string `json:"done_reason,omitempty"`
}

// Engine runs models. Implementations are safe for concurrent use.
type Engine interface {
	// Name is the engine's identifier as written into receipts: "ollama" or "gguf".
	Name() string
	Chat(ctx context.Context, req Request) (*Response, error)
	Generate(ctx context.Context, req Request) (*Response, error)
	Embed(ctx context.Context, model string, inputs []string) ([][]float32, error)
	// ModelDigest identifies the exact model weights, e.g. "sha256:…".
	ModelDigest(ctx context.Context, model string) (string, error)
}
