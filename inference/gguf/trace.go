package gguf

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// A run is recorded as a sequence of steps. For every position p of the sequence (prompt tokens,
// then each generated token that is fed back) there is one StepLayer per transformer block, in
// order, and — at positions whose next token is sampled (the last prompt position and every
// generated one) — a StepOutput that computes the logits and samples the next token. Positions
// inside the prompt have no output step: their next token is given.
//
// Each step's hash is SHA-256 over its state record, all integers and floats little-endian:
//
//	StepLayer:  0x01 | u32 pos | u32 layer | u32 token | f32[dim] residual after the block
//	            | u16[kvDim] key row | u16[kvDim] value row   (f16 bits, as cached)
//	StepOutput: 0x02 | u32 pos | u32 token | f32[vocab] logits | u32 next token | u64 PRNG state after
//
// The trace root is an RFC 6962 (Certificate Transparency) Merkle tree hash over the step hashes
// in order: leaf = SHA-256(0x00 | step hash), node = SHA-256(0x01 | left | right), a tree of n > 1
// leaves split after the largest power of two below n (no padding), the empty tree SHA-256("").
//
// A step's inputs are parts of earlier steps' state records, so a verifier holding them can check
// each against its hash and Merkle proof, then recompute the step with Model.ReplayStep:
//
//	StepLayer (p, l):  the token at p (layer 0: its embedding comes from the model) or the residual
//	                   after step (p, l-1); the key and value rows of block l at positions 0..p-1
//	                   (from steps (q, l), q < p).
//	StepOutput (p):    the residual after step (p, L-1), the sampling parameters and the PRNG state
//	                   before the draw (the seed, or the state after the previous output step).

// StepKind says what a step computed.
type StepKind uint8

// Step kinds.
const (
	StepLayer  StepKind = 1
	StepOutput StepKind = 2
)

// Step is one recorded step of a run.
type Step struct {
	Kind  StepKind
	Pos   int
	Layer int    // StepLayer: the block index
	Token uint32 // the token at Pos
	Next  uint32 // StepOutput: the sampled token
	Hash  [32]byte
}

// StepInputs is everything needed to recompute one step (see the layout above).
type StepInputs struct {
	Kind     StepKind
	Pos      int
	Layer    int
	Token    uint32
	X        []float32 // residual input: nil for layer 0 (the token's embedding is used)
	K, V     []uint16  // StepLayer: block Layer's cached rows for positions 0..Pos-1, Pos*kvDim f16s
	Sampling SamplingParams
	RNG      uint64 // StepOutput: SplitMix64 state before the draw
}

// Trace is the record of one run: the tokens, every step with its hash, the Merkle root, and the
// intermediate states needed to produce any step's inputs.
type Trace struct {
	Model      *Model
	Tokens     []uint32 // prompt then output tokens
	PromptLen  int
	Steps      []Step
	Root       [32]byte
	DoneReason string // "stop" (end of generation or stop string) or "length"
	Sampling   SamplingParams
	Seed       uint64

	resid   [][]float32 // per step: the residual after a layer step (nil for output steps)
	rngPre  []uint64    // per step: PRNG state before an output step
	caches  []kvCache   // per block: the run's key and value rows
	rng     SplitMix64
	pending []float32 // residual after the last fed token's final block
}

func newTrace(m *Model, s SamplingParams, seed uint64) *Trace {
	// The caches grow a row per token (feed) rather than being sized for the whole context: a
	// file may claim a context of millions of tokens.
	return &Trace{Model: m, Sampling: s, Seed: seed, rng: SplitMix64{State: seed}, caches: make([]kvCache, m.Params.Layers)}
}

// feed runs token tok at the next position through every block, recording a step per block.
func (t *Trace) feed(ctx context.Context, tok uint32) error {
	m := t.Model
	pos := len(t.Tokens)
	if pos >= m.Params.Context {
		return fmt.Errorf("gguf: context of %d tokens is full", m.Params.Context)
	}
	x, err := m.embed(tok)
	if err != nil {
		return err
	}
	t.Tokens = append(t.Tokens, tok)
	for l := range m.layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := &t.caches[l]
		kvd := m.kvDim
		c.k = append(c.k, make([]uint16, kvd)...)
		c.v = append(c.v, make([]uint16, kvd)...)
		m.layerForward(l, pos, x, c)
		h := layerHash(pos, l, tok, x, c.k[pos*kvd:(pos+1)*kvd], c.v[pos*kvd:(pos+1)*kvd])
		t.Steps = append(t.Steps, Step{Kind: StepLayer, Pos: pos, Layer: l, Token: tok, Hash: h})
		t.resid = append(t.resid, append([]float32(nil), x...))
		t.rngPre = append(t.rngPre, 0)
	}
	t.pending = x
	return nil
}

