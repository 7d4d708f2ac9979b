package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/agents/event"
)

// Trigger is what wakes the agent for one step.
type Trigger struct {
	Kind   string         // TriggerChain, TriggerInterval, TriggerStart, or a caller's own
	Event  string         // the chain event, for TriggerChain
	Data   map[string]any // the event's fields
	Prompt string         // what the trigger tells the model (the spec's, or a default)
}

// text is the trigger as the model reads it.
func (t Trigger) text() string {
	var b strings.Builder
	switch t.Kind {
	case TriggerChain:
		fmt.Fprintf(&b, "Chain event %s.", t.Event)
	case TriggerInterval:
		b.WriteString("Timer: time for your periodic check.")
	case TriggerStart:
		b.WriteString("You have just started.")
	default:
		fmt.Fprintf(&b, "Trigger %s.", t.Kind)
	}
	if len(t.Data) > 0 {
		d, _ := json.Marshal(t.Data)
		fmt.Fprintf(&b, "\nDetails: %s", d)
	}
	if t.Prompt != "" {
		b.WriteString("\n" + t.Prompt)
	}
	return b.String()
}

// call is one tool call the model asked for.
type call struct {
	id   string
	name string
	args json.RawMessage
}

// errNoCall marks a reply that is plain text: the model's answer, not a failed call.
var errNoCall = errors.New("no tool call")

// Handle runs one step: the trigger goes to the model with the agent's system prompt, goals,
// notes and remembered conversation; each tool call it makes is validated, run (under the
// policy) and its result shown to it, until it answers in text or MaxSteps calls were made.
// Invalid calls are retried up to MaxRetries times, then the fallback runs. Handle returns an
// error only when the step could not run at all (the model failed, a panic); tool failures are
// shown to the model and emitted as events.
func (a *Agent) Handle(ctx context.Context, tr Trigger) (err error) {
	a.stepMu.Lock()
	defer a.stepMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("agents: step panicked: %v", r)
			a.emitError(ctx, "step", err, "stack", clip(string(debug.Stack()), 4096))
		}
	}()

	base := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeSystem, a.systemPrompt())}
	base = append(base, a.mem.history()...)
	turn := []llms.MessageContent{llms.TextParts(llms.ChatMessageTypeHuman, tr.text())}
	defer func() { a.mem.add(turn) }()

	retries := 0
	for steps := 0; steps < a.spec.MaxSteps; {
		resp, err := a.model.GenerateContent(ctx, append(append([]llms.MessageContent(nil), base...), turn...),
			llms.WithTools(a.toolDefs))
		if err != nil {
			a.emitError(ctx, "model", err)
			return fmt.Errorf("agents: model: %w", err)
		}
		text, c, perr := a.parseReply(resp)
		thought := map[string]any{"text": clip(text, 8192)}
		if c != nil {
			thought["tool_call"] = map[string]any{"name": c.name, "arguments": clip(string(c.args), 8192)}
		}
		a.emit(ctx, event.Thought, thought)
		if errors.Is(perr, errNoCall) {
			turn = append(turn, llms.TextParts(llms.ChatMessageTypeAI, text))
			return nil
		}
		var result string
		if perr == nil {
			a.emit(ctx, event.ToolCall, map[string]any{"id": c.id, "tool": c.name, "arguments": json.RawMessage(compactJSON(c.args))})
			result, perr = a.runTool(ctx, c)
		}
		var ae *ArgError
		if perr != nil && (errors.As(perr, &ae) || c == nil || a.byName[c.name] == nil) {
			// An invalid call: show the model its error and ask again, a bounded number of times.
			retries++
			a.emitError(ctx, "tool_call", perr, "attempt", retries)
			if retries > a.spec.MaxRetries {
				a.fallback(ctx, &turn)
				return nil
			}
			turn = append(turn, a.correction(text, c, perr)...)
			continue
		}
		steps++
		if perr != nil {
			result = "error: " + perr.Error()
		}
		turn = append(turn,
			llms.MessageContent{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCall{
				ID: c.id, Type: "function", FunctionCall: &llms.FunctionCall{Name: c.name, Arguments: string(c.args)}}}},
			llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{
				ToolCallID: c.id, Name: c.name, Content: clip(result, 16384)}}})
	}
	return nil
}

func compactJSON(b json.RawMessage) []byte {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return []byte("null")
	}
	out, _ := json.Marshal(v)
	return out
}

// runTool validates a call's arguments and runs it. Failures of the tool are events and
// results; a refusal was emitted by the policy already.
func (a *Agent) runTool(ctx context.Context, c *call) (res string, err error) {
	t := a.byName[c.name]
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tool %s panicked: %v", c.name, r)
		}
		var ae *ArgError
		var re *RefusedError
		if err != nil && !errors.As(err, &ae) && !errors.As(err, &re) {
			a.emitError(ctx, "tool", err, "tool", c.name)
		}
	}()
	if err := validateArgs(a.schemas[c.name], c.args); err != nil {
		return "", &ArgError{Msg: err.Error()}
	}
	return t.Call(ctx, string(c.args))
}

