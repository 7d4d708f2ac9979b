package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"unicode/utf8"
)

// File is a parsed GGUF v3 file. It keeps the file's bytes; tensor data are sub-slices of them.
type File struct {
	Version    uint32
	Alignment  uint64
	KV         []KV           // metadata in file order
	Tensors    []TensorInfo   // in file order
	DataOffset uint64         // start of the (aligned) tensor data section
	kv         map[string]any // key -> value, for lookups
	tensorIdx  map[string]int
	data       []byte
}

// KV is one metadata entry. Value holds a Go value by GGUF type: uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64, or for arrays a typed slice
// ([]uint32, []string, ...); arrays of arrays are []any.
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor: ggml dims (Dims[0] is the contiguous dimension), type, and
// where its bytes are: Offset is relative to File.DataOffset, Size is its length in bytes.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   TensorType
	Offset uint64
	Size   uint64
}

// Elements is the number of elements of the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// FormatError is returned for a file that is not valid GGUF v3; Offset is the byte position at
// which the problem was found.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string { return fmt.Sprintf("gguf: at byte %d: %s", e.Offset, e.Msg) }

// Limits that keep a malformed header from making the reader allocate or loop without bound.
// Real files are far inside them (llama.cpp has the same 4-dimension limit).
const (
	maxDims      = 4
	maxKeyLen    = 1 << 16
	maxArrayNest = 2
)

// ggmlTypeSizes is ggml's type_traits table: elements per block and bytes per block for every
// type id a GGUF file can name. The reader validates any of them; the engine runs the seven
// matrixTypes.
var ggmlTypeSizes = map[TensorType][2]uint64{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34}, 9: {32, 36},
	10: {256, 84}, 11: {256, 110}, 12: {256, 144}, 13: {256, 176}, 14: {256, 210}, 15: {256, 292},
	16: {256, 66}, 17: {256, 74}, 18: {256, 98}, 19: {256, 50}, 20: {32, 18}, 21: {256, 110},
	22: {256, 82}, 23: {256, 136}, 24: {1, 1}, 25: {1, 2}, 26: {1, 4}, 27: {1, 8}, 28: {1, 8},
	29: {256, 56}, 30: {1, 2}, 34: {256, 54}, 35: {256, 66},
}

// Open reads and parses the GGUF file at path.
func Open(path string) (*File, error) {
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	return Read(b)
}

