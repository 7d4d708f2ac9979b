// Package replay is the one-step replay of the Verifier module's optimistic disputes over runs of
// the deterministic gguf engine (inference/gguf).
//
// A prover's receipt commits, in TraceRoot, to the RFC 6962 Merkle tree over the run's step
// hashes. Challenger and prover bisect that tree down to one leaf i, the challenger always taking
// the leftmost child it disagrees with, so it agrees with every leaf before i. The prover then
// submits a OneStepProof (BuildProof): the request the receipt's input digest commits to, and the
// state records of the earlier steps step i's inputs come from, each with its audit path. The
// module's StepReplayer (Replayer) checks all of it against the receipt, re-executes the step
// with the model weights it holds (gguf.Model.ReplayStep) and returns the step hash, which the
// module compares with the prover's leaf. Because every input is taken from leaves before i or
// from the receipt, an honest prover's leaf is always reproduced, and a lying prover's never.
//
// Layout gives the step order and count of a run from the receipt (StepCount); Tree, NodeHash,
// Split and Leaves serve the prover's and challenger's sides of the bisection.
package replay

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

// EngineName is the receipt engine whose runs can be replayed.
const EngineName = "gguf"

// ErrNoModel is wrapped by the error of a lookup (Model, StepCount, ReplayStep) that finds no file
// with the receipt's model digest in the model directory; other errors mean the receipt or the
// proof is wrong.
var ErrNoModel = errors.New("replay: model not held")

// Replayer implements the Verifier module's StepReplayer over the GGUF files of a model
// directory: the model of a receipt is the file whose SHA-256 is the receipt's ModelDigest. Files
// are hashed once (and again only when their size or modification time changes), the directory
// is re-scanned when a digest is not found, and loaded models are kept. It is safe for
// concurrent use.
type Replayer struct {
	dir string

	mu       sync.Mutex
	files    map[string]fileEntry   // path -> what was hashed
	byDigest map[common.Hash]string // digest -> path
	models   map[common.Hash]*gguf.Model
}

type fileEntry struct {
	size   int64
	mtime  time.Time
	digest common.Hash // zero for files that are not GGUF
}

// New returns a replayer over the GGUF files in modelDir and its subdirectories (any file that
// starts with the GGUF magic, whatever its name, so an Ollama blob store works too).
func New(modelDir string) *Replayer {
	return &Replayer{dir: modelDir, files: map[string]fileEntry{}, byDigest: map[common.Hash]string{}, models: map[common.Hash]*gguf.Model{}}
}

// Model returns the loaded model whose file has the given SHA-256.
func (r *Replayer) Model(digest common.Hash) (*gguf.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.models[digest]; m != nil {
		return m, nil
	}
	for attempt := 0; attempt < 2; attempt++ {
		path, ok := r.byDigest[digest]
		if !ok || attempt > 0 {
			if err := r.scan(); err != nil {
				return nil, err
			}
			if path, ok = r.byDigest[digest]; !ok {
				break
			}
		}
		m, err := gguf.Load(path)
		if err == nil && m.Digest() == "sha256:"+hex.EncodeToString(digest[:]) {
			r.models[digest] = m
			return m, nil
		}
		// The file changed or went away since it was hashed: forget it and look again.
		delete(r.files, path)
		delete(r.byDigest, digest)
	}
	return nil, fmt.Errorf("%w: no GGUF file with sha256 %x in %s", ErrNoModel, digest, r.dir)
}

// scan walks the model directory, hashing new and changed files. Called with r.mu held.
func (r *Replayer) scan() error {
	seen := map[string]bool{}
	err := filepath.WalkDir(r.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == r.dir {
				return err
			}
			return nil // an unreadable subdirectory or file is skipped
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		seen[path] = true
		if e, ok := r.files[path]; ok && e.size == info.Size() && e.mtime.Equal(info.ModTime()) {
			return nil
		}
		e := fileEntry{size: info.Size(), mtime: info.ModTime()}
		if dg, ok := hashGGUF(path); ok {
			e.digest = dg
		}
		r.files[path] = e
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay: model directory: %w", err)
	}
	for path := range r.files {
		if !seen[path] {
			delete(r.files, path)
		}
	}
	clear(r.byDigest)
	for path, e := range r.files {
		if e.digest != (common.Hash{}) {
			r.byDigest[e.digest] = path
		}
	}
	return nil
}

