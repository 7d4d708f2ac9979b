package gguf

import (
	"context"
	"errors"
)

// Run feeds the prompt, then samples up to maxTokens tokens, feeding each back, and returns the
// trace. onToken, if set, sees each sampled token that does not end generation; returning true
// stops the run with DoneReason "stop" (a stop string). The run ends with "stop" at an
// end-of-generation token (which is recorded in the trace and Tokens but not passed to onToken) and
// with "length" after maxTokens tokens or when the context is full. The context is checked
// between steps.
func (m *Model) Run(ctx context.Context, prompt []uint32, s SamplingParams, seed uint64, maxTokens int, onToken func(tok uint32) (bool, error)) (*Trace, error) {
	if len(prompt) == 0 {
		return nil, errors.New("gguf: empty prompt")
	}
	if len(prompt) > m.Params.Context {
		return nil, errors.New("gguf: prompt is longer than the model's context")
	}
	t := newTrace(m, s, seed)
	t.PromptLen = len(prompt)
	for _, tok := range prompt {
		if err := t.feed(ctx, tok); err != nil {
			return nil, err
		}
	}
	for n := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tok, err := t.next()
		if err != nil {
			return nil, err
		}
		n++
		if m.Vocab.IsEOG(tok) {
			t.Tokens = append(t.Tokens, tok)
			t.DoneReason = "stop"
			break
		}
		if onToken != nil {
			stop, err := onToken(tok)
			if err != nil {
				return nil, err
			}
			if stop {
				t.Tokens = append(t.Tokens, tok)
				t.DoneReason = "stop"
				break
			}
		}
		if n >= maxTokens || len(t.Tokens) >= m.Params.Context {
			t.Tokens = append(t.Tokens, tok)
			t.DoneReason = "length"
			break
		}
		if err := t.feed(ctx, tok); err != nil {
			return nil, err
		}
	}
	t.finish()
	return t, nil
}

// Output returns the sampled tokens (after the prompt).
func (t *Trace) Output() []uint32 { return t.Tokens[t.PromptLen:] }

// Hidden runs the tokens through the model and returns the final hidden state of each (after the
// output norm), without sampling; Embed pools these.
func (m *Model) Hidden(ctx context.Context, tokens []uint32) ([][]float32, error) {
	if len(tokens) > m.Params.Context {
		return nil, errors.New("gguf: input is longer than the model's context")
	}
	t := newTrace(m, SamplingParams{}, 0)
	out := make([][]float32, 0, len(tokens))
	for _, tok := range tokens {
		if err := t.feed(ctx, tok); err != nil {
			return nil, err
		}
		h := make([]float32, m.Params.Dim)
		rmsNorm(h, t.pending, m.outputNorm, m.Params.NormEps)
		out = append(out, h)
	}
	return out, nil
}
