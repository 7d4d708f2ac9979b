package gguf

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"sync"
)

// Load opens the GGUF model at path. The file is memory-mapped, not read: opening a model of
// several gigabytes parses its header and tensor table and touches no weights, which the operating
// system then pages in as the first runs read them (and may page out again under memory pressure).
// The mapping lives until Close. The file must not be modified in place while the model is loaded
// (replace it by renaming a new file over it, as WriteFile does): a mapped file that is truncated
// or rewritten under a running model changes or removes the weights it is reading.
func Load(path string) (*Model, error) {
	mf, err := mapFile(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	m, err := loadMapped(mf)
	if err != nil {
		mf.close()
		return nil, err
	}
	return m, nil
}

// LoadBytes loads a model from the bytes of a GGUF file, which it keeps (the weights are views of
// b, so b must not be modified while the model is in use).
func LoadBytes(b []byte) (*Model, error) {
	return loadMapped(&mappedFile{data: b})
}

func loadMapped(mf *mappedFile) (*Model, error) {
	f, err := Read(mf.data)
	if err != nil {
		return nil, err
	}
	m, err := loadModel(f)
	if err != nil {
		return nil, err
	}
	m.file = mf
	return m, nil
}

// mappedFile is a model file's bytes: a read-only memory mapping (Load) or a caller's slice
// (LoadBytes). The digest is computed on first use, so that opening a large model stays instant.
type mappedFile struct {
	data   []byte
	unmap  func() error
	once   sync.Once
	digest string
}

func (mf *mappedFile) close() error {
	if mf.unmap == nil {
		return nil
	}
	err := mf.unmap()
	mf.unmap, mf.data = nil, nil
	return err
}

// Digest is "sha256:" + hex of the model file's bytes. It hashes the whole file on first call
// (about a second per 2 GB) and remembers the result.
func (m *Model) Digest() string {
	mf := m.file
	mf.once.Do(func() {
		sum := sha256.Sum256(mf.data)
		mf.digest = "sha256:" + hex.EncodeToString(sum[:])
	})
	return mf.digest
}

// Close unmaps the model's file. The model, and any trace or run still using it, must not be used
// afterwards. Models that are never closed keep their mapping for the life of the process (it
// costs address space; the pages are the operating system's cache of the file).
func (m *Model) Close() error { return m.file.close() }

// arch describes what an architecture adds to the llama layout.
type arch struct {
	neox     bool // rotary pairs are (i, i+headDim/2) rather than (2i, 2i+1)
	qkvBias  bool // attn_q/k/v biases are required
	optBias  bool // attn_q/k/v/output biases may be present
	ropeFreq bool // a rope_freqs tensor (Llama 3.1 scaling) may be present
}

// archs are the architectures the engine runs, with what llama.cpp (llm_build_llama and
// llm_build_qwen2, llama_model_rope_type) does for each.
var archs = map[string]arch{
	"llama": {optBias: true, ropeFreq: true},
	"qwen2": {neox: true, qkvBias: true},
}

// loadModel builds a Model from a parsed file, checking every hyperparameter, every tensor's
// presence, type and shape, and that the file holds no tensor the engine would ignore.
func loadModel(f *File) (*Model, error) {
	name, _ := f.String("general.architecture")
	ar, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("gguf: architecture %q is not supported (llama and qwen2 are)", name)
	}
	key := func(k string) string { return name + "." + k }
	u := func(k string) (int, error) {
		v, ok := f.Uint(key(k))
		if !ok || v == 0 || v > 1<<24 {
			return 0, fmt.Errorf("gguf: missing or invalid %s", key(k))
		}
		return int(v), nil
	}
	p := LlamaParams{Arch: name}
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
	if _, ok := f.Get(key("attention.head_count_kv")); ok {
		if p.KVHeads, err = u("attention.head_count_kv"); err != nil {
			return nil, err
		}
	}
	if p.Dim%p.Heads != 0 || p.Heads%p.KVHeads != 0 || (p.Dim/p.Heads)%2 != 0 {
		return nil, fmt.Errorf("gguf: inconsistent shape: dim %d, heads %d, kv heads %d", p.Dim, p.Heads, p.KVHeads)
	}
	hd := p.Dim / p.Heads
	for _, k := range []string{"rope.dimension_count", "attention.key_length", "attention.value_length"} {
		if v, ok := f.Uint(key(k)); ok && v != uint64(hd) {
			return nil, fmt.Errorf("gguf: %s %d differs from the head dimension %d (partial rotary or decoupled head sizes are not supported)", key(k), v, hd)
		}
	}
	if v, ok := f.Uint(key("expert_count")); ok && v > 0 {
		return nil, fmt.Errorf("gguf: mixture-of-experts models (%s %d) are not supported", key("expert_count"), v)
	}
	p.RopeTheta = 10000
	if v, ok := f.Float(key("rope.freq_base")); ok {
		p.RopeTheta = v
	}
	if !(p.RopeTheta > 0) || math.IsInf(float64(p.RopeTheta), 0) {
		return nil, fmt.Errorf("gguf: invalid rope.freq_base %v", p.RopeTheta)
	}
	p.NormEps = 1e-5
	if v, ok := f.Float(key("attention.layer_norm_rms_epsilon")); ok {
		p.NormEps = v
	}
	if !(p.NormEps >= 0) || math.IsInf(float64(p.NormEps), 0) {
		return nil, fmt.Errorf("gguf: invalid layer_norm_rms_epsilon %v", p.NormEps)
	}
	freqScale, err := ropeScaling(f, key, &p)
	if err != nil {
		return nil, err
	}
	tok, err := newTokenizer(f)
	if err != nil {
		return nil, err
	}
	m := &Model{Params: p, Vocab: tok, headDim: hd}
	m.kvDim = p.KVHeads * hd
	m.template, _ = f.String("tokenizer.chat_template")
	m.rotary = ropeParams{thetaScale: powf(p.RopeTheta, -2/float32(hd)), freqScale: freqScale, neox: ar.neox}
	ld := &loader{f: f, used: map[string]bool{}}
	nv := len(tok.tokens)
	m.tokenEmbd = ld.matrix("token_embd.weight", p.Dim, nv)
	m.outputNorm = ld.vector("output_norm.weight", p.Dim)
	if _, _, ok := f.Tensor("output.weight"); ok {
		m.output = ld.matrix("output.weight", p.Dim, nv)
	} else {
		m.output = m.tokenEmbd // tied embeddings, as llama.cpp falls back to
	}
	if _, _, ok := f.Tensor("rope_freqs.weight"); ok && ar.ropeFreq {
		m.rotary.freqs = ld.vector("rope_freqs.weight", hd/2)
		for _, v := range m.rotary.freqs {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("gguf: rope_freqs.weight holds %v; the factors must be positive", v)
			}
		}
	}
	for i := range p.Layers {
		b := fmt.Sprintf("blk.%d.", i)
		var l layer
		l.attnNorm = ld.vector(b+"attn_norm.weight", p.Dim)
		l.wq = ld.matrix(b+"attn_q.weight", p.Dim, p.Dim)
		l.wk = ld.matrix(b+"attn_k.weight", p.Dim, m.kvDim)
		l.wv = ld.matrix(b+"attn_v.weight", p.Dim, m.kvDim)
		l.wo = ld.matrix(b+"attn_output.weight", p.Dim, p.Dim)
		if ar.qkvBias || ar.optBias {
			l.bq = ld.bias(b+"attn_q.bias", p.Dim, ar.qkvBias)
			l.bk = ld.bias(b+"attn_k.bias", m.kvDim, ar.qkvBias)
			l.bv = ld.bias(b+"attn_v.bias", m.kvDim, ar.qkvBias)
		}
		if ar.optBias {
			l.bo = ld.bias(b+"attn_output.bias", p.Dim, false)
		}
		l.ffnNorm = ld.vector(b+"ffn_norm.weight", p.Dim)
		l.gate = ld.matrix(b+"ffn_gate.weight", p.Dim, p.FFN)
		l.down = ld.matrix(b+"ffn_down.weight", p.FFN, p.Dim)
		l.up = ld.matrix(b+"ffn_up.weight", p.Dim, p.FFN)
		m.layers = append(m.layers, l)
	}
	if ld.err != nil {
		return nil, ld.err
	}
	// llama.cpp refuses a file with tensors its architecture does not load; so do we, rather than
	// run a model without weights the file meant to apply.
	for _, t := range f.Tensors {
		if !ld.used[t.Name] {
			return nil, fmt.Errorf("gguf: tensor %s is not used by the %s architecture", t.Name, name)
		}
	}
	m.Params.Type = m.tokenEmbd.typ
	return m, nil
}

