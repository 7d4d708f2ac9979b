package gguf

import (
	"reflect"
	"testing"
)

func tokenizerOf(t *testing.T, v Vocab) *Tokenizer {
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
