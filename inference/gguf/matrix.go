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
//   - Every dot product runs in one fixed order, the order of ggml's generic C kernels: F32 and
//     F16 products summed in float64 in index order; quantized dot products sum exact integers
//     per block and combine blocks with a fixed float formula (kquant.go).
//   - Every product is converted explicitly, float32(a*b), so no compiler may fuse it with the add.
//   - Work is split across goroutines only by output row; a row is always computed by one
//     goroutine with the code above, so GOMAXPROCS cannot change any bit.
//   - Activations are rounded like llama.cpp's CPU backend rounds them: to f16 before a dot with
//     F16 weights, to Q8_0 blocks before a dot with Q8_0 or Q4_0 weights, to Q8_K blocks before a
//     dot with K-quant weights.

// dotF32 is ggml's generic ggml_vec_dot_f32: each product rounded to float32, summed in float64 in
// order, the sum rounded to float32 once.
func dotF32(w, x []float32) float32 {
	w = w[:len(x)]
	var s float64
	for j, v := range w {
		s += float64(float32(v * x[j]))
	}
	return float32(s)
}

// dotF16 is ggml's generic ggml_vec_dot_f16, used for F16 weights and for the attention scores
// q·k (x holds f16 values): each product is exact in float32, the sum runs in float64 in order and
// is rounded to float32 once.
func dotF16(w []uint16, x []float32) float32 {
	w = w[:len(x)]
	var s float64
	for j, h := range w {
		s += float64(float32(f16Table[h] * x[j]))
	}
	return float32(s)
}

// weightedValues sets out[i] = Σ_t p[t]·v[t*stride+off+i], the attention output of one head, as
// ggml computes it from the transposed f16 value cache: one float64 sum per output in position
// order (p holds f16 values, so each product is exact in float32), rounded to float32 once.
func weightedValues(out, p []float32, v []uint16, stride, off int) {
	acc := make([]float64, len(out))
	for t, pt := range p {
		row := v[t*stride+off : t*stride+off+len(out)]
		for i, h := range row {
			acc[i] += float64(float32(pt * f16Table[h]))
		}
	}
	for i, a := range acc {
		out[i] = float32(a)
	}
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

// softmaxF16 turns one head's attention scores (positions 0..pos, max their largest) into the f16
// probabilities llama.cpp's CPU backend computes on x86-64 (ggml_vec_soft_max_f32, SSE2 path):
// e_t = vexpf(s_t - max); the e_t summed four at a time as (e0+e1)+(e2+e3) in float32 and the
// groups in float64 (the cache length ggml uses is a multiple of 32, so masked positions fill the
// last group with zeros); each e_t times float32(1/sum), rounded to f16.
func softmaxF16(scores []float32, max float32) {
	var sum float64
	for t := 0; t < len(scores); t += 4 {
		var e [4]float32
		for i := range min(4, len(scores)-t) {
			e[i] = vexpf(scores[t+i] - max)
			scores[t+i] = e[i]
		}
		sum += float64((e[0] + e[1]) + (e[2] + e[3]))
	}
	inv := float32(1 / sum)
	for t := range scores {
		scores[t] = f16ToF32(f32ToF16(scores[t] * inv))
	}
}

// swiglu sets gate[i] = silu(gate[i])·up[i] with ggml's SiLU, x/(1 + e^(0-x)): vexpf for each
// whole group of four, as ggml's SSE2 ggml_vec_silu_f32, and expf for the rest.
func swiglu(gate, up []float32) {
	for i, g := range gate {
		var e float32
		if i < len(gate)&^3 {
			e = vexpf(0 - g)
		} else {
			e = expf(-g)
		}
		gate[i] = g / (1 + e) * up[i]
	}
}