// hashGGUF returns the SHA-256 of the file if it starts with the GGUF magic.
func hashGGUF(path string) (common.Hash, bool) {
	f, err := os.Open(path)
	if err != nil {
		return common.Hash{}, false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != "GGUF" {
		return common.Hash{}, false
	}
	h := sha256.New()
	h.Write(magic[:])
	if _, err := io.Copy(h, f); err != nil {
		return common.Hash{}, false
	}
	return common.BytesToHash(h.Sum(nil)), true
}

// Sampling parses a receipt's sampling parameters back into what the engine ran with: the
// decimal strings as float64, converted to float32 as the engine converts them, TopK as an int,
// and the seed. Values the engine refuses (negative or NaN) are errors, as are non-finite ones.
func Sampling(rc *inference.Receipt) (gguf.SamplingParams, uint64, error) {
	s := rc.Sampling
	parse := func(name, v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, fmt.Errorf("replay: receipt %s %q is not a finite non-negative decimal", name, v)
		}
		return f, nil
	}
	temp, err := parse("temperature", s.Temperature)
	if err != nil {
		return gguf.SamplingParams{}, 0, err
	}
	topP, err := parse("topP", s.TopP)
	if err != nil {
		return gguf.SamplingParams{}, 0, err
	}
	if s.TopK > math.MaxInt32 {
		// The engine takes an int; any TopK at least the vocabulary keeps every token, but a
		// value an int cannot hold on every platform is refused rather than reinterpreted.
		return gguf.SamplingParams{}, 0, fmt.Errorf("replay: receipt topK %d is too large", s.TopK)
	}
	seed, err := strconv.ParseUint(s.Seed, 10, 64)
	if err != nil {
		return gguf.SamplingParams{}, 0, fmt.Errorf("replay: receipt seed %q: %w", s.Seed, err)
	}
	return gguf.SamplingParams{Temperature: float32(temp), TopK: int(s.TopK), TopP: float32(topP)}, seed, nil
}

// layout checks the receipt against the model it names and returns the run's step layout.
func (r *Replayer) layout(rc *inference.Receipt) (*gguf.Model, Layout, error) {
	if rc == nil {
		return nil, Layout{}, errors.New("replay: nil receipt")
	}
	if rc.Engine != EngineName {
		return nil, Layout{}, fmt.Errorf("replay: engine %q runs cannot be replayed (only %q)", rc.Engine, EngineName)
	}
	if _, _, err := Sampling(rc); err != nil {
		return nil, Layout{}, err
	}
	m, err := r.Model(rc.ModelDigest)
	if err != nil {
		return nil, Layout{}, err
	}
	ctx := uint64(m.Params.Context)
	if rc.PromptTokens > ctx || rc.OutputTokens > ctx+1 {
		return nil, Layout{}, fmt.Errorf("replay: %d prompt and %d output tokens do not fit a context of %d", rc.PromptTokens, rc.OutputTokens, ctx)
	}
	if rc.Sampling.MaxTokens > 0 && rc.OutputTokens > rc.Sampling.MaxTokens {
		return nil, Layout{}, fmt.Errorf("replay: %d output tokens, more than maxTokens %d", rc.OutputTokens, rc.Sampling.MaxTokens)
	}
	l := Layout{Layers: m.Params.Layers, Prompt: int(rc.PromptTokens), Output: int(rc.OutputTokens)}
	if err := l.check(m.Params.Context); err != nil {
		return nil, Layout{}, err
	}
	return m, l, nil
}

// StepCount is the number of leaves of the trace of the run the receipt describes,
// L·(PromptTokens+OutputTokens-1) + OutputTokens for a model of L blocks (see Layout). It fails
// when the model is not held here, the engine is not gguf, or the counts or sampling parameters
// are impossible for the model.
func (r *Replayer) StepCount(rc *inference.Receipt) (uint64, error) {
	_, l, err := r.layout(rc)
	if err != nil {
		return 0, err
	}
	return uint64(l.Count()), nil
}

