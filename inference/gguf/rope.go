package gguf

// ropeParams are a model's rotary position embedding, as llama.cpp's ggml_rope_ext computes it with
// ext_factor 0 and attention factor 1 (no YaRN): for rotation pair i of a head, the angle is
//
//	θ_i = freqScale · (pos · thetaScale^i / freqs[i])
//
// where pos · thetaScale^i is accumulated by repeated float32 multiplication from pos
// (ggml_rope_cache_init), thetaScale = base^(-2/headDim) (powf), freqs are the per-pair divisors
// of a rope_freqs tensor (Llama 3.1's "llama3" scaling; nil means 1), and freqScale is
// 1/rope.scaling.factor for linear scaling (else 1). NORM mode (llama) rotates the adjacent pairs
// (x[2i], x[2i+1]); NEOX mode (qwen2) rotates (x[i], x[i+headDim/2]).
type ropeParams struct {
	thetaScale float32
	freqScale  float32
	freqs      []float32
	neox       bool
}

// rope rotates each of the heads of x (heads × headDim values) for position pos.
func (m *Model) rope(x []float32, pos int, heads int) {
	hd := m.headDim
	r := &m.rotary
	cs := make([]float32, hd) // cos, sin of pair i at cs[2i], cs[2i+1]
	theta := float32(pos)
	for i := 0; i < hd; i += 2 {
		t := theta
		if r.freqs != nil {
			t /= r.freqs[i/2]
		}
		cs[i+1], cs[i] = sincosf(float32(r.freqScale * t))
		theta *= r.thetaScale
	}
	half := hd / 2
	for h := range heads {
		v := x[h*hd : (h+1)*hd]
		for i := 0; i < hd; i += 2 {
			cos, sin := cs[i], cs[i+1]
			a, b := i, i+1
			if r.neox {
				a, b = i/2, i/2+half
			}
			x0, x1 := v[a], v[b]
			v[a] = float32(x0*cos) - float32(x1*sin)
			v[b] = float32(x0*sin) + float32(x1*cos)
		}
	}
}

// addBias adds a bias vector (ggml_add); a nil bias is no bias.
func addBias(x, b []float32) {
	if b == nil {
		return
	}
	for i := range x {
		x[i] += b[i]
	}
}
