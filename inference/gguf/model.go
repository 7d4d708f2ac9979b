package gguf

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Model is a loaded llama-architecture model: hyperparameters, weights in their stored types, and
// the tokenizer. It is immutable and safe for concurrent use; each run keeps its own KV cache.
type Model struct {
	Params  LlamaParams
	Vocab   *Tokenizer
	Digest  string // "sha256:" + hex of the file's bytes
	headDim int
	kvDim   int

	tokenEmbd  *matrix
	outputNorm []float32
	output     *matrix
	layers     []layer
	// ropeScale is theta_scale = RopeTheta^(-2/headDim) as llama.cpp computes it (powf).
	ropeScale float32
	template  string
}

type layer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    *matrix
	gate, down, up    *matrix
}

// matrix is a weight matrix in ggml layout: out rows of in contiguous elements, kept in its
// stored type (only one of the slices is set).
type matrix struct {
	typ     TensorType
	in, out int
	f32     []float32
	f16     []uint16
	q8d     []float32 // Q8_0 block scales, already widened from f16
	q8q     []int8    // Q8_0 quants
}

// loadModel builds a Model from a parsed file, checking every tensor's presence, type and shape.
func loadModel(f *File) (*Model, error) {
	if a, _ := f.String("general.architecture"); a != "llama" {
		return nil, fmt.Errorf("gguf: architecture %q is not supported (only llama)", a)
	}
	u := func(key string) (int, error) {
		v, ok := f.Uint("llama." + key)
		if !ok || v == 0 || v > 1<<24 {
			return 0, fmt.Errorf("gguf: missing or invalid llama.%s", key)
		}
		return int(v), nil
	}
	var p LlamaParams
	var err error
	for _, kv := range []struct {
		key string
		dst *int
	}{{"embedding_length", &p.Dim}, {"block_count", &p.Layers}, {"attention.head_count", &p.Heads},
		{"feed_forward_length", &p.FFN}, {"context_length", &p.Context}} {
		if *kv.dst, err = u(kv.key); err != nil {
			return nil, err
		}
	}
	p.KVHeads = p.Heads
	if _, ok := f.Get("llama.attention.head_count_kv"); ok {
		if p.KVHeads, err = u("attention.head_count_kv"); err != nil {
			return nil, err
		}
	}
	if p.Dim%p.Heads != 0 || p.Heads%p.KVHeads != 0 || (p.Dim/p.Heads)%2 != 0 {
		return nil, fmt.Errorf("gguf: inconsistent shape: dim %d, heads %d, kv heads %d", p.Dim, p.Heads, p.KVHeads)
	}
	if rd, ok := f.Uint("llama.rope.dimension_count"); ok && rd != uint64(p.Dim/p.Heads) {
		return nil, fmt.Errorf("gguf: partial rotary embeddings (rope.dimension_count %d != head dim %d) are not supported", rd, p.Dim/p.Heads)
	}
	p.RopeTheta = 10000
	if v, ok := f.Float("llama.rope.freq_base"); ok {
		p.RopeTheta = v
	}
	if !(p.RopeTheta > 0) || math.IsInf(float64(p.RopeTheta), 0) {
		return nil, fmt.Errorf("gguf: invalid rope.freq_base %v", p.RopeTheta)
	}
	p.NormEps = 1e-5
	if v, ok := f.Float("llama.attention.layer_norm_rms_epsilon"); ok {
		p.NormEps = v
	}
	if _, ok := f.Get("llama.rope.scaling.type"); ok {
		if s, _ := f.String("llama.rope.scaling.type"); s != "none" && s != "" {
			return nil, fmt.Errorf("gguf: rope scaling %q is not supported", s)
		}
	}
	tok, err := newTokenizer(f)
	if err != nil {
		return nil, err
	}
	m := &Model{Params: p, Vocab: tok, headDim: p.Dim / p.Heads}
	m.kvDim = p.KVHeads * m.headDim
	m.template, _ = f.String("tokenizer.chat_template")
	nv := len(tok.tokens)
	if m.tokenEmbd, err = loadMatrix(f, "token_embd.weight", p.Dim, nv); err != nil {
		return nil, err
	}
	m.Params.Type = m.tokenEmbd.typ
	if m.outputNorm, err = loadVector(f, "output_norm.weight", p.Dim); err != nil {
		return nil, err
	}
	if _, _, ok := f.Tensor("output.weight"); ok {
		if m.output, err = loadMatrix(f, "output.weight", p.Dim, nv); err != nil {
			return nil, err
		}
	} else {
		m.output = m.tokenEmbd // tied embeddings, as llama.cpp falls back to
	}
	for i := range p.Layers {
		b := fmt.Sprintf("blk.%d.", i)
		var l layer
		for _, t := range []struct {
			name    string
			in, out int
			dst     **matrix
		}{{"attn_q", p.Dim, p.Dim, &l.wq}, {"attn_k", p.Dim, m.kvDim, &l.wk}, {"attn_v", p.Dim, m.kvDim, &l.wv},
			{"attn_output", p.Dim, p.Dim, &l.wo}, {"ffn_gate", p.Dim, p.FFN, &l.gate},
			{"ffn_down", p.FFN, p.Dim, &l.down}, {"ffn_up", p.Dim, p.FFN, &l.up}} {
			if *t.dst, err = loadMatrix(f, b+t.name+".weight", t.in, t.out); err != nil {
				return nil, err
			}
		}
		if l.attnNorm, err = loadVector(f, b+"attn_norm.weight", p.Dim); err != nil {
			return nil, err
		}
		if l.ffnNorm, err = loadVector(f, b+"ffn_norm.weight", p.Dim); err != nil {
			return nil, err
		}
		m.layers = append(m.layers, l)
	}
	m.ropeScale = powf(p.RopeTheta, -2/float32(m.headDim))
	return m, nil
}

