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

// crossModel is a model for the cross-check with the prompts to run and a function that maps
// Ollama's response text back to token ids (which its API does not return).
type crossModel struct {
	name    string
	w       *LlamaWeights
	prompts []string
	tokens  func(text string) ([]uint32, bool)
}

var spmPrompts = []string{"Hello", "The quick brown fox", "the quick brown fox and the world", "metis: verifiable inference",
	"1 2 3 4 5", "<s>special</s> text", "a", "Hello world, hello  world", "thethethe quickquick"}

func spmModel(name string, w *LlamaWeights) crossModel {
	return crossModel{name, asciiOutput(w), spmPrompts, func(s string) ([]uint32, bool) { return textTokens(s), true }}
}

// kParams are the shapes of the K-quant test models: every matrix row a whole number of 256-value
// super-blocks, GQA with two query heads per KV head, head dimension 64.
func kParams(arch string, typ TensorType) LlamaParams {
	p := LlamaParams{Arch: arch, Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, FFN: 512, Context: 512, RopeTheta: 500000, NormEps: 1e-5, Type: typ}
	if arch == "qwen2" {
		p.RopeTheta, p.NormEps = 1000000, 1e-6
	}
	return p
}

// llama3Model is a Llama 3.1 style model: the made-up Llama 3 vocabulary, rope_freqs from Llama
// 3.1's scaling parameters.
func llama3Model(typ TensorType, seed uint64) *LlamaWeights {
	p := kParams("llama", typ)
	w := RandomLlama(p, Llama3Vocab(), seed)
	w.RopeFreqs = Llama3RopeFreqs(p.Dim/p.Heads, float64(p.RopeTheta), 8, 1, 4, 8192)
	return w
}

// qwen2Model is a Qwen 2.5 style model: the made-up Qwen vocabulary, QKV biases, NEOX RoPE.
func qwen2Model(typ TensorType, seed uint64) *LlamaWeights {
	return RandomLlama(kParams("qwen2", typ), Qwen2Vocab(), seed)
}

// mixKM applies llama.cpp's Q4_K_M / Q5_K_M recipe in spirit: Q6_K for the output matrix and for
// attn_v and ffn_down of the first layer, the base type elsewhere.
func mixKM(w *LlamaWeights) *LlamaWeights {
	w.TensorTypes = map[string]TensorType{"output.weight": Q6_K, "blk.0.attn_v.weight": Q6_K, "blk.0.ffn_down.weight": Q6_K}
	return w
}

