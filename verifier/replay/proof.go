package replay

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
)

// Version is the one-step proof encoding's version, its first byte.
const Version = 1

// Limits of the encoding. A proof carries one state record per input it needs: a layer step at
// position p needs p+1 records, each about 4·(dim + kv_dim) bytes, so the size limit bounds the
// positions a proof can reach (for the test model, any).
const (
	MaxProofSize = 64 << 20 // bytes of an encoded proof
	MaxPath      = 64       // hashes in one audit path (a tree of up to 2^64 leaves)
)

// ErrFormat is wrapped by every decoding error.
var ErrFormat = errors.New("replay: malformed one-step proof")

// Record is one earlier step's state record (gguf.Trace.StateRecord) with the RFC 6962 audit
// path (gguf.MerkleProof) that proves SHA-256(Data) is leaf Step of the trace tree.
type Record struct {
	Step uint64
	Data []byte
	Path [][32]byte
}

// OneStepProof is what the prover submits for the disputed leaf Index: the step's identity, the
// request whose input digest the receipt commits to (it gives the prompt tokens, and its length
// checks the receipt's PromptTokens), and the state records of the earlier steps the step's inputs
// come from, in the order Layout.Needs lists them.
//
// Encoding (version 1), integers little-endian, str = u32 length then the bytes (valid UTF-8):
//
//	u8 version (1) | u64 index | u8 kind (1 layer, 2 output) | u32 pos | u32 layer (0 for output)
//	request: str model | str prompt
//	         | u32 messages × (str role | str content | u32 calls × (str id | str name | str arguments)
//	                          | str tool_name)
//	         | u32 tools × (str name | str description | str parameters)
//	u32 records × (u64 step | u32 length | record bytes | u8 path length | path × 32 bytes)
//
// Nothing may follow. Only the request fields inference.InputDigest hashes are encoded (not
// Sampling: the receipt carries it). Empty and absent JSON values (tool arguments and parameters)
// encode alike, as InputDigest and the engine treat them alike. The encoding is canonical:
// UnmarshalBinary accepts exactly what MarshalBinary produces.
type OneStepProof struct {
	Index   uint64
	Kind    gguf.StepKind
	Pos     uint32
	Layer   uint32
	Request inference.Request
	Records []Record
}

// MarshalBinary encodes the proof, checking the limits and rules UnmarshalBinary checks.
func (p *OneStepProof) MarshalBinary() ([]byte, error) {
	if p.Kind != gguf.StepLayer && p.Kind != gguf.StepOutput {
		return nil, fmt.Errorf("%w: step kind %d", ErrFormat, p.Kind)
	}
	if p.Kind == gguf.StepOutput && p.Layer != 0 {
		return nil, fmt.Errorf("%w: output step with layer %d", ErrFormat, p.Layer)
	}
	w := &writer{}
	w.b = append(w.b, Version)
	w.u64(p.Index)
	w.b = append(w.b, byte(p.Kind))
	w.u32(p.Pos)
	w.u32(p.Layer)
	r := p.Request
	w.str(r.Model)
	w.str(r.Prompt)
	w.count(len(r.Messages))
	for _, m := range r.Messages {
		w.str(m.Role)
		w.str(m.Content)
		w.count(len(m.ToolCalls))
		for _, c := range m.ToolCalls {
			w.str(c.ID)
			w.str(c.Name)
			w.str(string(c.Arguments))
		}
		w.str(m.ToolName)
	}
	w.count(len(r.Tools))
	for _, t := range r.Tools {
		w.str(t.Name)
		w.str(t.Description)
		w.str(string(t.Parameters))
	}
	w.count(len(p.Records))
	for _, rec := range p.Records {
		if len(rec.Path) > MaxPath {
			return nil, fmt.Errorf("%w: audit path of %d hashes", ErrFormat, len(rec.Path))
		}
		w.u64(rec.Step)
		w.bytes(rec.Data)
		w.b = append(w.b, byte(len(rec.Path)))
		for _, h := range rec.Path {
			w.b = append(w.b, h[:]...)
		}
	}
	if w.err != nil {
		return nil, w.err
	}
	if len(w.b) > MaxProofSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrFormat, len(w.b), MaxProofSize)
	}
	return w.b, nil
}