func loadMatrix(f *File, name string, in, out int) (*matrix, error) {
	info, raw, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: missing tensor %s", name)
	}
	if len(info.Dims) != 2 || info.Dims[0] != uint64(in) || info.Dims[1] != uint64(out) {
		return nil, fmt.Errorf("gguf: tensor %s has dims %v, want [%d %d]", name, info.Dims, in, out)
	}
	m := &matrix{typ: info.Type, in: in, out: out}
	n := in * out
	switch info.Type {
	case F32:
		m.f32 = dequantize(F32, raw, n)
	case F16:
		m.f16 = make([]uint16, n)
		for i := range m.f16 {
			m.f16[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
		}
	case Q8_0:
		nb := n / q8BlockSize
		m.q8d = make([]float32, nb)
		m.q8q = make([]int8, n)
		for b := range nb {
			blk := raw[b*q8BlockBytes : (b+1)*q8BlockBytes]
			m.q8d[b] = f16ToF32(uint16(blk[0]) | uint16(blk[1])<<8)
			for j := range q8BlockSize {
				m.q8q[b*q8BlockSize+j] = int8(blk[2+j])
			}
		}
	default:
		return nil, fmt.Errorf("gguf: tensor %s has type %v; the engine runs F32, F16 and Q8_0", name, info.Type)
	}
	return m, nil
}

func loadVector(f *File, name string, n int) ([]float32, error) {
	info, raw, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: missing tensor %s", name)
	}
	if len(info.Dims) != 1 || info.Dims[0] != uint64(n) {
		return nil, fmt.Errorf("gguf: tensor %s has dims %v, want [%d]", name, info.Dims, n)
	}
	if info.Type != F32 && info.Type != F16 {
		return nil, fmt.Errorf("gguf: tensor %s has type %v, want F32 or F16", name, info.Type)
	}
	return dequantize(info.Type, raw, n), nil
}

// row returns row r of the matrix as float32s (used for the token embedding lookup, which llama.cpp
// does with get_rows: a plain dequantization).
func (m *matrix) row(r int) []float32 {
	out := make([]float32, m.in)
	switch m.typ {
	case F32:
		copy(out, m.f32[r*m.in:])
	case F16:
		for i := range out {
			out[i] = f16ToF32(m.f16[r*m.in+i])
		}
	case Q8_0:
		for i := range out {
			j := r*m.in + i
			out[i] = float32(m.q8d[j/q8BlockSize] * float32(m.q8q[j]))
		}
	}
	return out
}

// Arithmetic rules (the heart of bit-exactness; docs/gguf.md has the rationale):
//
//   - Every dot product runs in one fixed order: eight float32 accumulators over indices j mod 8,
//     combined as ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)), then the remaining j < n sequentially.
//   - Every product is converted explicitly, float32(a*b), so no compiler may fuse it with the add.
//   - Work is split across goroutines only by output row; a row is always computed by one
//     goroutine with the code above, so GOMAXPROCS cannot change any bit.
//   - Activations are rounded like llama.cpp's CPU backend rounds them: to f16 before a dot with
//     F16 weights, to Q8_0 blocks (exact integer block sums) before a dot with Q8_0 weights.

