package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

func TestProofEncoding(t *testing.T) {
	p := &OneStepProof{Index: 1 << 40, Kind: gguf.StepLayer, Pos: 7, Layer: 3,
		Request: inference.Request{Model: "m", Prompt: "ü",
			Messages: []inference.Message{{Role: "assistant", Content: "c", ToolName: "t",
				ToolCalls: []inference.ToolCall{{ID: "1", Name: "f", Arguments: json.RawMessage(`{"a":1}`)}, {Name: "g"}}}},
			Tools: []inference.Tool{{Name: "f", Description: "d", Parameters: json.RawMessage(`{}`)}, {Name: "g"}}},
		Records: []Record{{Step: 3, Data: []byte{1, 2, 3}, Path: [][32]byte{{1}, {2}}}, {Step: 4}}}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q OneStepProof
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, err := q.MarshalBinary()
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("re-encoding differs: %v", err)
	}
	if q.Request.Messages[0].ToolCalls[1].Arguments != nil || string(q.Request.Tools[0].Parameters) != "{}" || q.Records[1].Path != nil {
		t.Errorf("decoded %+v", q)
	}
	// Every truncation and any trailing byte fail.
	for n := range b {
		if err := q.UnmarshalBinary(b[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if err := q.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrFormat) {
		t.Error("trailing byte accepted")
	}
	bad := func(name string, edit func([]byte)) {
		c := append([]byte(nil), b...)
		edit(c)
		if err := q.UnmarshalBinary(c); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad("version", func(c []byte) { c[0] = 2 })
	bad("kind", func(c []byte) { c[9] = 3 })
	bad("output with a layer", func(c []byte) { c[9] = byte(gguf.StepOutput) })
	bad("huge count", func(c []byte) { copy(c[18:], []byte{0xff, 0xff, 0xff, 0x7f}) })
	bad("bad utf-8", func(c []byte) { c[len(c)-len(b)+23+1+4] = 0xff }) // inside the prompt "ü"
	// Encoding refuses what decoding would.
	for name, p := range map[string]*OneStepProof{
		"kind":      {Kind: 0},
		"layer":     {Kind: gguf.StepOutput, Layer: 1},
		"utf-8":     {Kind: gguf.StepLayer, Request: inference.Request{Prompt: "\xff"}},
		"long path": {Kind: gguf.StepLayer, Records: []Record{{Path: make([][32]byte, MaxPath+1)}}},
	} {
		if _, err := p.MarshalBinary(); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := make([]byte, MaxProofSize+1)
	if err := q.UnmarshalBinary(big); !errors.Is(err, ErrFormat) {
		t.Errorf("oversized: %v", err)
	}
}

// fuzzFixture is a real model, run and receipt for FuzzOneStepProof.
type fuzzFixture struct {
	rp    *Replayer
	r     *run
	seeds [][]byte
}

var (
	fixtureOnce sync.Once
	fixture     *fuzzFixture
	fixtureErr  error
)

func getFixture(dir string) (*fuzzFixture, error) {
	fixtureOnce.Do(func() {
		path := filepath.Join(dir, "m.gguf")
		if fixtureErr = gguf.RandomLlama(gguf.TinyParams(gguf.F16), gguf.ByteVocab(), 8).WriteFile(path); fixtureErr != nil {
			return
		}
		e := gguf.New()
		req := inference.Request{Model: path, Prompt: "fz", Sampling: inference.Sampling{Temperature: 0.8, Seed: 2, MaxTokens: 3}}
		resp, tr, err := e.GenerateTrace(context.Background(), req)
		if err != nil {
			fixtureErr = err
			return
		}
		rc, err := inference.NewReceipt("gguf", req, resp, 1337, time.Unix(0, 0))
		if err != nil {
			fixtureErr = err
			return
		}
		f := &fuzzFixture{rp: New(dir), r: &run{req: req, resp: resp, tr: tr, receipt: rc}}
		for i := range tr.Steps {
			b, err := BuildProof(tr, req, i)
			if err != nil {
				fixtureErr = err
				return
			}
			f.seeds = append(f.seeds, b)
		}
		fixture = f
	})
	return fixture, fixtureErr
}

// FuzzOneStepProof decodes arbitrary proofs and replays whatever decodes against a real receipt:
// no panic, canonical re-encoding, and — the soundness property — a proof that passes for the
// honest trace root always replays to the honest step hash.
func FuzzOneStepProof(f *testing.F) {
	fx, err := getFixture(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	for i, b := range fx.seeds {
		f.Add(b, uint64(i))
		if i%5 == 0 {
			f.Add(b[:len(b)/2], uint64(i))
		}
	}
	f.Add([]byte{1}, uint64(0))
	steps := uint64(len(fx.r.tr.Steps))
	f.Fuzz(func(t *testing.T, b []byte, index uint64) {
		var p OneStepProof
		if err := p.UnmarshalBinary(b); err == nil {
			again, err := p.MarshalBinary()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("decoded proof re-encodes differently (%v)", err)
			}
			index = p.Index
		}
		for _, idx := range []uint64{index, index % steps} {
			h, err := fx.rp.ReplayStep(fx.r.receipt, steps, idx, b)
			if err == nil && h != fx.r.tr.Steps[idx].Hash {
				t.Fatalf("step %d: a valid proof replays to %x, the honest hash is %x", idx, h, fx.r.tr.Steps[idx].Hash)
			}
		}
	})
}

// FuzzOutputToken: a token dispute's record and audit path (attacker-controlled calldata) are
// checked without panicking, and only the run's own record of output step k proves a token,
// which is then the token the run sampled.
func FuzzOutputToken(f *testing.F) {
	dir := f.TempDir()
	path := writeModel(f, dir, "m.gguf", gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 5))
	r := doRun(f, gguf.New(), inference.Request{Model: path, Prompt: "fuzz", Sampling: inference.Sampling{MaxTokens: 5}})
	rp := New(dir)
	tree := NewTree(Leaves(r.tr))
	n := uint64(len(r.tr.Steps))
	out := r.tr.Output()
	flat := func(p [][32]byte) []byte {
		var b []byte
		for _, h := range p {
			b = append(b, h[:]...)
		}
		return b
	}
	for k := range out {
		rec, p, err := TokenProof(r.tr, tree, k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint64(k), rec, flat(p))
	}
	f.Add(uint64(1<<40), []byte{2}, []byte{})
	f.Fuzz(func(t *testing.T, k uint64, rec, pathBytes []byte) {
		var p [][32]byte
		for len(pathBytes) >= 32 {
			p = append(p, [32]byte(pathBytes[:32]))
			pathBytes = pathBytes[32:]
		}
		tok, err := rp.OutputToken(r.receipt, n, k, rec, p)
		if err != nil {
			return
		}
		if k >= uint64(len(out)) || tok != out[k] {
			t.Fatalf("token %d proved as %d, the run sampled %v", k, tok, out)
		}
	})
}
