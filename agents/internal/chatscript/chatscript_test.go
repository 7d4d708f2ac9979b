package chatscript

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

func TestReply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	const reply = `{"name": "lazai_stake", "arguments": {"amount": "1"}}`
	if err := WriteFile(path, reply); err != nil {
		t.Fatal(err)
	}
	e := gguf.New()
	tools := []inference.Tool{{Name: "lazai_stake", Parameters: []byte(`{"type":"object"}`)}}
	for _, msgs := range [][]inference.Message{
		{{Role: inference.RoleUser, Content: "stake"}},
		{{Role: inference.RoleSystem, Content: "be careful"}, {Role: inference.RoleUser, Content: "again\n\n"},
			{Role: inference.RoleAssistant, Content: "ok"}, {Role: inference.RoleTool, Content: "42"}},
	} {
		resp, err := e.Chat(context.Background(), inference.Request{Model: path, Messages: msgs, Tools: tools})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "lazai_stake" || string(resp.ToolCalls[0].Arguments) != `{"amount": "1"}` {
			t.Errorf("reply %q, calls %+v", resp.Text, resp.ToolCalls)
		}
	}
	resp, err := e.Generate(context.Background(), inference.Request{Model: path, Prompt: "no newline"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != Unsure {
		t.Errorf("generate: %q", resp.Text)
	}
	if _, err := Build("two\nlines"); err == nil {
		t.Error("a two-line reply was accepted")
	}
}
