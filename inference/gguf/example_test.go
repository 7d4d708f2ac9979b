package gguf_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

// Write a tiny random model, generate from it, and replay every step of the run.
func Example() {
	dir, err := os.MkdirTemp("", "gguf-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.gguf")
	if err := gguf.RandomLlama(gguf.TinyParams(gguf.Q8_0), gguf.ByteVocab(), 42).WriteFile(path); err != nil {
		log.Fatal(err)
	}

	e := gguf.New()
	resp, trace, err := e.GenerateTrace(context.Background(), inference.Request{
		Model:    path,
		Prompt:   "Hello",
		Sampling: inference.Sampling{Temperature: 0.7, TopK: 40, Seed: 1, MaxTokens: 8},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Usage.PromptTokens, "prompt tokens,", resp.Usage.OutputTokens, "output tokens, done:", resp.DoneReason)

	replayed := 0
	for i := range trace.Steps {
		h, err := trace.ReplayStep(i)
		if err != nil || h != trace.Steps[i].Hash {
			log.Fatalf("step %d does not replay", i)
		}
		replayed++
	}
	fmt.Println(replayed, "steps replayed; root", resp.TraceRoot[:10]+"…")
	// Output:
	// 9 prompt tokens, 8 output tokens, done: length
	// 40 steps replayed; root 0x074c1822…
}
