package gguf

import (
	"container/heap"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GPT-2 byte-level BPE as llama.cpp implements it (llm_tokenizer_bpe_session, unicode.cpp). This
// is our own implementation of the same procedure; the tests pin its behaviour on the cases where
// implementations usually differ (contractions, digit runs, whitespace runs before words and at
// the end, newlines, invalid UTF-8, merges not in the vocabulary).

// preTokenizer is the regex a BPE vocabulary splits text into words with.
type preTokenizer int

const (
	// preLlama3 is Llama 3's
	//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
	preLlama3 preTokenizer = iota + 1
	// preQwen2 is the same with \p{N} (one digit per word) in place of \p{N}{1,3}.
	preQwen2
)

// bpePreTokenizer reads tokenizer.ggml.pre, with what llama.cpp sets for it: whether a word that is
// itself a token skips merging (ignore_merges) and whether BOS is added by default.
func bpePreTokenizer(f *File) (pre preTokenizer, ignoreMerges, addBOS bool, err error) {
	name, _ := f.String("tokenizer.ggml.pre")
	switch name {
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral":
		return preLlama3, true, true, nil
	case "dbrx", "smaug-bpe":
		return preLlama3, false, false, nil
	case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2":
		return preQwen2, false, false, nil
	}
	return 0, false, false, fmt.Errorf("gguf: BPE pre-tokenizer %q is not supported (Llama 3's \"llama-bpe\" and Qwen 2's \"qwen2\" are)", name)
}

type bpePair struct{ left, right string }

// bpeRanks reads tokenizer.ggml.merges ("left right" per entry, split at the first space after
// the first byte, as llama.cpp does). A pair listed twice keeps its first rank.
func bpeRanks(f *File) (map[bpePair]int32, error) {
	v, ok := f.Get("tokenizer.ggml.merges")
	merges, isStrings := v.([]string)
	if !ok || !isStrings {
		return nil, fmt.Errorf("gguf: a BPE vocabulary needs tokenizer.ggml.merges (an array of strings)")
	}
	ranks := make(map[bpePair]int32, len(merges))
	for i, m := range merges {
		var p bpePair
		if len(m) > 1 {
			if j := strings.IndexByte(m[1:], ' '); j >= 0 {
				p = bpePair{m[:j+1], m[j+2:]}
			}
		}
		if _, dup := ranks[p]; !dup {
			ranks[p] = int32(i)
		}
	}
	return ranks, nil
}

// byteToRune is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other
// 68 bytes for U+0100 onwards in byte order. runeToByte is its inverse.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := map[rune]byte{}
	n := rune(0)
	for b := range 256 {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = 256 + n
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}()

// decodeCodepoints splits text into code points the way llama.cpp's unicode_cpts_from_utf8 does:
// sequences are read by their lead byte without rejecting overlong forms or surrogates, and a
// byte that does not start a complete sequence becomes U+FFFD.
func decodeCodepoints(text string) []rune {
	out := make([]rune, 0, len(text))
	for i := 0; i < len(text); {
		b0 := text[i]
		cont := func(k int) bool { return i+k < len(text) && text[i+k]&0xC0 == 0x80 }
		switch {
		case b0&0x80 == 0:
			out, i = append(out, rune(b0)), i+1
		case b0&0x40 == 0:
			out, i = append(out, utf8.RuneError), i+1
		case b0&0x20 == 0 && cont(1):
			out = append(out, rune(b0&0x1F)<<6|rune(text[i+1]&0x3F))
			i += 2
		case b0&0x20 != 0 && b0&0x10 == 0 && cont(1) && cont(2):
			out = append(out, rune(b0&0x0F)<<12|rune(text[i+1]&0x3F)<<6|rune(text[i+2]&0x3F))
			i += 3
		case b0&0x30 == 0x30 && b0&0x08 == 0 && cont(1) && cont(2) && cont(3):
			out = append(out, rune(b0&0x07)<<18|rune(text[i+1]&0x3F)<<12|rune(text[i+2]&0x3F)<<6|rune(text[i+3]&0x3F))
			i += 4
		default:
			out, i = append(out, utf8.RuneError), i+1
		}
	}
	return out
}

// appendCodepoint encodes a code point as llama.cpp's unicode_cpt_to_utf8 does (surrogates
// included). Above U+10FFFF, where llama.cpp throws, it writes U+FFFD.
func appendCodepoint(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r&0x3F))
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	case r <= 0x10FFFF:
		return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12&0x3F), 0x80|byte(r>>6&0x3F), 0x80|byte(r&0x3F))
	}
	return append(b, "\uFFFD"...)
}

