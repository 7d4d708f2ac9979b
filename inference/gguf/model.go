package gguf

import (
	"errors"
	"math"
)

// Model is a loaded model of the llama family (architectures llama and qwen2): hyperparameters,
// weights in their stored types (views of the memory-mapped file), and the tokenizer. It is
// immutable and safe for concurrent use; each run keeps its own KV cache.
type Model struct {
	Params  LlamaParams
	Vocab   *Tokenizer
	headDim int
	kvDim   int

	tokenEmbd  *matrix
	outputNorm []float32
	output     *matrix
	layers     []layer
	rotary     ropeParams
	template   string
	file       *mappedFile
}

type layer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    *matrix
	bq, bk, bv, bo    []float32 // attention biases: nil when the file has none (qwen2 has q, k, v)
	gate, down, up    *matrix
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
	addBias(q, ly.bq)
	addBias(k, ly.bk)
	addBias(v, ly.bv)
	m.rope(q, pos, p.Heads)
	m.rope(k, pos, p.KVHeads)
	for i := range kvd {
		c.k[pos*kvd+i] = f32ToF16(k[i])
		c.v[pos*kvd+i] = f32ToF16(v[i])
	}
	// Attention, mirroring llama.cpp without flash attention: q rounded to f16 for the dot with
	// the f16 keys, scores scaled by 1/sqrt(hd) and softmaxed (softmaxF16), the probabilities
	// rounded to f16 for the weighted sum of the f16 values; both dot products sum in float64 as
	// ggml's ggml_vec_dot_f16 does (dotF16, weightedValues).
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
		softmaxF16(scores, maxv)
		weightedValues(att[h*hd:(h+1)*hd], scores, c.v, kvd, g*hd)
	}
	ly.wo.mul(xb, att)
	addBias(xb, ly.bo)
	for i := range x {
		x[i] += xb[i]
	}
	// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
	rmsNorm(xb, x, ly.ffnNorm, p.NormEps)
	gate := make([]float32, p.FFN)
	up := make([]float32, p.FFN)
	ly.gate.mul(gate, xb)
	ly.up.mul(up, xb)
	swiglu(gate, up)
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
