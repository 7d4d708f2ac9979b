package verifier

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/accounts/abi"

	"github.com/metisgo/metis/inference"
)

// ReceiptFromInference is r in the module's ABI form. The Signer field has no place there: the
// module recovers it from the signature.
func ReceiptFromInference(r *inference.Receipt) Receipt {
	stop := r.Sampling.Stop
	if stop == nil {
		stop = []string{}
	}
	sig := []byte(r.Signature)
	if sig == nil {
		sig = []byte{}
	}
	return Receipt{
		Engine:       r.Engine,
		Model:        r.Model,
		ModelDigest:  r.ModelDigest,
		InputDigest:  r.InputDigest,
		Temperature:  r.Sampling.Temperature,
		TopK:         r.Sampling.TopK,
		TopP:         r.Sampling.TopP,
		Seed:         r.Sampling.Seed,
		MaxTokens:    r.Sampling.MaxTokens,
		Stop:         append([]string{}, stop...),
		OutputDigest: r.OutputDigest,
		PromptTokens: r.PromptTokens,
		OutputTokens: r.OutputTokens,
		TraceRoot:    r.TraceRoot,
		Timestamp:    r.Timestamp,
		ChainId:      r.ChainID,
		Signature:    append([]byte{}, sig...),
	}
}

// ReceiptToInference converts an ABI receipt (decoded from calldata, so untrusted) back into an
// inference.Receipt. It checks the form as inference.Receipt's JSON decoding does — temperature
// and top-p canonical finite decimals, the seed a canonical uint64, the strings valid UTF-8, the
// signature empty or 65 bytes — and, for a signed receipt, recovers Signer from the signature (an unrecoverable
// signature is an error wrapping inference.ErrBadSignature). A receipt that converts converts
// back to itself with ReceiptFromInference.
func ReceiptToInference(r Receipt) (*inference.Receipt, error) {
	for name, f := range map[string]string{"temperature": r.Temperature, "topP": r.TopP} {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strconv.FormatFloat(v, 'g', -1, 64) != f {
			return nil, fmt.Errorf("verifier: receipt %s %q is not a canonical finite decimal", name, f)
		}
	}
	if seed, err := strconv.ParseUint(r.Seed, 10, 64); err != nil || strconv.FormatUint(seed, 10) != r.Seed {
		return nil, fmt.Errorf("verifier: receipt seed %q is not a canonical uint64", r.Seed)
	}
	if len(r.Signature) != 0 && len(r.Signature) != 65 {
		return nil, fmt.Errorf("verifier: receipt signature is %d bytes, want 0 or 65", len(r.Signature))
	}
	// EIP-712 hashes a string's bytes, JSON cannot carry invalid UTF-8: such a receipt would
	// verify on chain and be another receipt in its JSON form.
	for _, s := range append([]string{r.Engine, r.Model}, r.Stop...) {
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("verifier: receipt string %q is not valid UTF-8", s)
		}
	}
	stop := append([]string{}, r.Stop...)
	out := &inference.Receipt{
		Engine:      r.Engine,
		Model:       r.Model,
		ModelDigest: r.ModelDigest,
		InputDigest: r.InputDigest,
		Sampling: inference.ReceiptSampling{
			Temperature: r.Temperature, TopK: r.TopK, TopP: r.TopP, Seed: r.Seed,
			MaxTokens: r.MaxTokens, Stop: stop,
		},
		OutputDigest: r.OutputDigest,
		PromptTokens: r.PromptTokens,
		OutputTokens: r.OutputTokens,
		TraceRoot:    r.TraceRoot,
		Timestamp:    r.Timestamp,
		ChainID:      r.ChainId,
		Signature:    append([]byte{}, r.Signature...),
	}
	if len(r.Signature) == 65 {
		signer, err := out.Recover()
		if err != nil {
			return nil, err
		}
		out.Signer = signer
	}
	return out, nil
}

// decodeCall unpacks calldata of method (selector included), refusing another method's.
func decodeCall(method string, data []byte) (out []any, err error) {
	m, ok := ABI.Methods[method]
	if !ok {
		return nil, fmt.Errorf("verifier: no method %q", method)
	}
	if len(data) < 4 || string(data[:4]) != string(m.ID) {
		return nil, fmt.Errorf("verifier: calldata is not a %s call", method)
	}
	// The ABI decoder is defensive, but calldata is attacker-controlled: a panic deep in it
	// must not take the caller down.
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("verifier: decoding %s calldata: %v", method, p)
		}
	}()
	out, err = m.Inputs.Unpack(data[4:])
	if err != nil {
		return nil, fmt.Errorf("verifier: decoding %s calldata: %w", method, err)
	}
	return out, nil
}

