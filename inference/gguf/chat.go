package gguf

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/metisgo/metis/inference"
)

// Chat formats. A GGUF file's tokenizer.chat_template is a Jinja program; rather than interpret
// Jinja, the engine recognises the two formats llama-family SentencePiece models use and renders
// them itself:
//
//   - Llama 2 ("[INST]" in the file's template):
//     <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
//   - ChatML, the default for every other model, including files without a template:
//     <|im_start|>{role}\n{content}<|im_end|>\n ... <|im_start|>assistant\n
//     with the stop string "<|im_end|>".
//
// Tools are offered in the system message: one JSON line per tool after an instruction to reply
// with only {"name": ..., "arguments": {...}}. An assistant message's tool calls are rendered in
// that same JSON form, and tool results as messages of role "tool" (ChatML) or as user turns
// prefixed "Tool result (name):" (Llama 2).
type chatFormat struct {
	llama2 bool
	stops  []string
}

func (m *Model) chatFormat() chatFormat {
	if strings.Contains(m.template, "[INST]") {
		return chatFormat{llama2: true}
	}
	return chatFormat{stops: []string{"<|im_end|>"}}
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
	if len(tools) > 0 {
		tp, err := toolPrompt(tools)
		if err != nil {
			return "", err
		}
		system = append(system, tp)
	}
	sys := strings.Join(system, "\n\n")
	var b strings.Builder
	if !f.llama2 {
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
