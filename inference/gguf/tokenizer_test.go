package gguf

import (
	"reflect"
	"testing"
)

func tokenizerOf(t testing.TB, v Vocab) *Tokenizer {
	t.Helper()
	w := RandomLlama(LlamaParams{Dim: 32, Layers: 1, Heads: 2, KVHeads: 1, FFN: 32, Context: 8, RopeTheta: 10000, NormEps: 1e-5}, v, 1)
	f, err := Read(writeBytes(t, w))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := newTokenizer(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenizerBytes(t *testing.T) {
	tok := tokenizerOf(t, ByteVocab())
	b := func(s string) []uint32 {
		var out []uint32
		for i := range len(s) {
			out = append(out, 3+uint32(s[i]))
		}
		return out
	}
	cat := func(xs ...[]uint32) []uint32 {
		var out []uint32
		for _, x := range xs {
			out = append(out, x...)
		}
		return out
	}
	cases := []struct {
		in   string
		bos  bool
		want []uint32
	}{
		{"", true, []uint32{1}},
		{"", false, nil},
		{"Hi", true, cat([]uint32{1}, b("▁Hi"))},
		{"a b", false, b("▁a▁b")},
		// Special-token text is parsed; the text after it gets the space prefix again.
		{"<s>x</s>y", false, cat([]uint32{1}, b("▁x"), []uint32{2}, b("▁y"))},
		{"é", false, b("▁é")},
	}
	for _, c := range cases {
		if got := tok.Encode(c.in, c.bos); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Encode(%q, %v) = %v, want %v", c.in, c.bos, got, c.want)
		}
	}
	// With only byte tokens, "▁" is three byte tokens and decodes as itself, as in llama.cpp
	// (only normal tokens turn "▁" back into a space).
	if got := tok.Decode(tok.Encode("héllo wörld", false)); got != "▁héllo▁wörld" {
		t.Errorf("round trip %q", got)
	}
}

func TestTokenizerMerges(t *testing.T) {
	v := ByteVocab()
	add := func(s string, score float32) uint32 {
		v.Tokens = append(v.Tokens, s)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, TokenNormal)
		return uint32(len(v.Tokens) - 1)
	}
	a := add("a", -1)
	bb := add("b", -1)
	ab := add("ab", -2)
	ba := add("ba", -2) // ties with "ab": the leftmost pair merges first
	sp := add("▁", -3)
	spab := add("▁ab", -1)
	tok := tokenizerOf(t, v)
	cases := []struct {
		in   string
		want []uint32
	}{
		{"aba", []uint32{spab, a}},    // ▁ a b a: "ab"/"ba" tie -> leftmost "ab", then "▁ab"
		{"bab", []uint32{sp, ba, bb}}, // ▁ b a b: "ba" (left of "ab") wins the tie
		{"ab c", []uint32{spab, sp, 3 + 'c'}},
	}
	for _, c := range cases {
		if got := tok.Encode(c.in, false); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	_ = ab
	if p := tok.Piece(spab); p != " ab" {
		t.Errorf("piece %q", p)
	}
}

// bpeTestVocab is a hand-made byte-level vocabulary: the 256 byte symbols, the given merged
// tokens, the given merges, and two control tokens.
func bpeTestVocab(pre string, merged, merges []string) Vocab {
	var tokens []string
	for b := range 256 {
		tokens = append(tokens, string(byteToRune[b]))
	}
	v := bpeVocab(pre, append(tokens, merged...), merges, []string{"<|bos|>", "<|eot_id|>"})
	v.BOS, v.EOS = v.id("<|bos|>"), v.id("<|eot_id|>")
	return v
}

func TestBPEMerges(t *testing.T) {
	merges := []string{"Ġ a", "a b", "Ġa b", "b a", "x y"} // "xy" is a merge but not a token
	for _, pre := range []string{"llama-bpe", "qwen2"} {
		v := bpeTestVocab(pre, []string{"ab", "ba", "Ġa", "Ġab", "Ġabc"}, merges)
		tok := tokenizerOf(t, v)
		id := func(s string) uint32 { return v.id(s) }
		b := func(c byte) uint32 { return uint32(c) } // byte symbols have ids 0..255
		cases := []struct {
			in   string
			want []uint32
		}{
			{"aba", []uint32{id("ab"), b('a')}},          // "a b" (rank 1) before "b a" (rank 3)
			{"bab", []uint32{b('b'), id("ab")}},          // the lower rank wins, not the leftmost pair
			{"baba", []uint32{b('b'), id("ab"), b('a')}}, // after "a b", "b" and "a" are not adjacent
			{"xy", []uint32{b('x'), b('y')}},             // merged symbol "xy" has no token: its bytes
			{" ab", []uint32{id("Ġab")}},                 // Ġ a -> Ġa, Ġa b -> Ġab
			{"<|bos|>ab<|eot_id|>", []uint32{v.BOS, id("ab"), v.EOS}},
		}
		// " abc" is a token of its own: Llama 3 takes it whole (ignore_merges), Qwen 2 merges.
		if pre == "llama-bpe" {
			cases = append(cases, struct {
				in   string
				want []uint32
			}{" abc", []uint32{id("Ġabc")}})
		} else {
			cases = append(cases, struct {
				in   string
				want []uint32
			}{" abc", []uint32{id("Ġab"), b('c')}})
		}
		for _, c := range cases {
			if got := tok.Encode(c.in, false); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: Encode(%q) = %v, want %v", pre, c.in, got, c.want)
			}
		}
		withBOS := tok.Encode("ab", true)
		if pre == "llama-bpe" && (len(withBOS) != 2 || withBOS[0] != v.BOS) || pre == "qwen2" && len(withBOS) != 1 {
			t.Errorf("%s: Encode with BOS = %v (llama-bpe adds BOS, qwen2 does not)", pre, withBOS)
		}
		if !tok.IsEOG(v.EOS) || tok.IsEOG(v.BOS) {
			t.Errorf("%s: EOG flags wrong", pre)
		}
	}
}

