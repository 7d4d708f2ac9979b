package gguf

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/internal/ollamatest"
)

// processCPU is the CPU time (user plus system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchModel is a model of BenchmarkGenerate.
type benchModel struct {
	name   string
	tokens int                  // tokens to generate per run
	make   func() *LlamaWeights // weights, written once per benchmark run
}

// noEOG zeroes the output rows of the end-of-generation tokens (EOS and the texts llama.cpp
// treats as end of turn), so that a run always generates its full number of tokens: a zero row
// gives logit exactly 0, below the best random logit. A lazily drawn model gets its output matrix
// drawn here (from another seed) so that rows can be zeroed.
func noEOG(w *LlamaWeights) *LlamaWeights {
	dim := w.Params.Dim
	if w.Output == nil {
		w.Output = make([]float32, dim*len(w.Vocab.Tokens))
		drawSpec{scale: float32(1 / math.Sqrt(float64(dim)))}.fill(&SplitMix64{State: 99}, w.Output)
	}
	for id, s := range w.Vocab.Tokens {
		if uint32(id) == w.Vocab.EOS || eogTexts[s] {
			clear(w.Output[id*dim : (id+1)*dim])
		}
	}
	return w
}

// BenchmarkGenerate measures tokens per second of this engine and of Ollama (llama.cpp) on the
// same GGUF file, in one run: a fixed prompt, then greedy tokens (EOS never wins, see asciiLlama
// and noEOG), end to end through each engine's public API. Ollama's time includes its HTTP round
// trip, which is part of what a user of it pays. Besides wall-clock tok/s it reports CPU time per
// token (cpu-ms/tok: this process for gguf, the Ollama server and its runner for Ollama), which a
// loaded machine disturbs far less.
//
// "tiny" is the standard test model; "small" (dim 512, 4 layers, FFN 1376, F32) makes the
// arithmetic dominate; "q4k" is a Llama 3 style model with the made-up BPE vocabulary in a
// Q4_K_M-like mix (dim 1024, 8 layers, GQA 16/4, FFN 2816); "1b-q4k" has Llama 3.2 1B's shape
// (dim 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192; about 0.6 GB) and is written lazily in
// constant memory, which takes half a minute.
func BenchmarkGenerate(b *testing.B) {
	const prompt = "The quick brown fox jumps over the lazy dog"
	small := LlamaParams{Dim: 512, Layers: 4, Heads: 8, KVHeads: 4, FFN: 1376, Context: 256, RopeTheta: 10000, NormEps: 1e-5, Type: F32}
	q4k := LlamaParams{Arch: "llama", Dim: 1024, Layers: 8, Heads: 16, KVHeads: 4, FFN: 2816, Context: 1024, RopeTheta: 500000, NormEps: 1e-5, Type: Q4_K}
	oneB := LlamaParams{Arch: "llama", Dim: 2048, Layers: 16, Heads: 32, KVHeads: 8, FFN: 8192, Context: 2048, RopeTheta: 500000, NormEps: 1e-5, Type: Q4_K}
	mix := func(w *LlamaWeights) *LlamaWeights {
		w.RopeFreqs = Llama3RopeFreqs(w.Params.Dim/w.Params.Heads, float64(w.Params.RopeTheta), 8, 1, 4, 8192)
		return mixKM(w)
	}
	models := []benchModel{
		{"tiny", 64, func() *LlamaWeights { return asciiOutput(RandomLlama(TinyParams(F32), ByteVocab(), 42)) }},
		{"small", 64, func() *LlamaWeights { return asciiOutput(RandomLlama(small, ByteVocab(), 42)) }},
		{"q4k", 64, func() *LlamaWeights { return noEOG(mix(RandomLlama(q4k, Llama3Vocab(), 42))) }},
		{"1b-q4k", 16, func() *LlamaWeights { return noEOG(mix(LazyRandomLlama(oneB, Llama3Vocab(), 42))) }},
	}
	dir := b.TempDir() // the sub-benchmarks' own directories go when each ends
	for _, mc := range models {
		path := filepath.Join(dir, mc.name+".gguf")
		written := false
		setup := func(b *testing.B) string {
			if !written {
				if err := mc.make().WriteFile(path); err != nil {
					b.Fatal(err)
				}
				written = true
			}
			return path
		}
		gguf := func(b *testing.B) {
			setup(b)
			e := New()
			req := inference.Request{Model: path, Prompt: prompt, Sampling: inference.Sampling{MaxTokens: mc.tokens}}
			if _, err := e.Generate(context.Background(), req); err != nil { // load outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			start, cpu := time.Now(), processCPU(b)
			n := 0
			for range b.N {
				resp, err := e.Generate(context.Background(), req)
				if err != nil || resp.Usage.OutputTokens != mc.tokens {
					b.Fatalf("%v %+v", err, resp)
				}
				n += resp.Usage.OutputTokens
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "tok/s")
			b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/1000/float64(n), "cpu-ms/tok")
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
			srv.Create(b, name, setup(b), "")
			stream := false
			req := &api.GenerateRequest{Model: name, Prompt: prompt, Raw: true, Stream: &stream,
				Options: map[string]any{"temperature": 0, "seed": 0, "num_predict": mc.tokens, "repeat_penalty": 1.0}}
			gen := func() int {
				var n int
				err := srv.Client().Generate(context.Background(), req, func(r api.GenerateResponse) error {
					n = r.EvalCount
					return nil
				})
				if err != nil || n == 0 {
					b.Fatalf("ollama: %v, %d tokens", err, n)
				}
				return n
			}
			gen() // load the model outside the timing
			b.ResetTimer()
			cpu0, err := srv.CPUTime()
			if err != nil {
				b.Fatal(err)
			}
			start, n := time.Now(), 0
			for range b.N {
				n += gen() // fewer than asked when Ollama's repeat limit ends a run early
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "tok/s")
			cpu1, _ := srv.CPUTime()
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(n), "cpu-ms/tok")
		})
	}
}

// BenchmarkOpen measures opening a multi-gigabyte model: Load, which memory-maps the file and
// parses only its header and tensor table, against reading the whole file into memory first (what
// Load did before, and the only option without mmap), in one run. The model has Llama 3 8B's
// layer shape (dim 4096, FFN 14336, 32 heads, 8 KV heads) with 12 layers in Q8_0, 2.8 GB; it is
// written once per run, lazily in constant memory (about a minute), to the benchmark's temporary
// directory, and removed with it. Both variants find the file in the page cache.
func BenchmarkOpen(b *testing.B) {
	p := LlamaParams{Arch: "llama", Dim: 4096, Layers: 12, Heads: 32, KVHeads: 8, FFN: 14336, Context: 8192, RopeTheta: 500000, NormEps: 1e-5, Type: Q8_0}
	path := filepath.Join(b.TempDir(), "big.gguf")
	if err := LazyRandomLlama(p, Llama3Vocab(), 1).WriteFile(path); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %.2f GB", path, float64(st.Size())/1e9)
	b.Run("load=mmap", func(b *testing.B) {
		for range b.N {
			m, err := Load(path)
			if err != nil {
				b.Fatal(err)
			}
			m.Close()
		}
	})
	b.Run("load=read", func(b *testing.B) {
		for range b.N {
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := LoadBytes(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
