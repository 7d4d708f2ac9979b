package gguf

import (
	"math"
)

// This file holds the number formats: IEEE half precision and Q8_0 blocks. Conversions follow
// ggml's reference code (ggml-quants.c, ggml-impl.h) so that a file written here quantizes exactly
// as llama.cpp would quantize the same float32 weights, and so that the engine rounds activations
// the way llama.cpp's CPU backend does before a dot product with F16 or Q8_0 weights.

// f32ToF16 converts to IEEE binary16 with round-to-nearest-even, as the x86 F16C instruction
// (and ggml's portable fallback) does; NaN stays NaN and overflow becomes infinity.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): shift the mantissa with its implicit bit into place and round.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which correctly rounds up to the next binade or Inf
	}
	return sign | uint16(r)
}

// f16Table maps every half-precision bit pattern to its float32 value; building it once makes the
// engine's F16 loads a table lookup.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32Slow(uint16(i))
	}
	return &t
}()

func f16ToF32(h uint16) float32 { return f16Table[h] }

func f16ToF32Slow(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: normalise.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// roundHalfAway is C's roundf: nearest integer, ties away from zero. Exact for |x| < 2^23 and the
// results are small here (|x| ≤ 127.5), so the float64 detour is exact too.
func roundHalfAway(x float32) float32 {
	return float32(math.Round(float64(x)))
}

// quantizeQ8_0 appends the Q8_0 encoding of x (len(x) a multiple of 32) to dst, following ggml's
// quantize_row_q8_0_ref: d = max|x|/127, q = roundf(x/d) computed as x*(1/d), scale stored as f16.
func quantizeQ8_0(dst []byte, x []float32) []byte {
	for b := 0; b+q8BlockSize <= len(x); b += q8BlockSize {
		blk := x[b : b+q8BlockSize]
		var amax float32
		for _, v := range blk {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		h := f32ToF16(d)
		dst = append(dst, byte(h), byte(h>>8))
		for _, v := range blk {
			dst = append(dst, byte(int8(roundHalfAway(v*id))))
		}
	}
	return dst
}

func le32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