// DecodeSubmitResult decodes submitResult calldata (selector included) into its arguments.
func DecodeSubmitResult(data []byte) (taskID *big.Int, r Receipt, steps uint64, err error) {
	out, err := decodeCall("submitResult", data)
	if err != nil {
		return nil, Receipt{}, 0, err
	}
	if len(out) != 3 {
		return nil, Receipt{}, 0, errors.New("verifier: submitResult: wrong argument count")
	}
	r = *abi.ConvertType(out[1], new(Receipt)).(*Receipt)
	return out[0].(*big.Int), r, out[2].(uint64), nil
}

// DecodeRevealOutput decodes revealOutput calldata (selector included) into its arguments.
func DecodeRevealOutput(data []byte) (taskID *big.Int, tokens []uint32, request string, err error) {
	out, err := decodeCall("revealOutput", data)
	if err != nil {
		return nil, nil, "", err
	}
	if len(out) != 3 {
		return nil, nil, "", errors.New("verifier: revealOutput: wrong argument count")
	}
	return out[0].(*big.Int), out[1].([]uint32), out[2].(string), nil
}

// DecodeChallengeToken decodes challengeToken calldata (selector included) into its arguments.
func DecodeChallengeToken(data []byte) (taskID *big.Int, k uint64, err error) {
	out, err := decodeCall("challengeToken", data)
	if err != nil {
		return nil, 0, err
	}
	if len(out) != 2 {
		return nil, 0, errors.New("verifier: challengeToken: wrong argument count")
	}
	return out[0].(*big.Int), out[1].(uint64), nil
}

// Move is one decoded dispute move: Method is "bisect", "choose", "proveStep" or "proveToken",
// with the arguments that method takes.
type Move struct {
	Method      string
	DisputeID   *big.Int
	Left, Right [32]byte   // bisect
	ChooseLeft  bool       // choose
	Proof       []byte     // proveStep
	Tokens      []uint32   // proveToken
	Record      []byte     // proveToken
	Path        [][32]byte // proveToken
}

// DecodeMove decodes the calldata (selector included) of a bisect, choose, proveStep or
// proveToken call.
func DecodeMove(data []byte) (Move, error) {
	if len(data) < 4 {
		return Move{}, errors.New("verifier: calldata shorter than a selector")
	}
	for _, name := range []string{"bisect", "choose", "proveStep", "proveToken"} {
		if string(ABI.Methods[name].ID) != string(data[:4]) {
			continue
		}
		out, err := decodeCall(name, data)
		if err != nil {
			return Move{}, err
		}
		mv := Move{Method: name, DisputeID: out[0].(*big.Int)}
		switch name {
		case "bisect":
			mv.Left, mv.Right = out[1].([32]byte), out[2].([32]byte)
		case "choose":
			mv.ChooseLeft = out[1].(bool)
		case "proveStep":
			mv.Proof = out[1].([]byte)
		case "proveToken":
			mv.Tokens, mv.Record, mv.Path = out[1].([]uint32), out[2].([]byte), out[3].([][32]byte)
		}
		return mv, nil
	}
	return Move{}, fmt.Errorf("verifier: selector %x is not a dispute move", data[:4])
}

// Pack encodes the move as calldata.
func (m Move) Pack() ([]byte, error) {
	switch m.Method {
	case "bisect":
		return ABI.Pack("bisect", m.DisputeID, m.Left, m.Right)
	case "choose":
		return ABI.Pack("choose", m.DisputeID, m.ChooseLeft)
	case "proveStep":
		p := m.Proof
		if p == nil {
			p = []byte{}
		}
		return ABI.Pack("proveStep", m.DisputeID, p)
	case "proveToken":
		t, r, path := m.Tokens, m.Record, m.Path
		if t == nil {
			t = []uint32{}
		}
		if r == nil {
			r = []byte{}
		}
		if path == nil {
			path = [][32]byte{}
		}
		return ABI.Pack("proveToken", m.DisputeID, t, r, path)
	}
	return nil, fmt.Errorf("verifier: %q is not a dispute move", m.Method)
}