func dotF32(w, x []float32) float32 {
	n := len(x)
	w = w[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	j := 0
	for ; j+8 <= n; j += 8 {
		a := w[j : j+8 : j+8]
		b := x[j : j+8 : j+8]
		s0 += float32(a[0] * b[0])
		s1 += float32(a[1] * b[1])
		s2 += float32(a[2] * b[2])
		s3 += float32(a[3] * b[3])
		s4 += float32(a[4] * b[4])
		s5 += float32(a[5] * b[5])
		s6 += float32(a[6] * b[6])
		s7 += float32(a[7] * b[7])
	}
	s := ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
	for ; j < n; j++ {
		s += float32(w[j] * x[j])
	}
	return s
}

// dotF16 is dotF32 with the weights in f16 (x already rounded to f16 values, so every product is
// exact in float32).
func dotF16(w []uint16, x []float32) float32 {
	n := len(x)
	w = w[:n]
	t := f16Table
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	j := 0
	for ; j+8 <= n; j += 8 {
		a := w[j : j+8 : j+8]
		b := x[j : j+8 : j+8]
		s0 += float32(t[a[0]] * b[0])
		s1 += float32(t[a[1]] * b[1])
		s2 += float32(t[a[2]] * b[2])
		s3 += float32(t[a[3]] * b[3])
		s4 += float32(t[a[4]] * b[4])
		s5 += float32(t[a[5]] * b[5])
		s6 += float32(t[a[6]] * b[6])
		s7 += float32(t[a[7]] * b[7])
	}
	s := ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
	for ; j < n; j++ {
		s += float32(t[w[j]] * x[j])
	}
	return s
}

// dotQ8 sums block by block: the block's integer dot product (exact), times the product of the two
// scales, accumulated in float32 in block order (ggml's reference vec_dot_q8_0_q8_0).
func dotQ8(d []float32, q []int8, x []q8Block) float32 {
	var s float32
	for b := range x {
		qs := q[b*q8BlockSize : (b+1)*q8BlockSize : (b+1)*q8BlockSize]
		xs := &x[b].qs
		var isum int32
		for j := range q8BlockSize {
			isum += int32(qs[j]) * int32(xs[j])
		}
		s += float32(float32(isum) * float32(d[b]*x[b].d))
	}
	return s
}

// parallelMin is the matrix size (in multiply-adds) below which a matmul runs on one goroutine:
// starting goroutines costs more than it saves on the tiny test models.
const parallelMin = 1 << 16

// mul computes dst[i] = W_i · x for every output row i.
func (m *matrix) mul(dst, x []float32) {
	var xr []float32
	var xq []q8Block
	switch m.typ {
	case F32:
		xr = x
	case F16:
		xr = make([]float32, len(x))
		for i, v := range x {
			xr[i] = f16ToF32(f32ToF16(v))
		}
	case Q8_0:
		xq = make([]q8Block, len(x)/q8BlockSize)
		quantizeActQ8_0(xq, x)
	}
	rows := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			switch m.typ {
			case F32:
				dst[i] = dotF32(m.f32[i*m.in:(i+1)*m.in], xr)
			case F16:
				dst[i] = dotF16(m.f16[i*m.in:(i+1)*m.in], xr)
			case Q8_0:
				nb := m.in / q8BlockSize
				dst[i] = dotQ8(m.q8d[i*nb:(i+1)*nb], m.q8q[i*m.in:(i+1)*m.in], xq)
			}
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if workers == 1 || m.in*m.out < parallelMin {
		rows(0, m.out)
		return
	}
	var wg sync.WaitGroup
	chunk := (m.out + workers - 1) / workers
	for lo := 0; lo < m.out; lo += chunk {
		hi := min(lo+chunk, m.out)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows(lo, hi)
		}()
	}
	wg.Wait()
}

// rmsNorm writes x / sqrt(mean(x²) + eps) * w into dst, with ggml's rounding: squares in float32,
// summed in float64, mean and scale in float32, then the gain multiplied separately.
func rmsNorm(dst, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(float32(v * v))
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps))) // sqrt is correctly rounded everywhere
	for i, v := range x {
		dst[i] = float32(v*scale) * w[i]
	}
}