// Read parses a GGUF v3 file held in b, validating every header field and tensor bound. It never
// panics on malformed input; b is retained (tensor data are slices of it).
func Read(b []byte) (*File, error) {
	r := &cursor{b: b}
	magic, err := r.bytes(4)
	if err != nil {
		return nil, err
	}
	if string(magic) != ggufMagic {
		return nil, r.errAt(0, "bad magic %q, want %q", magic, ggufMagic)
	}
	f := &File{data: b, kv: map[string]any{}, tensorIdx: map[string]int{}, Alignment: defaultAlignment}
	if f.Version, err = r.u32(); err != nil {
		return nil, err
	}
	if f.Version != ggufVersion {
		return nil, r.errAt(4, "unsupported GGUF version %d (this reader handles version 3)", f.Version)
	}
	nTensors, err := r.u64()
	if err != nil {
		return nil, err
	}
	nKV, err := r.u64()
	if err != nil {
		return nil, err
	}
	// Each metadata entry takes at least 8+4+1 bytes and each tensor info at least 8+4+8+4+8, so
	// counts beyond what the rest of the file could hold are rejected before any allocation.
	if nKV > uint64(r.left())/13 {
		return nil, r.err("metadata count %d cannot fit in the %d remaining bytes", nKV, r.left())
	}
	if nTensors > uint64(r.left())/32 {
		return nil, r.err("tensor count %d cannot fit in the %d remaining bytes", nTensors, r.left())
	}
	f.KV = make([]KV, 0, nKV)
	for range nKV {
		at := r.pos
		key, err := r.str()
		if err != nil {
			return nil, err
		}
		if len(key) == 0 || len(key) > maxKeyLen || !utf8.ValidString(key) {
			return nil, r.errAt(at, "invalid metadata key %q", truncate(key))
		}
		if _, dup := f.kv[key]; dup {
			return nil, r.errAt(at, "duplicate metadata key %q", key)
		}
		typ, err := r.u32()
		if err != nil {
			return nil, err
		}
		v, err := r.value(typ, 0)
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		f.KV = append(f.KV, KV{key, v})
		f.kv[key] = v
	}
	if v, ok := f.kv["general.alignment"]; ok {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return nil, r.err("general.alignment must be a power-of-two uint32, got %v", v)
		}
		f.Alignment = uint64(a)
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	for range nTensors {
		at := r.pos
		var t TensorInfo
		if t.Name, err = r.str(); err != nil {
			return nil, err
		}
		if len(t.Name) == 0 || len(t.Name) > maxKeyLen {
			return nil, r.errAt(at, "invalid tensor name length %d", len(t.Name))
		}
		if _, dup := f.tensorIdx[t.Name]; dup {
			return nil, r.errAt(at, "duplicate tensor %q", t.Name)
		}
		nd, err := r.u32()
		if err != nil {
			return nil, err
		}
		if nd == 0 || nd > maxDims {
			return nil, r.err("tensor %q has %d dimensions (1..%d allowed)", t.Name, nd, maxDims)
		}
		n := uint64(1)
		for range nd {
			d, err := r.u64()
			if err != nil {
				return nil, err
			}
			hi, lo := bits.Mul64(n, d)
			if d == 0 || hi != 0 || lo > math.MaxInt64 {
				return nil, r.err("tensor %q has a zero or overflowing dimension %d", t.Name, d)
			}
			n = lo
			t.Dims = append(t.Dims, d)
		}
		typ, err := r.u32()
		if err != nil {
			return nil, err
		}
		t.Type = TensorType(typ)
		bs, ok := ggmlTypeSizes[t.Type]
		if !ok {
			return nil, r.err("tensor %q has unknown type id %d", t.Name, typ)
		}
		if t.Dims[0]%bs[0] != 0 {
			return nil, r.err("tensor %q: row of %d elements is not a whole number of %v blocks of %d", t.Name, t.Dims[0], t.Type, bs[0])
		}
		hi, size := bits.Mul64(n/bs[0], bs[1])
		if hi != 0 || size > math.MaxInt64 {
			return nil, r.err("tensor %q: byte size overflows", t.Name)
		}
		t.Size = size
		if t.Offset, err = r.u64(); err != nil {
			return nil, err
		}
		if t.Offset%f.Alignment != 0 {
			return nil, r.err("tensor %q offset %d is not aligned to %d", t.Name, t.Offset, f.Alignment)
		}
		f.tensorIdx[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = alignUp(uint64(r.pos), f.Alignment)
	if f.DataOffset > uint64(len(b)) {
		return nil, r.err("data section starts at %d, past the end of the %d-byte file", f.DataOffset, len(b))
	}
	dataLen := uint64(len(b)) - f.DataOffset
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return f.Tensors[order[i]].Offset < f.Tensors[order[j]].Offset })
	var end uint64
	for k, i := range order {
		t := f.Tensors[i]
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return nil, &FormatError{int64(f.DataOffset), fmt.Sprintf("tensor %q [%d, +%d) runs past the %d-byte data section", t.Name, t.Offset, t.Size, dataLen)}
		}
		if k > 0 && t.Offset < end {
			return nil, &FormatError{int64(f.DataOffset), fmt.Sprintf("tensor %q at %d overlaps the previous tensor ending at %d", t.Name, t.Offset, end)}
		}
		end = t.Offset + t.Size
	}
	return f, nil
}

// Get returns the metadata value for key.
func (f *File) Get(key string) (any, bool) {
	v, ok := f.kv[key]
	return v, ok
}

// String returns a string metadata value.
func (f *File) String(key string) (string, bool) {
	s, ok := f.kv[key].(string)
	return s, ok
}

// Uint returns an unsigned or non-negative integer metadata value of any width.
func (f *File) Uint(key string) (uint64, bool) {
	switch v := f.kv[key].(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	case int8:
		return uint64(v), v >= 0
	case int16:
		return uint64(v), v >= 0
	case int32:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	}
	return 0, false
}

// Float returns a float32 metadata value (float64 values are rounded to float32).
func (f *File) Float(key string) (float32, bool) {
	switch v := f.kv[key].(type) {
	case float32:
		return v, true
	case float64:
		return float32(v), true
	}
	return 0, false
}

// Bool returns a bool metadata value.
func (f *File) Bool(key string) (bool, bool) {
	b, ok := f.kv[key].(bool)
	return b, ok
}

// Tensor returns a tensor's info and its bytes.
func (f *File) Tensor(name string) (TensorInfo, []byte, bool) {
	i, ok := f.tensorIdx[name]
	if !ok {
		return TensorInfo{}, nil, false
	}
	t := f.Tensors[i]
	start := f.DataOffset + t.Offset
	return t, f.data[start : start+t.Size : start+t.Size], true
}

// Bytes returns the whole file as read.
func (f *File) Bytes() []byte { return f.data }

