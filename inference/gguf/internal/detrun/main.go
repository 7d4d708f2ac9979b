// Command detrun prints a fingerprint of inference/gguf runs: for models of each tensor type, a
// few prompts under greedy and seeded sampling, the output tokens and the trace root, plus the
// embedding and a sweep of the engine's transcendental functions. The determinism test builds it
// for the host and for GOARCH=arm64 (run under qemu-user), runs it under several GOMAXPROCS
// values, and requires every fingerprint to be byte-identical.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"

	"github.com/metisgo/metis/inference/gguf"
)

// params are large enough that matrix multiplications take the parallel path (see parallelMin)
// yet small enough to run in seconds under emulation.
var params = gguf.LlamaParams{Dim: 256, Layers: 2, Heads: 8, KVHeads: 4, FFN: 704, Context: 128, RopeTheta: 10000, NormEps: 1e-5}

func main() {
	ctx := context.Background()
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0} {
		p := params
		p.Type = typ
		var buf bytes.Buffer
		if _, err := gguf.RandomLlama(p, gguf.ByteVocab(), 3).WriteTo(&buf); err != nil {
			fail(err)
		}
		m, err := gguf.LoadBytes(buf.Bytes())
		if err != nil {
			fail(err)
		}
		for _, prompt := range []string{"Hello", "verifiable compute: every step counts"} {
			for _, s := range []gguf.SamplingParams{{}, {Temperature: 0.9, TopK: 50, TopP: 0.95}, {Temperature: 1.3}} {
				tr, err := m.Run(ctx, m.Vocab.Encode(prompt, true), s, 11, 20, nil)
				if err != nil {
					fail(err)
				}
				fmt.Printf("%v %q %+v: tokens %v root %x steps %d\n", typ, prompt, s, tr.Output(), tr.Root, len(tr.Steps))
			}
		}
		hs, err := m.Hidden(ctx, m.Vocab.Encode("embed me", true))
		if err != nil {
			fail(err)
		}
		h := sha256.New()
		for _, v := range hs {
			binary.Write(h, binary.LittleEndian, v)
		}
		fmt.Printf("%v hidden %x\n", typ, h.Sum(nil))
	}
	fmt.Printf("math %x\n", gguf.MathFingerprint())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "detrun:", err)
	os.Exit(1)
}
