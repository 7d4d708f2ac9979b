package replay

import (
	"errors"
	"fmt"
	"slices"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

// BuildProof is the prover's side: the encoded one-step proof for leaf i of the trace of a run
// of req (the request exactly as the engine ran it; its Sampling and Stream are not part of the
// proof). It checks that the request gives the trace's prompt.
func BuildProof(tr *gguf.Trace, req inference.Request, i int) ([]byte, error) {
	p, err := NewProof(tr, NewTree(Leaves(tr)), req, i)
	if err != nil {
		return nil, err
	}
	return p.MarshalBinary()
}

// NewProof is BuildProof before encoding, with the audit paths taken from tree, which must be the
// tree over the trace's step hashes (a prover answering many disputes over one trace builds it
// once).
func NewProof(tr *gguf.Trace, tree *Tree, req inference.Request, i int) (*OneStepProof, error) {
	if tr == nil || tr.Model == nil || tree == nil {
		return nil, errors.New("replay: no trace")
	}
	lay := Layout{Layers: tr.Model.Params.Layers, Prompt: tr.PromptLen, Output: len(tr.Tokens) - tr.PromptLen}
	if err := lay.check(tr.Model.Params.Context); err != nil {
		return nil, err
	}
	if lay.Count() != len(tr.Steps) || tree.Len() != len(tr.Steps) {
		return nil, fmt.Errorf("replay: a trace of %d steps (tree of %d), its layout has %d", len(tr.Steps), tree.Len(), lay.Count())
	}
	id, err := lay.At(i)
	if err != nil {
		return nil, err
	}
	if s := tr.Steps[i]; s.Kind != id.Kind || s.Pos != id.Pos || (s.Kind == gguf.StepLayer && s.Layer != id.Layer) {
		return nil, fmt.Errorf("replay: step %d of the trace is not the layout's", i)
	}
	req = inference.Request{Model: req.Model, Prompt: req.Prompt, Messages: req.Messages, Tools: req.Tools}
	prompt, err := tr.Model.PromptTokens(req, len(req.Messages) > 0)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(prompt, tr.Tokens[:tr.PromptLen]) {
		return nil, errors.New("replay: the request does not give the trace's prompt")
	}
	p := &OneStepProof{Index: uint64(i), Kind: id.Kind, Pos: uint32(id.Pos), Layer: uint32(id.Layer), Request: req}
	for _, j := range lay.Needs(id) {
		rec, err := tr.StateRecord(j)
		if err != nil {
			return nil, err
		}
		p.Records = append(p.Records, Record{Step: uint64(j), Data: rec, Path: tree.Path(j)})
	}
	return p, nil
}
