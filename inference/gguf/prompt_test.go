package gguf

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/metisgo/metis/inference"
)

// PromptTokens gives exactly the prompt the engine's runs start with.
func TestPromptTokensMatchesEngine(t *testing.T) {
	for _, tmpl := range []string{"", "{% if [INST] %}"} {
		p := TinyParams(F32)
		p.Context = 1024
		w := RandomLlama(p, ByteVocab(), 5)
		w.Template = tmpl
		path := tinyFile(t, w)
		e := New()
		m, err := e.Model(path)
		if err != nil {
			t.Fatal(err)
		}
		gen := inference.Request{Model: path, Prompt: "<s>raw </s> text", Sampling: inference.Sampling{MaxTokens: 2}}
		_, tr, err := e.GenerateTrace(context.Background(), gen)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.PromptTokens(gen, false)
		if err != nil || !slices.Equal(got, tr.Tokens[:tr.PromptLen]) {
			t.Errorf("template %q generate: %v %v, want %v", tmpl, got, err, tr.Tokens[:tr.PromptLen])
		}
		chat := inference.Request{Model: path, Sampling: inference.Sampling{MaxTokens: 2},
			Messages: []inference.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"},
				{Role: "assistant", ToolCalls: []inference.ToolCall{{Name: "f", Arguments: json.RawMessage(`{"b": 1, "a": 2}`)}}},
				{Role: "tool", ToolName: "f", Content: "3"}},
			Tools: []inference.Tool{{Name: "f", Parameters: json.RawMessage(`{}`)}}}
		_, tr, err = e.ChatTrace(context.Background(), chat)
		if err != nil {
			t.Fatal(err)
		}
		got, err = m.PromptTokens(chat, true)
		if err != nil || !slices.Equal(got, tr.Tokens[:tr.PromptLen]) {
			t.Errorf("template %q chat: %v %v, want %v", tmpl, got, err, tr.Tokens[:tr.PromptLen])
		}
		if _, err := m.PromptTokens(inference.Request{Messages: []inference.Message{{Role: "nobody"}}}, true); err == nil {
			t.Error("unknown role accepted")
		}
	}
}
