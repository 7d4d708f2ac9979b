package gguf

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/internal/ollamatest"
)

// TestChatFormats checks which format a template selects and what each renders.
func TestChatFormats(t *testing.T) {
	qwen := `{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}` +
		`{%- else %}{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}{%- endif %}`
	cases := []struct {
		template string
		msgs     []inference.Message
		want     string
	}{
		{"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}", []inference.Message{
			{Role: inference.RoleSystem, Content: " Be brief. "}, {Role: inference.RoleUser, Content: "Hi\n"},
			{Role: inference.RoleAssistant, Content: "Hello!"}, {Role: inference.RoleTool, Content: "42"}},
			"<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n42<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{qwen, []inference.Message{{Role: inference.RoleUser, Content: "Hi"}},
			"<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{qwen, []inference.Message{{Role: inference.RoleSystem, Content: "S"}, {Role: inference.RoleUser, Content: "Hi"}},
			"<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"", []inference.Message{{Role: inference.RoleUser, Content: "Hi"}}, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"[INST]", []inference.Message{{Role: inference.RoleUser, Content: "Hi"}}, "[INST] Hi [/INST]"},
	}
	for i, c := range cases {
		m := &Model{template: c.template}
		got, err := m.chatFormat().render(c.msgs, nil)
		if err != nil || got != c.want {
			t.Errorf("case %d: %q (%v)\nwant %q", i, got, err, c.want)
		}
	}
	tools := []inference.Tool{{Name: "add", Parameters: json.RawMessage(`{}`)}}
	if call, ok := parseToolCall("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>", tools); !ok || string(call.Arguments) != `{"a": 1}` {
		t.Errorf("Qwen tool call tags: %+v %v", call, ok)
	}
}

// ollamaJinja returns a chat template from Ollama's own index of known templates (the Jinja text
// its server recognises in a GGUF file and maps to its Go template), read from the Ollama module
// the tests depend on: the first template named name whose text contains marker.
func ollamaJinja(t *testing.T, name, marker string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ollama/ollama").Output()
	if err != nil {
		t.Fatalf("locating the ollama module: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "template", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index []struct{ Template, Name string }
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	for _, e := range index {
		if e.Name == name && strings.Contains(e.Template, marker) {
			return e.Template
		}
	}
	t.Fatalf("no %s template with %q in Ollama's index", name, marker)
	return ""
}

// TestChatCrossCheckOllama renders conversations with the chat templates Llama 3 and Qwen 2 ship
// (as Ollama's template index has them) and compares Chat's greedy tokens with Ollama's /api/chat
// on the same file: the formats, their special tokens and the default system message must agree.
// Ollama maps Qwen 2's template to its plain ChatML template, without the template's default
// system message; the Modelfile's SYSTEM supplies it, as Ollama's own qwen2 model does.
func TestChatCrossCheckOllama(t *testing.T) {
	srv := ollamatest.Shared(t)
	l3 := llama3Model(Q4_K, 21)
	l3.Template = ollamaJinja(t, "llama3-instruct", "<|start_header_id|>")
	q2 := qwen2Model(Q6_K, 22)
	q2.Template = ollamaJinja(t, "chatml", "You are a helpful assistant.<|im_end|>")
	convs := [][]inference.Message{
		{{Role: inference.RoleUser, Content: "Hello"}},
		{{Role: inference.RoleSystem, Content: "Be brief."}, {Role: inference.RoleUser, Content: "What is 2+3?"}},
		{{Role: inference.RoleUser, Content: "Hi"}, {Role: inference.RoleAssistant, Content: "Hello! How can I help?"},
			{Role: inference.RoleUser, Content: "Tell me about the quick brown fox."}},
	}
	if testing.Short() {
		convs = convs[1:2] // the race pass: one conversation, with a system message
	}
	const numPredict = 32
	for _, c := range []struct {
		name  string
		w     *LlamaWeights
		extra string
	}{{"llama3-chat", l3, ""}, {"qwen2-chat", q2, "SYSTEM You are a helpful assistant."}} {
		t.Run(c.name, func(t *testing.T) {
			cm := bpeModel(t, c.name, c.w)
			path := filepath.Join(t.TempDir(), c.name+".gguf")
			if err := cm.w.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			srv.Create(t, "metis-"+c.name, path, c.extra)
			e := New()
			for _, msgs := range convs {
				req := inference.Request{Model: path, Messages: msgs, Sampling: inference.Sampling{MaxTokens: numPredict}}
				_, tr, err := e.ChatTrace(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				ours := tr.Output()
				var pieces []string
				for _, id := range ours {
					pieces = append(pieces, tr.Model.Vocab.Piece(id))
				}
				want := ollamaCut(pieces)
				var am []api.Message
				for _, m := range msgs {
					am = append(am, api.Message{Role: string(m.Role), Content: m.Content})
				}
				stream := false
				var text string
				var promptN int
				err = srv.Client().Chat(context.Background(), &api.ChatRequest{Model: "metis-" + c.name, Messages: am, Stream: &stream,
					Options: map[string]any{"temperature": 0, "seed": 0, "num_predict": numPredict, "repeat_penalty": 1.0}},
					func(r api.ChatResponse) error {
						text += r.Message.Content
						if r.Done {
							promptN = r.PromptEvalCount
						}
						return nil
					})
				if err != nil {
					t.Fatalf("ollama chat: %v\n%s", err, srv.Log())
				}
				t.Logf("%s %d messages -> %q", c.name, len(msgs), text)
				if want == len(ours) && promptN != tr.PromptLen {
					t.Errorf("%s %v: prompt of %d tokens here, %d in Ollama", c.name, msgs, tr.PromptLen, promptN)
				}
				got, ok := cm.tokens(text)
				n := 0
				for n < len(got) && n < len(ours) && got[n] == ours[n] {
					n++
				}
				if !ok || n < want || len(got) != want {
					t.Errorf("%s %v: tokens agree for %d of %d\n ours   %q\n ollama %q", c.name, msgs, n, want, tr.Model.Vocab.Decode(ours), text)
				}
			}
		})
	}
}