var bpePrompts = []string{"Hello", "The quick brown fox jumps over the lazy dog", "they're done; I'll see, won't we?",
	"Numbers: 1234567 and 3.14159", "Café naïve über — 日本語 🙂", "Hello  world\n\n\tdef f(x):\n    return x*2",
	"<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "a"}

// bpeModel zeroes the output rows of every token except printable ASCII bytes, newline, a few
// merged tokens that each start with a letter no other allowed token contains, and "é". Those
// tokens keep random logits and the others get exactly 0, below the best of them, so greedy
// decoding only emits allowed tokens, and because each allowed multi-byte token starts with a
// byte no other allowed token contains, Ollama's text maps back to the tokens uniquely.
func bpeModel(t testing.TB, name string, w *LlamaWeights) crossModel {
	tok := tokenizerOf(t, w.Vocab)
	markers := "qzjxQZJXvk"
	marked := map[byte]uint32{}
	for id := 256; id < len(w.Vocab.Tokens); id++ {
		p := tok.Piece(uint32(id))
		if w.Vocab.Types[id] != TokenNormal || len(p) < 2 || !strings.ContainsRune(markers, rune(p[0])) {
			continue
		}
		ok := true
		for i := range len(p) {
			if p[i] < 0x20 || p[i] > 0x7E || (i > 0 && strings.IndexByte(markers, p[i]) >= 0) {
				ok = false
			}
		}
		if _, have := marked[p[0]]; ok && !have {
			marked[p[0]] = uint32(id)
		}
	}
	allowed := map[uint32]bool{}
	for b := byte(0x20); b <= 0x7E; b++ {
		if _, m := marked[b]; !m {
			allowed[uint32(b)] = true // byte symbols have ids 0..255
		}
	}
	allowed['\n'] = true
	for _, id := range marked {
		allowed[id] = true
	}
	if id, ok := tok.ids[string(byteToRune[0xC3])+string(byteToRune[0xA9])]; ok { // "é"
		allowed[id] = true
		marked[0xC3] = id
	}
	dim := w.Params.Dim
	for t := range w.Vocab.Tokens {
		if allowed[uint32(t)] {
			continue
		}
		row := w.Output[t*dim : (t+1)*dim]
		if !w.TiedOutput {
			clear(row)
			continue
		}
		// With tied embeddings the row is also the token's embedding, which a zero row would
		// erase from every prompt; scaled by 1/16 its logits stay far below the allowed tokens'
		// best (the decoder below would catch one that won).
		for i := range row {
			row[i] /= 16
		}
	}
	decode := func(text string) ([]uint32, bool) {
		var out []uint32
		for i := 0; i < len(text); {
			if id, ok := marked[text[i]]; ok {
				p := tok.Piece(id)
				if !strings.HasPrefix(text[i:], p) {
					return out, false
				}
				out, i = append(out, id), i+len(p)
				continue
			}
			if !allowed[uint32(text[i])] {
				return out, false
			}
			out, i = append(out, uint32(text[i])), i+1
		}
		return out, true
	}
	return crossModel{name, w, bpePrompts, decode}
}

// crossModels are the models of the cross-check: the SentencePiece byte-vocabulary model in F32,
// F16 and Q8_0 and one with merges; Llama 3 and Qwen 2.5 style models with BPE vocabularies in a
// Q4_K_M-like and a Q5_K_M-like mix; and one model per remaining tensor type, alternating the
// architectures, with linear RoPE scaling and tied embeddings thrown in.
func crossModels(t testing.TB) []crossModel {
	q80 := qwen2Model(Q8_0, 14)
	q80.TiedOutput = true // Qwen 2.5 0.5B and 1.5B tie the output matrix to the embeddings
	// Random tied embeddings make every token predict itself (its row is the best match of its
	// own embedding) unless the blocks' contributions outweigh the embedding: scale it down.
	for i := range q80.TokenEmbd {
		q80.TokenEmbd[i] /= 32
	}
	q80.Output = q80.TokenEmbd
	q40 := llama3Model(Q4_0, 13)
	q40.Params.RopeScaling = 4
	return []crossModel{
		spmModel("F32", asciiLlama(F32, 42)),
		spmModel("F16", asciiLlama(F16, 42)),
		spmModel("Q8_0", asciiLlama(Q8_0, 42)),
		// Another seed, and a vocabulary with merges: tokenization must match too.
		spmModel("F32-merges", RandomLlama(TinyParams(F32), mergeVocab(), 7)),
		bpeModel(t, "llama3-Q4_K_M", mixKM(llama3Model(Q4_K, 8))),
		bpeModel(t, "qwen2.5-Q5_K_M", mixKM(qwen2Model(Q5_K, 9))),
		bpeModel(t, "llama3-Q6_K", llama3Model(Q6_K, 10)),
		bpeModel(t, "qwen2.5-Q4_K", qwen2Model(Q4_K, 11)),
		bpeModel(t, "llama3-Q4_0-linear4", q40),
		bpeModel(t, "qwen2.5-Q8_0-tied", q80),
	}
}

// TestCrossCheckOllama compares greedy decoding here with llama.cpp inside a real Ollama v0.6.8 on
// the same GGUF files: for every model and prompt, the prompt must tokenize to as many tokens as
// Ollama counts and the numPredict generated tokens must be identical. The arithmetic differs in
// summation order and in the exp approximation llama.cpp vectorises, so the logits agree to about
// 1e-6 relative rather than bitwise; the test would only flip on a near-tie between the top two
// logits, which the fixed seeds here do not have.
func TestCrossCheckOllama(t *testing.T) {
	srv := ollamatest.Shared(t)
	const numPredict = 48
	for _, cm := range crossModels(t) {
		t.Run(cm.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), cm.name+".gguf")
			if err := cm.w.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			name := "metis-crosscheck-" + strings.ToLower(cm.name)
			srv.Create(t, name, path, "")
			m, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			merged := 0
			prompts := cm.prompts
			if testing.Short() && len(prompts) == len(bpePrompts) {
				// The race pass: three prompts per BPE model (contractions, non-Latin text and
				// special tokens); the full run takes them all.
				prompts = []string{prompts[2], prompts[4], prompts[6]}
			}
			for _, prompt := range prompts {
				in := m.Vocab.Encode(prompt, true)
				for _, id := range in {
					if id >= 259 {
						merged++
					}
				}
				tr, err := m.Run(context.Background(), in, SamplingParams{}, 0, numPredict, nil)
				if err != nil {
					t.Fatal(err)
				}
				ours := tr.Output()
				var pieces []string
				for _, id := range ours {
					pieces = append(pieces, m.Vocab.Piece(id))
				}
				want := ollamaCut(pieces)
				res := ollamaGenerate(t, srv, name, prompt, numPredict)
				t.Logf("%s %q -> %q", cm.name, prompt, res.text)
				if res.done != (want == len(ours)) {
					t.Errorf("%s prompt %q: Ollama done=%v; its repeat limit predicts %d of %d tokens", cm.name, prompt, res.done, want, len(ours))
				}
				if res.done && res.promptTokens != len(in) {
					t.Errorf("%s prompt %q: %d tokens here, %d in llama.cpp", cm.name, prompt, len(in), res.promptTokens)
				}
				got, ok := cm.tokens(res.text)
				if !ok {
					t.Errorf("%s prompt %q: Ollama's text %q does not map back to allowed tokens", cm.name, prompt, res.text)
				}
				n := 0
				for n < len(ours) && n < len(got) && ours[n] == got[n] {
					n++
				}
				if n < want || len(got) != want {
					t.Errorf("%s prompt %q: tokens agree for %d of %d (Ollama returned %d)\n ours   %q\n ollama %q", cm.name, prompt, n, want, len(got), m.Vocab.Decode(ours), res.text)
				}
			}
			if merged < 10 && cm.name != "F32" && cm.name != "F16" && cm.name != "Q8_0" {
				t.Errorf("only %d merged tokens in the prompts: the merge path is not exercised", merged)
			}
		})
	}
}

