package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Token types as llama.cpp stores them in tokenizer.ggml.token_type (llama_token_type).
const (
	TokenNormal      int32 = 1
	TokenUnknown     int32 = 2
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
	TokenByte        int32 = 6
)

// Vocab is a SentencePiece ("llama") vocabulary: token texts, merge scores and token types, with
// the ids of the beginning-of-sequence, end-of-sequence and unknown tokens.
type Vocab struct {
	Tokens []string
	Scores []float32
	Types  []int32 // TokenNormal, TokenUnknown, TokenControl, TokenByte, ...
	BOS    uint32
	EOS    uint32
	UNK    uint32
}

// ByteVocab returns the 259-token byte-level vocabulary used by the test models: <unk>=0, <s>=1,
// </s>=2, then the byte tokens <0x00>..<0xFF> (ids 3..258). Every text tokenizes, through
// SentencePiece byte fallback, to one token per UTF-8 byte.
func ByteVocab() Vocab {
	v := Vocab{BOS: 1, EOS: 2, UNK: 0}
	v.Tokens = append(v.Tokens, "<unk>", "<s>", "</s>")
	v.Types = append(v.Types, TokenUnknown, TokenControl, TokenControl)
	for b := 0; b < 256; b++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("<0x%02X>", b))
		v.Types = append(v.Types, TokenByte)
	}
	v.Scores = make([]float32, len(v.Tokens))
	return v
}

// LlamaParams are the hyperparameters of a llama-architecture model. The head dimension is
// Dim/Heads; Type is the storage type of the 2-D weight matrices (1-D norm weights are always F32,
// as llama.cpp's quantizer keeps them).
type LlamaParams struct {
	Dim, Layers, Heads, KVHeads, FFN, Context int
	RopeTheta, NormEps                        float32
	Type                                      TensorType
}

// LayerWeights are one transformer block's weights, as float32 before any quantization. Every
// matrix is stored row-major in ggml's order: ne[0], the inner (contiguous) dimension, is the input
// dimension, so output row i of an n_in×n_out matrix W is W[i*n_in:(i+1)*n_in] and y[i] = W_i · x.
// With kv = KVHeads*Dim/Heads:
//
//	AttnNorm, FFNNorm  [Dim]                 RMSNorm gains
//	Wq   ne=[Dim, Dim]  (blk.N.attn_q)       query rows, head h is rows h*hd..(h+1)*hd
//	Wk   ne=[Dim, kv]   (blk.N.attn_k)       key rows
//	Wv   ne=[Dim, kv]   (blk.N.attn_v)       value rows
//	Wo   ne=[Dim, Dim]  (blk.N.attn_output)  input is the concatenated head outputs
//	Gate ne=[Dim, FFN]  (blk.N.ffn_gate)     SwiGLU gate
//	Up   ne=[Dim, FFN]  (blk.N.ffn_up)
//	Down ne=[FFN, Dim]  (blk.N.ffn_down)     input is FFN wide, output Dim rows
//
// Wq and Wk are in GGUF's rotary layout (the one llama.cpp's converter produces by permuting the
// Hugging Face weights): RoPE rotates adjacent pairs (x[2i], x[2i+1]) within each head.
type LayerWeights struct {
	AttnNorm, Wq, Wk, Wv, Wo, FFNNorm, Gate, Down, Up []float32
}

// LlamaWeights is a whole llama model: TokenEmbd ne=[Dim, vocab] (row t is token t's embedding),
// OutputNorm [Dim], Output ne=[Dim, vocab] (row t gives token t's logit). Template, when set, is
// written as tokenizer.chat_template.
type LlamaWeights struct {
	Params     LlamaParams
	Vocab      Vocab
	TokenEmbd  []float32
	OutputNorm []float32
	Output     []float32
	Layers     []LayerWeights
	Template   string
}

// SplitMix64 is the PRNG used for random weights and for sampling: Steele, Lea and Flood's
// SplitMix64 (state += 0x9E3779B97F4A7C15, then the variant-13 finaliser). It is tiny, fully
// specified and identical on every platform.
type SplitMix64 struct{ State uint64 }

