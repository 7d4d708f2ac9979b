package gguf

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// TestReadRejects corrupts one field of a valid file at a time and checks for a clear error.
func TestReadRejects(t *testing.T) {
	good := writeBytes(t, RandomLlama(TinyParams(F32), ByteVocab(), 1))
	f, err := Read(good)
	if err != nil {
		t.Fatal(err)
	}
	// Position of the first tensor info: find the first tensor name in the header.
	tinfo := strings.Index(string(good), "token_embd.weight") - 8
	// Position of the metadata count (after magic, version, tensor count).
	le := binary.LittleEndian
	tests := []struct {
		name  string
		edit  func(b []byte) []byte
		match string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "bad magic"},
		{"version", func(b []byte) []byte { le.PutUint32(b[4:], 2); return b }, "version 2"},
		{"tensor count", func(b []byte) []byte { le.PutUint64(b[8:], 1<<40); return b }, "tensor count"},
		{"kv count", func(b []byte) []byte { le.PutUint64(b[16:], 1<<40); return b }, "metadata count"},
		{"truncated header", func(b []byte) []byte { return b[:tinfo] }, "truncated"},
		{"truncated data", func(b []byte) []byte { return b[:len(b)-100] }, "past the"},
		{"key length", func(b []byte) []byte { le.PutUint64(b[24:], 1<<62); return b }, "truncated"},
		{"tensor dims", func(b []byte) []byte { le.PutUint32(b[tinfo+8+17:], 9); return b }, "dimensions"},
		{"tensor type", func(b []byte) []byte { le.PutUint32(b[tinfo+8+17+4+16:], 99); return b }, "unknown type"},
		{"tensor offset unaligned", func(b []byte) []byte { le.PutUint64(b[tinfo+8+17+4+16+4:], 3); return b }, "not aligned"},
		{"tensor overlap", func(b []byte) []byte {
			// Point the second tensor at the first one's bytes.
			second := strings.Index(string(b), "blk.0.attn_norm.weight") - 8
			le.PutUint64(b[second+8+22+4+8+4:], 0)
			return b
		}, "overlaps"},
		{"tensor zero dim", func(b []byte) []byte { le.PutUint64(b[tinfo+8+17+4:], 0); return b }, "zero or overflowing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.edit(append([]byte(nil), good...))
			_, err := Read(b)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FormatError", err)
			}
			if !strings.Contains(err.Error(), tt.match) {
				t.Fatalf("error %q does not mention %q", err, tt.match)
			}
		})
	}
	_ = f
}

// FuzzRead feeds arbitrary bytes to the reader; seeds are real files from the writer in each
// tensor type, architecture and tokenizer, and a few truncations. Any error is fine; a panic or an
// out-of-range tensor slice is a bug.
func FuzzRead(f *testing.F) {
	p := LlamaParams{Dim: 32, Layers: 1, Heads: 2, KVHeads: 1, FFN: 64, Context: 16, RopeTheta: 10000, NormEps: 1e-5}
	small := Vocab{Tokens: []string{"<unk>", "<s>", "</s>", "▁a", "b"}, Scores: []float32{0, 0, 0, -1, -2}, Types: []int32{2, 3, 3, 1, 1}, BOS: 1, EOS: 2}
	seed := func(b []byte) {
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[:200])
	}
	for _, typ := range []TensorType{F32, F16, Q8_0, Q4_0} {
		p.Type = typ
		seed(writeBytes(f, RandomLlama(p, small, 1)))
	}
	// K-quants need rows of 256; a small BPE vocabulary keeps the files small.
	bpe := bpeTestVocab("llama-bpe", []string{"ab", "Ġa"}, []string{"a b", "Ġ a"})
	k := LlamaParams{Dim: 256, Layers: 1, Heads: 4, KVHeads: 2, FFN: 256, Context: 16, RopeTheta: 500000, NormEps: 1e-5, Type: Q4_K}
	w := RandomLlama(k, bpe, 2)
	w.RopeFreqs = Llama3RopeFreqs(64, 500000, 8, 1, 4, 8192)
	w.TensorTypes = map[string]TensorType{"output.weight": Q6_K}
	seed(writeBytes(f, w))
	k.Arch, k.Type = "qwen2", Q5_K
	bpe.Pre = "qwen2"
	seed(writeBytes(f, RandomLlama(k, bpe, 3)))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Read(b)
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			info, raw, ok := file.Tensor(ti.Name)
			if !ok || uint64(len(raw)) != info.Size {
				t.Fatalf("tensor %s: ok=%v len %d size %d", ti.Name, ok, len(raw), info.Size)
			}
		}
		// Loading a model from a file that parses must also fail cleanly, never panic; a model
		// that loads must run.
		m, err := loadModel(file)
		if err != nil {
			return
		}
		if _, err := m.Run(context.Background(), m.Vocab.Encode("a", true), SamplingParams{}, 0, 2, nil); err != nil && m.Vocab.addBOS {
			t.Logf("run: %v", err)
		}
	})
}
