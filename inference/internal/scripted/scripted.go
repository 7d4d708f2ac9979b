// Package scripted builds tiny llama GGUF models that say exactly what a test scripts, for any
// prompt: a random-weight model never emits a tool call, and nothing may be downloaded, yet the
// tool-call round trip and langchaingo's agents need a model that calls a tool and then answers
// from its result. The models are ordinary llama-architecture files (F32, one layer) that Ollama
// (llama.cpp) and inference/gguf both run.
//
// The network is a bigram machine. Attention's output projection and the FFN's down projection
// are zero, so the residual stream after the one layer is just the token embedding; the
// embedding of token t is a one-hot vector for t's "state", and the output head maps each
// state to the token that follows with a logit margin of about 50, so greedy decoding and any
// sampling at a sane temperature pick it. The next token therefore depends on the current token
// alone: a Rule says "after this token, say these pieces, then </s>". The prompt's last token is
// chosen by the chat template (a control marker, or the last byte of a tool result), which is
// how one model can call a tool first and then answer with the tool's result digit.
package scripted

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/metisgo/metis/inference/gguf"
)

// Rule: when the current token is After, the model emits the pieces of Say, one token each, then
// </s>. After is a control marker (added to the vocabulary as a control token, for the template
// to place), or a single byte such as "5" (its byte token), or "" for every token no other rule
// names. Pieces become normal tokens; they must be unique within a model, since each piece is a
// state of the machine.
type Rule struct {
	After string
	Say   []string
}

// margin is the logit of the scripted next token (all others are 0): e^-50 leaves the rest of
// the vocabulary no chance at temperature 1.
const margin = 50

// Build returns the weights of a model that follows rules. Exactly one rule must have After "".
func Build(rules []Rule) (*gguf.LlamaWeights, error) {
	v := gguf.ByteVocab()
	id := map[string]uint32{} // vocabulary text -> id, for the tokens Build adds
	add := func(text string, typ int32) (uint32, error) {
		if _, dup := id[text]; dup {
			return 0, fmt.Errorf("scripted: token %q appears twice", text)
		}
		n := uint32(len(v.Tokens))
		v.Tokens = append(v.Tokens, text)
		v.Types = append(v.Types, typ)
		v.Scores = append(v.Scores, 0)
		id[text] = n
		return n, nil
	}
	// next[t] is the token that follows token t; tokens absent follow the default rule.
	next := map[uint32]uint32{}
	var def *Rule
	for i := range rules {
		r := &rules[i]
		if len(r.Say) == 0 {
			return nil, fmt.Errorf("scripted: rule after %q says nothing", r.After)
		}
		var trigger uint32
		switch {
		case r.After == "":
			if def != nil {
				return nil, errors.New("scripted: two default rules")
			}
			def = r
		case len(r.After) == 1:
			trigger = 3 + uint32(r.After[0]) // ByteVocab: <0x00> is id 3
		default:
			t, err := add(r.After, gguf.TokenControl)
			if err != nil {
				return nil, err
			}
			trigger = t
		}
		var prev uint32
		for j, piece := range r.Say {
			// SentencePiece vocabularies write spaces as U+2581; llama.cpp turns them back.
			t, err := add(strings.ReplaceAll(piece, " ", "\u2581"), gguf.TokenNormal)
			if err != nil {
				return nil, err
			}
			if j == 0 {
				if r.After != "" {
					next[trigger] = t
				}
			} else {
				next[prev] = t
			}
			prev = t
		}
		next[prev] = v.EOS
		if r.After == "" {
			// Stored under a key no real token has; resolved below.
			next[math.MaxUint32] = id[strings.ReplaceAll(r.Say[0], " ", "\u2581")]
		}
	}
	if def == nil {
		return nil, errors.New("scripted: no default rule (After \"\")")
	}
	defFirst := next[math.MaxUint32]
	delete(next, math.MaxUint32)

	// State 0 is shared by every token without a rule of its own; each other token gets a state.
	state := make([]int, len(v.Tokens))
	nstates := 1
	for t := range v.Tokens {
		if _, ok := next[uint32(t)]; ok {
			state[t] = nstates
			nstates++
		}
	}
	dim := max(32, (nstates+31)/32*32)
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
		Wo:       make([]float32, dim*dim), // zero: attention adds nothing to the residual
		FFNNorm:  ones(dim),
		Gate:     make([]float32, dim*p.FFN),
		Down:     make([]float32, p.FFN*dim), // zero: neither does the FFN
		Up:       make([]float32, dim*p.FFN),
	}}
	w.OutputNorm = ones(dim)
	// After RMSNorm a one-hot embedding becomes sqrt(dim) (minus a hair for eps) in its state's
	// coordinate, so scale the head by margin/sqrt(dim) to get logits of about margin.
	scale := float32(margin / math.Sqrt(float64(dim)))
	w.Output = make([]float32, dim*nv)
	w.Output[int(defFirst)*dim+0] = scale
	for t, n := range next {
		w.Output[int(n)*dim+state[t]] = scale
	}
	return w, nil
}