// Next returns the next 64 random bits.
func (s *SplitMix64) Next() uint64 {
	s.State += 0x9E3779B97F4A7C15
	z := s.State
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// Float32 returns a uniform float32 in [0, 1) with 24 random bits: (Next()>>40) / 2^24.
func (s *SplitMix64) Float32() float32 { return float32(s.Next()>>40) / (1 << 24) }

// Float64 returns a uniform float64 in [0, 1) with 53 random bits: (Next()>>11) / 2^53.
func (s *SplitMix64) Float64() float64 { return float64(s.Next()>>11) / (1 << 53) }

// RandomLlama returns a model with weights drawn from SplitMix64 seeded with seed. Each value is
// (2u-1)*scale with u = Float32(); matrices use scale 1/sqrt(n_in) (so each output starts with
// roughly unit-free variance 1/3, like a uniform Kaiming init), the token embedding scale 1, and
// norm gains 1+0.25*(2u-1) so that the gains are exercised. Values are drawn in the order of the
// LlamaWeights fields: TokenEmbd, then for each layer AttnNorm, Wq, Wk, Wv, Wo, FFNNorm, Gate,
// Down, Up, then OutputNorm and Output.
func RandomLlama(p LlamaParams, v Vocab, seed uint64) *LlamaWeights {
	rng := &SplitMix64{State: seed}
	fill := func(n int, scale float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = (2*rng.Float32() - 1) * scale
		}
		return out
	}
	gain := func(n int) []float32 {
		out := fill(n, 0.25)
		for i := range out {
			out[i] += 1
		}
		return out
	}
	inv := func(n int) float32 { return float32(1 / math.Sqrt(float64(n))) }
	kv := p.KVHeads * (p.Dim / max(p.Heads, 1))
	nv := len(v.Tokens)
	w := &LlamaWeights{Params: p, Vocab: v}
	w.TokenEmbd = fill(p.Dim*nv, 1)
	for range p.Layers {
		var l LayerWeights
		l.AttnNorm = gain(p.Dim)
		l.Wq = fill(p.Dim*p.Dim, inv(p.Dim))
		l.Wk = fill(p.Dim*kv, inv(p.Dim))
		l.Wv = fill(p.Dim*kv, inv(p.Dim))
		l.Wo = fill(p.Dim*p.Dim, inv(p.Dim))
		l.FFNNorm = gain(p.Dim)
		l.Gate = fill(p.Dim*p.FFN, inv(p.Dim))
		l.Down = fill(p.FFN*p.Dim, inv(p.FFN))
		l.Up = fill(p.Dim*p.FFN, inv(p.Dim))
		w.Layers = append(w.Layers, l)
	}
	w.OutputNorm = gain(p.Dim)
	w.Output = fill(p.Dim*nv, inv(p.Dim))
	return w
}

