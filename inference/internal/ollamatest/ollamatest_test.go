package ollamatest_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/inference/internal/ollamatest"
)

func TestMain(m *testing.M) { ollamatest.Main(m) }

// TestServe starts the shared server, creates a tiny random model and generates from it.
func TestServe(t *testing.T) {
	s := ollamatest.Shared(t)
	p := gguf.LlamaParams{Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128, Context: 256, RopeTheta: 10000, NormEps: 1e-5, Type: gguf.F32}
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := gguf.RandomLlama(p, gguf.ByteVocab(), 1).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	s.Create(t, "tiny", path, "")
	stream := false
	var got api.GenerateResponse
	err := s.Client().Generate(context.Background(), &api.GenerateRequest{
		Model: "tiny", Prompt: "hello", Stream: &stream,
		Options: map[string]any{"temperature": 0, "num_predict": 8},
	}, func(r api.GenerateResponse) error { got = r; return nil })
	if err != nil {
		t.Fatalf("generate: %v\n%s", err, s.Log())
	}
	if got.EvalCount == 0 {
		t.Errorf("no tokens generated: %+v", got)
	}
	if cpu, err := s.CPUTime(); err != nil || cpu <= 0 {
		t.Errorf("CPUTime after a generation: %v, %v", cpu, err)
	}
	t.Logf("%q (%d prompt, %d output tokens)", got.Response, got.PromptEvalCount, got.EvalCount)
}

// TestStart checks that a per-test server comes up and is gone after the test.
func TestStart(t *testing.T) {
	s := ollamatest.Start(t)
	v, err := s.Client().Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ollama %s at %s", v, s.Host)
}
