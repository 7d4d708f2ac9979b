package gguf

import (
	"container/heap"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Tokenizer is the SentencePiece ("llama") tokenizer described by a GGUF file's metadata. It
// reproduces llama.cpp's SPM tokenizer (llama-vocab.cpp, as vendored in Ollama v0.6.8): special
// tokens in the text are split out first (parse_special), a space is prefixed to each text
// fragment that follows a special token or starts the prompt, spaces become "▁", UTF-8 characters
// are merged pairwise by the score of the merged token (highest first, leftmost on ties), and
// characters without a token fall back to their <0xXX> byte tokens.
type Tokenizer struct {
	tokens   []string
	scores   []float32
	types    []int32
	pieces   []string          // Piece(id), precomputed
	ids      map[string]uint32 // text -> id; the last id wins on duplicates, as in llama.cpp
	eog      map[uint32]bool   // tokens that end generation
	special  []uint32          // control, user-defined and unknown tokens, longest text first
	byteTok  [256]uint32
	BOS, EOS uint32
	unk      uint32
	addBOS   bool
	addSpace bool
}

func newTokenizer(f *File) (*Tokenizer, error) {
	if m, _ := f.String("tokenizer.ggml.model"); m != "llama" {
		return nil, fmt.Errorf("gguf: tokenizer %q is not supported (only SentencePiece \"llama\")", m)
	}
	tv, _ := f.Get("tokenizer.ggml.tokens")
	toks, ok := tv.([]string)
	if !ok || len(toks) == 0 {
		return nil, fmt.Errorf("gguf: missing tokenizer.ggml.tokens")
	}
	t := &Tokenizer{tokens: toks, ids: make(map[string]uint32, len(toks)), addBOS: true, addSpace: true}
	t.scores = make([]float32, len(toks))
	if sv, ok := f.Get("tokenizer.ggml.scores"); ok {
		s, ok := sv.([]float32)
		if !ok || len(s) != len(toks) {
			return nil, fmt.Errorf("gguf: tokenizer.ggml.scores must be %d float32s", len(toks))
		}
		t.scores = s
	}
	t.types = make([]int32, len(toks))
	for i := range t.types {
		t.types[i] = TokenNormal
	}
	if tv, ok := f.Get("tokenizer.ggml.token_type"); ok {
		s, ok := tv.([]int32)
		if !ok || len(s) != len(toks) {
			return nil, fmt.Errorf("gguf: tokenizer.ggml.token_type must be %d int32s", len(toks))
		}
		t.types = s
	}
	for i, s := range toks {
		t.ids[s] = uint32(i)
	}
	id := func(key string, def uint32) (uint32, error) {
		v, ok := f.Uint(key)
		if !ok {
			return def, nil
		}
		if v >= uint64(len(toks)) {
			return 0, fmt.Errorf("gguf: %s %d outside the vocabulary", key, v)
		}
		return uint32(v), nil
	}
	var err error
	if t.BOS, err = id("tokenizer.ggml.bos_token_id", 1); err != nil {
		return nil, err
	}
	if t.EOS, err = id("tokenizer.ggml.eos_token_id", 2); err != nil {
		return nil, err
	}
	if t.unk, err = id("tokenizer.ggml.unknown_token_id", 0); err != nil {
		return nil, err
	}
	if b, ok := f.Bool("tokenizer.ggml.add_bos_token"); ok {
		t.addBOS = b
	}
	if b, ok := f.Bool("tokenizer.ggml.add_space_prefix"); ok {
		t.addSpace = b
	}
	if int(t.BOS) >= len(toks) || int(t.EOS) >= len(toks) || int(t.unk) >= len(toks) {
		return nil, fmt.Errorf("gguf: special token ids outside a vocabulary of %d", len(toks))
	}
	t.eog = map[uint32]bool{t.EOS: true}
	if v, ok := f.Uint("tokenizer.ggml.eot_token_id"); ok && v < uint64(len(toks)) {
		t.eog[uint32(v)] = true
	}
	t.pieces = make([]string, len(toks))
	for i, typ := range t.types {
		t.pieces[i] = piece(toks[i], typ)
		switch toks[i] {
		case "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>":
			if typ == TokenControl {
				t.eog[uint32(i)] = true
			}
		}
		if (typ == TokenControl || typ == TokenUserDefined || typ == TokenUnknown) && toks[i] != "" {
			t.special = append(t.special, uint32(i))
		}
	}
	sort.SliceStable(t.special, func(a, b int) bool { return len(toks[t.special[a]]) > len(toks[t.special[b]]) })
	for b := range 256 {
		id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]
		if !ok {
			id, ok = t.ids[string(rune(b))]
			if !ok || b >= 0x80 {
				id = t.unk
			}
		}
		t.byteTok[b] = id
	}
	return t, nil
}

// Len is the vocabulary size.
func (t *Tokenizer) Len() int { return len(t.tokens) }