// Markers the templates below place at the end of the prompt.
const (
	// MarkCall ends a prompt whose last message is from the user and that offers tools.
	MarkCall = "<|call|>"
	// MarkChat ends a prompt whose last message is from the user, without tools.
	MarkChat = "<|chat|>"
)

// Template is the Ollama (Go text/template) chat template for the models below. It renders the
// conversation, tool calls as {"name": ..., "arguments": ...} (the shape Ollama parses back out
// of the model's output), and ends with MarkCall or MarkChat after a user message, or with the
// tool's answer itself after a tool message, so that the answer's last byte picks the reply.
const Template = `{{- if .Tools }}<|tools|>{{ range .Tools }}{{ .Function.Name }}: {{ .Function.Description }}
{{ end }}{{ end }}
{{- range $i, $m := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "system" }}<|system|>{{ .Content }}
{{- else if eq .Role "user" }}<|user|>{{ .Content }}{{ if $last }}{{ if $.Tools }}` + MarkCall + `{{ else }}` + MarkChat + `{{ end }}{{ end }}
{{- else if eq .Role "assistant" }}<|assistant|>{{ .Content }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}{{ end }}
{{- else if eq .Role "tool" }}<|tool|>{{ .Content }}
{{- end }}
{{- end }}`

// ChatReply is what the models say to a plain chat (no tools offered), and Unsure what they
// say when the prompt ends in anything else (a tool result that is not one digit, say).
const (
	ChatReply = "Hello from the scripted model."
	Unsure    = "I do not know."
)

// AdderRules is the script of a model that, offered tools, calls add with {"a": a, "b": b}
// and, given a one-digit tool result d, answers "The sum is d.". With agentArgs it calls add with
// {"__arg1": "a+b"} instead, the single string argument langchaingo's OpenAI-functions agent
// declares for every tool.
func AdderRules(a, b int, agentArgs bool) []Rule {
	args := []string{fmt.Sprintf(` {"a": %d,`, a), fmt.Sprintf(` "b": %d}}`, b)}
	if agentArgs {
		args = []string{` {"__arg1":`, fmt.Sprintf(` "%d+%d"}}`, a, b)}
	}
	rules := []Rule{
		{After: "", Say: []string{"I", " do", " not", " know."}},
		{After: MarkCall, Say: append([]string{`{"name":`, ` "add",`, ` "arguments":`}, args...)},
		{After: MarkChat, Say: []string{"Hello", " from", " the", " scripted", " model."}},
	}
	for d := range 10 {
		rules = append(rules, Rule{After: fmt.Sprint(d), Say: []string{fmt.Sprintf("The sum is %d.", d)}})
	}
	return rules
}

// Modelfile is the Modelfile text (after FROM) that gives a scripted model its Template in
// Ollama.
const Modelfile = "TEMPLATE \"\"\"" + Template + "\"\"\""

// WriteFile builds a model from rules and writes it as GGUF to path.
func WriteFile(path string, rules []Rule) error {
	w, err := Build(rules)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}
