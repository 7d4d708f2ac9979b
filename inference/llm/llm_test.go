package llm_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/tools"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/internal/ollamatest"
	"github.com/metisgo/metis/inference/internal/scripted"
	"github.com/metisgo/metis/inference/llm"
	"github.com/metisgo/metis/inference/ollama"
)

func TestMain(m *testing.M) { ollamatest.Main(m) }

// engine creates the scripted models on the shared server: "adder" calls add{"a":2,"b":3},
// "agent-adder" calls add{"__arg1":"2+3"} (the shape of langchaingo's OpenAI-functions agent).
func engine(t *testing.T) *ollama.Engine {
	t.Helper()
	s := ollamatest.Shared(t)
	for name, agentArgs := range map[string]bool{"adder": false, "agent-adder": true} {
		path := filepath.Join(s.Scratch(), name+".gguf")
		if err := scripted.WriteFile(path, scripted.AdderRules(2, 3, agentArgs)); err != nil {
			t.Fatal(err)
		}
		s.Create(t, name, path, scripted.Modelfile)
	}
	e, err := ollama.New(ollama.WithHost(s.Host))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCallStreams(t *testing.T) {
	m := llm.New(engine(t), "adder")
	var streamed strings.Builder
	out, err := m.Call(context.Background(), "hello", llms.WithStreamingFunc(func(_ context.Context, b []byte) error {
		streamed.Write(b)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if out != scripted.ChatReply || streamed.String() != out {
		t.Errorf("Call = %q, streamed %q; want %q", out, streamed.String(), scripted.ChatReply)
	}
}

var addTool = llms.Tool{Type: "function", Function: &llms.FunctionDefinition{
	Name:        "add",
	Description: "Add two integers.",
	Parameters: map[string]any{
		"type":       "object",
		"required":   []string{"a", "b"},
		"properties": map[string]any{"a": map[string]any{"type": "integer"}, "b": map[string]any{"type": "integer"}},
	},
}}

// TestToolRoundTrip drives the tools API by hand: the tool call comes back as a ToolCall, its
// result goes back as a ToolCallResponse part, and the answer is read off the result.
func TestToolRoundTrip(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []inference.Request
	)
	m := llm.New(engine(t), "adder", llm.WithResponseHook(func(req inference.Request, _ *inference.Response) {
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
	}))
	ctx := context.Background()
	history := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, "What is 2 + 3?")}
	resp, err := m.GenerateContent(ctx, history, llms.WithTools([]llms.Tool{addTool}), llms.WithSeed(7), llms.WithMaxTokens(50))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if len(c.ToolCalls) != 1 || c.FuncCall == nil || c.ToolCalls[0].FunctionCall.Name != "add" ||
		c.ToolCalls[0].FunctionCall.Arguments != `{"a":2,"b":3}` {
		t.Fatalf("choice %+v", c)
	}
	call := c.ToolCalls[0]
	history = append(history,
		llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{call}},
		llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{
			llms.ToolCallResponse{ToolCallID: call.ID, Content: "5"},
		}})
	resp, err = m.GenerateContent(ctx, history, llms.WithTools([]llms.Tool{addTool}))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Content; got != "The sum is 5." {
		t.Errorf("final answer %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	first, second := seen[0], seen[1]
	if first.Sampling.Seed != 7 || first.Sampling.MaxTokens != 50 || len(first.Tools) != 1 {
		t.Errorf("first request %+v", first)
	}
	last := second.Messages[len(second.Messages)-1]
	if last.Role != inference.RoleTool || last.Content != "5" || last.ToolName != "add" {
		t.Errorf("tool result sent as %+v, want a tool message named after its call", last)
	}
}

// adder is a langchaingo tool that adds the integers in its input ("2+3", "2 3").
type adder struct {
	mu    sync.Mutex
	calls []string
}

func (a *adder) Name() string        { return "add" }
func (a *adder) Description() string { return "Adds integers, given as \"a+b\"." }
func (a *adder) Call(_ context.Context, input string) (string, error) {
	a.mu.Lock()
	a.calls = append(a.calls, input)
	a.mu.Unlock()
	sum := 0
	for _, f := range strings.FieldsFunc(input, func(r rune) bool { return r == '+' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return "", fmt.Errorf("add: %q is not an integer", f)
		}
		sum += n
	}
	return strconv.Itoa(sum), nil
}

var _ tools.Tool = (*adder)(nil)

// TestAgent: langchaingo's OpenAI-functions agent, run by its executor, completes a task through
// a tool over the real Ollama: the model calls add, the executor runs it, the model answers with
// the tool's result.
func TestAgent(t *testing.T) {
	tool := &adder{}
	agent := agents.NewOpenAIFunctionsAgent(llm.New(engine(t), "agent-adder"), []tools.Tool{tool})
	exec := agents.NewExecutor(agent, agents.WithMaxIterations(3), agents.WithReturnIntermediateSteps())
	out, err := chains.Call(context.Background(), exec, map[string]any{"input": "What is 2 + 3?"})
	if err != nil {
		t.Fatal(err)
	}
	if out["output"] != "The sum is 5." {
		t.Errorf("agent output %q", out["output"])
	}
	tool.mu.Lock()
	defer tool.mu.Unlock()
	if len(tool.calls) != 1 || tool.calls[0] != "2+3" {
		t.Errorf("tool calls %q, want one with \"2+3\"", tool.calls)
	}
}

func TestUnsupported(t *testing.T) {
	m := llm.New(engine(t), "adder")
	ctx := context.Background()
	img := []llms.MessageContent{{Role: llms.ChatMessageTypeHuman, Parts: []llms.ContentPart{llms.ImageURLContent{URL: "http://x"}}}}
	if _, err := m.GenerateContent(ctx, img); err == nil {
		t.Error("image part accepted")
	}
	if _, err := m.Call(ctx, "x", llms.WithSeed(-1)); err == nil {
		t.Error("negative seed accepted")
	}
}
