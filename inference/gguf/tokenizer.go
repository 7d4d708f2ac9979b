package gguf

import (
	"container/heap"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Tokenizer is the tokenizer described by a GGUF file's metadata, as llama.cpp (llama-vocab.cpp,
// vendored in Ollama v0.6.8) implements it for two vocabulary types:
//
//   - SentencePiece ("llama"): special tokens in the text are split out first (parse_special), a
//     space is prefixed to each text fragment that follows a special token or starts the prompt,
//     spaces become "▁", UTF-8 characters are merged pairwise by the score of the merged token
//     (highest first, leftmost on ties), and characters without a token fall back to their
//     <0xXX> byte tokens.
//   - GPT-2 byte-level BPE ("gpt2", Llama 3 and Qwen 2): special tokens are split out the same
//     way, each text fragment is cut into words by the model's pre-tokenizer (tokenizer.ggml.pre:
//     Llama 3's or Qwen 2's regex, see pretok.go), each word's bytes are mapped to characters by
//     GPT-2's byte-to-unicode table, and adjacent symbols are merged by the rank of the pair in
//     tokenizer.ggml.merges (lowest first, leftmost on ties) — except that Llama 3's tokenizer
//     takes a whole word that is itself a token without merging (ignore_merges).
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

	bpe          bool
	pre          preTokenizer
	ranks        map[bpePair]int32 // merge rank of a pair of symbols; the first listing wins
	ignoreMerges bool
}

