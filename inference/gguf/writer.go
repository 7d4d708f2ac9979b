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

// Vocab is a tokenizer vocabulary: SentencePiece ("llama", the default) with merge scores, or
// GPT-2 byte-level BPE ("gpt2") with its pre-tokenizer and ranked merges; token texts and types,
// and the ids of the beginning-of-sequence, end-of-sequence and (SentencePiece) unknown tokens.
type Vocab struct {
	Model  string // "llama" (also when empty) or "gpt2"
	Pre    string // BPE pre-tokenizer (tokenizer.ggml.pre): "llama-bpe" (Llama 3) or "qwen2"
	Tokens []string
	Scores []float32 // SentencePiece merge scores (optional for BPE)
	Types  []int32   // TokenNormal, TokenUnknown, TokenControl, TokenByte, ...
	Merges []string  // BPE merges in rank order, "left right"
	BOS    uint32
	EOS    uint32
	UNK    uint32
}

func (v Vocab) isBPE() bool { return v.Model == "gpt2" }

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

// LlamaParams are the hyperparameters of a llama-family model. Arch is the GGUF architecture,
// "llama" (also when empty) or "qwen2". The head dimension is Dim/Heads; Type is the storage type
// of the 2-D weight matrices (1-D norm weights and biases are always F32, as llama.cpp's quantizer
// keeps them). RopeScaling is the linear RoPE scaling factor (rope.scaling.factor; 0 for none).
type LlamaParams struct {
	Arch                                      string
	Dim, Layers, Heads, KVHeads, FFN, Context int
	RopeTheta, NormEps, RopeScaling           float32
	Type                                      TensorType
}

