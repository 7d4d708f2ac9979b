package gguf

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"testing"
)

func tinyModel(t testing.TB, typ TensorType) *Model {
	t.Helper()
	m, err := LoadBytes(writeBytes(t, RandomLlama(TinyParams(typ), ByteVocab(), 42)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReplayEveryStep(t *testing.T) {
	for _, typ := range []TensorType{F32, F16, Q8_0} {
		for _, s := range []SamplingParams{{}, {Temperature: 0.8, TopK: 40, TopP: 0.9}} {
			t.Run(fmt.Sprintf("%v/temp=%v", typ, s.Temperature), func(t *testing.T) {
				m := tinyModel(t, typ)
				prompt := m.Vocab.Encode("Hello, world", true)
				tr, err := m.Run(context.Background(), prompt, s, 7, 12, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := len(prompt)*2 + (len(tr.Output())-1)*2 + len(tr.Output()); len(tr.Steps) != want && tr.DoneReason == "length" {
					t.Errorf("%d steps, want %d", len(tr.Steps), want)
				}
				for i := range tr.Steps {
					h, err := tr.ReplayStep(i)
					if err != nil {
						t.Fatal(err)
					}
					if h != tr.Steps[i].Hash {
						t.Fatalf("step %d (%+v): replay hash differs", i, tr.Steps[i])
					}
					rec, err := tr.StateRecord(i)
					if err != nil || sha256.Sum256(rec) != tr.Steps[i].Hash {
						t.Fatalf("step %d: state record does not hash to the step hash (%v)", i, err)
					}
					if !VerifyMerkleProof(tr.Root, tr.Steps[i].Hash, i, len(tr.Steps), tr.Proof(i)) {
						t.Fatalf("step %d: Merkle proof does not verify", i)
					}
				}
				t.Logf("output %q, %d steps, root %x", m.Vocab.Decode(tr.Output()), len(tr.Steps), tr.Root[:8])
			})
		}
	}
}

// TestReplayDetectsTampering: a replay from altered inputs does not reproduce the recorded hash,
// and malformed inputs are rejected rather than trusted. (Flipping only the lowest bit of one f16
// key can legitimately leave the output unchanged — the attention weights are rounded to f16 — so
// the cache edits flip an exponent bit.)
func TestReplayDetectsTampering(t *testing.T) {
	m := tinyModel(t, F32)
	tr, err := m.Run(context.Background(), m.Vocab.Encode("tamper", true), SamplingParams{Temperature: 1}, 5, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := len(tr.Steps) - 1 // an output step
	layerStep := last - 1     // the last block at the last fed position, with a filled cache
	for _, c := range []struct {
		step int
		edit func(*StepInputs)
	}{
		{layerStep, func(in *StepInputs) { in.X[3] = math.Nextafter32(in.X[3], 10) }},
		{layerStep, func(in *StepInputs) { in.K[0] ^= 0x4000 }},
		{layerStep, func(in *StepInputs) { in.V[len(in.V)-1] ^= 0x4000 }},
		{layerStep, func(in *StepInputs) { in.Token++ }},
		{last, func(in *StepInputs) { in.RNG++ }},
		{last, func(in *StepInputs) { in.X[0] = -in.X[0] }},
	} {
		in, err := tr.Inputs(c.step)
		if err != nil {
			t.Fatal(err)
		}
		c.edit(in)
		s, err := m.ReplayStep(in)
		if err != nil {
			t.Fatal(err)
		}
		if s.Hash == tr.Steps[c.step].Hash {
			t.Errorf("step %d (%+v): altered inputs reproduced the recorded hash", c.step, tr.Steps[c.step])
		}
	}
	in, _ := tr.Inputs(layerStep)
	in.K = in.K[1:]
	if _, err := m.ReplayStep(in); err == nil {
		t.Error("short key cache accepted")
	}
	in, _ = tr.Inputs(layerStep)
	in.Layer = 99
	if _, err := m.ReplayStep(in); err == nil {
		t.Error("layer 99 accepted")
	}
}
