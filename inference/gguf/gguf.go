// Package gguf reads, writes and runs GGUF llama-family models in pure Go, bit-exactly.
//
// It owns three things: a GGUF v3 reader that validates every header field and tensor bound
// (reader.go), a writer for small llama-architecture files with random or given weights that tests
// use to make their own models (writer.go), and an inference.Engine (engine.go) whose output is
// bit-identical across runs, GOMAXPROCS values and CPU architectures and which records a trace of
// per-step state hashes with a Merkle root, any step of which can be recomputed from its recorded
// inputs alone (trace.go, ReplayStep). docs/gguf.md describes the arithmetic rules, the PRNG and the
// trace layout.
package gguf

import "fmt"

// TensorType is a GGML tensor type id as stored in a GGUF tensor info.
type TensorType uint32

// The tensor types this package reads, writes and multiplies. The ids are ggml's (ggml.h).
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q8_0 TensorType = 8
)

// q8BlockSize is the number of weights per Q8_0 block; a block is an f16 scale then 32 int8s.
const (
	q8BlockSize  = 32
	q8BlockBytes = 2 + q8BlockSize
)

func (t TensorType) String() string {
	switch t {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case Q8_0:
		return "Q8_0"
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// rowBytes returns the byte size of n elements of type t, or an error if n does not fill whole
// blocks or t is not supported.
func (t TensorType) rowBytes(n uint64) (uint64, error) {
	switch t {
	case F32:
		return n * 4, nil
	case F16:
		return n * 2, nil
	case Q8_0:
		if n%q8BlockSize != 0 {
			return 0, fmt.Errorf("gguf: Q8_0 row of %d elements is not a multiple of %d", n, q8BlockSize)
		}
		return n / q8BlockSize * q8BlockBytes, nil
	}
	return 0, fmt.Errorf("gguf: unsupported tensor type %v", t)
}

// fileType is general.file_type for a model whose large tensors are of type t (llama.cpp's
// llama_ftype: ALL_F32=0, MOSTLY_F16=1, MOSTLY_Q8_0=7).
func (t TensorType) fileType() uint32 {
	switch t {
	case F16:
		return 1
	case Q8_0:
		return 7
	}
	return 0
}

// GGUF metadata value types (gguf.h).
const (
	typeUint8   uint32 = 0
	typeInt8    uint32 = 1
	typeUint16  uint32 = 2
	typeInt16   uint32 = 3
	typeUint32  uint32 = 4
	typeInt32   uint32 = 5
	typeFloat32 uint32 = 6
	typeBool    uint32 = 7
	typeString  uint32 = 8
	typeArray   uint32 = 9
	typeUint64  uint32 = 10
	typeInt64   uint32 = 11
	typeFloat64 uint32 = 12
)

const (
	ggufMagic        = "GGUF"
	ggufVersion      = 3
	defaultAlignment = 32
)
