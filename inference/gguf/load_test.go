package gguf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// TestLoadMapsFile: Load maps the file instead of reading it — the weights are views of the
// mapping, nothing is copied — the digest is the file's sha256, computed on first use, and a
// loaded model keeps working when WriteFile replaces its file.
func TestLoadMapsFile(t *testing.T) {
	for _, typ := range []TensorType{F32, F16, Q8_0} {
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := RandomLlama(TinyParams(typ), ByteVocab(), 1).WriteFile(path); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if m.file.unmap == nil {
			t.Fatalf("%v: Load did not map the file", typ)
		}
		lo := uintptr(unsafe.Pointer(&m.file.data[0]))
		hi := lo + uintptr(len(m.file.data))
		for _, mx := range []*matrix{m.tokenEmbd, m.output, m.layers[1].wq, m.layers[0].down} {
			p := uintptr(unsafe.Pointer(&mx.raw[0]))
			if p < lo || p >= hi {
				t.Fatalf("%v: a %v matrix lives outside the mapping: its bytes were copied", typ, mx.typ)
			}
			if mx.typ == F32 && uintptr(unsafe.Pointer(&mx.f32[0])) != p || mx.typ == F16 && uintptr(unsafe.Pointer(&mx.f16[0])) != p {
				t.Fatalf("%v: the float view is a copy", typ)
			}
		}
		b, _ := os.ReadFile(path)
		sum := sha256.Sum256(b)
		if m.Digest() != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("%v: digest %s", typ, m.Digest())
		}
		prompt := m.Vocab.Encode("Hello", true)
		before, err := m.Run(context.Background(), prompt, SamplingParams{}, 0, 8, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Replace the file with another model: the loaded one still has its own weights.
		if err := RandomLlama(TinyParams(typ), ByteVocab(), 2).WriteFile(path); err != nil {
			t.Fatal(err)
		}
		after, err := m.Run(context.Background(), prompt, SamplingParams{}, 0, 8, nil)
		if err != nil || after.Root != before.Root {
			t.Errorf("%v: a run after the file was replaced differs (%v)", typ, err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	entries, _ := os.ReadDir(t.TempDir())
	if len(entries) != 0 {
		t.Errorf("WriteFile left %d files behind", len(entries))
	}
}

// TestLoadRejects: what the engine cannot run exactly as llama.cpp would is refused with a clear
// error, never run differently.
func TestLoadRejects(t *testing.T) {
	k := kParams("llama", Q4_K)
	cases := []struct {
		name  string
		edit  func(w *LlamaWeights)
		patch func(b []byte) []byte
		want  string
	}{
		{"arch", nil, func(b []byte) []byte {
			return bytes.Replace(b, []byte("\x05\x00\x00\x00\x00\x00\x00\x00llama"), []byte("\x05\x00\x00\x00\x00\x00\x00\x00gemma"), 1)
		}, "architecture \"gemma\""},
		{"yarn", nil, func(b []byte) []byte { return bytes.Replace(b, []byte("linear"), []byte("yarnxx"), 1) }, "rope scaling"},
		{"qwen2 without bias", func(w *LlamaWeights) {
			w.Params.Arch = "qwen2"
			w.Vocab.Pre = "qwen2"
		}, func(b []byte) []byte {
			return bytes.Replace(b, []byte("blk.0.attn_q.bias"), []byte("blk.0.attn_q.biaz"), 1)
		}, "attn_q.bias"},
		// A llama file with biases and rope_freqs relabelled qwen2: qwen2 has no rope_freqs.
		{"rope_freqs on qwen2", func(w *LlamaWeights) {
			w.RopeFreqs = Llama3RopeFreqs(64, 500000, 8, 1, 4, 8192)
			for i := range w.Layers {
				l := &w.Layers[i]
				l.Bq, l.Bk, l.Bv = make([]float32, 256), make([]float32, 128), make([]float32, 128)
			}
		}, func(b []byte) []byte {
			b = bytes.ReplaceAll(b, []byte("llama."), []byte("qwen2."))
			return bytes.Replace(b, []byte("\x05\x00\x00\x00\x00\x00\x00\x00llama"), []byte("\x05\x00\x00\x00\x00\x00\x00\x00qwen2"), 1)
		}, "rope_freqs.weight is not used"},
		{"pre-tokenizer", nil, func(b []byte) []byte { return bytes.Replace(b, []byte("llama-bpe"), []byte("gpt-4o-xx"), 1) }, "pre-tokenizer"},
		{"head dims", nil, func(b []byte) []byte {
			return bytes.Replace(b, []byte("llama.rope.dimension_count\x04\x00\x00\x00\x40"), []byte("llama.rope.dimension_count\x04\x00\x00\x00\x20"), 1)
		}, "partial rotary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := k
			p.RopeScaling = 2
			w := RandomLlama(p, Llama3Vocab(), 1)
			if c.edit != nil {
				c.edit(w)
				if w.Params.Arch != "llama" {
					w = RandomLlama(w.Params, w.Vocab, 1)
				}
			}
			b := writeBytes(t, w)
			if _, err := LoadBytes(b); err != nil {
				t.Fatalf("unmodified file: %v", err)
			}
			patched := c.patch(append([]byte(nil), b...))
			if bytes.Equal(patched, b) {
				t.Fatal("the patch did not apply")
			}
			_, err := LoadBytes(patched)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

// TestTiedOutput: without output.weight the model uses the token embedding for the logits, as
// llama.cpp does: identical runs to a file that stores the same matrix twice.
func TestTiedOutput(t *testing.T) {
	w := RandomLlama(kParams("qwen2", Q5_K), Qwen2Vocab(), 3)
	w.Output = w.TokenEmbd
	untied, err := LoadBytes(writeBytes(t, w))
	if err != nil {
		t.Fatal(err)
	}
	w.TiedOutput = true
	tied, err := LoadBytes(writeBytes(t, w))
	if err != nil {
		t.Fatal(err)
	}
	if tied.output != tied.tokenEmbd {
		t.Fatal("tied model has its own output matrix")
	}
	prompt := tied.Vocab.Encode("tied embeddings", true)
	a, err := tied.Run(context.Background(), prompt, SamplingParams{}, 0, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := untied.Run(context.Background(), prompt, SamplingParams{}, 0, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Root != b.Root {
		t.Error("tied and untied copies of the same weights run differently")
	}
}
