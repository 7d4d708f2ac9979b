// Package event is the agent event: what an agent publishes (started, thought, tool call,
// inference with its receipt, transaction sent and mined, refused action, error), signed by the
// agent's key so that the node relays only events of registered agents. It is the contract
// between the agents runtime, the node's agent_ JSON-RPC namespace and subscribers, and depends
// on go-ethereum only.
package event

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// Kind is what happened.
type Kind string

// Kinds of events.
const (
	Started   Kind = "started"
	Thought   Kind = "thought"
	ToolCall  Kind = "tool_call"
	Inference Kind = "inference" // Data carries the signed inference receipt
	TxSent    Kind = "tx_sent"
	TxMined   Kind = "tx_mined"
	Refused   Kind = "refused" // the policy refused an action; nothing was signed
	Error     Kind = "error"
	Stopped   Kind = "stopped"
)

// Kinds lists every kind, for validation and filters.
var Kinds = []Kind{Started, Thought, ToolCall, Inference, TxSent, TxMined, Refused, Error, Stopped}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// MaxSize is the largest encoded event the node accepts (JSON, signature included).
const MaxSize = 64 << 10

// Event is one agent event. Seq increases by one per event of an agent (from 1), so a
// subscriber sees gaps; Time is unix milliseconds set by the agent.
type Event struct {
	Agent     common.Address  `json:"agent"`
	Name      string          `json:"name,omitempty"` // the agent's name, for display
	Kind      Kind            `json:"kind"`
	Seq       uint64          `json:"seq"`
	Time      int64           `json:"time"`
	Data      json.RawMessage `json:"data,omitempty"`
	Signature hexutil.Bytes   `json:"signature,omitempty"`
}

// signingBytes is the canonical encoding signed: the event's JSON without its signature, with
// Data compacted, in the struct's field order.
func (e *Event) signingBytes() ([]byte, error) {
	c := *e
	c.Signature = nil
	// encoding/json writes an invalid UTF-8 byte as the escape \ufffd but a real U+FFFD as is,
	// so sign the name as it reads back from the wire (invalid bytes replaced by U+FFFD).
	c.Name = validUTF8(c.Name)
	if len(c.Data) > 0 {
		var buf []byte
		var err error
		if buf, err = compact(c.Data); err != nil {
			return nil, fmt.Errorf("event: data is not JSON: %w", err)
		}
		c.Data = buf
	}
	return json.Marshal(&c)
}

// validUTF8 replaces each invalid byte of s by U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func compact(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Hash is the EIP-191 personal-message hash of the signing bytes (what eth_sign / personal_sign
// of those bytes signs), so wallets and ethers' verifyMessage can check an event too.
func (e *Event) Hash() (common.Hash, error) {
	b, err := e.signingBytes()
	if err != nil {
		return common.Hash{}, err
	}
	return common.BytesToHash(accounts.TextHash(b)), nil
}

// Sign sets Agent to key's address and signs the event.
func (e *Event) Sign(key *ecdsa.PrivateKey) error {
	e.Agent = crypto.PubkeyToAddress(key.PublicKey)
	h, err := e.Hash()
	if err != nil {
		return err
	}
	sig, err := crypto.Sign(h[:], key)
	if err != nil {
		return err
	}
	sig[64] += 27
	e.Signature = sig
	return nil
}

// Errors of Verify.
var (
	ErrUnsigned     = errors.New("event: not signed")
	ErrBadSignature = errors.New("event: signature does not match the agent")
	ErrUnknownKind  = errors.New("event: unknown kind")
)

// Verify checks the event's shape and that Signature is the Agent's.
func (e *Event) Verify() error {
	if !e.Kind.Valid() {
		return fmt.Errorf("%w %q", ErrUnknownKind, e.Kind)
	}
	if len(e.Signature) != 65 {
		return ErrUnsigned
	}
	h, err := e.Hash()
	if err != nil {
		return err
	}
	sig := append([]byte(nil), e.Signature...)
	if sig[64] >= 27 {
		sig[64] -= 27
	}
	pub, err := crypto.SigToPub(h[:], sig)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if crypto.PubkeyToAddress(*pub) != e.Agent {
		return ErrBadSignature
	}
	return nil
}

// Filter selects events for a subscription; empty fields match everything.
type Filter struct {
	Agents []common.Address `json:"agents,omitempty"`
	Kinds  []Kind           `json:"kinds,omitempty"`
}

// Match reports whether e passes f.
func (f Filter) Match(e *Event) bool {
	if len(f.Agents) > 0 {
		ok := false
		for _, a := range f.Agents {
			ok = ok || a == e.Agent
		}
		if !ok {
			return false
		}
	}
	if len(f.Kinds) > 0 {
		ok := false
		for _, k := range f.Kinds {
			ok = ok || k == e.Kind
		}
		if !ok {
			return false
		}
	}
	return true
}

// Errors of the node's agent_publish (and of its in-process path), besides those of Verify.
var (
	ErrTooLarge      = fmt.Errorf("event: larger than %d bytes encoded", MaxSize)
	ErrNotRegistered = errors.New("event: agent is not registered and active in the iDAO")
	ErrStaleSeq      = errors.New("event: seq is not above the agent's last published seq")
)

// JSON-RPC error codes of agent_publish, agent_subscribe and agent_recent (-32000 to -32099 are
// the implementation-defined server errors of JSON-RPC 2.0).
const (
	CodeInvalid       = -32602 // unknown kind, unsigned, data not JSON, a bad filter or limit
	CodeTooLarge      = -32005 // over MaxSize, as chain/rpc's limit errors
	CodeBadSignature  = -32011 // the signature is not the agent's: forged or corrupted
	CodeNotRegistered = -32012 // the agent is not registered and active in the iDAO at the head
	CodeStaleSeq      = -32013 // replayed or reordered: seq not above the agent's last
)

// Decode decodes an encoded event from outside (a JSON object of at most MaxSize bytes) and
// verifies it (Verify). It is what the node runs on the bytes an agent publishes.
func Decode(b []byte) (*Event, error) {
	if len(b) > MaxSize {
		return nil, ErrTooLarge
	}
	e := new(Event)
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("event: decode: %w", err)
	}
	if err := e.Verify(); err != nil {
		return nil, err
	}
	return e, nil
}

// Encode is the event's JSON encoding as the node relays it (Data compacted), failing with
// ErrTooLarge when it is over MaxSize.
func (e *Event) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("event: encode: %w", err)
	}
	if len(b) > MaxSize {
		return nil, ErrTooLarge
	}
	return b, nil
}

// Validate reports an unknown kind in f as an error wrapping ErrUnknownKind.
func (f Filter) Validate() error {
	for _, k := range f.Kinds {
		if !k.Valid() {
			return fmt.Errorf("%w %q in filter", ErrUnknownKind, k)
		}
	}
	return nil
}

// Dropped is the last notification of an agent_subscribe subscription that the node dropped
// because its subscriber fell too far behind (or its connection failed): {"dropped": reason}.
// The node sends nothing more on that subscription; agents/stream ends the subscription with
// an error wrapping ErrDropped.
type Dropped struct {
	Dropped string `json:"dropped"`
}

// ErrDropped ends a subscription the node dropped.
var ErrDropped = errors.New("event: subscription dropped by the node")