func newTokenizer(f *File) (*Tokenizer, error) {
	model, _ := f.String("tokenizer.ggml.model")
	if model != "llama" && model != "gpt2" {
		return nil, fmt.Errorf("gguf: tokenizer %q is not supported (SentencePiece \"llama\" and BPE \"gpt2\" are)", model)
	}
	tv, _ := f.Get("tokenizer.ggml.tokens")
	toks, ok := tv.([]string)
	if !ok || len(toks) == 0 {
		return nil, fmt.Errorf("gguf: missing tokenizer.ggml.tokens")
	}
	toks = append([]string(nil), toks...)
	for i, s := range toks {
		if s == "" {
			toks[i] = fmt.Sprintf("[EMPTY_%d]", i) // what llama.cpp names an empty token
		}
	}
	t := &Tokenizer{tokens: toks, ids: make(map[string]uint32, len(toks)), bpe: model == "gpt2"}
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
		t.types = append([]int32(nil), s...)
	}
	for i, s := range toks {
		t.ids[s] = uint32(i)
	}
	// Defaults by vocabulary type (llama_vocab::impl::load): SentencePiece has <unk>=0, <s>=1,
	// </s>=2, adds BOS and a space prefix; GPT-2 BPE has BOS=EOS=11, no unknown token, and adds
	// BOS only for pre-tokenizers that ask for it (Llama 3's).
	bosDef, eosDef, unkDef := uint32(1), uint32(2), uint32(0)
	t.addBOS, t.addSpace = true, true
	if t.bpe {
		var err error
		if t.pre, t.ignoreMerges, t.addBOS, err = bpePreTokenizer(f); err != nil {
			return nil, err
		}
		if t.ranks, err = bpeRanks(f); err != nil {
			return nil, err
		}
		bosDef, eosDef, unkDef = 11, 11, 0
		t.addSpace = false
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
	if t.BOS, err = id("tokenizer.ggml.bos_token_id", bosDef); err != nil {
		return nil, err
	}
	if t.EOS, err = id("tokenizer.ggml.eos_token_id", eosDef); err != nil {
		return nil, err
	}
	if t.unk, err = id("tokenizer.ggml.unknown_token_id", unkDef); err != nil {
		return nil, err
	}
	if b, ok := f.Bool("tokenizer.ggml.add_bos_token"); ok {
		t.addBOS = b
	}
	if b, ok := f.Bool("tokenizer.ggml.add_space_prefix"); ok && !t.bpe {
		t.addSpace = b
	}
	if int(t.BOS) >= len(toks) || int(t.EOS) >= len(toks) || int(t.unk) >= len(toks) {
		return nil, fmt.Errorf("gguf: special token ids outside a vocabulary of %d", len(toks))
	}
	t.findEOG(f)
	t.pieces = make([]string, len(toks))
	for i, typ := range t.types {
		t.pieces[i] = t.piece(toks[i], typ)
		if typ == TokenControl || typ == TokenUserDefined || typ == TokenUnknown {
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

// eogTexts are the token texts llama.cpp treats as ending generation whatever their metadata
// says, forcing their type to control (llama_vocab::impl::load, "control-looking token").
var eogTexts = map[string]bool{"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<end_of_turn>": true,
	"<|endoftext|>": true, "<|eom_id|>": true, "<EOT>": true, "_<EOT>": true}

// findEOG collects the end-of-generation tokens as llama.cpp does: the EOS token, the EOT and EOM
// tokens (from metadata, else found by their text), the tokens with an end-of-turn text, and the
// fill-in-the-middle pad, repository and file-separator tokens. The texts it recognises get type
// control, as llama.cpp overrides them.
func (t *Tokenizer) findEOG(f *File) {
	t.eog = map[uint32]bool{t.EOS: true}
	find := func(key string, texts ...string) {
		if v, ok := f.Uint(key); ok && v < uint64(len(t.tokens)) {
			t.eog[uint32(v)] = true
			return
		}
		for _, s := range texts {
			if id, ok := t.ids[s]; ok {
				t.eog[id] = true
				t.types[id] = TokenControl
				return
			}
		}
	}
	find("tokenizer.ggml.eot_token_id", "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>")
	find("tokenizer.ggml.eom_token_id", "<|eom_id|>")
	find("tokenizer.ggml.fim_pad_token_id", "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>")
	find("tokenizer.ggml.fim_rep_token_id", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>")
	find("tokenizer.ggml.fim_sep_token_id", "<|file_sep|>")
	for s, id := range t.ids {
		if eogTexts[s] {
			t.eog[id] = true
			t.types[id] = TokenControl
		}
	}
	// Fill-in-the-middle prefix, suffix and middle tokens are not EOG, but llama.cpp forces them
	// to control too (so they are parsed as special tokens and print as their text).
	for _, s := range []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
		"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
		"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>"} {
		if id, ok := t.ids[s]; ok {
			t.types[id] = TokenControl
		}
	}
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
	if t.bpe {
		for _, f := range frags {
			if f.isTok {
				out = append(out, f.token)
			} else {
				out = t.bpeEncode(f.text, out)
			}
		}
		return out
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

// symbol is a run of the text being merged: bytes [start, start+n), linked to its neighbours
// (-1 at the ends). A symbol merged into its left neighbour has n = 0.
type symbol struct {
	start, n   int
	prev, next int
}

// symbolsOf splits text into UTF-8 characters by their lead byte, as llama.cpp does.
func symbolsOf(text string) []symbol {
	var syms []symbol
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		next := len(syms) + 1
		if off+n == len(text) {
			next = -1
		}
		syms = append(syms, symbol{start: off, n: n, prev: len(syms) - 1, next: next})
		off += n
	}
	return syms
}

// merge joins symbol r into its left neighbour l.
func merge(syms []symbol, l, r int) {
	a, b := &syms[l], &syms[r]
	a.n += b.n
	b.n = 0
	a.next = b.next
	if b.next >= 0 {
		syms[b.next].prev = l
	}
}

type spmBigram struct {
	left, right int
	score       float32
	size        int
}

// queue is a priority queue of merge candidates for container/heap: first pops first.
type queue[T any] struct {
	items []T
	first func(a, b *T) bool
}

func (q *queue[T]) Len() int           { return len(q.items) }
func (q *queue[T]) Less(i, j int) bool { return q.first(&q.items[i], &q.items[j]) }
func (q *queue[T]) Swap(i, j int)      { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *queue[T]) Push(x any)         { q.items = append(q.items, x.(T)) }
func (q *queue[T]) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}

// spm is llm_tokenizer_spm_session::tokenize.
func (t *Tokenizer) spm(text string, out []uint32) []uint32 {
	syms := symbolsOf(text)
	// The highest score first and, on equal scores, the leftmost pair.
	q := &queue[spmBigram]{first: func(a, b *spmBigram) bool {
		return a.score > b.score || (a.score == b.score && a.left < b.left)
	}}
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
		heap.Push(q, spmBigram{left: l, right: r, score: t.scores[id], size: len(s)})
		revMerge[s] = [2]int{l, r}
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(i-1, i)
	}
	for q.Len() > 0 {
		b := heap.Pop(q).(spmBigram)
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // stale: one side was merged since this pair was queued
		}
		merge(syms, b.left, b.right)
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
// what Ollama streams): control, unknown and user-defined tokens are their text, unused and
// undefined tokens are empty; in a SentencePiece vocabulary "▁" becomes a space in normal tokens
// and byte tokens are their byte, in a BPE vocabulary normal tokens are mapped back through GPT-2's
// byte-to-unicode table and byte tokens are empty.
func (t *Tokenizer) Piece(id uint32) string {
	if int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

func (t *Tokenizer) piece(s string, typ int32) string {
	switch typ {
	case TokenNormal:
		if t.bpe {
			return bpeDecodeText(s)
		}
		return strings.ReplaceAll(s, "▁", " ")
	case TokenByte:
		if t.bpe {
			return "" // llama.cpp prints byte tokens of a BPE vocabulary as nothing
		}
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

// IsEOG reports whether a token ends generation, by llama.cpp's rules (see findEOG).
func (t *Tokenizer) IsEOG(id uint32) bool { return t.eog[id] }

// Decode concatenates the tokens' pieces.
func (t *Tokenizer) Decode(ids []uint32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(t.Piece(id))
	}
	return b.String()
}