func (p LlamaParams) arch() string {
	if p.Arch == "" {
		return "llama"
	}
	return p.Arch
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
//	Bq [Dim], Bk, Bv [kv] (blk.N.attn_q.bias, ...) attention biases: required by qwen2, optional
//	                                          for llama (nil: none)
//
// For llama, Wq and Wk are in GGUF's rotary layout (the one llama.cpp's converter produces by
// permuting the Hugging Face weights): RoPE rotates adjacent pairs (x[2i], x[2i+1]) within each
// head. qwen2 rotates (x[i], x[i+hd/2]) (NEOX mode), on the weights as Hugging Face has them.
type LayerWeights struct {
	AttnNorm, Wq, Wk, Wv, Wo, FFNNorm, Gate, Down, Up []float32
	Bq, Bk, Bv                                        []float32
}

// LlamaWeights is a whole llama-family model: TokenEmbd ne=[Dim, vocab] (row t is token t's
// embedding), OutputNorm [Dim], Output ne=[Dim, vocab] (row t gives token t's logit; with
// TiedOutput no output.weight is written and the model reuses TokenEmbd, as llama.cpp does).
// RopeFreqs, for llama, are the headDim/2 divisors of a rope_freqs tensor (Llama 3.1's RoPE
// scaling, see Llama3RopeFreqs). TensorTypes overrides Params.Type for the named tensors (e.g.
// Q6_K for "output.weight" in a Q4_K model, as llama.cpp's Q4_K_M mix does). Template, when set,
// is written as tokenizer.chat_template.
type LlamaWeights struct {
	Params      LlamaParams
	Vocab       Vocab
	TokenEmbd   []float32
	OutputNorm  []float32
	Output      []float32
	TiedOutput  bool
	Layers      []LayerWeights
	RopeFreqs   []float32
	TensorTypes map[string]TensorType
	Template    string

	lazy     bool // weights left nil are drawn from seed while writing (LazyRandomLlama)
	lazySeed uint64
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
// roughly unit-free variance 1/3, like a uniform Kaiming init), the token embedding scale 1,
// biases scale 0.5, and norm gains 1+0.25*(2u-1) so that the gains are exercised. Values are drawn
// in file order: TokenEmbd, then for each layer AttnNorm, Wq, Wk, Wv, Wo, FFNNorm, Gate, Down, Up
// (and for qwen2 Bq, Bk, Bv), then OutputNorm and Output.
func RandomLlama(p LlamaParams, v Vocab, seed uint64) *LlamaWeights {
	w := &LlamaWeights{Params: p, Vocab: v, Layers: make([]LayerWeights, max(p.Layers, 0))}
	rng := &SplitMix64{State: seed}
	for _, t := range w.tensors() {
		if t.draw.scale != 0 {
			*t.field = make([]float32, t.count())
			t.draw.fill(rng, *t.field)
		}
	}
	return w
}

// LazyRandomLlama is RandomLlama without the weights in memory: its weight slices are nil and the
// writer draws them while writing, in the same order, so the file is byte-identical to
// RandomLlama's while memory stays at a few megabytes whatever the model's size. Setting a slice
// (e.g. Output) makes the writer use it instead; the draws of the other tensors do not change.
func LazyRandomLlama(p LlamaParams, v Vocab, seed uint64) *LlamaWeights {
	return &LlamaWeights{Params: p, Vocab: v, Layers: make([]LayerWeights, max(p.Layers, 0)), lazy: true, lazySeed: seed}
}

// drawSpec is how RandomLlama draws a tensor: (2u-1)*scale, plus 1 for gains. A zero scale marks
// a tensor that is not drawn (rope_freqs).
type drawSpec struct {
	scale float32
	gain  bool
}

func (d drawSpec) fill(rng *SplitMix64, out []float32) {
	for i := range out {
		// The explicit conversion rounds the product, so no compiler may fuse it with the + 1.
		v := float32((2*rng.Float32() - 1) * d.scale)
		if d.gain {
			v += 1
		}
		out[i] = v
	}
}

// Llama3RopeFreqs returns the rope_freqs divisors of Llama 3.1's "llama3" RoPE scaling, as the
// Hugging Face to GGUF converter derives them from the rope_scaling config: for each rotary pair i,
// with wavelength λ = 2π·base^(2i/headDim), 1 when λ < origCtx/highFreq, factor when
// λ > origCtx/lowFreq, and in between 1/((1-s)/factor + s) with s = (origCtx/λ - lowFreq)/(highFreq -
// lowFreq). (Llama 3.1: factor 8, lowFreq 1, highFreq 4, origCtx 8192.)
func Llama3RopeFreqs(headDim int, base float64, factor, lowFreq, highFreq float64, origCtx int) []float32 {
	out := make([]float32, headDim/2)
	lowWave, highWave := float64(origCtx)/lowFreq, float64(origCtx)/highFreq
	for i := range out {
		wave := 2 * math.Pi * math.Pow(base, float64(2*i)/float64(headDim))
		switch {
		case wave < highWave:
			out[i] = 1
		case wave > lowWave:
			out[i] = float32(factor)
		default:
			s := (float64(origCtx)/wave - lowFreq) / (highFreq - lowFreq)
			out[i] = float32(1 / ((1-s)/factor + s))
		}
	}
	return out
}

// WriteFile writes the model as a GGUF v3 file at path. It writes a temporary file next to path
// and renames it over path, so a model loaded (memory-mapped) from the old file keeps its weights.
func (w *LlamaWeights) WriteFile(path string) error {
	path = filepath.Clean(path)
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.WriteTo(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	ok = true
	return nil
}

// tensorSpec is one tensor to write: its name, ggml dims (ne[0] first), storage type, where its
// float32 values live, and how RandomLlama draws them.
type tensorSpec struct {
	name  string
	ne    []uint64
	typ   TensorType
	field *[]float32
	draw  drawSpec
}

func (t tensorSpec) count() int {
	n := 1
	for _, d := range t.ne {
		n *= int(d)
	}
	return n
}

// weightTypes are the tensor types the writer can encode.
var weightTypes = map[TensorType]bool{F32: true, F16: true, Q8_0: true, Q4_0: true, Q4_K: true, Q5_K: true, Q6_K: true}

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
	if _, ok := archs[p.arch()]; !ok {
		return fmt.Errorf("gguf: unsupported architecture %q", p.Arch)
	}
	if !weightTypes[p.Type] {
		return fmt.Errorf("gguf: unsupported weight type %v", p.Type)
	}
	for name, t := range w.TensorTypes {
		if !weightTypes[t] {
			return fmt.Errorf("gguf: unsupported weight type %v for %s", t, name)
		}
	}
	v := w.Vocab
	n := len(v.Tokens)
	if n == 0 || len(v.Types) != n || (len(v.Scores) != n && !(v.isBPE() && len(v.Scores) == 0)) {
		return fmt.Errorf("gguf: vocab has %d tokens, %d scores, %d types", n, len(v.Scores), len(v.Types))
	}
	if v.Model != "" && v.Model != "llama" && v.Model != "gpt2" {
		return fmt.Errorf("gguf: unsupported tokenizer model %q", v.Model)
	}
	if int(v.BOS) >= n || int(v.EOS) >= n || int(v.UNK) >= n {
		return errors.New("gguf: BOS, EOS or UNK id outside the vocabulary")
	}
	if len(w.Layers) != p.Layers {
		return fmt.Errorf("gguf: %d layers of weights for Layers=%d", len(w.Layers), p.Layers)
	}
	if w.RopeFreqs != nil && (p.arch() != "llama" || len(w.RopeFreqs) != p.Dim/p.Heads/2) {
		return fmt.Errorf("gguf: rope_freqs needs the llama architecture and head dim/2 = %d values, got %d", p.Dim/p.Heads/2, len(w.RopeFreqs))
	}
	for _, t := range w.tensors() {
		if *t.field == nil && w.lazy && t.draw.scale != 0 {
			continue // drawn while writing
		}
		if len(*t.field) != t.count() {
			return fmt.Errorf("gguf: tensor %s has %d values, want %d", t.name, len(*t.field), t.count())
		}
	}
	return nil
}

// tensors lists the model's tensors in file order with llama.cpp's names.
func (w *LlamaWeights) tensors() []tensorSpec {
	p := w.Params
	kv := uint64(p.KVHeads * (p.Dim / p.Heads))
	dim, ffn, nv := uint64(p.Dim), uint64(p.FFN), uint64(len(w.Vocab.Tokens))
	inv := func(n uint64) float32 { return float32(1 / math.Sqrt(float64(n))) }
	mat := func(name string, in, out uint64, field *[]float32) tensorSpec {
		return tensorSpec{name, []uint64{in, out}, w.typeFor(name, in), field, drawSpec{scale: inv(in)}}
	}
	vec := func(name string, n uint64, field *[]float32, d drawSpec) tensorSpec {
		return tensorSpec{name, []uint64{n}, F32, field, d}
	}
	gain := drawSpec{scale: 0.25, gain: true}
	ts := []tensorSpec{mat("token_embd.weight", dim, nv, &w.TokenEmbd)}
	ts[0].draw.scale = 1
	bias := w.Params.arch() == "qwen2"
	for i := range w.Layers {
		l := &w.Layers[i]
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			vec(b+"attn_norm.weight", dim, &l.AttnNorm, gain),
			mat(b+"attn_q.weight", dim, dim, &l.Wq),
			mat(b+"attn_k.weight", dim, kv, &l.Wk),
			mat(b+"attn_v.weight", dim, kv, &l.Wv),
			mat(b+"attn_output.weight", dim, dim, &l.Wo),
			vec(b+"ffn_norm.weight", dim, &l.FFNNorm, gain),
			mat(b+"ffn_gate.weight", dim, ffn, &l.Gate),
			mat(b+"ffn_down.weight", ffn, dim, &l.Down),
			mat(b+"ffn_up.weight", dim, ffn, &l.Up),
		)
		if bias || l.Bq != nil {
			half := drawSpec{scale: 0.5}
			ts = append(ts, vec(b+"attn_q.bias", dim, &l.Bq, half), vec(b+"attn_k.bias", kv, &l.Bk, half), vec(b+"attn_v.bias", kv, &l.Bv, half))
		}
	}
	ts = append(ts, vec("output_norm.weight", dim, &w.OutputNorm, gain))
	if !w.TiedOutput {
		ts = append(ts, mat("output.weight", dim, nv, &w.Output))
	}
	if w.RopeFreqs != nil {
		ts = append(ts, vec("rope_freqs.weight", uint64(len(w.RopeFreqs)), &w.RopeFreqs, drawSpec{}))
	}
	return ts
}

// typeFor is the storage type of a matrix: TensorTypes[name], else Params.Type; a quantized type
// whose blocks do not divide the row length n falls back to Q8_0 (blocks of 32) or F16, as a
// quantizer must.
func (w *LlamaWeights) typeFor(name string, n uint64) TensorType {
	t, ok := w.TensorTypes[name]
	if !ok {
		t = w.Params.Type
	}
	if e := uint64(blockElems(t)); e > 1 && n%e != 0 {
		if n%q8BlockSize == 0 {
			return Q8_0
		}
		return F16
	}
	return t
}

// fileType is general.file_type for a model whose matrices are mostly of type t (llama.cpp's
// llama_ftype: ALL_F32=0, MOSTLY_F16=1, MOSTLY_Q4_0=2, MOSTLY_Q8_0=7, MOSTLY_Q4_K_M=15,
// MOSTLY_Q5_K_M=17, MOSTLY_Q6_K=18).
func fileType(t TensorType) uint32 {
	return map[TensorType]uint32{F16: 1, Q4_0: 2, Q8_0: 7, Q4_K: 15, Q5_K: 17, Q6_K: 18}[t]
}

// encodeTensor appends the encoding of x in type t.
func encodeTensor(dst []byte, t TensorType, x []float32) []byte {
	switch t {
	case F32:
		for _, v := range x {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		}
	case F16:
		for _, v := range x {
			dst = binary.LittleEndian.AppendUint16(dst, f32ToF16(v))
		}
	case Q8_0:
		dst = quantizeQ8_0(dst, x)
	case Q4_0:
		dst = quantizeQ4_0(dst, x)
	case Q4_K:
		dst = quantizeKMin(dst, x, 15)
	case Q5_K:
		dst = quantizeKMin(dst, x, 31)
	case Q6_K:
		dst = quantizeQ6_K(dst, x)
	}
	return dst
}

// WriteTo writes the model as GGUF v3: the metadata llama.cpp requires for the architecture and
// tokenizer, then the tensors, each aligned to 32 bytes (general.alignment). Tensors are encoded a
// block of rows at a time, so a lazily drawn model of any size is written in constant memory.
func (w *LlamaWeights) WriteTo(out io.Writer) (int64, error) {
	if err := w.validate(); err != nil {
		return 0, err
	}
	p := w.Params
	arch := p.arch()
	v := w.Vocab
	e := &encoder{}
	ts := w.tensors()
	key := func(k string) string { return arch + "." + k }
	meta := []func(){
		func() { e.kvString("general.architecture", arch) },
		func() { e.kvString("general.name", "metis-tiny-"+arch) },
		func() { e.kvUint32("general.file_type", fileType(p.Type)) },
		func() { e.kvUint32("general.alignment", defaultAlignment) },
		func() { e.kvUint32(key("context_length"), uint32(p.Context)) },
		func() { e.kvUint32(key("embedding_length"), uint32(p.Dim)) },
		func() { e.kvUint32(key("block_count"), uint32(p.Layers)) },
		func() { e.kvUint32(key("feed_forward_length"), uint32(p.FFN)) },
		func() { e.kvUint32(key("attention.head_count"), uint32(p.Heads)) },
		func() { e.kvUint32(key("attention.head_count_kv"), uint32(p.KVHeads)) },
		func() { e.kvUint32(key("rope.dimension_count"), uint32(p.Dim/p.Heads)) },
		func() { e.kvFloat32(key("attention.layer_norm_rms_epsilon"), p.NormEps) },
		func() { e.kvFloat32(key("rope.freq_base"), p.RopeTheta) },
	}
	if p.RopeScaling != 0 {
		meta = append(meta,
			func() { e.kvString(key("rope.scaling.type"), "linear") },
			func() { e.kvFloat32(key("rope.scaling.factor"), p.RopeScaling) })
	}
	meta = append(meta, func() { e.kvUint32(key("vocab_size"), uint32(len(v.Tokens))) })
	if v.isBPE() {
		addBOS := v.Pre == "llama-bpe"
		meta = append(meta,
			func() { e.kvString("tokenizer.ggml.model", "gpt2") },
			func() { e.kvString("tokenizer.ggml.pre", v.Pre) },
			func() { e.kvStrings("tokenizer.ggml.tokens", v.Tokens) })
		if len(v.Scores) > 0 {
			meta = append(meta, func() { e.kvFloat32s("tokenizer.ggml.scores", v.Scores) })
		}
		meta = append(meta,
			func() { e.kvInt32s("tokenizer.ggml.token_type", v.Types) },
			func() { e.kvStrings("tokenizer.ggml.merges", v.Merges) },
			func() { e.kvUint32("tokenizer.ggml.bos_token_id", v.BOS) },
			func() { e.kvUint32("tokenizer.ggml.eos_token_id", v.EOS) },
			func() { e.kvBool("tokenizer.ggml.add_bos_token", addBOS) },
			func() { e.kvBool("tokenizer.ggml.add_eos_token", false) })
	} else {
		meta = append(meta,
			func() { e.kvString("tokenizer.ggml.model", "llama") },
			func() { e.kvStrings("tokenizer.ggml.tokens", v.Tokens) },
			func() { e.kvFloat32s("tokenizer.ggml.scores", v.Scores) },
			func() { e.kvInt32s("tokenizer.ggml.token_type", v.Types) },
			func() { e.kvUint32("tokenizer.ggml.bos_token_id", v.BOS) },
			func() { e.kvUint32("tokenizer.ggml.eos_token_id", v.EOS) },
			func() { e.kvUint32("tokenizer.ggml.unknown_token_id", v.UNK) },
			func() { e.kvBool("tokenizer.ggml.add_bos_token", true) },
			func() { e.kvBool("tokenizer.ggml.add_eos_token", false) },
			func() { e.kvBool("tokenizer.ggml.add_space_prefix", true) })
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
	rng := &SplitMix64{State: w.lazySeed}
	var data []byte
	var buf []float32
	for i, t := range ts {
		src := *t.field
		count, row := t.count(), int(t.ne[0])
		if src != nil && w.lazy && t.draw.scale != 0 {
			rng.State += uint64(count) * 0x9E3779B97F4A7C15 // skip the draws the given values replace
		}
		written := 0
		// About a million values at a time, in whole rows.
		step := max(1, (1<<20)/row) * row
		for start := 0; start < count; start += step {
			chunk := min(step, count-start)
			var x []float32
			if src != nil {
				x = src[start : start+chunk]
			} else {
				if cap(buf) < chunk {
					buf = make([]float32, chunk)
				}
				x = buf[:chunk]
				t.draw.fill(rng, x)
			}
			data = encodeTensor(data[:0], t.typ, x)
			written += len(data)
			n, err := out.Write(data)
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
		if uint64(written) != sizes[i] {
			return total, fmt.Errorf("gguf: internal error: tensor %s encoded to %d bytes, want %d", t.name, written, sizes[i])
		}
		// Padding goes between tensors, not after the last one: Ollama's parser reads any bytes
		// after the last tensor as the start of another GGUF and rejects the file.
		if pad := alignUp(sizes[i], defaultAlignment) - sizes[i]; pad > 0 && i < len(ts)-1 {
			n, err := out.Write(make([]byte, pad))
			total += int64(n)
			if err != nil {
				return total, err
			}
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
