package gguf

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/metisgo/metis/inference/internal/ollamatest"
)

func TestMain(m *testing.M) { ollamatest.Main(m) }

// asciiLlama is the standard tiny random model with the output rows of <unk>, <s>, </s>, the NUL
// byte and the bytes 0x80..0xFF set to zero. Those tokens then always have logit exactly 0, below
// the best printable-ASCII logit, so greedy decoding only ever emits bytes 0x01..0x7F. That keeps
// Ollama's response text a lossless record of its tokens: Ollama returns text, not token ids
// (/api/generate omits "context" for raw prompts), its JSON would replace invalid UTF-8 with
// U+FFFD, and its TokenToPiece strips NUL bytes. Without EOS the run is never cut short.
func asciiLlama(typ TensorType, seed uint64) *LlamaWeights {
	return asciiOutput(RandomLlama(TinyParams(typ), ByteVocab(), seed))
}

func asciiOutput(w *LlamaWeights) *LlamaWeights {
	dim := w.Params.Dim
	for t := range w.Vocab.Tokens {
		if t <= 3 || t >= 3+0x80 {
			clear(w.Output[t*dim : (t+1)*dim])
		}
	}
	return w
}

// mergeVocab is ByteVocab plus SentencePiece pieces with merge scores, some tied, so that the
// cross-check also covers bigram merging, its tie-breaking and resegmentation (not just byte
// fallback). Output rows of the extra tokens are zeroed by asciiLlama (their ids are above 0x80+3).
func mergeVocab() Vocab {
	v := ByteVocab()
	pieces := []string{"▁", "e", "t", "h", "o", "l", "▁t", "th", "he", "▁th", "▁the", "qu", "▁qu", "ic", "ick",
		"▁quick", "▁b", "ro", "ow", "own", "row", "▁brown", "▁f", "ox", "▁fox", "in", "ing", "er", "▁a", "an",
		"nd", "and", "▁and", "ll", "llo", "el", "ell", "He", "Hel", "Hello", "▁Hello", "▁w", "or", "orl", "rld", "▁world"}
	for i, p := range pieces {
		v.Tokens = append(v.Tokens, p)
		v.Scores = append(v.Scores, -float32(i/3)) // groups of three share a score
		v.Types = append(v.Types, TokenNormal)
	}
	return v
}

// textTokens maps ASCII text back to byte-vocabulary token ids.
func textTokens(s string) []uint32 {
	out := make([]uint32, len(s))
	for i := range len(s) {
		out[i] = 3 + uint32(s[i])
	}
	return out
}

// TestCrossCheckOllama compares greedy decoding here with llama.cpp inside a real Ollama v0.6.8 on
// the same GGUF file: the tokens must be identical for every prompt over numPredict tokens. The
// arithmetic differs in summation order and in the exp approximation llama.cpp vectorises, so the
// logits agree to about 1e-6 relative rather than bitwise; the test would only flip on a
// near-tie between the top two logits, which the fixed seeds here do not have.
func TestCrossCheckOllama(t *testing.T) {
	srv := ollamatest.Shared(t)
	const numPredict = 48
	prompts := []string{"Hello", "The quick brown fox", "the quick brown fox and the world", "metis: verifiable inference",
		"1 2 3 4 5", "<s>special</s> text", "a", "Hello world, hello  world", "thethethe quickquick"}
	models := map[string]*LlamaWeights{
		"F32":  asciiLlama(F32, 42),
		"F16":  asciiLlama(F16, 42),
		"Q8_0": asciiLlama(Q8_0, 42),
		// Another seed, and a vocabulary with merges: tokenization must match too.
		"F32-merges": asciiOutput(RandomLlama(TinyParams(F32), mergeVocab(), 7)),
	}
	for _, typ := range []string{"F32", "F16", "Q8_0", "F32-merges"} {
		t.Run(typ, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tiny-"+typ+".gguf")
			if err := models[typ].WriteFile(path); err != nil {
				t.Fatal(err)
			}
			name := "metis-crosscheck-" + strings.ToLower(typ)
			srv.Create(t, name, path, "")
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			merged := 0
			for _, prompt := range prompts {
				for _, id := range m.Vocab.Encode(prompt, true) {
					if id >= 259 {
						merged++
					}
				}
				tr, err := m.Run(context.Background(), m.Vocab.Encode(prompt, true), SamplingParams{}, 0, numPredict, nil)
				if err != nil {
					t.Fatal(err)
				}
				ours := tr.Output()
				theirs := ollamaGenerate(t, srv, name, prompt, numPredict)
				t.Logf("%s %q -> %q", typ, prompt, theirs)
				got := textTokens(theirs)
				n := 0
				for n < len(ours) && n < len(got) && ours[n] == got[n] {
					n++
				}
				if n < numPredict {
					t.Errorf("%s prompt %q: tokens agree for %d of %d\n ours   %q\n ollama %q", typ, prompt, n, numPredict, m.Vocab.Decode(ours), theirs)
				}
			}
			if typ == "F32-merges" && merged < 10 {
				t.Errorf("only %d merged tokens in the prompts: the merge path is not exercised", merged)
			}
		})
	}
}

// ollamaGenerate asks Ollama for a raw, greedy, non-streamed completion. repeat_penalty 1 turns
// off the repetition penalty that Ollama applies by default (1.1 over the last 64 tokens) even at
// temperature 0; top_k/top_p keep the best token, so the chain reduces to argmax.
func ollamaGenerate(t *testing.T, srv *ollamatest.Server, model, prompt string, n int) string {
	t.Helper()
	stream := false
	var out string
	err := srv.Client().Generate(context.Background(), &api.GenerateRequest{
		Model: model, Prompt: prompt, Raw: true, Stream: &stream,
		Options: map[string]any{"temperature": 0, "seed": 0, "num_predict": n, "repeat_penalty": 1.0},
	}, func(r api.GenerateResponse) error {
		out += r.Response
		return nil
	})
	if err != nil {
		t.Fatalf("ollama generate: %v\n%s", err, srv.Log())
	}
	return out
}