// WriteFile writes the model as a GGUF v3 file at path (created or truncated).
func (w *LlamaWeights) WriteFile(path string) error {
	f, err := os.Create(filepath.Clean(path))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.WriteTo(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tensorSpec is one tensor to write: ggml dims (ne[0] first) and float32 data.
type tensorSpec struct {
	name string
	ne   []uint64
	typ  TensorType
	data []float32
}

// validate checks that every slice has the length its dims require.
func (w *LlamaWeights) validate() error {
	p := w.Params
	if p.Dim <= 0 || p.Layers <= 0 || p.Heads <= 0 || p.KVHeads <= 0 || p.FFN <= 0 || p.Context <= 0 {
		return errors.New("gguf: Dim, Layers, Heads, KVHeads, FFN and Context must be positive")
	}
	if p.Dim%p.Heads != 0 || p.Heads%p.KVHeads != 0 {
		return fmt.Errorf("gguf: Dim %d must divide by Heads %d and Heads by KVHeads %d", p.Dim, p.Heads, p.KVHeads)
	}
	if (p.Dim/p.Heads)%2 != 0 {
		return fmt.Errorf("gguf: head dimension %d must be even for RoPE", p.Dim/p.Heads)
	}
	switch p.Type {
	case F32, F16, Q8_0:
	default:
		return fmt.Errorf("gguf: unsupported weight type %v", p.Type)
	}
	v := w.Vocab
	n := len(v.Tokens)
	if n == 0 || len(v.Scores) != n || len(v.Types) != n {
		return fmt.Errorf("gguf: vocab has %d tokens, %d scores, %d types", n, len(v.Scores), len(v.Types))
	}
	if int(v.BOS) >= n || int(v.EOS) >= n || int(v.UNK) >= n {
		return errors.New("gguf: BOS, EOS or UNK id outside the vocabulary")
	}
	if len(w.Layers) != p.Layers {
		return fmt.Errorf("gguf: %d layers of weights for Layers=%d", len(w.Layers), p.Layers)
	}
	for _, t := range w.tensors() {
		want := uint64(1)
		for _, d := range t.ne {
			want *= d
		}
		if uint64(len(t.data)) != want {
			return fmt.Errorf("gguf: tensor %s has %d values, want %d", t.name, len(t.data), want)
		}
	}
	return nil
}

// tensors lists the model's tensors in file order with llama.cpp's names. Q8_0 needs rows that
// are whole blocks of 32; a matrix whose row length is not (e.g. ffn_down with FFN=172) is stored
// as F16 instead, which is what a quantizer has to do too.
func (w *LlamaWeights) tensors() []tensorSpec {
	p := w.Params
	kv := uint64(p.KVHeads * (p.Dim / p.Heads))
	dim, ffn, nv := uint64(p.Dim), uint64(p.FFN), uint64(len(w.Vocab.Tokens))
	mat := func(name string, in, out uint64, data []float32) tensorSpec {
		t := p.Type
		if t == Q8_0 && in%q8BlockSize != 0 {
			t = F16
		}
		return tensorSpec{name, []uint64{in, out}, t, data}
	}
	vec := func(name string, data []float32) tensorSpec {
		return tensorSpec{name, []uint64{dim}, F32, data}
	}
	ts := []tensorSpec{mat("token_embd.weight", dim, nv, w.TokenEmbd)}
	for i, l := range w.Layers {
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			vec(b+"attn_norm.weight", l.AttnNorm),
			mat(b+"attn_q.weight", dim, dim, l.Wq),
			mat(b+"attn_k.weight", dim, kv, l.Wk),
			mat(b+"attn_v.weight", dim, kv, l.Wv),
			mat(b+"attn_output.weight", dim, dim, l.Wo),
			vec(b+"ffn_norm.weight", l.FFNNorm),
			mat(b+"ffn_gate.weight", dim, ffn, l.Gate),
			mat(b+"ffn_down.weight", ffn, dim, l.Down),
			mat(b+"ffn_up.weight", dim, ffn, l.Up),
		)
	}
	ts = append(ts, vec("output_norm.weight", w.OutputNorm), mat("output.weight", dim, nv, w.Output))
	return ts
}

// WriteTo writes the model as GGUF v3: the llama metadata llama.cpp requires, the SentencePiece
// vocabulary, then the tensors, each aligned to 32 bytes (general.alignment).
func (w *LlamaWeights) WriteTo(out io.Writer) (int64, error) {
	if err := w.validate(); err != nil {
		return 0, err
	}
	p := w.Params
	e := &encoder{}
	ts := w.tensors()
	meta := []func(){
		func() { e.kvString("general.architecture", "llama") },
		func() { e.kvString("general.name", "metis-tiny-llama") },
		func() { e.kvUint32("general.file_type", p.Type.fileType()) },
		func() { e.kvUint32("general.alignment", defaultAlignment) },
		func() { e.kvUint32("llama.context_length", uint32(p.Context)) },
		func() { e.kvUint32("llama.embedding_length", uint32(p.Dim)) },
		func() { e.kvUint32("llama.block_count", uint32(p.Layers)) },
		func() { e.kvUint32("llama.feed_forward_length", uint32(p.FFN)) },
		func() { e.kvUint32("llama.attention.head_count", uint32(p.Heads)) },
		func() { e.kvUint32("llama.attention.head_count_kv", uint32(p.KVHeads)) },
		func() { e.kvUint32("llama.rope.dimension_count", uint32(p.Dim/p.Heads)) },
		func() { e.kvFloat32("llama.attention.layer_norm_rms_epsilon", p.NormEps) },
		func() { e.kvFloat32("llama.rope.freq_base", p.RopeTheta) },
		func() { e.kvUint32("llama.vocab_size", uint32(len(w.Vocab.Tokens))) },
		func() { e.kvString("tokenizer.ggml.model", "llama") },
		func() { e.kvStrings("tokenizer.ggml.tokens", w.Vocab.Tokens) },
		func() { e.kvFloat32s("tokenizer.ggml.scores", w.Vocab.Scores) },
		func() { e.kvInt32s("tokenizer.ggml.token_type", w.Vocab.Types) },
		func() { e.kvUint32("tokenizer.ggml.bos_token_id", w.Vocab.BOS) },
		func() { e.kvUint32("tokenizer.ggml.eos_token_id", w.Vocab.EOS) },
		func() { e.kvUint32("tokenizer.ggml.unknown_token_id", w.Vocab.UNK) },
		func() { e.kvBool("tokenizer.ggml.add_bos_token", true) },
		func() { e.kvBool("tokenizer.ggml.add_eos_token", false) },
		func() { e.kvBool("tokenizer.ggml.add_space_prefix", true) },
	}
	if w.Template != "" {
		meta = append(meta, func() { e.kvString("tokenizer.chat_template", w.Template) })
	}
	e.raw([]byte(ggufMagic))
	e.u32(ggufVersion)
	e.u64(uint64(len(ts)))
	e.u64(uint64(len(meta)))
	for _, m := range meta {
		m()
	}
	// Tensor infos, with offsets relative to the aligned start of the data section.
	var off uint64
	sizes := make([]uint64, len(ts))
	for i, t := range ts {
		sz, err := t.typ.rowBytes(t.ne[0])
		if err != nil {
			return 0, err
		}
		for _, d := range t.ne[1:] {
			sz *= d
		}
		sizes[i] = sz
		e.str(t.name)
		e.u32(uint32(len(t.ne)))
		for _, d := range t.ne {
			e.u64(d)
		}
		e.u32(uint32(t.typ))
		e.u64(off)
		off = alignUp(off+sz, defaultAlignment)
	}
	e.pad(defaultAlignment)
	n, err := out.Write(e.buf.Bytes())
	total := int64(n)
	if err != nil {
		return total, err
	}
	var data []byte
	for i, t := range ts {
		data = data[:0]
		switch t.typ {
		case F32:
			for _, v := range t.data {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
			}
		case F16:
			for _, v := range t.data {
				data = binary.LittleEndian.AppendUint16(data, f32ToF16(v))
			}
		case Q8_0:
			data = quantizeQ8_0(data, t.data)
		}
		if uint64(len(data)) != sizes[i] {
			return total, fmt.Errorf("gguf: internal error: tensor %s encoded to %d bytes, want %d", t.name, len(data), sizes[i])
		}
		// Padding goes between tensors, not after the last one: Ollama's parser reads any bytes
		// after the last tensor as the start of another GGUF and rejects the file.
		if pad := alignUp(sizes[i], defaultAlignment) - sizes[i]; pad > 0 && i < len(ts)-1 {
			data = append(data, make([]byte, pad)...)
		}
		n, err := out.Write(data)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// encoder builds the GGUF header in memory (the header of a small model is small; tensor data is
// streamed separately).
type encoder struct{ buf bytes.Buffer }

func (e *encoder) raw(b []byte) { e.buf.Write(b) }
func (e *encoder) u32(v uint32) { e.buf.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.buf.Write(binary.LittleEndian.AppendUint64(nil, v)) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.buf.WriteString(s) }
func (e *encoder) pad(a int) {
	for e.buf.Len()%a != 0 {
		e.buf.WriteByte(0)
	}
}
func (e *encoder) kvString(k, v string)        { e.str(k); e.u32(typeString); e.str(v) }
func (e *encoder) kvUint32(k string, v uint32) { e.str(k); e.u32(typeUint32); e.u32(v) }
func (e *encoder) kvFloat32(k string, v float32) {
	e.str(k)
	e.u32(typeFloat32)
	e.u32(math.Float32bits(v))
}
func (e *encoder) kvBool(k string, v bool) {
	e.str(k)
	e.u32(typeBool)
	if v {
		e.buf.WriteByte(1)
	} else {
		e.buf.WriteByte(0)
	}
}
func (e *encoder) kvStrings(k string, v []string) {
	e.str(k)
	e.u32(typeArray)
	e.u32(typeString)
	e.u64(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}
func (e *encoder) kvFloat32s(k string, v []float32) {
	e.str(k)
	e.u32(typeArray)
	e.u32(typeFloat32)
	e.u64(uint64(len(v)))
	for _, f := range v {
		e.u32(math.Float32bits(f))
	}
}
func (e *encoder) kvInt32s(k string, v []int32) {
	e.str(k)
	e.u32(typeArray)
	e.u32(typeInt32)
	e.u64(uint64(len(v)))
	for _, x := range v {
		e.u32(uint32(x))
	}
}

// TinyParams are the hyperparameters of the standard test model (with ByteVocab, a few hundred
// KB in F32): dim 64, 2 layers, 4 heads, 2 KV heads, FFN 172, context 256, RoPE base 10000, RMS
// epsilon 1e-5.
func TinyParams(t TensorType) LlamaParams {
	return LlamaParams{Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 172, Context: 256, RopeTheta: 10000, NormEps: 1e-5, Type: t}
}