// cursor reads little-endian values with bounds checks; every failure is a *FormatError.
type cursor struct {
	b   []byte
	pos int
}

func (r *cursor) left() int { return len(r.b) - r.pos }

func (r *cursor) err(format string, args ...any) error { return r.errAt(r.pos, format, args...) }

func (r *cursor) errAt(at int, format string, args ...any) error {
	return &FormatError{int64(at), fmt.Sprintf(format, args...)}
}

var errTruncated = errors.New("truncated")

func (r *cursor) bytes(n uint64) ([]byte, error) {
	if n > uint64(r.left()) {
		return nil, &FormatError{int64(r.pos), fmt.Sprintf("need %d bytes, %d left: %v", n, r.left(), errTruncated)}
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

func (r *cursor) u8() (uint8, error) {
	b, err := r.bytes(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *cursor) u16() (uint16, error) {
	b, err := r.bytes(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (r *cursor) u32() (uint32, error) {
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *cursor) u64() (uint64, error) {
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (r *cursor) str() (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// scalarSize is the encoded size of a fixed-size metadata type, 0 for strings and arrays.
func scalarSize(typ uint32) uint64 {
	switch typ {
	case typeUint8, typeInt8, typeBool:
		return 1
	case typeUint16, typeInt16:
		return 2
	case typeUint32, typeInt32, typeFloat32:
		return 4
	case typeUint64, typeInt64, typeFloat64:
		return 8
	}
	return 0
}

func (r *cursor) value(typ uint32, depth int) (any, error) {
	switch typ {
	case typeUint8:
		return r.u8()
	case typeInt8:
		v, err := r.u8()
		return int8(v), err
	case typeUint16:
		return r.u16()
	case typeInt16:
		v, err := r.u16()
		return int16(v), err
	case typeUint32:
		return r.u32()
	case typeInt32:
		v, err := r.u32()
		return int32(v), err
	case typeFloat32:
		v, err := r.u32()
		return math.Float32frombits(v), err
	case typeBool:
		v, err := r.u8()
		if err == nil && v > 1 {
			return nil, r.errAt(r.pos-1, "bool value %d is neither 0 nor 1", v)
		}
		return v == 1, err
	case typeString:
		return r.str()
	case typeUint64:
		return r.u64()
	case typeInt64:
		v, err := r.u64()
		return int64(v), err
	case typeFloat64:
		v, err := r.u64()
		return math.Float64frombits(v), err
	case typeArray:
		return r.array(depth)
	}
	return nil, r.errAt(r.pos-4, "unknown metadata value type %d", typ)
}

func (r *cursor) array(depth int) (any, error) {
	if depth >= maxArrayNest {
		return nil, r.err("arrays nested deeper than %d", maxArrayNest)
	}
	et, err := r.u32()
	if err != nil {
		return nil, err
	}
	n, err := r.u64()
	if err != nil {
		return nil, err
	}
	// Every element takes at least its scalar size (8 bytes for a string's length, 12 for a
	// nested array's header), so the count is checked against the bytes left before allocating.
	min := scalarSize(et)
	switch et {
	case typeString:
		min = 8
	case typeArray:
		min = 12
	}
	if min == 0 {
		return nil, r.errAt(r.pos-12, "unknown array element type %d", et)
	}
	if n > uint64(r.left())/min {
		return nil, r.err("array of %d elements cannot fit in the %d remaining bytes", n, r.left())
	}
	switch et {
	case typeString:
		out := make([]string, n)
		for i := range out {
			if out[i], err = r.str(); err != nil {
				return nil, err
			}
		}
		return out, nil
	case typeArray:
		out := make([]any, n)
		for i := range out {
			if out[i], err = r.array(depth + 1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	raw, err := r.bytes(n * min)
	if err != nil {
		return nil, err
	}
	return decodeScalars(et, raw, int(n)), nil
}

// decodeScalars turns a packed array of fixed-size values into a typed slice.
func decodeScalars(et uint32, b []byte, n int) any {
	le := binary.LittleEndian
	switch et {
	case typeUint8:
		return append([]uint8(nil), b...)
	case typeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(b[i])
		}
		return out
	case typeBool:
		out := make([]bool, n)
		for i := range out {
			out[i] = b[i] != 0
		}
		return out
	case typeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(b[2*i:])
		}
		return out
	case typeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(b[2*i:]))
		}
		return out
	case typeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(b[4*i:])
		}
		return out
	case typeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(b[4*i:]))
		}
		return out
	case typeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return out
	case typeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(b[8*i:])
		}
		return out
	case typeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
		return out
	}
	out := make([]float64, n) // typeFloat64
	for i := range out {
		out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
	}
	return out
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
