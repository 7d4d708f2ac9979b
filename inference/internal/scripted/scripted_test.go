package scripted_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/inference/internal/scripted"
)

func TestBuildErrors(t *testing.T) {
	for name, rules := range map[string][]scripted.Rule{
		"no default":      {{After: "<|x|>", Say: []string{"a"}}},
		"two defaults":    {{Say: []string{"a"}}, {Say: []string{"b"}}},
		"empty script":    {{Say: nil}},
		"duplicate piece": {{Say: []string{"a"}}, {After: "1", Say: []string{"a"}}},
		"duplicate mark":  {{Say: []string{"a"}}, {After: "<|m|>", Say: []string{"b"}}, {After: "<|m|>", Say: []string{"c"}}},
	} {
		if _, err := scripted.Build(rules); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestOnGGUF runs the adder script on the embedded engine: the scripted file is an ordinary
// llama model, and the bigram machine follows the last token of any prompt.
func TestOnGGUF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "adder.gguf")
	if err := scripted.WriteFile(path, scripted.AdderRules(2, 3, false)); err != nil {
		t.Fatal(err)
	}
	e := gguf.New()
	for prompt, want := range map[string]string{
		"What is 2 + 3?" + scripted.MarkCall: `{"name": "add", "arguments": {"a": 2, "b": 3}}`,
		"hello" + scripted.MarkChat:          scripted.ChatReply,
		"<|tool|>7":                          "The sum is 7.",
		"anything else":                      scripted.Unsure,
	} {
		resp, err := e.Generate(context.Background(), inference.Request{Model: path, Prompt: prompt,
			Sampling: inference.Sampling{MaxTokens: 32}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Text != want || resp.DoneReason != "stop" {
			t.Errorf("%q: got %q (%s), want %q", prompt, resp.Text, resp.DoneReason, want)
		}
	}
}