// ropeScaling reads rope.scaling.* as llama.cpp does: the type defaults to "linear", whose factor
// (default 1) divides the angles; "none" ignores the factor. YaRN and LongRoPE are refused.
func ropeScaling(f *File, key func(string) string, p *LlamaParams) (freqScale float32, err error) {
	typ := "linear"
	if _, ok := f.Get(key("rope.scaling.type")); ok {
		typ, _ = f.String(key("rope.scaling.type"))
	}
	factor, _ := f.Float(key("rope.scaling.factor"))
	switch typ {
	case "linear":
		if factor == 0 {
			return 1, nil
		}
		if !(factor > 0) || math.IsInf(float64(factor), 0) {
			return 0, fmt.Errorf("gguf: invalid rope.scaling.factor %v", factor)
		}
		p.RopeScaling = factor
		return 1 / factor, nil
	case "none":
		return 1, nil
	}
	return 0, fmt.Errorf("gguf: rope scaling %q is not supported (none, linear and llama3 rope_freqs are)", typ)
}

// loader reads tensors for loadModel, keeping the first error and the names it used.
type loader struct {
	f    *File
	used map[string]bool
	err  error
}

func (ld *loader) fail(err error) {
	if ld.err == nil {
		ld.err = err
	}
}

func (ld *loader) tensor(name string, dims ...int) (TensorInfo, []byte, bool) {
	info, raw, ok := ld.f.Tensor(name)
	if !ok {
		ld.fail(fmt.Errorf("gguf: missing tensor %s", name))
		return info, nil, false
	}
	ld.used[name] = true
	match := len(info.Dims) == len(dims)
	for i := 0; match && i < len(dims); i++ {
		match = info.Dims[i] == uint64(dims[i])
	}
	if !match {
		ld.fail(fmt.Errorf("gguf: tensor %s has dims %v, want %v", name, info.Dims, dims))
		return info, nil, false
	}
	return info, raw, true
}

func (ld *loader) matrix(name string, in, out int) *matrix {
	info, raw, ok := ld.tensor(name, in, out)
	if !ok {
		return nil
	}
	m, err := newMatrix(info.Type, in, out, raw)
	if err != nil {
		ld.fail(fmt.Errorf("gguf: tensor %s: %w", name, err))
	}
	return m
}

// vector reads a 1-D F32 or F16 tensor (norm gains, biases, rope factors) as float32s.
func (ld *loader) vector(name string, n int) []float32 {
	info, raw, ok := ld.tensor(name, n)
	if !ok {
		return nil
	}
	if info.Type != F32 && info.Type != F16 {
		ld.fail(fmt.Errorf("gguf: tensor %s has type %v, want F32 or F16", name, info.Type))
		return nil
	}
	out := make([]float32, n)
	dequantRow(info.Type, raw, out)
	return out
}

// bias reads an optional (or, with required, mandatory) bias vector; nil when absent.
func (ld *loader) bias(name string, n int, required bool) []float32 {
	if _, _, ok := ld.f.Tensor(name); !ok && !required {
		return nil
	}
	return ld.vector(name, n)
}
