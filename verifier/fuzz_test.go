package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

// signedReceipt runs a real GGUF model (random weights) and returns the signed receipt of the
// run, with its request.
func signedReceipt(tb testing.TB) (*inference.Receipt, inference.Request) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tiny.gguf")
	if err := gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 3).WriteFile(path); err != nil {
		tb.Fatal(err)
	}
	req := inference.Request{Model: path, Prompt: "verify me", Sampling: inference.Sampling{MaxTokens: 4, Temperature: 0.7, Seed: 9, Stop: []string{"\n"}}}
	resp, err := gguf.New().Generate(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := inference.NewReceipt("gguf", req, resp, 1337, time.Unix(1_700_000_000, 0))
	if err != nil {
		tb.Fatal(err)
	}
	key, _ := crypto.HexToECDSA("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
	if err := r.Sign(key); err != nil {
		tb.Fatal(err)
	}
	return r, req
}

func TestReceiptRoundTrip(t *testing.T) {
	r, _ := signedReceipt(t)
	a := ReceiptFromInference(r)
	back, err := ReceiptToInference(a)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip changed the receipt:\n got %+v\nwant %+v", back, r)
	}
	if err := back.VerifyBy(r.Signer); err != nil {
		t.Fatal(err)
	}
	// Through calldata.
	data, err := ABI.Pack("submitResult", big.NewInt(7), a, uint64(99))
	if err != nil {
		t.Fatal(err)
	}
	id, dec, steps, err := DecodeSubmitResult(data)
	if err != nil || id.Int64() != 7 || steps != 99 || !reflect.DeepEqual(dec, a) {
		t.Fatalf("DecodeSubmitResult: %v %v %d %+v", err, id, steps, dec)
	}

	// Tampering with a signed field changes the recovered signer.
	a.OutputTokens++
	if back, err := ReceiptToInference(a); err == nil && back.Signer == r.Signer {
		t.Error("a changed receipt recovered the same signer")
	}
	// Non-canonical forms are refused.
	for name, mut := range map[string]func(*Receipt){
		"temperature": func(x *Receipt) { x.Temperature = "0.70" },
		"topP nan":    func(x *Receipt) { x.TopP = "NaN" },
		"seed":        func(x *Receipt) { x.Seed = "09" },
		"signature":   func(x *Receipt) { x.Signature = x.Signature[:64] },
	} {
		x := ReceiptFromInference(r)
		mut(&x)
		if _, err := ReceiptToInference(x); err == nil {
			t.Errorf("%s: non-canonical receipt converted", name)
		}
	}
}

func TestRequestEncoding(t *testing.T) {
	_, req := signedReceipt(t)
	req.Stream = func(string) error { return nil }
	in, err := EncodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := inference.InputDigest(req)
	back, err := DecodeRequest(in, d)
	if err != nil {
		t.Fatal(err)
	}
	if back.Prompt != req.Prompt || back.Model != req.Model || !reflect.DeepEqual(back.Sampling, req.Sampling) {
		t.Errorf("decoded %+v", back)
	}
	d[0] ^= 1
	if _, err := DecodeRequest(in, d); err == nil {
		t.Error("an input that does not match its digest decoded")
	}
	if _, err := DecodeRequest("{", d); err == nil {
		t.Error("malformed input decoded")
	}
}

// FuzzReceiptABI: submitResult calldata decodes into a Receipt, and a Receipt converts to an
// inference.Receipt, or they error; never a panic. What converts round-trips: back to the same
// ABI receipt, through calldata again, and through the receipt's strict JSON form.
func FuzzReceiptABI(f *testing.F) {
	r, _ := signedReceipt(f)
	sel := ABI.Methods["submitResult"].ID
	add := func(x Receipt) {
		data, err := ABI.Pack("submitResult", big.NewInt(1), x, uint64(42))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[4:])
	}
	add(ReceiptFromInference(r))
	unsigned := *r
	unsigned.Signature = nil
	add(ReceiptFromInference(&unsigned))
	bad := ReceiptFromInference(r)
	bad.Seed, bad.Stop = "-1", []string{"a", "", "\x00\xff"}
	add(bad)
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 96))

	f.Fuzz(func(t *testing.T, args []byte) {
		_, rec, _, err := DecodeSubmitResult(append(append([]byte{}, sel...), args...))
		if err != nil {
			return
		}
		ir, err := ReceiptToInference(rec)
		if err != nil {
			return
		}
		back := ReceiptFromInference(ir)
		if !reflect.DeepEqual(back, rec) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, rec)
		}
		data, err := ABI.Pack("submitResult", big.NewInt(1), back, uint64(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, again, _, err := DecodeSubmitResult(data); err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("re-encoded calldata: %v\n got %+v\nwant %+v", err, again, rec)
		}
		js, err := json.Marshal(ir)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON inference.Receipt
		if err := json.Unmarshal(js, &fromJSON); err != nil {
			t.Fatalf("a converted receipt's JSON does not decode: %v\n%s", err, js)
		}
		if !reflect.DeepEqual(&fromJSON, ir) {
			t.Fatalf("JSON round trip:\n got %+v\nwant %+v", fromJSON, *ir)
		}
	})
}

