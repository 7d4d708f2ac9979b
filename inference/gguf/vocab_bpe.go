package gguf

import (
	"sort"
	"unicode/utf8"
)

// Made-up BPE vocabularies for test models. They have the real structure of Llama 3's and Qwen
// 2's tokenizers — GPT-2 byte-level symbols for all 256 bytes, merges learned by byte-pair encoding
// on a corpus (here a few paragraphs written for the purpose), and each family's special tokens —
// at a fraction of the size, so test models stay small and nothing is downloaded.

// bpeCorpus is the training text: prose with contractions, numbers, code, repeated whitespace and
// newlines, accented Latin, Greek, CJK and emoji, so that the merges cover the pre-tokenizers'
// cases.
const bpeCorpus = `The quick brown fox jumps over the lazy dog. The dog didn't care; it's a lazy dog, and
that's that. We've seen 1,234,567 foxes since 2023 — they're quick, aren't they? I'll say it
again: the quick brown fox jumps over the lazy dog, and the lazy dog sleeps.

Verifiable inference means every step of a model's run can be checked: the prover commits to a
trace, the challenger bisects, and the chain replays one step. Hello world! Hello, world. HELLO
WORLD?! hello  world   hello    world.

    func main() {
        for i := 0; i < 10; i++ {
            fmt.Println("hello", i*i, 3.14159)
        }
    }

def greet(name):
    return f"Hello, {name}!"  # returns a greeting

Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 65536 3.14 2.718 1e-5 0x7fff.
Café, naïve, über, résumé, façade, São Paulo, Zürich, Ελληνικά, καλημέρα, 日本語のテキスト, 中文文本,
한국어, emoji 🙂🚀✨ and symbols €£¥ © ® ™ ± ≤ ≥ ∞ → ←.
Tab	separated	values	here
Windows line endings too` + "\r\n" + `and trailing spaces   ` + "\n"

// trainBPE learns up to merges merges from corpus, split into words by the pre-tokenizer pre and
// byte-encoded as GPT-2 does: at each step the most frequent adjacent pair (ties: the smallest
// "left right" string) is merged everywhere, down to pairs seen once. It returns the merges and the vocabulary: the 256 byte
// symbols in byte order, then each merged symbol once, in merge order.
func trainBPE(pre preTokenizer, corpus string, merges int) (tokens, mergeList []string) {
	counts := map[string]int{}
	cps := decodeCodepoints(corpus)
	i := 0
	for _, n := range pre.split(cps) {
		var raw []byte
		for _, r := range cps[i : i+n] {
			raw = appendCodepoint(raw, r)
		}
		i += n
		var w []byte
		for _, b := range raw {
			w = utf8.AppendRune(w, byteToRune[b])
		}
		counts[string(w)]++
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Strings(words)
	type seq struct {
		syms  []string
		count int
	}
	seqs := make([]seq, len(words))
	for i, w := range words {
		for _, r := range w {
			seqs[i].syms = append(seqs[i].syms, string(r))
		}
		seqs[i].count = counts[w]
	}
	have := map[string]bool{}
	for b := range 256 {
		s := string(byteToRune[b])
		tokens = append(tokens, s)
		have[s] = true
	}
	for len(mergeList) < merges {
		pairs := map[bpePair]int{}
		for _, s := range seqs {
			for j := 1; j < len(s.syms); j++ {
				pairs[bpePair{s.syms[j-1], s.syms[j]}] += s.count
			}
		}
		var best bpePair
		bestN := 0
		for p, n := range pairs {
			if n > bestN || (n == bestN && p.left+" "+p.right < best.left+" "+best.right) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			break // every word is one symbol
		}
		for k := range seqs {
			syms := seqs[k].syms
			out := syms[:0]
			for j := 0; j < len(syms); j++ {
				if j+1 < len(syms) && syms[j] == best.left && syms[j+1] == best.right {
					out = append(out, best.left+best.right)
					j++
				} else {
					out = append(out, syms[j])
				}
			}
			seqs[k].syms = out
		}
		mergeList = append(mergeList, best.left+" "+best.right)
		if s := best.left + best.right; !have[s] {
			tokens = append(tokens, s)
			have[s] = true
		}
	}
	return tokens, mergeList
}

// bpeVocab builds a vocabulary from trained tokens and merges plus control tokens appended at the
// end.
func bpeVocab(pre string, tokens, merges, specials []string) Vocab {
	v := Vocab{Model: "gpt2", Pre: pre, Merges: merges}
	v.Tokens = append(append(v.Tokens, tokens...), specials...)
	for range tokens {
		v.Types = append(v.Types, TokenNormal)
	}
	for range specials {
		v.Types = append(v.Types, TokenControl)
	}
	return v
}

func (v Vocab) id(text string) uint32 {
	for i, t := range v.Tokens {
		if t == text {
			return uint32(i)
		}
	}
	panic("gguf: no token " + text)
}

// Llama3Vocab is a made-up Llama 3 style vocabulary (about 700 tokens): byte-level BPE with the
// "llama-bpe" pre-tokenizer (which adds BOS and takes whole-word tokens without merging), every
// merge a built-in corpus yields (about 430), and Llama 3's special tokens <|begin_of_text|> (BOS),
// <|end_of_text|> (EOS), <|start_header_id|>, <|end_header_id|>, <|eot_id|>, <|eom_id|>,
// <|python_tag|> and two reserved ones.
func Llama3Vocab() Vocab {
	tokens, merges := trainBPE(preLlama3, bpeCorpus, 1000)
	v := bpeVocab("llama-bpe", tokens, merges, []string{"<|begin_of_text|>", "<|end_of_text|>",
		"<|reserved_special_token_0|>", "<|reserved_special_token_1|>", "<|start_header_id|>", "<|end_header_id|>",
		"<|eom_id|>", "<|eot_id|>", "<|python_tag|>"})
	v.BOS, v.EOS = v.id("<|begin_of_text|>"), v.id("<|end_of_text|>")
	return v
}

// Qwen2Vocab is a made-up Qwen 2 / 2.5 style vocabulary (about 700 tokens): byte-level BPE with
// the "qwen2" pre-tokenizer (one digit per word, no BOS), every merge a built-in corpus yields
// (about 410), and Qwen's special tokens <|endoftext|> (BOS and EOS), <|im_start|>, <|im_end|> and the
// fill-in-the-middle ones (of which <|fim_pad|>, <|repo_name|> and <|file_sep|> end generation in
// llama.cpp).
func Qwen2Vocab() Vocab {
	tokens, merges := trainBPE(preQwen2, bpeCorpus, 1000)
	v := bpeVocab("qwen2", tokens, merges, []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>",
		"<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"})
	v.BOS = v.id("<|endoftext|>")
	v.EOS = v.BOS
	return v
}