// ollamaGenerate asks Ollama for a raw, greedy, non-streamed completion. repeat_penalty 1 turns
// off the repetition penalty that Ollama applies by default (1.1 over the last 64 tokens) even at
// temperature 0; top_k/top_p keep the best token, so the chain reduces to argmax.
func ollamaGenerate(t *testing.T, srv *ollamatest.Server, model, prompt string, n int) ollamaResult {
	t.Helper()
	stream := false
	var res ollamaResult
	err := srv.Client().Generate(context.Background(), &api.GenerateRequest{
		Model: model, Prompt: prompt, Raw: true, Stream: &stream,
		Options: map[string]any{"temperature": 0, "seed": 0, "num_predict": n, "repeat_penalty": 1.0},
	}, func(r api.GenerateResponse) error {
		res.text += r.Response
		res.promptTokens, res.done = r.PromptEvalCount, r.Done
		return nil
	})
	if err != nil {
		t.Fatalf("ollama generate: %v\n%s", err, srv.Log())
	}
	return res
}

type ollamaResult struct {
	text         string
	promptTokens int
	done         bool
}

// ollamaCut is how many of the given generated pieces Ollama v0.6.8 returns: its server silently
// ends a prediction (done false, no error) at the first piece whose whitespace-trimmed text has
// repeated more than 30 times in a row (llm/server.go, "token repeat limit").
func ollamaCut(pieces []string) int {
	last, repeat := "", 0
	for i, p := range pieces {
		if tp := strings.TrimSpace(p); tp == last {
			repeat++
		} else {
			last, repeat = tp, 0
		}
		if repeat > 30 {
			return i
		}
	}
	return len(pieces)
}