// rope rotates adjacent pairs (x[2i], x[2i+1]) of each head by pos·θ^i, llama.cpp's NORM mode,
// with θ^i accumulated by repeated float32 multiplication as ggml_rope_cache_init does.
func (m *Model) rope(x []float32, pos int, heads int) {
	hd := m.headDim
	cs := make([]float32, hd)
	theta := float32(pos)
	for i := 0; i < hd; i += 2 {
		cs[i], cs[i+1] = sincosf(theta)
		theta *= m.ropeScale
	}
	for h := range heads {
		v := x[h*hd : (h+1)*hd]
		for i := 0; i < hd; i += 2 {
			sin, cos := cs[i], cs[i+1]
			x0, x1 := v[i], v[i+1]
			v[i] = float32(x0*cos) - float32(x1*sin)
			v[i+1] = float32(x0*sin) + float32(x1*cos)
		}
	}
}

// kvCache holds one layer's keys and values as f16 bit patterns, as llama.cpp's default f16 cache
// does: row p is position p, kvDim wide.
type kvCache struct {
	k, v []uint16
}

// layerForward runs transformer block l for the token at position pos: x is the residual stream
// (updated in place) and c the layer's cache, whose rows 0..pos-1 must be filled; row pos is
// written. It is the unit of the trace: ReplayStep calls exactly this function.
func (m *Model) layerForward(l int, pos int, x []float32, c *kvCache) {
	p := m.Params
	ly := &m.layers[l]
	hd, kvd := m.headDim, m.kvDim
	xb := make([]float32, p.Dim)
	rmsNorm(xb, x, ly.attnNorm, p.NormEps)
	q := make([]float32, p.Dim)
	k := make([]float32, kvd)
	v := make([]float32, kvd)
	ly.wq.mul(q, xb)
	ly.wk.mul(k, xb)
	ly.wv.mul(v, xb)
	m.rope(q, pos, p.Heads)
	m.rope(k, pos, p.KVHeads)
	for i := range kvd {
		c.k[pos*kvd+i] = f32ToF16(k[i])
		c.v[pos*kvd+i] = f32ToF16(v[i])
	}
	// Attention, mirroring llama.cpp without flash attention: q rounded to f16 for the dot with
	// the f16 keys, scores scaled by 1/sqrt(hd) and softmaxed in float32 with a float64 sum, the
	// probabilities rounded to f16 for the weighted sum of the f16 values.
	kqScale := 1 / float32(math.Sqrt(float64(hd)))
	group := p.Heads / p.KVHeads
	att := make([]float32, p.Dim)
	scores := make([]float32, pos+1)
	q16 := make([]float32, hd)
	for h := range p.Heads {
		g := h / group
		for i := range hd {
			q16[i] = f16ToF32(f32ToF16(q[h*hd+i]))
		}
		maxv := float32(math.Inf(-1))
		for t := 0; t <= pos; t++ {
			s := float32(dotF16(c.k[t*kvd+g*hd:t*kvd+(g+1)*hd], q16) * kqScale)
			scores[t] = s
			maxv = max(maxv, s)
		}
		var sum float64
		for t := range scores {
			e := expf(scores[t] - maxv)
			scores[t] = e
			sum += float64(e)
		}
		inv := float32(1 / sum)
		out := att[h*hd : (h+1)*hd]
		for t := range scores {
			pt := f16ToF32(f32ToF16(scores[t] * inv))
			vr := c.v[t*kvd+g*hd : t*kvd+(g+1)*hd]
			for i := range out {
				out[i] += float32(pt * f16ToF32(vr[i]))
			}
		}
	}
	ly.wo.mul(xb, att)
	for i := range x {
		x[i] += xb[i]
	}
	// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
	rmsNorm(xb, x, ly.ffnNorm, p.NormEps)
	gate := make([]float32, p.FFN)
	up := make([]float32, p.FFN)
	ly.gate.mul(gate, xb)
	ly.up.mul(up, xb)
	for i, g := range gate {
		gate[i] = g / (1 + expf(-g)) * up[i]
	}
	ly.down.mul(xb, gate)
	for i := range x {
		x[i] += xb[i]
	}
}

// logits applies the final norm and the output matrix to the residual stream.
func (m *Model) logits(x []float32) []float32 {
	xb := make([]float32, len(x))
	rmsNorm(xb, x, m.outputNorm, m.Params.NormEps)
	out := make([]float32, m.output.out)
	m.output.mul(out, xb)
	return out
}

// embed returns token t's embedding row.
func (m *Model) embed(t uint32) ([]float32, error) {
	if int(t) >= m.tokenEmbd.out {
		return nil, errors.New("gguf: token id outside the vocabulary")
	}
	return m.tokenEmbd.row(int(t)), nil
}
