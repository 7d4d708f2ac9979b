package gguf

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/metisgo/metis/inference"
)

// Chat formats. A GGUF file's tokenizer.chat_template is a Jinja program; rather than interpret
// Jinja, the engine recognises the formats of the model families it runs and renders them itself:
//
//   - Llama 3 ("<|start_header_id|>" in the file's template), as Llama 3's template and llama.cpp's
//     llama3 format render it (the content trimmed, BOS added by tokenization):
//     <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|> ...
//     <|start_header_id|>assistant<|end_header_id|>\n\n
//     Tool results go in turns of role "ipython", Llama 3.1's role for them.
//   - Llama 2 ("[INST]" in the file's template):
//     <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
//   - ChatML, the default for every other model (Qwen 2 and 2.5, files without a template):
//     <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
//     with the stop string "<|im_end|>". A template that writes a fixed system message when the
//     conversation has none (Qwen's "You are Qwen, created by Alibaba Cloud. You are a helpful
//     assistant.") gets that message too.
//
// Tools are offered in the system message: one JSON line per tool after an instruction to reply
// with only {"name": ..., "arguments": {...}}. An assistant message's tool calls are rendered in
// that same JSON form, and tool results as messages of role "tool" (ChatML), "ipython" (Llama 3)
// or as user turns prefixed "Tool result (name):" (Llama 2). A reply is read as a tool call also
// inside Qwen's <tool_call>...</tool_call> tags.
type chatFormat struct {
	style  chatStyle
	system string // the system message when the conversation has none (ChatML)
	stops  []string
}

type chatStyle int

const (
	styleChatML chatStyle = iota
	styleLlama2
	styleLlama3
)

// defaultSystem finds a fixed ChatML system message in a Jinja template: the text of a string
// literal '<|im_start|>system\n...<|im_end|>' (the newline escaped or not) that holds no
// expression.
var defaultSystem = regexp.MustCompile(`<\|im_start\|>system(?:\\n|\n)([^'"{}]+?)<\|im_end\|>`)

func (m *Model) chatFormat() chatFormat {
	switch {
	case strings.Contains(m.template, "<|start_header_id|>"):
		return chatFormat{style: styleLlama3}
	case strings.Contains(m.template, "[INST]"):
		return chatFormat{style: styleLlama2}
	}
	f := chatFormat{stops: []string{"<|im_end|>"}}
	if sm := defaultSystem.FindStringSubmatch(m.template); sm != nil {
		f.system = strings.ReplaceAll(sm[1], `\n`, "\n")
	}
	return f
}

func toolPrompt(tools []inference.Tool) (string, error) {
	var b strings.Builder
	b.WriteString("You can call these tools. To call one, reply with only a JSON object " +
		`{"name": <tool name>, "arguments": <arguments object>}` + ".\nTools:\n")
	for _, t := range tools {
		params := t.Parameters
		if len(params) == 0 {
			params = json.RawMessage("{}")
		}
		line, err := json.Marshal(struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		}{t.Name, t.Description, params})
		if err != nil {
			return "", fmt.Errorf("gguf: tool %s: %w", t.Name, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// content is a message's text, or its tool calls as JSON lines.
func content(msg inference.Message) string {
	if len(msg.ToolCalls) == 0 {
		return msg.Content
	}
	var lines []string
	if msg.Content != "" {
		lines = append(lines, msg.Content)
	}
	for _, c := range msg.ToolCalls {
		args := c.Arguments
		if len(args) == 0 {
			args = json.RawMessage("{}")
		}
		b, err := json.Marshal(struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}{c.Name, args})
		if err != nil {
			b = []byte(fmt.Sprintf(`{"name":%q,"arguments":{}}`, c.Name))
		}
		lines = append(lines, string(b))
	}
	return strings.Join(lines, "\n")
}

// render returns the prompt text (without BOS, which tokenization adds).
func (f chatFormat) render(msgs []inference.Message, tools []inference.Tool) (string, error) {
	var system []string
	var rest []inference.Message
	for _, m := range msgs {
		if m.Role == inference.RoleSystem {
			system = append(system, m.Content)
		} else {
			rest = append(rest, m)
		}
	}
	if len(system) == 0 && f.system != "" {
		system = []string{f.system}
	}
	if len(tools) > 0 {
		tp, err := toolPrompt(tools)
		if err != nil {
			return "", err
		}
		system = append(system, tp)
	}
	sys := strings.Join(system, "\n\n")
	var b strings.Builder
	switch f.style {
	case styleLlama3:
		turn := func(role, content string) {
			fmt.Fprintf(&b, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", role, strings.TrimSpace(content))
		}
		if sys != "" {
			turn("system", sys)
		}
		for _, m := range rest {
			switch m.Role {
			case inference.RoleUser, inference.RoleAssistant:
				turn(string(m.Role), content(m))
			case inference.RoleTool:
				turn("ipython", content(m))
			default:
				return "", fmt.Errorf("gguf: unknown message role %q", m.Role)
			}
		}
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		return b.String(), nil
	case styleChatML:
		if sys != "" {
			fmt.Fprintf(&b, "<|im_start|>system\n%s<|im_end|>\n", sys)
		}
		for _, m := range rest {
			switch m.Role {
			case inference.RoleUser, inference.RoleAssistant, inference.RoleTool:
			default:
				return "", fmt.Errorf("gguf: unknown message role %q", m.Role)
			}
			fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", m.Role, content(m))
		}
		b.WriteString("<|im_start|>assistant\n")
		return b.String(), nil
	}
	// Llama 2: turns are [INST] user [/INST] assistant </s><s>; the system block goes into the
	// first user turn. The first <s> is the BOS that tokenization adds.
	first := true
	open := false
	for _, m := range rest {
		text := content(m)
		switch m.Role {
		case inference.RoleUser, inference.RoleTool:
			if m.Role == inference.RoleTool {
				text = fmt.Sprintf("Tool result (%s): %s", m.ToolName, text)
			}
			if open {
				b.WriteString(" [/INST]")
			}
			if !first {
				b.WriteString("<s>")
			}
			b.WriteString("[INST] ")
			if first && sys != "" {
				fmt.Fprintf(&b, "<<SYS>>\n%s\n<</SYS>>\n\n", sys)
			}
			b.WriteString(text)
			open = true
		case inference.RoleAssistant:
			if open {
				b.WriteString(" [/INST]")
				open = false
			}
			fmt.Fprintf(&b, " %s </s>", text)
		default:
			return "", fmt.Errorf("gguf: unknown message role %q", m.Role)
		}
		first = false
	}
	if open {
		b.WriteString(" [/INST]")
	}
	return b.String(), nil
}