// FuzzMoveDecoding: bisect, choose and proveStep calldata decodes into a Move or errors, never
// panics; a decoded move re-encodes to calldata that decodes to the same move.
func FuzzMoveDecoding(f *testing.F) {
	for _, mv := range []Move{
		{Method: "bisect", DisputeID: big.NewInt(1), Left: [32]byte{1}, Right: [32]byte{2}},
		{Method: "choose", DisputeID: big.NewInt(2), ChooseLeft: true},
		{Method: "choose", DisputeID: big.NewInt(3)},
		{Method: "proveStep", DisputeID: big.NewInt(4), Proof: bytes.Repeat([]byte{7}, 100)},
		{Method: "proveStep", DisputeID: big.NewInt(5)},
		{Method: "proveToken", DisputeID: big.NewInt(6), Tokens: []uint32{1, 2, 0xffffffff}, Record: bytes.Repeat([]byte{2}, 33), Path: [][32]byte{{1}, {2}}},
		{Method: "proveToken", DisputeID: big.NewInt(7)},
	} {
		data, err := mv.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		mv, err := DecodeMove(data)
		if err != nil {
			return
		}
		again, err := mv.Pack()
		if err != nil {
			t.Fatalf("%+v does not re-encode: %v", mv, err)
		}
		mv2, err := DecodeMove(again)
		if err != nil {
			t.Fatalf("re-encoded move does not decode: %v", err)
		}
		for _, m := range []*Move{&mv, &mv2} {
			if m.Proof == nil {
				m.Proof = []byte{}
			}
			if m.Tokens == nil {
				m.Tokens = []uint32{}
			}
			if m.Record == nil {
				m.Record = []byte{}
			}
			if m.Path == nil {
				m.Path = [][32]byte{}
			}
		}
		if !reflect.DeepEqual(mv, mv2) {
			t.Fatalf("move round trip:\n got %+v\nwant %+v", mv2, mv)
		}
	})
}

// FuzzRevealDecoding: revealOutput and challengeToken calldata decode into their arguments or
// error, never panic; what decodes re-encodes to calldata that decodes the same.
func FuzzRevealDecoding(f *testing.F) {
	for _, args := range [][]any{
		{"revealOutput", big.NewInt(1), []uint32{5, 6, 7}, `{"model":"m","prompt":"p"}`},
		{"revealOutput", big.NewInt(2), []uint32{}, ""},
		{"challengeToken", big.NewInt(3), uint64(4)},
		{"challengeToken", new(big.Int).Lsh(big.NewInt(1), 255), ^uint64(0)},
	} {
		data, err := ABI.Pack(args[0].(string), args[1:]...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if id, tokens, req, err := DecodeRevealOutput(data); err == nil {
			again, err := ABI.Pack("revealOutput", id, tokens, req)
			if err != nil {
				t.Fatalf("revealOutput args do not re-encode: %v", err)
			}
			id2, tokens2, req2, err := DecodeRevealOutput(again)
			if err != nil || id2.Cmp(id) != 0 || !reflect.DeepEqual(tokens, tokens2) || req != req2 {
				t.Fatalf("revealOutput round trip: %v %v %v %q", err, id2, tokens2, req2)
			}
		}
		if id, k, err := DecodeChallengeToken(data); err == nil {
			again, err := ABI.Pack("challengeToken", id, k)
			if err != nil {
				t.Fatalf("challengeToken args do not re-encode: %v", err)
			}
			id2, k2, err := DecodeChallengeToken(again)
			if err != nil || id2.Cmp(id) != 0 || k2 != k {
				t.Fatalf("challengeToken round trip: %v %v %d", err, id2, k2)
			}
		}
	})
}