// next computes the logits after the last fed token and samples the next token, recording an
// output step.
func (t *Trace) next() (uint32, error) {
	pos := len(t.Tokens) - 1
	pre := t.rng.State
	logits := t.Model.logits(t.pending)
	if !isFinite(logits) {
		return 0, errors.New("gguf: non-finite logits")
	}
	tok := sample(logits, t.Sampling, &t.rng)
	h := outputHash(pos, t.Tokens[pos], logits, tok, t.rng.State)
	t.Steps = append(t.Steps, Step{Kind: StepOutput, Pos: pos, Token: t.Tokens[pos], Next: tok, Hash: h})
	t.resid = append(t.resid, nil)
	t.rngPre = append(t.rngPre, pre)
	return tok, nil
}

// finish computes the Merkle root.
func (t *Trace) finish() {
	hs := make([][32]byte, len(t.Steps))
	for i, s := range t.Steps {
		hs[i] = s.Hash
	}
	t.Root = MerkleRoot(hs)
}

// Inputs returns the inputs of step i, taken from the run's records.
func (t *Trace) Inputs(i int) (*StepInputs, error) {
	if i < 0 || i >= len(t.Steps) {
		return nil, fmt.Errorf("gguf: step %d outside a trace of %d steps", i, len(t.Steps))
	}
	s := t.Steps[i]
	in := &StepInputs{Kind: s.Kind, Pos: s.Pos, Layer: s.Layer, Token: s.Token, Sampling: t.Sampling}
	kvd := t.Model.kvDim
	switch s.Kind {
	case StepLayer:
		if s.Layer > 0 {
			in.X = append([]float32(nil), t.resid[i-1]...)
		}
		c := t.caches[s.Layer]
		in.K = append([]uint16(nil), c.k[:s.Pos*kvd]...)
		in.V = append([]uint16(nil), c.v[:s.Pos*kvd]...)
	case StepOutput:
		in.X = append([]float32(nil), t.resid[i-1]...)
		in.RNG = t.rngPre[i]
	}
	return in, nil
}

// ReplayStep recomputes step i from its inputs alone (Inputs(i) then Model.ReplayStep) and returns
// the recomputed hash, which equals Steps[i].Hash for an honest run.
func (t *Trace) ReplayStep(i int) ([32]byte, error) {
	in, err := t.Inputs(i)
	if err != nil {
		return [32]byte{}, err
	}
	s, err := t.Model.ReplayStep(in)
	if err != nil {
		return [32]byte{}, err
	}
	return s.Hash, nil
}

// ReplayStep recomputes one step from its inputs, with the same code the run used, and returns the
// step with its hash. It checks the inputs' shapes, so a verifier can feed it untrusted data.
func (m *Model) ReplayStep(in *StepInputs) (Step, error) {
	p := m.Params
	if in.Pos < 0 || in.Pos >= p.Context {
		return Step{}, fmt.Errorf("gguf: position %d outside the context of %d", in.Pos, p.Context)
	}
	x := in.X
	switch in.Kind {
	case StepLayer:
		if in.Layer < 0 || in.Layer >= p.Layers {
			return Step{}, fmt.Errorf("gguf: layer %d outside 0..%d", in.Layer, p.Layers-1)
		}
		if in.Layer == 0 {
			e, err := m.embed(in.Token)
			if err != nil {
				return Step{}, err
			}
			x = e
		} else {
			if len(x) != p.Dim {
				return Step{}, fmt.Errorf("gguf: residual of %d values, want %d", len(x), p.Dim)
			}
			x = append([]float32(nil), x...)
		}
		kvd := m.kvDim
		if len(in.K) != in.Pos*kvd || len(in.V) != in.Pos*kvd {
			return Step{}, fmt.Errorf("gguf: %d key and %d value f16s for position %d, want %d each", len(in.K), len(in.V), in.Pos, in.Pos*kvd)
		}
		c := &kvCache{k: make([]uint16, (in.Pos+1)*kvd), v: make([]uint16, (in.Pos+1)*kvd)}
		copy(c.k, in.K)
		copy(c.v, in.V)
		m.layerForward(in.Layer, in.Pos, x, c)
		h := layerHash(in.Pos, in.Layer, in.Token, x, c.k[in.Pos*kvd:], c.v[in.Pos*kvd:])
		return Step{Kind: StepLayer, Pos: in.Pos, Layer: in.Layer, Token: in.Token, Hash: h}, nil
	case StepOutput:
		if len(x) != p.Dim {
			return Step{}, fmt.Errorf("gguf: residual of %d values, want %d", len(x), p.Dim)
		}
		logits := m.logits(x)
		if !isFinite(logits) {
			return Step{}, errors.New("gguf: non-finite logits")
		}
		rng := SplitMix64{State: in.RNG}
		tok := sample(logits, in.Sampling, &rng)
		h := outputHash(in.Pos, in.Token, logits, tok, rng.State)
		return Step{Kind: StepOutput, Pos: in.Pos, Token: in.Token, Next: tok, Hash: h}, nil
	}
	return Step{}, fmt.Errorf("gguf: unknown step kind %d", in.Kind)
}

