package replay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

// Replayer has the method set of chain/modules/verifier.StepReplayer.
var _ interface {
	StepCount(r *inference.Receipt) (uint64, error)
	ReplayStep(r *inference.Receipt, steps, index uint64, proof []byte) ([32]byte, error)
	CheckOutput(r *inference.Receipt, req inference.Request, tokens []uint32) error
	OutputToken(r *inference.Receipt, steps, k uint64, record []byte, path [][32]byte) (uint32, error)
} = (*Replayer)(nil)

// asciiOutput zeroes the output rows of <unk>, <s>, </s>, byte 0x00 and bytes >= 0x80 (as the gguf
// cross-check does) so that greedy text is printable ASCII and stop strings can be cut from it.
func asciiOutput(w *gguf.LlamaWeights) *gguf.LlamaWeights {
	dim := w.Params.Dim
	for t := range w.Vocab.Tokens {
		if t <= 3 || t >= 3+0x80 {
			clear(w.Output[t*dim : (t+1)*dim])
		}
	}
	return w
}

// writeModel writes w into dir and returns its path.
func writeModel(t testing.TB, dir, name string, w *gguf.LlamaWeights) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// run is a real run through the engine with its receipt.
type run struct {
	req     inference.Request
	resp    *inference.Response
	tr      *gguf.Trace
	receipt *inference.Receipt
}

func doRun(t testing.TB, e *gguf.Engine, req inference.Request) *run {
	t.Helper()
	var resp *inference.Response
	var tr *gguf.Trace
	var err error
	if len(req.Messages) > 0 {
		resp, tr, err = e.ChatTrace(context.Background(), req)
	} else {
		resp, tr, err = e.GenerateTrace(context.Background(), req)
	}
	if err != nil {
		t.Fatal(err)
	}
	rc, err := inference.NewReceipt(e.Name(), req, resp, 1337, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return &run{req: req, resp: resp, tr: tr, receipt: rc}
}

// checkEveryLeaf builds and replays a proof for every leaf of the run.
func checkEveryLeaf(t *testing.T, rp *Replayer, r *run) (lastSize, maxSize int) {
	t.Helper()
	n, err := rp.StepCount(r.receipt)
	if err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(r.tr.Steps)) {
		t.Fatalf("StepCount %d, trace has %d steps", n, len(r.tr.Steps))
	}
	tree := NewTree(Leaves(r.tr))
	for i := range r.tr.Steps {
		p, err := NewProof(r.tr, tree, r.req, i)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i == 0 || i == len(r.tr.Steps)-1 {
			// BuildProof is NewProof with a fresh tree.
			b2, err := BuildProof(r.tr, r.req, i)
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("step %d: BuildProof differs from NewProof (%v)", i, err)
			}
		}
		h, err := rp.ReplayStep(r.receipt, n, uint64(i), b)
		if err != nil {
			t.Fatalf("step %d (%+v): %v", i, r.tr.Steps[i], err)
		}
		if h != r.tr.Steps[i].Hash {
			t.Fatalf("step %d: replayed %x, trace %x", i, h, r.tr.Steps[i].Hash)
		}
		maxSize = max(maxSize, len(b))
		lastSize = len(b)
	}
	return lastSize, maxSize
}

