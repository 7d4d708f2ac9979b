package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// testKey is a fixed key, so fuzz seeds are reproducible.
var testKey, _ = crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")

func signed(t testing.TB, kind Kind, seq uint64, data string) *Event {
	t.Helper()
	e := &Event{Name: "tester", Kind: kind, Seq: seq, Time: 1_700_000_000_000}
	if data != "" {
		e.Data = json.RawMessage(data)
	}
	if err := e.Sign(testKey); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSignVerify(t *testing.T) {
	e := signed(t, ToolCall, 7, `{ "tool": "dat_mint",  "args": {"b": 2, "a": [1, 2.5, "<x>"]} }`)
	if e.Agent != crypto.PubkeyToAddress(testKey.PublicKey) {
		t.Fatalf("agent %s", e.Agent)
	}
	if err := e.Verify(); err != nil {
		t.Fatal(err)
	}
	// The signature is an EIP-191 personal signature of the signing bytes, so wallets can check it.
	b, err := e.signingBytes()
	if err != nil {
		t.Fatal(err)
	}
	sig := append([]byte(nil), e.Signature...)
	sig[64] -= 27
	pub, err := crypto.SigToPub(accounts.TextHash(b), sig)
	if err != nil || crypto.PubkeyToAddress(*pub) != e.Agent {
		t.Fatalf("personal-sign recovery: %v", err)
	}
	// Reformatting Data (whitespace, key order, escaping) keeps the signature valid.
	e2 := *e
	e2.Data = json.RawMessage(`{"args":{"a":[1,2.5,"\u003cx\u003e"],"b":2},"tool":"dat_mint"}`)
	if err := e2.Verify(); err != nil {
		t.Fatalf("reformatted data: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	base := signed(t, Thought, 1, `{"text":"hi"}`)
	other, _ := crypto.GenerateKey()
	cases := []struct {
		name   string
		mutate func(e *Event)
		want   error
	}{
		{"unknown kind", func(e *Event) { e.Kind = "dance" }, ErrUnknownKind},
		{"unsigned", func(e *Event) { e.Signature = nil }, ErrUnsigned},
		{"short signature", func(e *Event) { e.Signature = e.Signature[:64] }, ErrUnsigned},
		{"other agent", func(e *Event) { e.Agent = crypto.PubkeyToAddress(other.PublicKey) }, ErrBadSignature},
		{"changed seq", func(e *Event) { e.Seq++ }, ErrBadSignature},
		{"changed time", func(e *Event) { e.Time++ }, ErrBadSignature},
		{"changed name", func(e *Event) { e.Name = "mallory" }, ErrBadSignature},
		{"changed kind", func(e *Event) { e.Kind = Error }, ErrBadSignature},
		{"changed data", func(e *Event) { e.Data = json.RawMessage(`{"text":"ho"}`) }, ErrBadSignature},
		{"bad v", func(e *Event) { e.Signature[64] = 40 }, ErrBadSignature},
		{"signed by another key", func(e *Event) {
			a := e.Agent
			if err := e.Sign(other); err != nil {
				t.Fatal(err)
			}
			e.Agent = a
		}, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := *base
			e.Signature = append([]byte(nil), base.Signature...)
			c.mutate(&e)
			if err := e.Verify(); !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
		})
	}
	bad := *base
	bad.Data = json.RawMessage(`{"x":1e400}`)
	if err := bad.Verify(); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("data out of range: %v", err)
	}
}

func TestDecodeEncode(t *testing.T) {
	e := signed(t, Inference, 3, `{"receipt":{"model":"tiny","tokens":12}}`)
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Agent != e.Agent || got.Seq != 3 || got.Kind != Inference || !bytes.Equal(got.Signature, e.Signature) {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := Decode(append(b, bytes.Repeat([]byte(" "), MaxSize)...)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := Decode([]byte(`[1,2]`)); err == nil {
		t.Fatal("array decoded")
	}
	big := signed(t, Thought, 4, `"`+strings.Repeat("x", MaxSize)+`"`)
	if _, err := big.Encode(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized encode: %v", err)
	}
}

func TestFilter(t *testing.T) {
	e := signed(t, TxSent, 1, "")
	other := common.HexToAddress("0x01")
	cases := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Agents: []common.Address{e.Agent}}, true},
		{Filter{Agents: []common.Address{other}}, false},
		{Filter{Agents: []common.Address{other, e.Agent}, Kinds: []Kind{TxMined, TxSent}}, true},
		{Filter{Kinds: []Kind{TxMined}}, false},
		{Filter{Agents: []common.Address{e.Agent}, Kinds: []Kind{Refused}}, false},
	}
	for i, c := range cases {
		if got := c.f.Match(e); got != c.want {
			t.Errorf("case %d: Match = %v", i, got)
		}
	}
	if err := (Filter{Kinds: []Kind{"nope"}}).Validate(); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("Validate: %v", err)
	}
	if err := (Filter{Kinds: Kinds}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// FuzzEventJSON feeds outside bytes to Decode (what the node runs on agent_publish). Nothing
// panics, and an event that decodes and verifies still verifies, as the same agent with the same
// hash, after the node's re-encoding (Encode), which is what subscribers receive.
func FuzzEventJSON(f *testing.F) {
	for _, e := range []*Event{
		signed(f, Started, 1, ""),
		signed(f, Thought, 2, `{"text":"hello \u003cworld\u003e","n":1.5e3}`),
		signed(f, ToolCall, 3, `[1, {"b":null,"a":true}]`),
		signed(f, Error, 4, `"boom"`),
		signed(f, Refused, 5, `null`),
	} {
		b, _ := json.Marshal(e)
		f.Add(b)
	}
	f.Add([]byte(`{"agent":"0x0000000000000000000000000000000000000001","kind":"thought","seq":1,"signature":"0x00"}`))
	f.Add([]byte(`{"kind":"started","data":{"x":1e400},"signature":"0x` + strings.Repeat("11", 65) + `"}`))
	f.Add([]byte(`{"kind":"started","name":"\xff\xfe","data":{"a":1,"a":2}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		h, err := e.Hash()
		if err != nil {
			t.Fatalf("verified event has no hash: %v", err)
		}
		enc, err := e.Encode()
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return // escaping grew it; the node rejects it the same way
			}
			t.Fatalf("encode: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded event does not verify: %v\nin:  %q\nout: %q", err, b, enc)
		}
		h2, _ := again.Hash()
		if again.Agent != e.Agent || h2 != h || again.Seq != e.Seq || again.Kind != e.Kind {
			t.Fatalf("re-encoding changed the event:\nin:  %q\nout: %q", b, enc)
		}
	})
}

// FuzzSignedRoundTrip signs events whose name and data come from the fuzzer, so that the
// round-trip through the wire encoding is exercised on valid signatures too (FuzzEventJSON's
// inputs rarely carry one): what an agent signs, the node and its subscribers verify.
func FuzzSignedRoundTrip(f *testing.F) {
	f.Add("agent", []byte(`{"text":"hi"}`))
	f.Add("\xff<>&", []byte(`{"a":1,"a":[1e308,-0,0.1,"\u2028\ud800"]}`))
	f.Add("", []byte(`12345678901234567890123`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		e := &Event{Name: name, Kind: Thought, Seq: 1, Time: 1}
		if len(data) > 0 {
			if !json.Valid(data) {
				return
			}
			e.Data = data
		}
		if err := e.Sign(testKey); err != nil {
			return // data JSON that does not fit Go values (e.g. 1e400): Verify rejects it too
		}
		enc, err := e.Encode()
		if errors.Is(err, ErrTooLarge) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(enc); err != nil {
			t.Fatalf("signed event does not verify after encoding: %v\n%q", err, enc)
		}
	})
}
