// Command detrun prints a fingerprint of inference/gguf runs: for models of each tensor type,
// architecture and tokenizer, a few prompts under greedy and seeded sampling, the output tokens
// and the trace root, plus the embedding and a sweep of the engine's transcendental functions. The determinism test builds it
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

// models are the fingerprinted models: the byte-vocabulary llama in F32, F16 and Q8_0, then the
// other tensor types on the other architectures and tokenizers — a Llama 3 style model (BPE,
// rope_freqs) in a Q4_K/Q6_K mix, a Qwen 2.5 style one (BPE, QKV bias, NEOX RoPE) in Q5_K with
// tied embeddings, and Q6_K and Q4_0 models, the latter with linear RoPE scaling.
func models() map[string]*gguf.LlamaWeights {
	out := map[string]*gguf.LlamaWeights{}
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0} {
		p := params
		p.Type = typ
		out[typ.String()] = gguf.RandomLlama(p, gguf.ByteVocab(), 3)
	}
	k := gguf.LlamaParams{Arch: "llama", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, FFN: 512, Context: 128, RopeTheta: 500000, NormEps: 1e-5}
	k.Type = gguf.Q4_K
	l3 := gguf.RandomLlama(k, gguf.Llama3Vocab(), 4)
	l3.RopeFreqs = gguf.Llama3RopeFreqs(64, 500000, 8, 1, 4, 8192)
	l3.TensorTypes = map[string]gguf.TensorType{"output.weight": gguf.Q6_K, "blk.0.ffn_down.weight": gguf.Q6_K}
	out["llama3-Q4_K_M"] = l3
	k.Type = gguf.Q6_K
	out["llama-Q6_K"] = gguf.RandomLlama(k, gguf.ByteVocab(), 5)
	k.Type, k.RopeScaling = gguf.Q4_0, 4
	out["llama3-Q4_0-linear4"] = gguf.RandomLlama(k, gguf.Llama3Vocab(), 6)
	q := k
	q.Arch, q.Type, q.RopeScaling, q.RopeTheta, q.NormEps = "qwen2", gguf.Q5_K, 0, 1000000, 1e-6
	q2 := gguf.RandomLlama(q, gguf.Qwen2Vocab(), 7)
	q2.TiedOutput = true
	for i := range q2.TokenEmbd { // small embeddings, so that tokens do not just predict themselves
		q2.TokenEmbd[i] /= 32
	}
	out["qwen2-Q5_K-tied"] = q2
	return out
}

func main() {
	ctx := context.Background()
	ms := models()
	for _, name := range []string{"F32", "F16", "Q8_0", "llama3-Q4_K_M", "llama-Q6_K", "llama3-Q4_0-linear4", "qwen2-Q5_K-tied"} {
		var buf bytes.Buffer
		if _, err := ms[name].WriteTo(&buf); err != nil {
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
				fmt.Printf("%s %q %+v: tokens %v root %x steps %d\n", name, prompt, s, tr.Output(), tr.Root, len(tr.Steps))
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
		fmt.Printf("%s hidden %x\n", name, h.Sum(nil))
	}
	fmt.Printf("math %x\n", gguf.MathFingerprint())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "detrun:", err)
	os.Exit(1)
}