// ReplayStep checks a one-step proof for leaf index of the receipt's trace of steps leaves and
// re-executes the step:
//
//   - steps must be StepCount(rc), and the proof's index, kind, position and layer those of leaf
//     index in the run's layout;
//   - the proof's request must hash to rc.InputDigest and tokenize, as the engine does (Generate
//     when it has no messages, Chat otherwise), to rc.PromptTokens tokens; a layer-0 step at a
//     prompt position takes its token from it;
//   - the records must be exactly the steps Layout.Needs lists (all before index), each proven by
//     its audit path to be that leaf of the tree with root rc.TraceRoot, each of the kind, size,
//     position and layer expected;
//   - the step's inputs are then read out of the records (and the seed and sampling parameters
//     out of the receipt), and gguf.Model.ReplayStep recomputes the step.
//
// It returns the recomputed step hash; any inconsistency is an error.
func (r *Replayer) ReplayStep(rc *inference.Receipt, steps, index uint64, proof []byte) ([32]byte, error) {
	var zero [32]byte
	m, lay, err := r.layout(rc)
	if err != nil {
		return zero, err
	}
	if steps != uint64(lay.Count()) {
		return zero, fmt.Errorf("replay: a trace of %d steps, but the receipt's run has %d", steps, lay.Count())
	}
	if index >= steps {
		return zero, fmt.Errorf("replay: step %d outside a trace of %d steps", index, steps)
	}
	var p OneStepProof
	if err := p.UnmarshalBinary(proof); err != nil {
		return zero, err
	}
	if p.Index != index {
		return zero, fmt.Errorf("replay: a proof for step %d, not %d", p.Index, index)
	}
	id, err := lay.At(int(index))
	if err != nil {
		return zero, err
	}
	if p.Kind != id.Kind || uint64(p.Pos) != uint64(id.Pos) || uint64(p.Layer) != uint64(id.Layer) {
		return zero, fmt.Errorf("replay: proof says step %d is kind %d at (%d, %d), the run's layout says kind %d at (%d, %d)",
			index, p.Kind, p.Pos, p.Layer, id.Kind, id.Pos, id.Layer)
	}

	// The request: it fixes the prompt, and its length the whole layout.
	d, err := inference.InputDigest(p.Request)
	if err != nil {
		return zero, fmt.Errorf("replay: proof request: %w", err)
	}
	if d != rc.InputDigest {
		return zero, fmt.Errorf("replay: proof request has input digest %s, the receipt %s", d, rc.InputDigest)
	}
	prompt, err := m.PromptTokens(p.Request, len(p.Request.Messages) > 0)
	if err != nil {
		return zero, fmt.Errorf("replay: proof request: %w", err)
	}
	if len(prompt) != lay.Prompt {
		return zero, fmt.Errorf("replay: the request is %d prompt tokens, the receipt says %d", len(prompt), lay.Prompt)
	}

	// The records: exactly the needed steps, each proven against the root.
	// Count before listing: the listing is as long as the position, which the receipt sets.
	if want := lay.needCount(id); len(p.Records) != want {
		return zero, fmt.Errorf("replay: %d records, step %d needs %d", len(p.Records), index, want)
	}
	needs := lay.Needs(id)
	for j, rec := range p.Records {
		if rec.Step != uint64(needs[j]) || rec.Step >= index {
			return zero, fmt.Errorf("replay: record %d is of step %d, want step %d", j, rec.Step, needs[j])
		}
		if !gguf.VerifyMerkleProof(rc.TraceRoot, sha256.Sum256(rec.Data), needs[j], int(steps), rec.Path) {
			return zero, fmt.Errorf("replay: record of step %d does not prove against the trace root", rec.Step)
		}
	}

	sp, seed, err := Sampling(rc)
	if err != nil {
		return zero, err
	}
	mp := m.Params
	kvd := mp.KVHeads * (mp.Dim / mp.Heads)
	vocab := m.Vocab.Len()
	in := &gguf.StepInputs{Kind: id.Kind, Pos: id.Pos, Layer: id.Layer, Sampling: sp}
	recs := p.Records
	switch id.Kind {
	case gguf.StepLayer:
		switch {
		case id.Layer > 0:
			lr, err := parseLayer(recs[0].Data, id.Pos, id.Layer-1, mp.Dim, kvd)
			if err != nil {
				return zero, err
			}
			in.X, in.Token = lr.x, lr.token
			recs = recs[1:]
		case id.Pos >= lay.Prompt:
			or, err := parseOutput(recs[0].Data, id.Pos-1, vocab)
			if err != nil {
				return zero, err
			}
			in.Token = or.next
			recs = recs[1:]
		default:
			in.Token = prompt[id.Pos]
		}
		// Grown record by record, each checked first: memory follows the proof's size, not a
		// position a forged receipt may claim.
		in.K, in.V = []uint16{}, []uint16{}
		for q, rec := range recs {
			lr, err := parseLayer(rec.Data, q, id.Layer, mp.Dim, kvd)
			if err != nil {
				return zero, err
			}
			in.K = append(in.K, lr.k...)
			in.V = append(in.V, lr.v...)
		}
	case gguf.StepOutput:
		lr, err := parseLayer(recs[0].Data, id.Pos, mp.Layers-1, mp.Dim, kvd)
		if err != nil {
			return zero, err
		}
		in.X, in.Token = lr.x, lr.token
		in.RNG = seed
		if id.Pos >= lay.Prompt {
			or, err := parseOutput(recs[1].Data, id.Pos-1, vocab)
			if err != nil {
				return zero, err
			}
			in.RNG = or.rngAfter
		}
	}
	st, err := m.ReplayStep(in)
	if err != nil {
		return zero, fmt.Errorf("replay: step %d: %w", index, err)
	}
	return st.Hash, nil
}