// UnmarshalBinary decodes a proof. It never panics, and allocates no more than a constant times
// the input's size.
func (p *OneStepProof) UnmarshalBinary(b []byte) error {
	if len(b) > MaxProofSize {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrFormat, len(b), MaxProofSize)
	}
	r := &reader{b: b}
	if v := r.u8(); r.err == nil && v != Version {
		return fmt.Errorf("%w: version %d, want %d", ErrFormat, v, Version)
	}
	var q OneStepProof
	q.Index = r.u64()
	q.Kind = gguf.StepKind(r.u8())
	q.Pos = r.u32()
	q.Layer = r.u32()
	if r.err == nil && q.Kind != gguf.StepLayer && q.Kind != gguf.StepOutput {
		return fmt.Errorf("%w: step kind %d", ErrFormat, q.Kind)
	}
	if r.err == nil && q.Kind == gguf.StepOutput && q.Layer != 0 {
		return fmt.Errorf("%w: output step with layer %d", ErrFormat, q.Layer)
	}
	q.Request.Model = r.str()
	q.Request.Prompt = r.str()
	// Each element takes at least minimum bytes, so a count is checked against what is left before
	// anything is allocated for it.
	n := r.count(12)
	for range n {
		var m inference.Message
		m.Role = r.str()
		m.Content = r.str()
		calls := r.count(12)
		for range calls {
			c := inference.ToolCall{ID: r.str(), Name: r.str(), Arguments: r.raw()}
			m.ToolCalls = append(m.ToolCalls, c)
		}
		m.ToolName = r.str()
		q.Request.Messages = append(q.Request.Messages, m)
	}
	n = r.count(12)
	for range n {
		q.Request.Tools = append(q.Request.Tools, inference.Tool{Name: r.str(), Description: r.str(), Parameters: r.raw()})
	}
	n = r.count(13)
	for range n {
		rec := Record{Step: r.u64(), Data: r.bytes()}
		k := int(r.u8())
		if r.err == nil && k > MaxPath {
			return fmt.Errorf("%w: audit path of %d hashes", ErrFormat, k)
		}
		if k > 0 && r.need(32*k) {
			rec.Path = make([][32]byte, k)
			for j := range rec.Path {
				copy(rec.Path[j][:], r.b[r.off:])
				r.off += 32
			}
		}
		q.Records = append(q.Records, rec)
	}
	if r.err != nil {
		return r.err
	}
	if r.off != len(b) {
		return fmt.Errorf("%w: %d bytes after the proof", ErrFormat, len(b)-r.off)
	}
	*p = q
	return nil
}

type writer struct {
	b   []byte
	err error
}

func (w *writer) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

func (w *writer) count(n int) {
	if uint64(n) > MaxProofSize {
		w.fail(fmt.Errorf("%w: count %d", ErrFormat, n))
	}
	w.u32(uint32(n))
}

func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *writer) bytes(b []byte) {
	w.count(len(b))
	w.b = append(w.b, b...)
}

func (w *writer) str(s string) {
	if !utf8.ValidString(s) {
		w.fail(fmt.Errorf("%w: request text is not valid UTF-8", ErrFormat))
	}
	w.count(len(s))
	w.b = append(w.b, s...)
}

type reader struct {
	b   []byte
	off int
	err error
}

// need reports whether n more bytes are there, recording an error if not.
func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = fmt.Errorf("%w: truncated at byte %d", ErrFormat, r.off)
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	r.off += 4
	return binary.LittleEndian.Uint32(r.b[r.off-4:])
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	r.off += 8
	return binary.LittleEndian.Uint64(r.b[r.off-8:])
}

// count reads an element count, each element taking at least minSize bytes.
func (r *reader) count(minSize int) int {
	n := int(r.u32())
	if r.err == nil && (n < 0 || n > (len(r.b)-r.off)/minSize) {
		r.err = fmt.Errorf("%w: %d elements of at least %d bytes at byte %d, %d bytes left", ErrFormat, n, minSize, r.off, len(r.b)-r.off)
		return 0
	}
	return n
}

func (r *reader) bytes() []byte {
	n := int(r.u32())
	if !r.need(n) {
		return nil
	}
	r.off += n
	return append([]byte(nil), r.b[r.off-n:r.off]...)
}

func (r *reader) str() string {
	b := r.bytes()
	if r.err == nil && !utf8.Valid(b) {
		r.err = fmt.Errorf("%w: request text at byte %d is not valid UTF-8", ErrFormat, r.off-len(b))
		return ""
	}
	return string(b)
}

// raw reads a JSON value; empty stays nil (an absent value).
func (r *reader) raw() json.RawMessage {
	s := r.str()
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