// Code point classes the pre-tokenizers use (llama.cpp's unicode_cpt_flags, from the Unicode
// tables of Go's unicode package; the split of every code point, alone and in context, was
// compared with llama.cpp's unicode_regex_split for both regexes during development).
const (
	cpInRange = 1 << iota // any code point of the text (0 is "past the end")
	cpLetter              // \p{L}
	cpNumber              // \p{N}
	cpSpace               // \s: Unicode White_Space
)

var asciiClass = func() (t [128]uint8) {
	for r := range rune(128) {
		t[r] = classOf(r)
	}
	return
}()

func classOf(r rune) uint8 {
	c := uint8(cpInRange)
	// Go's tables are Unicode 15.0; llama.cpp's are 15.1, which added one block of letters, CJK
	// Unified Ideographs Extension I. With it, every code point classifies as in llama.cpp.
	if unicode.IsLetter(r) || (r >= 0x2EBF0 && r <= 0x2EE5D) {
		c |= cpLetter
	}
	if unicode.IsNumber(r) {
		c |= cpNumber
	}
	if unicode.Is(unicode.White_Space, r) {
		c |= cpSpace
	}
	return c
}

// split returns the lengths (in code points) of the words of cps, following llama.cpp's
// unicode_regex_split_custom_llama3 for Llama 3. For Qwen 2, llama.cpp evaluates the regex with
// std::regex over text whose non-ASCII code points are replaced by one byte per class; the regex
// differs from Llama 3's only in matching one digit at a time, and this splitter, which implements
// the regex's leftmost-first semantics, does the same with maxDigits 1.
func (p preTokenizer) split(cps []rune) []int {
	n := len(cps)
	class := make([]uint8, n+1) // class[n] = 0: past the end
	for i, r := range cps {
		if r >= 0 && r < 128 {
			class[i] = asciiClass[r]
		} else {
			class[i] = classOf(r)
		}
	}
	at := func(i int) rune {
		if i < n {
			return cps[i]
		}
		return -1
	}
	maxDigits := 3
	if p == preQwen2 {
		maxDigits = 1
	}
	var lens []int
	prev := 0
	emit := func(end int) {
		if end > prev {
			lens = append(lens, end-prev)
		}
		prev = end
	}
	for pos := 0; pos < n; {
		c, f := cps[pos], class[pos]
		// (?i:'s|'t|'re|'ve|'m|'ll|'d)
		if c == '\'' && pos+1 < n {
			c1 := unicode.ToLower(cps[pos+1])
			if c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd' {
				pos += 2
				emit(pos)
				continue
			}
			if pos+2 < n {
				c2 := unicode.ToLower(cps[pos+2])
				if (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l') {
					pos += 3
					emit(pos)
					continue
				}
			}
		}
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if c != '\r' && c != '\n' && f&cpNumber == 0 && (f&cpLetter != 0 || class[pos+1]&cpLetter != 0) {
			pos++
			for class[pos]&cpLetter != 0 {
				pos++
			}
			emit(pos)
			continue
		}
		// \p{N}{1,3} (Qwen 2: \p{N})
		if f&cpNumber != 0 {
			start := pos
			for class[pos]&cpNumber != 0 {
				pos++
				if pos-start >= maxDigits {
					emit(pos)
					start = pos
				}
			}
			emit(pos)
			continue
		}
		// " ?[^\s\p{L}\p{N}]+[\r\n]*"
		f2 := f
		if c == ' ' {
			f2 = class[pos+1]
		}
		if f2&(cpSpace|cpLetter|cpNumber) == 0 {
			if c == ' ' {
				pos++
			}
			for f2 = class[pos]; f2&(cpSpace|cpLetter|cpNumber) == 0 && f2 != 0; f2 = class[pos] {
				pos++
			}
			for at(pos) == '\r' || at(pos) == '\n' {
				pos++
			}
			emit(pos)
			continue
		}
		spaces, lastNewline := 0, 0
		for class[pos+spaces]&cpSpace != 0 {
			if c2 := cps[pos+spaces]; c2 == '\r' || c2 == '\n' {
				lastNewline = pos + spaces + 1
			}
			spaces++
		}
		switch {
		case lastNewline > 0: // \s*[\r\n]+
			pos = lastNewline
		case spaces > 1 && pos+spaces < n: // \s+(?!\S): leave the last space to the next word
			pos += spaces - 1
		case spaces > 0: // \s+
			pos += spaces
		default: // no alternative matches: one code point on its own
			pos++
		}
		emit(pos)
	}
	return lens
}