type layerRec struct {
	token uint32
	x     []float32
	k, v  []uint16
}

// parseLayer reads a layer step's state record (gguf trace.go):
// 0x01 | u32 pos | u32 layer | u32 token | f32[dim] residual | u16[kvd] key row | u16[kvd] value row.
func parseLayer(b []byte, pos, layer, dim, kvd int) (layerRec, error) {
	if want := 13 + 4*dim + 4*kvd; len(b) != want || b[0] != byte(gguf.StepLayer) {
		return layerRec{}, fmt.Errorf("replay: record of layer step (%d, %d): %d bytes, want a layer record of %d", pos, layer, len(b), want)
	}
	le := binary.LittleEndian
	if p, l := le.Uint32(b[1:]), le.Uint32(b[5:]); uint64(p) != uint64(pos) || uint64(l) != uint64(layer) {
		return layerRec{}, fmt.Errorf("replay: record of layer step (%d, %d) is of (%d, %d)", pos, layer, p, l)
	}
	r := layerRec{token: le.Uint32(b[9:]), x: make([]float32, dim), k: make([]uint16, kvd), v: make([]uint16, kvd)}
	o := 13
	for i := range r.x {
		r.x[i] = math.Float32frombits(le.Uint32(b[o:]))
		o += 4
	}
	for i := range r.k {
		r.k[i] = le.Uint16(b[o:])
		o += 2
	}
	for i := range r.v {
		r.v[i] = le.Uint16(b[o:])
		o += 2
	}
	return r, nil
}

type outputRec struct {
	next     uint32
	rngAfter uint64
}

// parseOutput reads an output step's state record (gguf trace.go):
// 0x02 | u32 pos | u32 token | f32[vocab] logits | u32 next token | u64 PRNG state after.
func parseOutput(b []byte, pos, vocab int) (outputRec, error) {
	if want := 9 + 4*vocab + 12; len(b) != want || b[0] != byte(gguf.StepOutput) {
		return outputRec{}, fmt.Errorf("replay: record of output step %d: %d bytes, want an output record of %d", pos, len(b), want)
	}
	le := binary.LittleEndian
	if p := le.Uint32(b[1:]); uint64(p) != uint64(pos) {
		return outputRec{}, fmt.Errorf("replay: record of output step %d is of %d", pos, p)
	}
	return outputRec{next: le.Uint32(b[len(b)-12:]), rngAfter: le.Uint64(b[len(b)-8:])}, nil
}