// Encode tokenizes text like llama_tokenize(text, add_special=addBOS, parse_special=true): the BOS
// token first when addBOS and the model asks for it, and special-token texts such as "<s>" in the
// input turned into those tokens.
func (t *Tokenizer) Encode(text string, addBOS bool) []uint32 {
	type frag struct {
		text  string
		token uint32
		isTok bool
	}
	frags := []frag{}
	if text != "" {
		frags = append(frags, frag{text: text})
	}
	for _, id := range t.special {
		st := t.tokens[id]
		var next []frag
		for _, f := range frags {
			if f.isTok {
				next = append(next, f)
				continue
			}
			s := f.text
			for {
				i := strings.Index(s, st)
				if i < 0 {
					break
				}
				if i > 0 {
					next = append(next, frag{text: s[:i]})
				}
				next = append(next, frag{token: id, isTok: true})
				s = s[i+len(st):]
			}
			if s != "" {
				next = append(next, frag{text: s})
			}
		}
		frags = next
	}
	var out []uint32
	if addBOS && t.addBOS {
		out = append(out, t.BOS)
	}
	prevSpecial := true
	for _, f := range frags {
		if f.isTok {
			out = append(out, f.token)
			prevSpecial = true
			continue
		}
		s := f.text
		if t.addSpace && prevSpecial {
			s = " " + s
		}
		out = t.spm(strings.ReplaceAll(s, " ", "▁"), out)
		prevSpecial = false
	}
	return out
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length from the lead byte's high nibble
// (continuation and invalid bytes count as length 1).
func utf8Len(b byte) int {
	return [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[b>>4]
}

type spmSymbol struct {
	start, n   int
	prev, next int
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// bigramQueue pops the highest score first and, on equal scores, the leftmost pair.
type bigramQueue []spmBigram

func (q bigramQueue) Len() int { return len(q) }
func (q bigramQueue) Less(i, j int) bool {
	return q[i].score > q[j].score || (q[i].score == q[j].score && q[i].left < q[j].left)
}
func (q bigramQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *bigramQueue) Push(x any)   { *q = append(*q, x.(spmBigram)) }
func (q *bigramQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// spm is llm_tokenizer_spm_session::tokenize.
func (t *Tokenizer) spm(text string, out []uint32) []uint32 {
	var syms []spmSymbol
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		next := len(syms) + 1
		if off+n == len(text) {
			next = -1
		}
		syms = append(syms, spmSymbol{start: off, n: n, prev: len(syms) - 1, next: next})
		off += n
	}
	var q bigramQueue
	revMerge := map[string][2]int{}
	tryAdd := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		s := text[syms[l].start : syms[l].start+syms[l].n+syms[r].n]
		id, ok := t.ids[s]
		if !ok {
			return
		}
		heap.Push(&q, spmBigram{left: l, right: r, score: t.scores[id], size: len(s)})
		revMerge[s] = [2]int{l, r}
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(&q).(spmBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // stale: one side was merged since this pair was queued
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		tryAdd(l.prev, b.left)
		tryAdd(b.left, l.next)
	}
	var reseg func(i int)
	reseg = func(i int) {
		s := text[syms[i].start : syms[i].start+syms[i].n]
		if id, ok := t.ids[s]; ok {
			out = append(out, id)
			return
		}
		if p, ok := revMerge[s]; ok {
			reseg(p[0])
			reseg(p[1])
			return
		}
		for j := 0; j < len(s); j++ {
			out = append(out, t.byteTok[s[j]])
		}
	}
	for i := 0; len(syms) > 0 && i != -1; i = syms[i].next {
		reseg(i)
	}
	return out
}

// Piece returns the bytes a token stands for, as llama_token_to_piece(special=true) does (which is
// what Ollama streams): "▁" becomes a space in normal tokens, byte tokens are their byte, control,
// unknown and user-defined tokens are their text, unused and undefined tokens are empty.
func (t *Tokenizer) Piece(id uint32) string {
	if int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

func piece(s string, typ int32) string {
	switch typ {
	case TokenNormal:
		return strings.ReplaceAll(s, "▁", " ")
	case TokenByte:
		// llama.cpp's token_to_byte parses the hex digits after "<0x".
		if len(s) == 6 && strings.HasPrefix(s, "<0x") && s[5] == '>' {
			if v, err := strconv.ParseUint(s[3:5], 16, 8); err == nil {
				return string([]byte{byte(v)})
			}
		}
		return ""
	case TokenControl, TokenUnknown, TokenUserDefined:
		return s
	}
	return ""
}

// IsEOG reports whether a token ends generation: the EOS token, the EOT token if the file names
// one, and the control tokens llama.cpp also treats as end-of-generation by their text.
func (t *Tokenizer) IsEOG(id uint32) bool { return t.eog[id] }

// Decode concatenates the tokens' pieces.
func (t *Tokenizer) Decode(ids []uint32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(t.Piece(id))
	}
	return b.String()
}
