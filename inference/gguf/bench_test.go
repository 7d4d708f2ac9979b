package gguf

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/internal/ollamatest"
)

// BenchmarkGenerate measures tokens per second of this engine and of Ollama (llama.cpp) on the
// same GGUF file, in one run: a fixed prompt, then benchTokens greedy tokens (the models never
// emit EOS, see asciiLlama), end to end through each engine's public API. Ollama's time includes
// its HTTP round trip, which is part of what a user of it pays. "tiny" is the standard test model;
// "small" (dim 512, 4 layers, FFN 1376) makes the arithmetic dominate.
func BenchmarkGenerate(b *testing.B) {
	const benchTokens = 64
	const prompt = "The quick brown fox jumps over the lazy dog"
	small := LlamaParams{Dim: 512, Layers: 4, Heads: 8, KVHeads: 4, FFN: 1376, Context: 256, RopeTheta: 10000, NormEps: 1e-5, Type: F32}
	for _, mc := range []struct {
		name string
		p    LlamaParams
	}{{"tiny", TinyParams(F32)}, {"small", small}} {
		path := filepath.Join(b.TempDir(), mc.name+".gguf")
		if err := asciiOutput(RandomLlama(mc.p, ByteVocab(), 42)).WriteFile(path); err != nil {
			b.Fatal(err)
		}
		gguf := func(b *testing.B) {
			e := New()
			req := inference.Request{Model: path, Prompt: prompt, Sampling: inference.Sampling{MaxTokens: benchTokens}}
			if _, err := e.Generate(context.Background(), req); err != nil { // load outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				resp, err := e.Generate(context.Background(), req)
				if err != nil || resp.Usage.OutputTokens != benchTokens {
					b.Fatalf("%v %+v", err, resp)
				}
			}
			b.ReportMetric(float64(benchTokens*b.N)/time.Since(start).Seconds(), "tok/s")
		}
		b.Run(fmt.Sprintf("model=%s/engine=gguf", mc.name), gguf)
		// Ollama runs llama.cpp with one thread per physical core, which is one on a 2-vCPU
		// machine; this variant gives the engine the same single core.
		b.Run(fmt.Sprintf("model=%s/engine=gguf-procs1", mc.name), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			gguf(b)
		})
		b.Run(fmt.Sprintf("model=%s/engine=ollama", mc.name), func(b *testing.B) {
			srv := ollamatest.Shared(b)
			name := "metis-bench-" + mc.name
			srv.Create(b, name, path, "")
			stream := false
			req := &api.GenerateRequest{Model: name, Prompt: prompt, Raw: true, Stream: &stream,
				Options: map[string]any{"temperature": 0, "seed": 0, "num_predict": benchTokens, "repeat_penalty": 1.0}}
			gen := func() {
				var n int
				err := srv.Client().Generate(context.Background(), req, func(r api.GenerateResponse) error {
					n = r.EvalCount
					return nil
				})
				if err != nil || n != benchTokens {
					b.Fatalf("ollama: %v, %d tokens", err, n)
				}
			}
			gen() // load the model outside the timing
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				gen()
			}
			b.ReportMetric(float64(benchTokens*b.N)/time.Since(start).Seconds(), "tok/s")
		})
	}
}
