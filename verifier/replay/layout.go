package replay

import (
	"errors"
	"fmt"

	"github.com/metisgo/metis/inference/gguf"
)

// Layout is the order of the steps of a gguf run, fixed by three numbers: the model's layer count
// L, the prompt length P and the number of output tokens O (the receipt's PromptTokens and
// OutputTokens). Model.Run feeds every token but the last sampled one — P+O-1 positions, L layer
// steps each — and samples O times, one output step each, the first after the prompt:
//
//	(0,0) … (0,L-1)  …  (P-1,0) … (P-1,L-1)  out(P-1)  (P,0) … (P,L-1) out(P)  …  out(P+O-2)
//
// so the trace has L·(P+O-1) + O steps, whether the run ended at an end-of-generation token, a
// stop string, MaxTokens or the full context (the last sampled token is never fed).
type Layout struct {
	Layers, Prompt, Output int
}

// Count is the number of steps, L·(P+O-1) + O.
func (l Layout) Count() int { return l.Layers*(l.Prompt+l.Output-1) + l.Output }

// check validates the layout against a model's context.
func (l Layout) check(context int) error {
	switch {
	case l.Layers < 1:
		return errors.New("replay: a model without layers")
	case l.Prompt < 1:
		return errors.New("replay: a run with an empty prompt")
	case l.Output < 1:
		return errors.New("replay: a run without output tokens (every run samples at least one)")
	case l.Prompt > context || l.Prompt+l.Output-1 > context:
		return fmt.Errorf("replay: %d prompt and %d output tokens do not fit a context of %d", l.Prompt, l.Output, context)
	}
	return nil
}

// StepID is a step's identity: its kind, position and block (0 for output steps).
type StepID struct {
	Kind  gguf.StepKind
	Pos   int
	Layer int
}

// At returns the identity of step i (0 <= i < Count()).
func (l Layout) At(i int) (StepID, error) {
	if i < 0 || i >= l.Count() {
		return StepID{}, fmt.Errorf("replay: step %d outside a trace of %d steps", i, l.Count())
	}
	a := l.Layers * l.Prompt
	if i < a {
		return StepID{gguf.StepLayer, i / l.Layers, i % l.Layers}, nil
	}
	if i == a {
		return StepID{gguf.StepOutput, l.Prompt - 1, 0}, nil
	}
	j := i - a - 1
	pos, r := l.Prompt+j/(l.Layers+1), j%(l.Layers+1)
	if r == l.Layers {
		return StepID{gguf.StepOutput, pos, 0}, nil
	}
	return StepID{gguf.StepLayer, pos, r}, nil
}

// LayerIndex is the index of layer step (pos, layer); pos must be a fed position.
func (l Layout) LayerIndex(pos, layer int) int {
	if pos < l.Prompt {
		return pos*l.Layers + layer
	}
	return l.Layers*l.Prompt + 1 + (pos-l.Prompt)*(l.Layers+1) + layer
}

// OutputIndex is the index of the output step at pos (P-1 <= pos <= P+O-2).
func (l Layout) OutputIndex(pos int) int {
	if pos == l.Prompt-1 {
		return l.Layers * l.Prompt
	}
	return l.LayerIndex(pos, l.Layers)
}

// Needs lists, in the order a one-step proof carries them, the earlier steps whose state records
// step i's inputs come from:
//
//   - layer step (p, l): the layer step (p, l-1) when l > 0 (the residual, and the token at p), or
//     the output step at p-1 when l = 0 and p >= P (the token at p is the token it sampled; at a
//     prompt position the token comes from the request instead); then the layer steps (q, l) for
//     q = 0..p-1 (block l's key and value rows);
//   - output step at p: the layer step (p, L-1) (the residual and the token), then the output step
//     at p-1 when p >= P (the PRNG state after it; at p = P-1 the state is the seed).
//
// Every listed index is below i.
func (l Layout) Needs(id StepID) []int {
	var out []int
	switch id.Kind {
	case gguf.StepLayer:
		if id.Layer > 0 {
			out = append(out, l.LayerIndex(id.Pos, id.Layer-1))
		} else if id.Pos >= l.Prompt {
			out = append(out, l.OutputIndex(id.Pos-1))
		}
		for q := range id.Pos {
			out = append(out, l.LayerIndex(q, id.Layer))
		}
	case gguf.StepOutput:
		out = append(out, l.LayerIndex(id.Pos, l.Layers-1))
		if id.Pos >= l.Prompt {
			out = append(out, l.OutputIndex(id.Pos-1))
		}
	}
	return out
}

// needCount is len(l.Needs(id)), without building the list.
func (l Layout) needCount(id StepID) int {
	if id.Kind == gguf.StepOutput {
		if id.Pos >= l.Prompt {
			return 2
		}
		return 1
	}
	if id.Layer > 0 || id.Pos >= l.Prompt {
		return id.Pos + 1
	}
	return id.Pos
}
