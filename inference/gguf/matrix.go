package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// matrix is a weight matrix in ggml layout: out rows of in contiguous elements, kept in its stored
// type as a view of the file's bytes (memory-mapped by Load), so loading copies nothing. F32 and
// F16 weights are also viewed as []float32 / []uint16 when the bytes are suitably aligned on a
// little-endian machine (always, for a mapped file: GGUF aligns tensor data to 32 bytes), and
// copied otherwise.
type matrix struct {
	typ      TensorType
	in, out  int
	raw      []byte
	rowBytes int
	f32      []float32
	f16      []uint16
}

// matrixTypes are the weight types a matrix can have.
var matrixTypes = []TensorType{F32, F16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K}

func newMatrix(typ TensorType, in, out int, raw []byte) (*matrix, error) {
	elems, bytes := blockInfo(typ)
	if elems == 0 {
		return nil, fmt.Errorf("the engine runs %v, not %v", matrixTypes, typ)
	}
	if in%elems != 0 || len(raw) != in/elems*bytes*out {
		return nil, fmt.Errorf("%d×%d %v matrix in %d bytes", in, out, typ, len(raw))
	}
	m := &matrix{typ: typ, in: in, out: out, raw: raw, rowBytes: in / elems * bytes}
	switch typ {
	case F32:
		m.f32 = view(raw, func(b []byte) float32 { return math.Float32frombits(le32(b)) })
	case F16:
		m.f16 = view(raw, le16)
	}
	return m, nil
}

// littleEndian reports whether the machine stores integers little-endian (as GGUF does).
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// view returns raw as a slice of T (4-byte float32s or 2-byte uint16s) without copying when the
// machine is little-endian and raw is aligned for T, and as a decoded copy otherwise.
func view[T float32 | uint16](raw []byte, decode func([]byte) T) []T {
	size := int(unsafe.Sizeof(T(0)))
	n := len(raw) / size
	if n == 0 {
		return nil
	}
	if littleEndian && uintptr(unsafe.Pointer(&raw[0]))%uintptr(size) == 0 {
		return unsafe.Slice((*T)(unsafe.Pointer(&raw[0])), n)
	}
	out := make([]T, n)
	for i := range out {
		out[i] = decode(raw[i*size:])
	}
	return out
}

// row returns row r of the matrix as float32s, dequantized as ggml's get_rows does (the token
// embedding lookup).
func (m *matrix) row(r int) []float32 {
	out := make([]float32, m.in)
	dequantRow(m.typ, m.raw[r*m.rowBytes:(r+1)*m.rowBytes], out)
	return out
}

// Arithmetic rules (the heart of bit-exactness; docs/gguf.md has the rationale):
//
//   - Every F32 and F16 dot product runs in one fixed order: eight float32 accumulators over
//     indices j mod 8, combined as ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)), then the remaining j < n
//     sequentially. Quantized dot products sum exact integers per block and combine blocks in
//     order with a fixed float formula (kquant.go).
//   - Every product is converted explicitly, float32(a*b), so no compiler may fuse it with the add.
//   - Work is split across goroutines only by output row; a row is always computed by one
//     goroutine with the code above, so GOMAXPROCS cannot change any bit.
//   - Activations are rounded like llama.cpp's CPU backend rounds them: to f16 before a dot with
//     F16 weights, to Q8_0 blocks before a dot with Q8_0 or Q4_0 weights, to Q8_K blocks before a
//     dot with K-quant weights.

func dotF32(w, x []float32) float32 {
	n := len(x)
	w = w[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	j := 0
	for ; j+8 <= n; j += 8 {
		a := w[j : j+8 : j+8]
		b := x[j : j+8 : j+8]
		s0 += float32(a[0] * b[0])
		s1 += float32(a[1] * b[1])
		s2 += float32(a[2] * b[2])
		s3 += float32(a[3] * b[3])
		s4 += float32(a[4] * b[4])
		s5 += float32(a[5] * b[5])
		s6 += float32(a[6] * b[6])
		s7 += float32(a[7] * b[7])
	}
	s := ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
	for ; j < n; j++ {
		s += float32(w[j] * x[j])
	}
	return s
}

// dotF16 is dotF32 with the weights in f16 (x already rounded to f16 values, so every product is
// exact in float32).
func dotF16(w []uint16, x []float32) float32 {
	n := len(x)
	w = w[:n]
	t := f16Table
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	j := 0
	for ; j+8 <= n; j += 8 {
		a := w[j : j+8 : j+8]
		b := x[j : j+8 : j+8]
		s0 += float32(t[a[0]] * b[0])
		s1 += float32(t[a[1]] * b[1])
		s2 += float32(t[a[2]] * b[2])
		s3 += float32(t[a[3]] * b[3])
		s4 += float32(t[a[4]] * b[4])
		s5 += float32(t[a[5]] * b[5])
		s6 += float32(t[a[6]] * b[6])
		s7 += float32(t[a[7]] * b[7])
	}
	s := ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
	for ; j < n; j++ {
		s += float32(t[w[j]] * x[j])
	}
	return s
}

// parallelMin is the matrix size (in multiply-adds) below which a matmul runs on one goroutine:
// starting goroutines costs more than it saves on the tiny test models.
const parallelMin = 1 << 16

// rowDot returns a function computing the dot product of row i with x, after rounding or
// quantizing x the way the weight type requires (once for all rows).
func (m *matrix) rowDot(x []float32) func(i int) float32 {
	switch m.typ {
	case F32:
		return func(i int) float32 { return dotF32(m.f32[i*m.in:(i+1)*m.in], x) }
	case F16:
		xr := make([]float32, len(x))
		for i, v := range x {
			xr[i] = f16ToF32(f32ToF16(v))
		}
		return func(i int) float32 { return dotF16(m.f16[i*m.in:(i+1)*m.in], xr) }
	case Q8_0, Q4_0:
		xq := make([]q8Block, len(x)/q8BlockSize)
		quantizeActQ8_0(xq, x)
		dot := dotQ8_0
		if m.typ == Q4_0 {
			dot = dotQ4_0
		}
		return func(i int) float32 { return dot(m.raw[i*m.rowBytes:(i+1)*m.rowBytes], xq) }
	}
	xk := make([]q8KBlock, len(x)/qkK)
	quantizeActQ8_K(xk, x)
	dot := dotQ4_K
	switch m.typ {
	case Q5_K:
		dot = dotQ5_K
	case Q6_K:
		dot = dotQ6_K
	}
	return func(i int) float32 { return dot(m.raw[i*m.rowBytes:(i+1)*m.rowBytes], xk) }
}

// mul computes dst[i] = W_i · x for every output row i.
func (m *matrix) mul(dst, x []float32) {
	dot := m.rowDot(x)
	rows := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = dot(i)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if workers == 1 || m.in*m.out < parallelMin {
		rows(0, m.out)
		return
	}
	var wg sync.WaitGroup
	chunk := (m.out + workers - 1) / workers
	for lo := 0; lo < m.out; lo += chunk {
		hi := min(lo+chunk, m.out)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows(lo, hi)
		}()
	}
	wg.Wait()
}
