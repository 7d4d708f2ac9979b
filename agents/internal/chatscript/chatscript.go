// Package chatscript writes tiny GGUF models that give one fixed reply to every chat the
// embedded engine (inference/gguf) renders, so that the agents' tests and benchmarks run a real
// model file through the real engine and the langchaingo adapter, made on the spot, and still
// know what it will say: a tool call, a malformed one, or text.
//
// It is the construction of inference/internal/scripted (which agents cannot import) reduced to
// what the agents need. The network is a bigram machine: attention's output projection and the
// FFN's down projection are zero, so the residual stream after the one layer is the token's
// embedding, a one-hot "state", and the output head maps each state to the next token with a
// logit margin of about 50. ChatML prompts, the engine's default format, end with
// "assistant\n", so the byte token of '\n' is the last prompt token of every chat: after it the
// model says the reply (one vocabulary token), then </s>.
package chatscript

import (
	"errors"
	"math"
	"strings"

	"github.com/metisgo/metis/inference/gguf"
)

// Unsure is what the models say after any prompt that does not end in '\n' (Generate of
// arbitrary text, say).
const Unsure = "I do not know."

// Build returns the weights of a model that answers every chat with reply.
func Build(reply string) (*gguf.LlamaWeights, error) {
	if reply == "" || strings.Contains(reply, "\n") || reply == Unsure {
		return nil, errors.New("chatscript: the reply must be one non-empty line other than Unsure")
	}
	v := gguf.ByteVocab()
	add := func(text string) uint32 {
		v.Tokens = append(v.Tokens, strings.ReplaceAll(text, " ", "\u2581"))
		v.Types = append(v.Types, gguf.TokenNormal)
		v.Scores = append(v.Scores, 0)
		return uint32(len(v.Tokens) - 1)
	}
	replyTok, unsureTok := add(reply), add(Unsure)
	newline := uint32(3 + '\n') // ByteVocab: <0x00> is id 3
	// States: 0 for every token without a rule (they say Unsure), 1 after '\n', 2 after the
	// reply and after Unsure (they end the sequence).
	state := make([]int, len(v.Tokens))
	state[newline], state[replyTok], state[unsureTok] = 1, 2, 2
	const dim = 32
	p := gguf.LlamaParams{Dim: dim, Layers: 1, Heads: 4, KVHeads: 2, FFN: 32, Context: 4096,
		RopeTheta: 10000, NormEps: 1e-5, Type: gguf.F32}
	nv := len(v.Tokens)
	kv := p.KVHeads * (p.Dim / p.Heads)
	w := &gguf.LlamaWeights{Params: p, Vocab: v}
	w.TokenEmbd = make([]float32, dim*nv)
	for t := range nv {
		w.TokenEmbd[t*dim+state[t]] = 1
	}
	ones := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	w.Layers = []gguf.LayerWeights{{
		AttnNorm: ones(dim),
		Wq:       make([]float32, dim*dim),
		Wk:       make([]float32, dim*kv),
		Wv:       make([]float32, dim*kv),
		Wo:       make([]float32, dim*dim),
		FFNNorm:  ones(dim),
		Gate:     make([]float32, dim*p.FFN),
		Down:     make([]float32, p.FFN*dim),
		Up:       make([]float32, dim*p.FFN),
	}}
	w.OutputNorm = ones(dim)
	// RMSNorm turns a one-hot embedding into about sqrt(dim) in its coordinate.
	scale := float32(50 / math.Sqrt(dim))
	w.Output = make([]float32, dim*nv)
	w.Output[int(unsureTok)*dim+0] = scale
	w.Output[int(replyTok)*dim+1] = scale
	w.Output[int(v.EOS)*dim+2] = scale
	return w, nil
}

// WriteFile builds a model answering reply and writes it as GGUF to path.
func WriteFile(path, reply string) error {
	w, err := Build(reply)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}
