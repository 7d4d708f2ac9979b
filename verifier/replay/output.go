package replay

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

// TokensHash is what the Verifier module stores of a revealed output: SHA-256 over the tokens,
// each a little-endian u32.
func TokensHash(tokens []uint32) [32]byte {
	b := make([]byte, 0, 4*len(tokens))
	for _, t := range tokens {
		b = binary.LittleEndian.AppendUint32(b, t)
	}
	return sha256.Sum256(b)
}

// OutputTokens returns the output tokens of a trace (what a prover reveals).
func OutputTokens(tr *gguf.Trace) []uint32 { return append([]uint32{}, tr.Output()...) }

// MaxTokens is the generation limit of the run a receipt describes: its Sampling.MaxTokens, or,
// when that is 0, the gguf engine's default (gguf.DefaultMaxTokens), which is what a receipt with
// maxTokens 0 means.
func MaxTokens(rc *inference.Receipt) int {
	switch n := rc.Sampling.MaxTokens; {
	case n == 0:
		return gguf.DefaultMaxTokens
	case n > math.MaxInt32:
		return math.MaxInt32
	default:
		return int(n)
	}
}

// CheckOutput checks a prover's reveal of the output tokens of the run rc describes:
//
//   - req hashes to rc.InputDigest, its sampling parameters are the receipt's (in the receipt's
//     canonical form), and it tokenizes, as the engine does, to rc.PromptTokens tokens;
//   - there are rc.OutputTokens tokens, each in the model's vocabulary;
//   - the engine would have ended the run exactly at the last one (gguf.Model.ResponseOf: an
//     end-of-generation token, a stop string, the token limit or the full context, and none of
//     these earlier);
//   - the response the engine would have built from them has rc.OutputDigest.
//
// Whether the tokens are the ones the trace sampled is not checked here: that is what a token
// dispute decides (OutputToken).
func (r *Replayer) CheckOutput(rc *inference.Receipt, req inference.Request, tokens []uint32) error {
	m, lay, err := r.layout(rc)
	if err != nil {
		return err
	}
	d, err := inference.InputDigest(req)
	if err != nil {
		return fmt.Errorf("replay: request: %w", err)
	}
	if d != rc.InputDigest {
		return fmt.Errorf("replay: the request has input digest %s, the receipt %s", d, rc.InputDigest)
	}
	if err := sameSampling(req.Sampling, rc.Sampling); err != nil {
		return err
	}
	prompt, err := m.PromptTokens(req, len(req.Messages) > 0)
	if err != nil {
		return fmt.Errorf("replay: request: %w", err)
	}
	if len(prompt) != lay.Prompt {
		return fmt.Errorf("replay: the request is %d prompt tokens, the receipt says %d", len(prompt), lay.Prompt)
	}
	if uint64(len(tokens)) != rc.OutputTokens {
		return fmt.Errorf("replay: %d tokens revealed, the receipt says %d", len(tokens), rc.OutputTokens)
	}
	resp, err := m.ResponseOf(req, len(prompt), tokens, MaxTokens(rc))
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	out, err := inference.OutputDigest(resp)
	if err != nil {
		return fmt.Errorf("replay: output: %w", err)
	}
	if out != rc.OutputDigest {
		return fmt.Errorf("replay: these tokens give output digest %s, the receipt says %s", out, rc.OutputDigest)
	}
	return nil
}

// sameSampling checks that a request's sampling parameters are the receipt's, compared in the
// receipt's canonical form (inference.NewReceipt's).
func sameSampling(s inference.Sampling, rs inference.ReceiptSampling) error {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch {
	case f(s.Temperature) != rs.Temperature, f(s.TopP) != rs.TopP, s.TopK < 0, uint64(s.TopK) != rs.TopK,
		strconv.FormatUint(s.Seed, 10) != rs.Seed, s.MaxTokens < 0, uint64(s.MaxTokens) != rs.MaxTokens,
		!slices.Equal(s.Stop, rs.Stop):
		return errors.New("replay: the request's sampling parameters are not the receipt's")
	}
	return nil
}

// OutputLeaf is the index of the trace leaf of the output step that sampled output token k of a
// run of a model of layers blocks with prompt and output tokens (position prompt-1+k).
func OutputLeaf(layers, prompt, output int, k int) (int, error) {
	l := Layout{Layers: layers, Prompt: prompt, Output: output}
	if layers < 1 || prompt < 1 || k < 0 || k >= output {
		return 0, fmt.Errorf("replay: no output token %d in a run of %d", k, output)
	}
	return l.OutputIndex(prompt - 1 + k), nil
}

// OutputToken checks a prover's answer to a token dispute: record must be the state record of
// the output step that sampled output token k of the run rc describes (kind output, position
// PromptTokens-1+k, the model's record size), and path its RFC 6962 audit path to leaf
// Layout.OutputIndex(PromptTokens-1+k) of the tree of steps leaves (StepCount(rc)) whose root
// is rc.TraceRoot. It returns the token the step sampled (the record's next token).
func (r *Replayer) OutputToken(rc *inference.Receipt, steps, k uint64, record []byte, path [][32]byte) (uint32, error) {
	m, lay, err := r.layout(rc)
	if err != nil {
		return 0, err
	}
	if steps != uint64(lay.Count()) {
		return 0, fmt.Errorf("replay: a trace of %d steps, but the receipt's run has %d", steps, lay.Count())
	}
	if k >= uint64(lay.Output) {
		return 0, fmt.Errorf("replay: no output token %d in a run of %d", k, lay.Output)
	}
	pos := lay.Prompt - 1 + int(k)
	i := lay.OutputIndex(pos)
	or, err := parseOutput(record, pos, m.Vocab.Len())
	if err != nil {
		return 0, err
	}
	if len(path) > MaxPath || !gguf.VerifyMerkleProof(rc.TraceRoot, sha256.Sum256(record), i, int(steps), path) {
		return 0, fmt.Errorf("replay: the record of output step %d does not prove against the trace root", i)
	}
	return or.next, nil
}

// TokenProof is the prover's side of a token dispute: the state record of the output step that
// sampled output token k of the trace, and its audit path in tree (the tree over the trace's
// leaves).
func TokenProof(tr *gguf.Trace, tree *Tree, k int) ([]byte, [][32]byte, error) {
	if tr == nil || tr.Model == nil || tree == nil {
		return nil, nil, errors.New("replay: no trace")
	}
	out := len(tr.Tokens) - tr.PromptLen
	i, err := OutputLeaf(tr.Model.Params.Layers, tr.PromptLen, out, k)
	if err != nil {
		return nil, nil, err
	}
	if i >= len(tr.Steps) || tree.Len() != len(tr.Steps) {
		return nil, nil, fmt.Errorf("replay: a trace of %d steps has no leaf %d", len(tr.Steps), i)
	}
	rec, err := tr.StateRecord(i)
	if err != nil {
		return nil, nil, err
	}
	return rec, tree.Path(i), nil
}
