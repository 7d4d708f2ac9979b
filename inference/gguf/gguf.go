// Package gguf reads, writes and runs GGUF models of the llama family in pure Go, bit-exactly.
//
// It owns three things: a GGUF v3 reader that validates every header field and tensor bound
// (reader.go) and a loader that memory-maps the weights (load.go); a writer for llama and qwen2
// files with random or given weights, SentencePiece or made-up BPE vocabularies and any of the
// supported tensor types, that tests use to make their own models (writer.go, vocab_bpe.go); and
// an inference.Engine (engine.go) for Llama 2/3 and Qwen 2/2.5 models in F32, F16, Q8_0, Q4_0,
// Q4_K, Q5_K and Q6_K, whose output is bit-identical across runs, GOMAXPROCS values and CPU
// architectures and which records a trace of per-step state hashes with a Merkle root, any step of
// which can be recomputed from its recorded inputs alone (trace.go, ReplayStep). The arithmetic is
// that of llama.cpp's generic CPU kernels, operation for operation (kquant.go, matrix.go), and the
// tokenizers are llama.cpp's (tokenizer.go, bpe.go): these are our own implementations, not copies
// (llama.cpp runs as a separate process in the tests that compare the two). docs/gguf.md describes
// the formats, the arithmetic rules, the PRNG and the trace layout.
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
	case Q4_0:
		return "Q4_0"
	case Q4_K:
		return "Q4_K"
	case Q5_K:
		return "Q5_K"
	case Q6_K:
		return "Q6_K"
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// rowBytes returns the byte size of n elements of type t, or an error if n does not fill whole
// blocks or t is not supported.
func (t TensorType) rowBytes(n uint64) (uint64, error) {
	elems, bytes := blockInfo(t)
	if elems == 0 {
		return 0, fmt.Errorf("gguf: unsupported tensor type %v", t)
	}
	if n%uint64(elems) != 0 {
		return 0, fmt.Errorf("gguf: %v row of %d elements is not a multiple of %d", t, n, elems)
	}
	return n / uint64(elems) * uint64(bytes), nil
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