// bpeEncode appends the tokens of a text fragment (without special tokens) to out.
func (t *Tokenizer) bpeEncode(text string, out []uint32) []uint32 {
	cps := decodeCodepoints(text)
	var word []byte
	var raw []byte
	i := 0
	for _, n := range t.pre.split(cps) {
		raw = raw[:0]
		for _, r := range cps[i : i+n] {
			raw = appendCodepoint(raw, r)
		}
		i += n
		word = word[:0]
		for _, b := range raw {
			word = utf8.AppendRune(word, byteToRune[b])
		}
		out = t.bpeWord(string(word), out)
	}
	return out
}

type bpeBigram struct {
	left, right int
	rank        int32
	text        string
}

// bpeWord merges one byte-encoded word and appends its tokens to out. A final symbol that is not
// a token is emitted byte by byte, each byte that is a one-byte token as that token (the others
// are dropped, as llama.cpp drops them).
func (t *Tokenizer) bpeWord(word string, out []uint32) []uint32 {
	if t.ignoreMerges {
		if id, ok := t.ids[word]; ok {
			return append(out, id)
		}
	}
	syms := symbolsOf(word)
	text := func(i int) string { return word[syms[i].start : syms[i].start+syms[i].n] }
	// The lowest rank first and, on equal ranks, the leftmost pair.
	q := &queue[bpeBigram]{first: func(a, b *bpeBigram) bool {
		return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
	}}
	add := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		a, b := text(l), text(r)
		if rank, ok := t.ranks[bpePair{a, b}]; ok {
			heap.Push(q, bpeBigram{left: l, right: r, rank: rank, text: a + b})
		}
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(q).(bpeBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || text(b.left)+text(b.right) != b.text {
			continue // stale: a side was merged since this pair was queued
		}
		merge(syms, b.left, b.right)
		add(l.prev, b.left)
		add(b.left, l.next)
	}
	for i := range syms {
		if syms[i].n == 0 {
			continue
		}
		s := text(i)
		if id, ok := t.ids[s]; ok {
			out = append(out, id)
			continue
		}
		for j := range len(s) {
			if id, ok := t.ids[s[j:j+1]]; ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// bpeDecodeText maps a BPE token's text back to bytes (llama_decode_text). A character outside
// the byte map is written as llama.cpp writes it: [UNK_BYTE_0x<hex of its UTF-8><token text>].
func bpeDecodeText(s string) string {
	var b strings.Builder
	for _, r := range decodeCodepoints(s) {
		if c, ok := runeToByte[r]; ok {
			b.WriteByte(c)
			continue
		}
		b.WriteString("[UNK_BYTE_0x")
		for _, c := range appendCodepoint(nil, r) {
			fmt.Fprintf(&b, "%02x", c)
		}
		b.WriteString(s + "]")
	}
	return b.String()
}