// parseReply finds the model's tool call: in the reply's tool calls (or function call), or, for
// models whose engine did not recognise it, as the JSON text of the reply. It returns errNoCall
// for a plain-text answer and a descriptive error for a call it cannot use.
func (a *Agent) parseReply(resp *llms.ContentResponse) (string, *call, error) {
	if resp == nil || len(resp.Choices) == 0 || resp.Choices[0] == nil {
		return "", nil, errors.New("the model returned no reply")
	}
	ch := resp.Choices[0]
	var c *call
	switch {
	case len(ch.ToolCalls) > 0 && ch.ToolCalls[0].FunctionCall != nil:
		fc := ch.ToolCalls[0].FunctionCall
		c = &call{id: ch.ToolCalls[0].ID, name: fc.Name, args: json.RawMessage(fc.Arguments)}
	case ch.FuncCall != nil:
		c = &call{name: ch.FuncCall.Name, args: json.RawMessage(ch.FuncCall.Arguments)}
	default:
		s := strings.TrimSpace(ch.Content)
		if strings.HasPrefix(s, "```") {
			s = strings.TrimPrefix(strings.TrimPrefix(s, "```json"), "```")
			s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
		} else if !strings.HasPrefix(s, "{") {
			return ch.Content, nil, errNoCall
		}
		var raw struct {
			Name       *string         `json:"name"`
			Arguments  json.RawMessage `json:"arguments"`
			Parameters json.RawMessage `json:"parameters"`
		}
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return ch.Content, nil, fmt.Errorf("your reply looks like a tool call but is not valid JSON: %v", err)
		}
		if raw.Name == nil || *raw.Name == "" {
			return ch.Content, nil, errors.New(`your tool call has no "name"`)
		}
		args := raw.Arguments
		if args == nil {
			args = raw.Parameters
		}
		c = &call{name: *raw.Name, args: args}
	}
	if c.id == "" {
		c.id = "call_0"
	}
	if len(strings.TrimSpace(string(c.args))) == 0 {
		c.args = json.RawMessage("{}")
	}
	if a.byName[c.name] == nil {
		return ch.Content, c, fmt.Errorf("unknown tool %q (tools: %s)", c.name, strings.Join(a.toolNames(), ", "))
	}
	if !json.Valid(c.args) {
		return ch.Content, c, &ArgError{Msg: fmt.Sprintf("arguments of %s are not valid JSON", c.name)}
	}
	return ch.Content, c, nil
}

func (a *Agent) toolNames() []string {
	out := make([]string, len(a.tools))
	for i, t := range a.tools {
		out[i] = t.Name()
	}
	return out
}

// correction is what the model sees after an invalid call: its own reply, then the error.
func (a *Agent) correction(text string, c *call, err error) []llms.MessageContent {
	msg := fmt.Sprintf("That tool call was invalid: %v. Reply with only a JSON object "+
		`{"name": <one of: %s>, "arguments": {...}} whose arguments follow the tool's schema, or answer in plain text.`,
		err, strings.Join(a.toolNames(), ", "))
	if c != nil && c.id != "" && (len(text) == 0) {
		return []llms.MessageContent{
			{Role: llms.ChatMessageTypeAI, Parts: []llms.ContentPart{llms.ToolCall{ID: c.id, Type: "function",
				FunctionCall: &llms.FunctionCall{Name: c.name, Arguments: clip(string(c.args), 4096)}}}},
			{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: c.id, Name: c.name, Content: msg}}},
		}
	}
	return []llms.MessageContent{
		llms.TextParts(llms.ChatMessageTypeAI, clip(text, 4096)),
		llms.TextParts(llms.ChatMessageTypeHuman, msg),
	}
}

// fallback runs the spec's fallback action after the model failed to make a valid call.
func (a *Agent) fallback(ctx context.Context, turn *[]llms.MessageContent) {
	fb := a.spec.Fallback
	if fb == nil || fb.Tool == "" {
		a.emitError(ctx, "fallback", fmt.Errorf("no valid tool call after %d retries and no fallback", a.spec.MaxRetries))
		return
	}
	c := &call{id: "fallback", name: fb.Tool, args: fb.Args}
	a.emit(ctx, event.ToolCall, map[string]any{"id": c.id, "tool": c.name, "arguments": json.RawMessage(compactJSON(c.args)), "fallback": true})
	if a.byName[c.name] == nil {
		a.emitError(ctx, "fallback", fmt.Errorf("fallback tool %q is not one of the agent's tools", c.name))
		return
	}
	result, err := a.runTool(ctx, c)
	if err != nil {
		result = "error: " + err.Error()
	}
	*turn = append(*turn, llms.TextParts(llms.ChatMessageTypeHuman,
		fmt.Sprintf("(No valid tool call was made; the fallback %s ran: %s)", c.name, clip(result, 4096))))
}

// systemPrompt is the spec's system prompt, goals, identity and notes.
func (a *Agent) systemPrompt() string {
	var b strings.Builder
	if a.spec.System != "" {
		b.WriteString(a.spec.System)
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "You are the agent %q, account %s, on chain %s.", a.spec.Name, a.addr.Hex(), a.chainID)
	if len(a.spec.Goals) > 0 {
		b.WriteString("\nYour goals:\n")
		for _, g := range a.spec.Goals {
			b.WriteString("- " + g + "\n")
		}
	}
	if n := a.mem.notesText(); n != "" {
		b.WriteString("\nYour notes:\n" + n)
	}
	return strings.TrimRight(b.String(), "\n")
}