func layerHash(pos, layer int, tok uint32, x []float32, k, v []uint16) [32]byte {
	return sha256.Sum256(layerRecord(pos, layer, tok, x, k, v))
}

func outputHash(pos int, tok uint32, logits []float32, next uint32, rngAfter uint64) [32]byte {
	return sha256.Sum256(outputRecord(pos, tok, logits, next, rngAfter))
}

// layerRecord and outputRecord are the state records whose SHA-256 is a step's hash.
func layerRecord(pos, layer int, tok uint32, x []float32, k, v []uint16) []byte {
	b := make([]byte, 0, 13+4*len(x)+2*len(k)+2*len(v))
	b = append(b, byte(StepLayer))
	b = binary.LittleEndian.AppendUint32(b, uint32(pos))
	b = binary.LittleEndian.AppendUint32(b, uint32(layer))
	b = binary.LittleEndian.AppendUint32(b, tok)
	for _, f := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	for _, h := range k {
		b = binary.LittleEndian.AppendUint16(b, h)
	}
	for _, h := range v {
		b = binary.LittleEndian.AppendUint16(b, h)
	}
	return b
}

func outputRecord(pos int, tok uint32, logits []float32, next uint32, rngAfter uint64) []byte {
	b := make([]byte, 0, 9+4*len(logits)+12)
	b = append(b, byte(StepOutput))
	b = binary.LittleEndian.AppendUint32(b, uint32(pos))
	b = binary.LittleEndian.AppendUint32(b, tok)
	for _, f := range logits {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	b = binary.LittleEndian.AppendUint32(b, next)
	b = binary.LittleEndian.AppendUint64(b, rngAfter)
	return b
}

// StateRecord returns the state record of step i, the preimage of its hash (layout above). A
// verifier checks a record against the step hash and its Merkle proof and takes a later step's
// inputs out of it: the residual and the key and value rows of a layer step.
func (t *Trace) StateRecord(i int) ([]byte, error) {
	if i < 0 || i >= len(t.Steps) {
		return nil, fmt.Errorf("gguf: step %d outside a trace of %d steps", i, len(t.Steps))
	}
	s := t.Steps[i]
	if s.Kind == StepLayer {
		kvd := t.Model.kvDim
		c := t.caches[s.Layer]
		row := s.Pos * kvd
		return layerRecord(s.Pos, s.Layer, s.Token, t.resid[i], c.k[row:row+kvd], c.v[row:row+kvd]), nil
	}
	// Output steps keep no logits; recomputing them from the recorded residual is exact.
	in, err := t.Inputs(i)
	if err != nil {
		return nil, err
	}
	logits := t.Model.logits(in.X)
	rng := SplitMix64{State: in.RNG}
	next := sample(logits, in.Sampling, &rng)
	return outputRecord(s.Pos, s.Token, logits, next, rng.State), nil
}

// MerkleRoot is the RFC 6962 Merkle tree hash of the leaves (step hashes).
func MerkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	if len(leaves) == 1 {
		return leafHash(leaves[0])
	}
	k := splitPoint(len(leaves))
	return nodeHash(MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:]))
}

// MerkleProof is the RFC 6962 audit path for leaf i: the sibling hashes from the leaf up.
func MerkleProof(leaves [][32]byte, i int) [][32]byte {
	if len(leaves) <= 1 || i < 0 || i >= len(leaves) {
		return nil
	}
	k := splitPoint(len(leaves))
	if i < k {
		return append(MerkleProof(leaves[:k], i), MerkleRoot(leaves[k:]))
	}
	return append(MerkleProof(leaves[k:], i-k), MerkleRoot(leaves[:k]))
}

// VerifyMerkleProof checks that leaf (a step hash) is leaf i of a tree of n leaves with the given
// root (RFC 9162 section 2.1.3.2).
func VerifyMerkleProof(root, leaf [32]byte, i, n int, proof [][32]byte) bool {
	if i < 0 || i >= n {
		return false
	}
	fn, sn := uint64(i), uint64(n-1)
	r := leafHash(leaf)
	for _, p := range proof {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && r == root
}

// splitPoint is the largest power of two strictly below n (n > 1).
func splitPoint(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

func leafHash(h [32]byte) [32]byte {
	var b [33]byte
	copy(b[1:], h[:])
	return sha256.Sum256(b[:])
}

func nodeHash(l, r [32]byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// Proof returns the Merkle audit path of step i in this trace.
func (t *Trace) Proof(i int) [][32]byte {
	hs := make([][32]byte, len(t.Steps))
	for j, s := range t.Steps {
		hs[j] = s.Hash
	}
	return MerkleProof(hs, i)
}