// TestPreTokenizers pins the word splits of the two pre-tokenizers on the cases where regex
// implementations differ: contractions in either case, digit runs, whitespace before words and
// at the end, newlines, non-ASCII whitespace and letters, invalid UTF-8. (The splitter was
// compared with llama.cpp's unicode_regex_split on every code point and 20,000 random strings.)
func TestPreTokenizers(t *testing.T) {
	cases := []struct {
		in            string
		llama3, qwen2 []string
	}{
		{"Hello world's 12345 \n\n  x",
			[]string{"Hello", " world", "'s", " ", "123", "45", " \n\n", " ", " x"},
			[]string{"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " \n\n", " ", " x"}},
		{"I'M here'LL 'x", []string{"I", "'M", " here", "'LL", " '", "x"}, nil},
		{"a\u00a0b\u3000c", []string{"a", "\u00a0b", "\u3000c"}, nil},
		{"!!!\n\nabc...  ", []string{"!!!\n\n", "abc", "...", "  "}, nil},
		{"x   y\tz", []string{"x", "  ", " y", "\tz"}, nil},
		{"café, 日本語!", []string{"café", ",", " 日本語", "!"}, nil},
		{"a\xffb", []string{"a", "\ufffdb"}, nil}, // an invalid byte is U+FFFD, a "symbol"
		{"\r\n\r\nEnd", []string{"\r\n\r\n", "End"}, nil},
		{"1234567", []string{"123", "456", "7"}, []string{"1", "2", "3", "4", "5", "6", "7"}},
	}
	words := func(pre preTokenizer, s string) []string {
		cps := decodeCodepoints(s)
		var out []string
		i := 0
		for _, n := range pre.split(cps) {
			out = append(out, string(cps[i:i+n]))
			i += n
		}
		return out
	}
	for _, c := range cases {
		if got := words(preLlama3, c.in); !reflect.DeepEqual(got, c.llama3) {
			t.Errorf("llama3 %q: %q, want %q", c.in, got, c.llama3)
		}
		want := c.qwen2
		if want == nil {
			want = c.llama3
		}
		if got := words(preQwen2, c.in); !reflect.DeepEqual(got, want) {
			t.Errorf("qwen2 %q: %q, want %q", c.in, got, want)
		}
	}
}

// TestBPERoundTrip: byte-level BPE is lossless for valid UTF-8, and the made-up vocabularies have
// the special tokens and end-of-generation tokens of their families.
func TestBPERoundTrip(t *testing.T) {
	texts := []string{"The quick brown fox jumps over the lazy dog.", "Hello  world\n\n\tdef f(x):\n    return x*2  # ok",
		"Café naïve über — 日本語のテキスト 🙂🚀 1,234,567 €£¥", "they're done; I'll see, won't we?", "   \r\n  "}
	for _, v := range []Vocab{Llama3Vocab(), Qwen2Vocab()} {
		tok := tokenizerOf(t, v)
		merged := 0
		for _, s := range texts {
			ids := tok.Encode(s, false)
			if got := tok.Decode(ids); got != s {
				t.Errorf("%s: %q decodes as %q", v.Pre, s, got)
			}
			for _, id := range ids {
				if id >= 256 {
					merged++
				}
			}
		}
		if merged < 30 {
			t.Errorf("%s: only %d merged tokens in the sample texts", v.Pre, merged)
		}
		eog := map[string]bool{"<|end_of_text|>": true, "<|eot_id|>": true, "<|eom_id|>": true,
			"<|endoftext|>": true, "<|im_end|>": true, "<|fim_pad|>": true, "<|repo_name|>": true, "<|file_sep|>": true}
		for i, s := range v.Tokens {
			if v.Types[i] != TokenControl {
				continue
			}
			if got := tok.IsEOG(uint32(i)); got != eog[s] {
				t.Errorf("%s: IsEOG(%s) = %v", v.Pre, s, got)
			}
			if tok.Piece(uint32(i)) != s {
				t.Errorf("%s: piece of %s is %q", v.Pre, s, tok.Piece(uint32(i)))
			}
		}
	}
	l3 := tokenizerOf(t, Llama3Vocab())
	v3 := Llama3Vocab()
	if ids := l3.Encode("<|start_header_id|>user<|end_header_id|>", true); len(ids) < 4 || ids[0] != l3.BOS ||
		ids[1] != v3.id("<|start_header_id|>") || ids[len(ids)-1] != v3.id("<|end_header_id|>") {
		t.Errorf("Llama 3 header: %v", ids)
	}
}