func TestEveryLeafReplays(t *testing.T) {
	dir := t.TempDir()
	f32 := writeModel(t, dir, "f32.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 42))
	q8 := writeModel(t, dir, "q8.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.Q8_0), gguf.ByteVocab(), 7))
	chatW := gguf.RandomLlama(gguf.TinyParams(gguf.F16), gguf.ByteVocab(), 9)
	chatW.Params.Context = 512
	chatW.Template = "[INST]"
	chat := writeModel(t, dir, "chat.gguf", chatW)
	e := gguf.New()
	rp := New(dir)
	for _, c := range []struct {
		name string
		req  inference.Request
	}{
		{"greedy", inference.Request{Model: f32, Prompt: "Once upon", Sampling: inference.Sampling{MaxTokens: 12}}},
		{"sampled", inference.Request{Model: f32, Prompt: "Hi <s> there", Sampling: inference.Sampling{Temperature: 0.8, TopK: 40, TopP: 0.9, Seed: 7, MaxTokens: 10}}},
		{"q8 hot", inference.Request{Model: q8, Prompt: "x", Sampling: inference.Sampling{Temperature: 1.5, Seed: 1<<63 + 5, MaxTokens: 9}}},
		{"chat", inference.Request{Model: chat, Sampling: inference.Sampling{Temperature: 0.7, Seed: 3, MaxTokens: 6},
			Messages: []inference.Message{{Role: "user", Content: "hi"}, {Role: "assistant", ToolCalls: []inference.ToolCall{{Name: "f", Arguments: json.RawMessage(`{"b": 1, "a": [2]}`)}}},
				{Role: "tool", ToolName: "f", Content: "3"}},
			Tools: []inference.Tool{{Name: "f", Description: "adds", Parameters: json.RawMessage(`{"type": "object"}`)}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := doRun(t, e, c.req)
			last, most := checkEveryLeaf(t, rp, r)
			t.Logf("%d prompt + %d output tokens, %d steps; proof bytes: last leaf %d, largest %d", r.receipt.PromptTokens, r.receipt.OutputTokens, len(r.tr.Steps), last, most)
		})
	}
}

// A run whose prompt fills most of the context: the largest proofs of the tiny model.
func TestProofSizes(t *testing.T) {
	dir := t.TempDir()
	path := writeModel(t, dir, "m.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 42))
	r := doRun(t, gguf.New(), inference.Request{Model: path, Prompt: strings.Repeat("a", 200), Sampling: inference.Sampling{MaxTokens: 40}})
	rp := New(dir)
	n := len(r.tr.Steps)
	for _, i := range []int{0, n - 2, n - 1} {
		b, err := BuildProof(r.tr, r.req, i)
		if err != nil {
			t.Fatal(err)
		}
		h, err := rp.ReplayStep(r.receipt, uint64(n), uint64(i), b)
		if err != nil || h != r.tr.Steps[i].Hash {
			t.Fatalf("step %d: %v", i, err)
		}
		t.Logf("%d steps (P %d, O %d): step %d %+v proof %d bytes", n, r.receipt.PromptTokens, r.receipt.OutputTokens, i, r.tr.Steps[i].Kind, len(b))
	}
}

// StepCount equals the trace length however the run ends.
func TestStepCountMatchesTraces(t *testing.T) {
	dir := t.TempDir()
	plain := writeModel(t, dir, "ascii.gguf", asciiOutput(gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 42)))
	small := gguf.TinyParams(gguf.F32)
	small.Context = 24
	short := writeModel(t, dir, "short.gguf", gguf.RandomLlama(small, gguf.ByteVocab(), 3))
	e := gguf.New()

	// An end-of-generation ending: make </s> tie with the token greedy decoding picks third (ties
	// go to the lower id, </s> = 2), so the run ends there.
	base := doRun(t, e, inference.Request{Model: plain, Prompt: "Hello", Sampling: inference.Sampling{MaxTokens: 20}})
	eogW := asciiOutput(gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 42))
	third := int(base.tr.Output()[2])
	dim := eogW.Params.Dim
	copy(eogW.Output[2*dim:3*dim], eogW.Output[third*dim:(third+1)*dim])
	eog := writeModel(t, dir, "eog.gguf", eogW)
	stop := base.resp.Text[6:8]

	rp := New(dir)
	for _, c := range []struct {
		name, done string
		req        inference.Request
	}{
		{"length", "length", inference.Request{Model: plain, Prompt: "Hello", Sampling: inference.Sampling{MaxTokens: 20}}},
		{"one token", "length", inference.Request{Model: plain, Prompt: "Hello", Sampling: inference.Sampling{MaxTokens: 1}}},
		{"empty prompt", "length", inference.Request{Model: plain, Sampling: inference.Sampling{MaxTokens: 3}}},
		{"stop string", "stop", inference.Request{Model: plain, Prompt: "Hello", Sampling: inference.Sampling{MaxTokens: 20, Stop: []string{stop}}}},
		{"end of generation", "stop", inference.Request{Model: eog, Prompt: "Hello", Sampling: inference.Sampling{MaxTokens: 20}}},
		{"full context", "length", inference.Request{Model: short, Prompt: "twelve bytes", Sampling: inference.Sampling{MaxTokens: 100}}},
		{"chatml stop", "", inference.Request{Model: plain, Messages: []inference.Message{{Role: "user", Content: "hey"}}, Sampling: inference.Sampling{MaxTokens: 5, Temperature: 2, Seed: 11}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := doRun(t, e, c.req)
			if c.done != "" && r.resp.DoneReason != c.done {
				t.Fatalf("done %q, want %q (text %q)", r.resp.DoneReason, c.done, r.resp.Text)
			}
			n, err := rp.StepCount(r.receipt)
			if err != nil {
				t.Fatal(err)
			}
			if n != uint64(len(r.tr.Steps)) {
				t.Fatalf("StepCount %d, trace %d steps (P %d, O %d, %s)", n, len(r.tr.Steps), r.receipt.PromptTokens, r.receipt.OutputTokens, r.resp.DoneReason)
			}
			// The layout names every step of the trace.
			lay := Layout{Layers: 2, Prompt: int(r.receipt.PromptTokens), Output: int(r.receipt.OutputTokens)}
			for i, s := range r.tr.Steps {
				id, err := lay.At(i)
				if err != nil || id.Kind != s.Kind || id.Pos != s.Pos || id.Layer != s.Layer {
					t.Fatalf("step %d: layout %+v (%v), trace %+v", i, id, err, s)
				}
				if s.Kind == gguf.StepOutput && lay.OutputIndex(s.Pos) != i || s.Kind == gguf.StepLayer && lay.LayerIndex(s.Pos, s.Layer) != i {
					t.Fatalf("step %d: index functions disagree", i)
				}
			}
			if c.name == "end of generation" || c.name == "full context" || c.name == "stop string" {
				checkEveryLeaf(t, rp, r)
			}
			checkOutput(t, rp, r)
			t.Logf("%s: P %d O %d → %d steps", r.resp.DoneReason, r.receipt.PromptTokens, r.receipt.OutputTokens, n)
		})
	}
}

func TestStepCountRejects(t *testing.T) {
	dir := t.TempDir()
	path := writeModel(t, dir, "m.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 42))
	r := doRun(t, gguf.New(), inference.Request{Model: path, Prompt: "ab", Sampling: inference.Sampling{MaxTokens: 4}})
	rp := New(dir)
	for name, edit := range map[string]func(*inference.Receipt){
		"engine":       func(rc *inference.Receipt) { rc.Engine = "ollama" },
		"model":        func(rc *inference.Receipt) { rc.ModelDigest[0] ^= 1 },
		"no prompt":    func(rc *inference.Receipt) { rc.PromptTokens = 0 },
		"no output":    func(rc *inference.Receipt) { rc.OutputTokens = 0 },
		"over context": func(rc *inference.Receipt) { rc.PromptTokens = 200; rc.OutputTokens = 58 },
		"huge":         func(rc *inference.Receipt) { rc.PromptTokens = 1 << 63 },
		"max tokens":   func(rc *inference.Receipt) { rc.OutputTokens = 5 },
		"temperature":  func(rc *inference.Receipt) { rc.Sampling.Temperature = "-1" },
		"top p":        func(rc *inference.Receipt) { rc.Sampling.TopP = "NaN" },
		"inf":          func(rc *inference.Receipt) { rc.Sampling.Temperature = "1e400" },
		"top k":        func(rc *inference.Receipt) { rc.Sampling.TopK = 1 << 40 },
		"seed":         func(rc *inference.Receipt) { rc.Sampling.Seed = "-1" },
	} {
		rc := *r.receipt
		edit(&rc)
		if n, err := rp.StepCount(&rc); err == nil {
			t.Errorf("%s: StepCount %d, want an error", name, n)
		}
	}
	if _, err := rp.StepCount(nil); err == nil {
		t.Error("nil receipt accepted")
	}
	// The full context is P+O-1 fed positions.
	rc := *r.receipt
	rc.Sampling.MaxTokens = 0
	rc.PromptTokens, rc.OutputTokens = 200, 57
	if n, err := rp.StepCount(&rc); err != nil || n != 2*256+57 {
		t.Errorf("full context: %d, %v", n, err)
	}
}

// proofFor decodes BuildProof's proof for step i.
func proofFor(t *testing.T, r *run, i int) *OneStepProof {
	t.Helper()
	b, err := BuildProof(r.tr, r.req, i)
	if err != nil {
		t.Fatal(err)
	}
	var p OneStepProof
	if err := p.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestTamperedProofsFail(t *testing.T) {
	dir := t.TempDir()
	path := writeModel(t, dir, "m.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 42))
	r := doRun(t, gguf.New(), inference.Request{Model: path, Prompt: "abc", Sampling: inference.Sampling{Temperature: 1, Seed: 9, MaxTokens: 5}})
	rp := New(dir)
	n := uint64(len(r.tr.Steps))
	lay := Layout{Layers: 2, Prompt: int(r.receipt.PromptTokens), Output: int(r.receipt.OutputTokens)}
	// Steps of every shape: a prompt layer-0 step, a layer-1 step, the first output step, a fed
	// output token's layer-0 step, a later output step.
	targets := map[string]int{
		"prompt layer 0": lay.LayerIndex(2, 0), "layer 1": lay.LayerIndex(lay.Prompt-1, 1), "first output": lay.OutputIndex(lay.Prompt - 1),
		"generated layer 0": lay.LayerIndex(lay.Prompt, 0), "later output": lay.OutputIndex(lay.Prompt + 1),
	}
	for tname, i := range targets {
		good := proofFor(t, r, i)
		enc := func(p *OneStepProof) []byte {
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if h, err := rp.ReplayStep(r.receipt, n, uint64(i), enc(good)); err != nil || h != r.tr.Steps[i].Hash {
			t.Fatalf("%s: honest proof: %v", tname, err)
		}
		clone := func() *OneStepProof {
			var p OneStepProof
			if err := p.UnmarshalBinary(enc(good)); err != nil {
				t.Fatal(err)
			}
			return &p
		}
		cases := map[string]func(p *OneStepProof){
			"modified record": func(p *OneStepProof) { p.Records[0].Data[20] ^= 1 },
			"modified last record": func(p *OneStepProof) {
				p.Records[len(p.Records)-1].Data[len(p.Records[len(p.Records)-1].Data)-1] ^= 0x80
			},
			"wrong path":     func(p *OneStepProof) { p.Records[0].Path[0][3] ^= 1 },
			"short path":     func(p *OneStepProof) { p.Records[0].Path = p.Records[0].Path[1:] },
			"long path":      func(p *OneStepProof) { p.Records[0].Path = append(p.Records[0].Path, [32]byte{}) },
			"dropped record": func(p *OneStepProof) { p.Records = p.Records[1:] },
			"extra record":   func(p *OneStepProof) { p.Records = append(p.Records, p.Records[0]) },
			"swapped records": func(p *OneStepProof) {
				p.Records[0], p.Records[len(p.Records)-1] = p.Records[len(p.Records)-1], p.Records[0]
			},
			"relabelled record": func(p *OneStepProof) {
				// A record of another step under the needed step's number.
				p.Records[0].Step++
			},
			"wrong prompt":   func(p *OneStepProof) { p.Request.Prompt = "abd" },
			"wrong model":    func(p *OneStepProof) { p.Request.Model += "x" },
			"chat request":   func(p *OneStepProof) { p.Request.Messages = []inference.Message{{Role: "user", Content: "abc"}} },
			"other index":    func(p *OneStepProof) { p.Index++ },
			"other position": func(p *OneStepProof) { p.Pos++ },
			"other layer":    func(p *OneStepProof) { p.Layer ^= 1 },
			"other kind": func(p *OneStepProof) {
				if p.Kind == gguf.StepLayer {
					p.Kind, p.Layer = gguf.StepOutput, 0
				} else {
					p.Kind = gguf.StepLayer
				}
			},
		}
		for cname, edit := range cases {
			p := clone()
			if len(p.Records) < 2 && strings.Contains(cname, "swapped") || len(p.Records) == 0 && strings.Contains(cname, "record") || strings.Contains(cname, "path") && (len(p.Records) == 0 || len(p.Records[0].Path) == 0) {
				continue
			}
			edit(p)
			b, err := p.MarshalBinary()
			if err != nil {
				continue // not even encodable
			}
			if h, err := rp.ReplayStep(r.receipt, n, uint64(i), b); err == nil {
				t.Errorf("%s, %s: accepted (hash %x, honest %x)", tname, cname, h, r.tr.Steps[i].Hash)
			}
		}
		// The honest proof of step i is no proof of another step.
		for _, j := range []uint64{0, uint64(i) + 1, n - 1} {
			if j == uint64(i) {
				continue
			}
			if _, err := rp.ReplayStep(r.receipt, n, j, enc(good)); err == nil {
				t.Errorf("%s: proof of step %d accepted for step %d", tname, i, j)
			}
		}
		// Nor for a tree of another size, or a receipt whose counts, seed or digests differ.
		if _, err := rp.ReplayStep(r.receipt, n+1, uint64(i), enc(good)); err == nil {
			t.Errorf("%s: accepted with steps %d", tname, n+1)
		}
		for name, edit := range map[string]func(*inference.Receipt){
			"input digest": func(rc *inference.Receipt) { rc.InputDigest[5] ^= 1 },
			"trace root":   func(rc *inference.Receipt) { rc.TraceRoot[5] ^= 1 },
			"prompt count": func(rc *inference.Receipt) { rc.PromptTokens--; rc.OutputTokens++; rc.Sampling.MaxTokens++ },
		} {
			rc := *r.receipt
			edit(&rc)
			steps, err := rp.StepCount(&rc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rp.ReplayStep(&rc, steps, uint64(i), enc(good)); err == nil {
				t.Errorf("%s: accepted with a different receipt %s", tname, name)
			}
		}
	}
	// A seed changed in the receipt changes the first sampled step's replay (the prover's leaf
	// no longer matches), without making the proof invalid: the seed is the receipt's to say.
	i := lay.OutputIndex(lay.Prompt - 1)
	rc := *r.receipt
	rc.Sampling.Seed = "10"
	h, err := rp.ReplayStep(&rc, n, uint64(i), enc0(t, proofFor(t, r, i)))
	if err != nil || h == r.tr.Steps[i].Hash {
		t.Errorf("other seed: %x, %v", h, err)
	}
	// Garbage is an error, not a panic.
	for _, b := range [][]byte{nil, {1}, {2}, bytes.Repeat([]byte{0xff}, 100)} {
		if _, err := rp.ReplayStep(r.receipt, n, 0, b); err == nil {
			t.Errorf("garbage %x accepted", b)
		}
	}
	if _, err := rp.ReplayStep(r.receipt, n, n, enc0(t, proofFor(t, r, 0))); err == nil {
		t.Error("index n accepted")
	}
}

func enc0(t *testing.T, p *OneStepProof) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A prover that lies about one step: the challenger, bisecting with the rule (the leftmost child
// it disagrees with), reaches exactly that step; the prover's best proof — honest records, proven
// against its own tree — replays to the honest hash, not the lie.
func TestLyingProverLoses(t *testing.T) {
	dir := t.TempDir()
	path := writeModel(t, dir, "m.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.Q8_0), gguf.ByteVocab(), 5))
	r := doRun(t, gguf.New(), inference.Request{Model: path, Prompt: "lie", Sampling: inference.Sampling{Temperature: 0.9, Seed: 4, MaxTokens: 6}})
	rp := New(dir)
	honest := Leaves(r.tr)
	n := len(honest)
	htree := NewTree(honest)
	for k := range n {
		fake := append([][32]byte(nil), honest...)
		fake[k][0] ^= 0x55
		ftree := NewTree(fake)
		// The bisection.
		lo, hi := 0, n
		moves := 0
		for hi-lo > 1 {
			mid, fl, fr, err := ftree.Children(lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			hl, _ := htree.NodeHash(lo, mid)
			hr, _ := htree.NodeHash(mid, hi)
			switch {
			case fl != hl:
				hi = mid
			case fr != hr:
				lo = mid
			default:
				t.Fatalf("k %d: the challenger agrees with both children of [%d, %d)", k, lo, hi)
			}
			moves++
		}
		if lo != k {
			t.Fatalf("bisection reached %d, the lie is at %d", lo, k)
		}
		if lim := bits.Len(uint(n - 1)); moves > lim { // ceil(log2 n)
			t.Fatalf("%d moves for %d leaves", moves, n)
		}
		// The prover's proof, with paths in its own tree.
		p, err := NewProof(r.tr, ftree, r.req, k)
		if err != nil {
			t.Fatal(err)
		}
		rc := *r.receipt
		rc.TraceRoot = ftree.Root()
		h, err := rp.ReplayStep(&rc, uint64(n), uint64(k), enc0(t, p))
		if err != nil {
			t.Fatalf("k %d: %v", k, err)
		}
		if h == fake[k] || LeafHash(h) == LeafHash(fake[k]) || h != honest[k] {
			t.Fatalf("k %d: replay %x, lie %x, honest %x", k, h, fake[k], honest[k])
		}
		// And a challenger disputing an honest prover at k loses: the replay is the leaf.
		hp, err := NewProof(r.tr, htree, r.req, k)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := rp.ReplayStep(r.receipt, uint64(n), uint64(k), enc0(t, hp)); err != nil || h != honest[k] {
			t.Fatalf("k %d: honest replay %x, %v", k, h, err)
		}
	}
}

// The model directory: found by digest in subdirectories and under any name, re-scanned when a
// digest is missing, and a file replaced after indexing is not used for the old digest.
func TestModelDirectory(t *testing.T) {
	dir := t.TempDir()
	w1 := gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 1)
	p1 := writeModel(t, dir, "one.gguf", w1)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	rp := New(dir)
	e := gguf.New()
	r1 := doRun(t, e, inference.Request{Model: p1, Prompt: "a", Sampling: inference.Sampling{MaxTokens: 2}})
	if _, err := rp.StepCount(r1.receipt); err != nil {
		t.Fatal(err)
	}
	// A model added later, in a subdirectory, named like an Ollama blob.
	sub := filepath.Join(dir, "blobs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p2 := writeModel(t, sub, "sha256-whatever", gguf.RandomLlama(gguf.TinyParams(gguf.F16), gguf.ByteVocab(), 2))
	r2 := doRun(t, e, inference.Request{Model: p2, Prompt: "b", Sampling: inference.Sampling{MaxTokens: 2}})
	checkEveryLeaf(t, rp, r2)
	if len(rp.models) != 2 {
		t.Errorf("%d models loaded", len(rp.models))
	}
	// Replace a file that was indexed but not yet loaded: its old digest is gone.
	p3 := writeModel(t, dir, "three.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 3))
	r3 := doRun(t, e, inference.Request{Model: p3, Prompt: "c", Sampling: inference.Sampling{MaxTokens: 2}})
	rp2 := New(dir)
	if _, err := rp2.Model(r1.receipt.ModelDigest); err != nil { // indexes all three
		t.Fatal(err)
	}
	if err := gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 4).WriteFile(p3); err != nil {
		t.Fatal(err)
	}
	if _, err := rp2.StepCount(r3.receipt); err == nil {
		t.Error("a replaced file still serves its old digest")
	}
	var unknown [32]byte
	if _, err := rp.Model(unknown); !errors.Is(err, ErrNoModel) {
		t.Errorf("unknown digest: %v", err)
	}
	if _, err := New(filepath.Join(dir, "missing")).Model(unknown); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestSamplingParsesAsTheEngine(t *testing.T) {
	for _, s := range []inference.Sampling{{}, {Temperature: 0.1, TopP: 0.95, TopK: 3, Seed: 1<<64 - 1}, {Temperature: 1e300, TopP: 1e-300}} {
		rs, err := inference.NewReceipt("gguf", inference.Request{Prompt: "x", Sampling: s},
			&inference.Response{ModelDigest: "sha256:" + strings.Repeat("00", 32)}, 1, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		sp, seed, err := Sampling(rs)
		if err != nil {
			t.Fatal(err)
		}
		want := gguf.SamplingParams{Temperature: float32(s.Temperature), TopK: s.TopK, TopP: float32(s.TopP)}
		if sp != want || seed != s.Seed {
			t.Errorf("%+v: parsed %+v seed %d", s, sp, seed)
		}
	}
}

// A lying prover can commit, in its own tree, to records that are not what the step needs: a
// record of another step, of the wrong kind, or of the wrong size at a needed leaf. The replayer
// reads nothing out of them.
func TestMisplacedRecordsFail(t *testing.T) {
	dir := t.TempDir()
	path := writeModel(t, dir, "m.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 42))
	r := doRun(t, gguf.New(), inference.Request{Model: path, Prompt: "abc", Sampling: inference.Sampling{Temperature: 1, Seed: 9, MaxTokens: 5}})
	rp := New(dir)
	n := len(r.tr.Steps)
	lay := Layout{Layers: 2, Prompt: int(r.receipt.PromptTokens), Output: int(r.receipt.OutputTokens)}
	for _, i := range []int{lay.LayerIndex(3, 0), lay.LayerIndex(lay.Prompt, 1), lay.LayerIndex(lay.Prompt, 0), lay.OutputIndex(lay.Prompt)} {
		id, _ := lay.At(i)
		needs := lay.Needs(id)
		for slot := range needs {
			for name, data := range map[string]func() []byte{
				"another step's record": func() []byte { b, _ := r.tr.StateRecord(needs[slot] - 1); return b },
				"an output record":      func() []byte { b, _ := r.tr.StateRecord(lay.OutputIndex(lay.Prompt - 1)); return b },
				"a truncated record":    func() []byte { b, _ := r.tr.StateRecord(needs[slot]); return b[:len(b)-1] },
				"an empty record":       func() []byte { return nil },
			} {
				rec := data()
				if needs[slot] == lay.OutputIndex(lay.Prompt-1) && name == "an output record" {
					continue // that is the honest record
				}
				fake := Leaves(r.tr)
				fake[needs[slot]] = sha256.Sum256(rec)
				ftree := NewTree(fake)
				p, err := NewProof(r.tr, ftree, r.req, i)
				if err != nil {
					t.Fatal(err)
				}
				p.Records[slot].Data = rec
				rc := *r.receipt
				rc.TraceRoot = ftree.Root()
				if h, err := rp.ReplayStep(&rc, uint64(n), uint64(i), enc0(t, p)); err == nil {
					t.Errorf("step %d, record %d (step %d) replaced by %s: accepted, %x", i, slot, needs[slot], name, h)
				}
			}
		}
	}
}

func TestErrorsAreWrapped(t *testing.T) {
	var p OneStepProof
	if err := p.UnmarshalBinary([]byte{9}); !errors.Is(err, ErrFormat) {
		t.Errorf("got %v", err)
	}
}

// checkOutput: the run's own output tokens pass CheckOutput (the engine's response rebuilt from
// them has the receipt's digest and the run ends at the last), a prefix or an extension of them
// does not, and OutputToken proves every output token against the trace.
func checkOutput(t *testing.T, rp *Replayer, r *run) {
	t.Helper()
	out := r.tr.Output()
	if err := rp.CheckOutput(r.receipt, r.req, out); err != nil {
		t.Fatalf("CheckOutput of the run's own tokens (%s, %d tokens): %v", r.resp.DoneReason, len(out), err)
	}
	m, err := rp.Model(r.receipt.ModelDigest)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := m.ResponseOf(r.req, int(r.receipt.PromptTokens), out, MaxTokens(r.receipt))
	if err != nil || resp.DoneReason != r.resp.DoneReason || resp.Text != r.resp.Text || len(resp.ToolCalls) != len(r.resp.ToolCalls) {
		t.Fatalf("ResponseOf %+v (%v), the engine said %+v", resp, err, r.resp)
	}
	if len(out) > 1 {
		// The prefix's own receipt: count and digest consistent with it; its ending is not.
		cut := *r.receipt
		cut.OutputTokens--
		if cut.OutputDigest, err = inference.OutputDigest(&inference.Response{Text: m.Vocab.Decode(out[:len(out)-1])}); err != nil {
			t.Fatal(err)
		}
		if err := rp.CheckOutput(&cut, r.req, out[:len(out)-1]); err == nil || !strings.Contains(err.Error(), "would go on") {
			t.Fatalf("a truncated run: %v", err)
		}
	}
	// Past the end: after an end-of-generation token or a stop string, even with room left
	// (with the limit raised too, a run that ended by length would legitimately go on).
	longer, req := *r.receipt, r.req
	longer.OutputTokens++
	if r.resp.DoneReason == "stop" && longer.Sampling.MaxTokens > 0 {
		longer.Sampling.MaxTokens++
		req.Sampling.MaxTokens++
	}
	if err := rp.CheckOutput(&longer, req, append(slices.Clone(out), 3+'a')); err == nil ||
		r.resp.DoneReason == "stop" && !strings.Contains(err.Error(), "not at the last") {
		t.Fatalf("a run continued past its end: %v", err)
	}
	bad := *r.receipt
	bad.OutputDigest[0] ^= 1
	if err := rp.CheckOutput(&bad, r.req, out); err == nil {
		t.Fatal("a false output digest passed CheckOutput")
	}
	tree := NewTree(Leaves(r.tr))
	n := uint64(len(r.tr.Steps))
	for k := range out {
		rec, path, err := TokenProof(r.tr, tree, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rp.OutputToken(r.receipt, n, uint64(k), rec, path)
		if err != nil || got != out[k] {
			t.Fatalf("OutputToken %d: %d (%v), want %d", k, got, err, out[k])
		}
		if k > 0 {
			if _, err := rp.OutputToken(r.receipt, n, uint64(k-1), rec, path); err == nil {
				t.Fatalf("the record of token %d proved token %d", k, k-1)
			}
		}
	}
}
