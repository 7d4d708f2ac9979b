package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"path/filepath"
	"testing"
)

func writeBytes(t testing.TB, w *LlamaWeights) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestWriteReadRoundTrip(t *testing.T) {
	for _, typ := range []TensorType{F32, F16, Q8_0} {
		t.Run(typ.String(), func(t *testing.T) {
			w := RandomLlama(TinyParams(typ), ByteVocab(), 1)
			f, err := Read(writeBytes(t, w))
			if err != nil {
				t.Fatal(err)
			}
			if a, _ := f.String("general.architecture"); a != "llama" {
				t.Errorf("architecture %q", a)
			}
			if n, _ := f.Uint("llama.rope.dimension_count"); n != 16 {
				t.Errorf("rope.dimension_count %d, want 16", n)
			}
			toks, _ := f.Get("tokenizer.ggml.tokens")
			if got := toks.([]string); len(got) != 259 || got[3] != "<0x00>" || got[258] != "<0xFF>" {
				t.Errorf("tokens: %d, %q..%q", len(got), got[3], got[len(got)-1])
			}
			if len(f.Tensors) != 3+9*2 {
				t.Errorf("%d tensors", len(f.Tensors))
			}
			// Each tensor decodes back to the written floats within its type's precision.
			tol := map[TensorType]float64{F32: 0, F16: 1.0 / 1024, Q8_0: 1.0 / 127}
			check := func(name string, want []float32) {
				info, raw, ok := f.Tensor(name)
				if !ok {
					t.Fatalf("missing %s", name)
				}
				if info.Offset%32 != 0 || (f.DataOffset+info.Offset)%32 != 0 {
					t.Errorf("%s misaligned", name)
				}
				got := make([]float32, info.Elements())
				dequantRow(info.Type, raw, got)
				var amax float64
				for _, v := range want {
					amax = math.Max(amax, math.Abs(float64(v)))
				}
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); d > tol[info.Type]*amax {
						t.Fatalf("%s[%d] = %v, want %v (%v)", name, i, got[i], want[i], info.Type)
					}
				}
			}
			check("token_embd.weight", w.TokenEmbd)
			check("blk.1.attn_k.weight", w.Layers[1].Wk)
			check("blk.0.ffn_down.weight", w.Layers[0].Down)
			check("output.weight", w.Output)
			check("output_norm.weight", w.OutputNorm)
			if info, _, _ := f.Tensor("blk.0.ffn_down.weight"); typ == Q8_0 && info.Type != F16 {
				t.Errorf("ffn_down with 172-wide rows stored as %v, want the F16 fallback", info.Type)
			}
		})
	}
}

// TestRandomLlamaPinned pins the bytes of the standard test model: RandomLlama and the writer are
// part of the contract (tests elsewhere and the cross-check against Ollama build models with them),
// so any change to either must be deliberate.
func TestRandomLlamaPinned(t *testing.T) {
	want := map[TensorType]string{
		F32:  "ec3d269939da1609727e57d75ee721821050af1789c37dadb05a4d91cfdf48f0",
		F16:  "c9558d16cbc38809bb96df54354ba594abeb0f5c26714384ba03b28dd98b948f",
		Q8_0: "9bae1d782b4fa8e8d9d7f66aad678606fe107c229d227d783d4a0018ad7ea4ca",
	}
	for _, typ := range []TensorType{F32, F16, Q8_0} {
		sum := sha256.Sum256(writeBytes(t, RandomLlama(TinyParams(typ), ByteVocab(), 42)))
		if got := hex.EncodeToString(sum[:]); got != want[typ] {
			t.Errorf("%v: sha256 %s, want %s", typ, got, want[typ])
		}
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	w := RandomLlama(TinyParams(F32), ByteVocab(), 7)
	w.Template = "{{ .Prompt }}"
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.String("tokenizer.chat_template"); s != w.Template {
		t.Errorf("chat_template %q", s)
	}
}

func TestWriteRejectsBadShapes(t *testing.T) {
	w := RandomLlama(TinyParams(F32), ByteVocab(), 1)
	w.Layers[1].Wq = w.Layers[1].Wq[1:]
	if _, err := w.WriteTo(&bytes.Buffer{}); err == nil {
		t.Fatal("short attn_q accepted")
	}
	p := TinyParams(F32)
	p.Heads = 5
	if _, err := RandomLlama(p, ByteVocab(), 1).WriteTo(&bytes.Buffer{}); err == nil {
		t.Fatal("dim not divisible by heads accepted")
	}
}

func TestF16Conversion(t *testing.T) {
	// Every half value converts to float32 and back to itself (NaNs keep being NaN).
	for h := 0; h < 1<<16; h++ {
		f := f16ToF32(uint16(h))
		if f != f {
			if g := f32ToF16(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %04x -> %04x", h, g)
			}
			continue
		}
		if g := f32ToF16(f); g != uint16(h) {
			t.Fatalf("%04x -> %v -> %04x", h, f, g)
		}
	}
	// Ties round to even; overflow goes to infinity.
	cases := []struct {
		in   float32
		want uint16
	}{
		{1 + 1.0/2048, 0x3c00},           // halfway between 1 and next: even (1)
		{1 + 3.0/2048, 0x3c02},           // halfway, rounds up to even
		{65520, 0x7c00},                  // rounds to Inf
		{65519, 0x7bff},                  // max half
		{float32(math.Ldexp(1, -24)), 1}, // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0}, // tie to even: 0
		{-2, 0xc000},
	}
	for _, c := range cases {
		if got := f32ToF16(c.in); got != c.want {
			t.Errorf("f32ToF16(%v) = %04x, want %04x", c.in, got, c.want)
		}
	}
}
