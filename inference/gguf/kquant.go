package gguf

import (
	"encoding/binary"
	"math"
)

// This file holds the block-quantized weight formats beyond Q8_0 — Q4_0 and the K-quants Q4_K,
// Q5_K and Q6_K — in ggml's exact byte layouts (ggml-common.h), with:
//
//   - encoders, used by the writer to make test models (our own round-to-nearest quantizers: any
//     valid encoding will do, since both engines read the same file; they are not llama.cpp's
//     error-minimising search);
//   - row dequantization with ggml's float operations (dequantize_row_*), used for the token
//     embedding lookup, which llama.cpp does with get_rows;
//   - the activation side of each dot product as llama.cpp's CPU backend does it: Q4_0 weights
//     meet activations quantized to Q8_0 blocks (quantize_row_q8_0), the K-quants meet Q8_K blocks
//     of 256 (quantize_row_q8_K: scale -127/max over the block, ties to even);
//   - the dot kernels. Within a block every product is an integer and every block sum is exact, so
//     how the integers are summed cannot change a bit; the float part is a few operations per
//     block in a fixed order, with every product rounded explicitly (no fused multiply-add). The
//     kernels therefore give identical results on every machine, and the fast SWAR kernels are
//     tested to be bit-identical to the plain scalar ones (TestKernelsMatchReference).
//
// The SWAR kernels compute four products with one 64-bit multiplication: four 4-to-6-bit weights
// a0..a3 in 16-bit lanes (a_i at bit 16i) times four activations biased to unsigned, y'_i = y_i +
// 128 in [1, 255], packed in reverse (y'_i at bit 48-16i). The coefficient of 2^48 in the product
// is a0·y'0 + a1·y'1 + a2·y'2 + a3·y'3 ≤ 4·63·255 < 2^16, every lower coefficient is below 2^16 too
// (so nothing carries into bit 48) and higher ones fall off the top, so bits 48..63 are exactly
// the four-term dot product. The bias is removed with the block's weight sum and activation sum.

// The block-quantized tensor types the engine runs besides F32, F16 and Q8_0 (ggml type ids).
const (
	Q4_0 TensorType = 2
	Q4_K TensorType = 12
	Q5_K TensorType = 13
	Q6_K TensorType = 14
)

const (
	q4BlockBytes = 2 + 16 // Q4_0: f16 d, 16 bytes of nibbles (element j low, j+16 high)

	qkK           = 256                        // elements per K-quant super-block
	q4KBlockBytes = 2 + 2 + 12 + qkK/2         // d, dmin, 6-bit scales and mins, nibbles
	q5KBlockBytes = 2 + 2 + 12 + qkK/8 + qkK/2 // d, dmin, scales, high bits, nibbles
	q6KBlockBytes = qkK/2 + qkK/4 + qkK/16 + 2 // low nibbles, high 2-bit pairs, int8 scales, d
)

// blockInfo returns a quantized type's elements per block and bytes per block (zero for types the
// engine does not run).
func blockInfo(t TensorType) (elems, bytes int) {
	switch t {
	case F32:
		return 1, 4
	case F16:
		return 1, 2
	case Q8_0:
		return q8BlockSize, q8BlockBytes
	case Q4_0:
		return q8BlockSize, q4BlockBytes
	case Q4_K:
		return qkK, q4KBlockBytes
	case Q5_K:
		return qkK, q5KBlockBytes
	case Q6_K:
		return qkK, q6KBlockBytes
	}
	return 0, 0
}

func blockElems(t TensorType) int { e, _ := blockInfo(t); return e }

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// f16At is the float value of the little-endian f16 at b[0:2].
func f16At(b []byte) float32 { return f16Table[le16(b)] }

// nearestInt is ggml's nearest_int: round to nearest, ties to even (by adding 1.5·2^23, which
// leaves the rounded integer in the low mantissa bits). Valid for |x| < 2^22.
func nearestInt(x float32) int32 {
	v := x + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// --- encoders (writer side) ---

// quantizeQ4_0 appends the Q4_0 encoding of x (len a multiple of 32): d = max/-8 where max is the
// value of largest magnitude, q = clamp(round(x/d) + 8, 0, 15).
func quantizeQ4_0(dst []byte, x []float32) []byte {
	for b := 0; b+32 <= len(x); b += 32 {
		blk := x[b : b+32]
		var amax, maxv float32
		for _, v := range blk {
			if a := abs32(v); a > amax {
				amax, maxv = a, v
			}
		}
		h := f32ToF16(maxv / -8)
		d := f16ToF32(h)
		dst = append(dst, byte(h), byte(h>>8))
		var q [32]byte
		for j, v := range blk {
			q[j] = byte(clampInt(roundQ(v, d)+8, 0, 15))
		}
		for j := range 16 {
			dst = append(dst, q[j]|q[j+16]<<4)
		}
	}
	return dst
}

// roundQ is round(x/d), 0 when d is 0.
func roundQ(x, d float32) int32 {
	if d == 0 {
		return 0
	}
	return int32(math.Round(float64(x / d)))
}

func clampInt(v, lo, hi int32) int32 { return max(lo, min(hi, v)) }

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// quantizeKMin appends the Q4_K (levels 15) or Q5_K (levels 31) encoding of x (len a multiple of
// 256). Each sub-block of 32 gets an offset m = -min(0, min x) and a scale (max - min)/levels; the
// super-block stores d = max scale/63 and dmin = max offset/63 as f16, the sub-blocks 6-bit
// multiples of them, and each value q = clamp(round((x + dmin·m_j)/(d·sc_j)), 0, levels).
func quantizeKMin(dst []byte, x []float32, levels int32) []byte {
	for b := 0; b+qkK <= len(x); b += qkK {
		blk := x[b : b+qkK]
		var scales, mins [8]float32
		var maxScale, maxMin float32
		for j := range 8 {
			lo, hi := blk[32*j], blk[32*j]
			for _, v := range blk[32*j : 32*j+32] {
				lo, hi = min(lo, v), max(hi, v)
			}
			lo = min(lo, 0)
			scales[j], mins[j] = (hi-lo)/float32(levels), -lo
			maxScale, maxMin = max(maxScale, scales[j]), max(maxMin, mins[j])
		}
		hd, hm := f32ToF16(maxScale/63), f32ToF16(maxMin/63)
		d, dmin := f16ToF32(hd), f16ToF32(hm)
		var sc, mn [8]uint8
		for j := range 8 {
			sc[j] = uint8(clampInt(roundQ(scales[j], d), 0, 63))
			mn[j] = uint8(clampInt(roundQ(mins[j], dmin), 0, 63))
		}
		dst = append(dst, byte(hd), byte(hd>>8), byte(hm), byte(hm>>8))
		dst = append(dst, packScalesK4(sc, mn)...)
		var q [qkK]byte
		for j := range 8 {
			dd, dm := d*float32(sc[j]), dmin*float32(mn[j])
			for i := 32 * j; i < 32*j+32; i++ {
				q[i] = byte(clampInt(roundQ(blk[i]+dm, dd), 0, levels))
			}
		}
		if levels == 31 {
			var qh [32]byte
			for i, v := range q {
				qh[i%32] |= (v >> 4) << (i / 32)
			}
			dst = append(dst, qh[:]...)
		}
		for c := range 4 {
			for k := range 32 {
				dst = append(dst, q[64*c+k]&15|(q[64*c+32+k]&15)<<4)
			}
		}
	}
	return dst
}

// packScalesK4 packs eight 6-bit scales and mins into ggml's 12-byte layout (the inverse of
// get_scale_min_k4).
func packScalesK4(sc, mn [8]uint8) []byte {
	var s [12]byte
	for j := range 4 {
		s[j] = sc[j] | (sc[j+4]>>4)<<6
		s[j+4] = mn[j] | (mn[j+4]>>4)<<6
		s[j+8] = sc[j+4]&15 | (mn[j+4]&15)<<4
	}
	return s[:]
}

// unpackScalesK4 is get_scale_min_k4 for all eight sub-blocks.
func unpackScalesK4(s *[12]byte) (sc, mn [8]int32) {
	for j := range 4 {
		sc[j] = int32(s[j] & 63)
		mn[j] = int32(s[j+4] & 63)
		sc[j+4] = int32(s[j+8]&15 | (s[j]>>6)<<4)
		mn[j+4] = int32(s[j+8]>>4 | (s[j+4]>>6)<<4)
	}
	return
}

// quantizeQ6_K appends the Q6_K encoding of x (len a multiple of 256): sub-blocks of 16 with an
// int8 scale each, d = max sub-scale/127 as f16, q = clamp(round(x/(d·sc)), -32, 31) + 32.
func quantizeQ6_K(dst []byte, x []float32) []byte {
	for b := 0; b+qkK <= len(x); b += qkK {
		blk := x[b : b+qkK]
		var sub [16]float32
		var maxSub float32
		for j := range 16 {
			var amax float32
			for _, v := range blk[16*j : 16*j+16] {
				amax = max(amax, abs32(v))
			}
			sub[j] = amax / 31
			maxSub = max(maxSub, sub[j])
		}
		hd := f32ToF16(maxSub / 127)
		d := f16ToF32(hd)
		var sc [16]int8
		var q [qkK]byte
		for j := range 16 {
			sc[j] = int8(clampInt(roundQ(sub[j], d), -128, 127))
			dd := d * float32(sc[j])
			for i := 16 * j; i < 16*j+16; i++ {
				q[i] = byte(clampInt(roundQ(blk[i], dd), -32, 31) + 32)
			}
		}
		var ql [128]byte
		var qh [64]byte
		for h := range 2 {
			for l := range 32 {
				p := 128*h + l
				ql[64*h+l] = q[p]&15 | (q[p+64]&15)<<4
				ql[64*h+l+32] = q[p+32]&15 | (q[p+96]&15)<<4
				qh[32*h+l] = q[p]>>4 | (q[p+32]>>4)<<2 | (q[p+64]>>4)<<4 | (q[p+96]>>4)<<6
			}
		}
		dst = append(dst, ql[:]...)
		dst = append(dst, qh[:]...)
		for _, s := range sc {
			dst = append(dst, byte(s))
		}
		dst = append(dst, byte(hd), byte(hd>>8))
	}
	return dst
}

// --- dequantization (get_rows) ---

// dequantRow decodes n elements of type t from raw into out, with ggml's dequantize_row_* float
// operations (each product rounded to float32 before the next operation).
func dequantRow(t TensorType, raw []byte, out []float32) {
	switch t {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le32(raw[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = f16ToF32(le16(raw[2*i:]))
		}
	case Q8_0:
		for b := range len(out) / q8BlockSize {
			blk := raw[b*q8BlockBytes:]
			d := f16At(blk)
			for j := range q8BlockSize {
				out[b*q8BlockSize+j] = float32(d * float32(int8(blk[2+j])))
			}
		}
	case Q4_0:
		for b := range len(out) / 32 {
			blk := raw[b*q4BlockBytes:]
			d := f16At(blk)
			o := out[32*b:]
			for j := range 16 {
				o[j] = float32(float32(int32(blk[2+j]&15)-8) * d)
				o[j+16] = float32(float32(int32(blk[2+j]>>4)-8) * d)
			}
		}
	case Q4_K, Q5_K:
		bs := q4KBlockBytes
		if t == Q5_K {
			bs = q5KBlockBytes
		}
		for b := range len(out) / qkK {
			blk := raw[b*bs : (b+1)*bs]
			d, dmin := f16At(blk), f16At(blk[2:])
			sc, mn := unpackScalesK4((*[12]byte)(blk[4:16]))
			qs := blk[16:]
			var qh []byte
			if t == Q5_K {
				qh, qs = blk[16:48], blk[48:]
			}
			o := out[qkK*b:]
			for c := range 4 {
				d1, m1 := float32(d*float32(sc[2*c])), float32(dmin*float32(mn[2*c]))
				d2, m2 := float32(d*float32(sc[2*c+1])), float32(dmin*float32(mn[2*c+1]))
				for l := range 32 {
					lo, hi := int32(qs[32*c+l]&15), int32(qs[32*c+l]>>4)
					if qh != nil {
						lo += int32(qh[l]>>(2*c)&1) << 4
						hi += int32(qh[l]>>(2*c+1)&1) << 4
					}
					o[64*c+l] = float32(d1*float32(lo)) - m1
					o[64*c+32+l] = float32(d2*float32(hi)) - m2
				}
			}
		}
	case Q6_K:
		for b := range len(out) / qkK {
			blk := raw[b*q6KBlockBytes : (b+1)*q6KBlockBytes]
			d := f16At(blk[208:])
			o := out[qkK*b:]
			for h := range 2 {
				ql, qh, sc := blk[64*h:], blk[128+32*h:], blk[192+8*h:]
				for l := range 32 {
					is := l / 16
					q1 := int32(ql[l]&15|(qh[l]>>0&3)<<4) - 32
					q2 := int32(ql[l+32]&15|(qh[l]>>2&3)<<4) - 32
					q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
					q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
					p := 128 * h
					o[p+l] = float32(float32(d*float32(int8(sc[is]))) * float32(q1))
					o[p+l+32] = float32(float32(d*float32(int8(sc[is+2]))) * float32(q2))
					o[p+l+64] = float32(float32(d*float32(int8(sc[is+4]))) * float32(q3))
					o[p+l+96] = float32(float32(d*float32(int8(sc[is+6]))) * float32(q4))
				}
			}
		}
	}
}

// --- activations ---

// q8Block is one quantized block of activations, the engine-side counterpart of Q8_0 and Q4_0
// weights: llama.cpp quantizes the activation vector to Q8_0 blocks before those dot products
// (quantize_row_q8_0: d = max|x|/127 rounded through f16, q = roundf(x/d) computed as x·(1/d)),
// and so do we. sum and packed serve the SWAR Q4_0 kernel.
type q8Block struct {
	d      float32
	qs     [q8BlockSize]int8
	sum    int32                   // Σ qs
	packed [q8BlockSize / 4]uint64 // qs+128 four to a word, reversed (see the file comment)
}

// quantizeActQ8_0 quantizes x (len a multiple of 32) into dst.
func quantizeActQ8_0(dst []q8Block, x []float32) {
	for i := range dst {
		blk := x[i*q8BlockSize : (i+1)*q8BlockSize]
		var amax float32
		for _, v := range blk {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		b := &dst[i]
		b.d = f16ToF32(f32ToF16(d))
		b.sum = 0
		for j, v := range blk {
			b.qs[j] = int8(roundHalfAway(v * id))
			b.sum += int32(b.qs[j])
		}
		packActivations(b.packed[:], b.qs[:])
	}
}

// q8KBlock is a block of 256 activations quantized as llama.cpp's Q8_K (the activation type of
// every K-quant dot product): d = 1/iscale with iscale = -127/max, where max is the first value of
// largest magnitude, and q = min(127, nearest_int(iscale·x)). bsums holds the sums of each 16
// values, sub of each 32.
type q8KBlock struct {
	d     float32
	qs    [qkK]int8
	bsums [16]int32
	sub   [8]int32
}

// quantizeActQ8_K quantizes x (len a multiple of 256) into dst.
func quantizeActQ8_K(dst []q8KBlock, x []float32) {
	for i := range dst {
		blk := x[i*qkK : (i+1)*qkK]
		b := &dst[i]
		var amax, maxv float32
		for _, v := range blk {
			if a := abs32(v); a > amax {
				amax, maxv = a, v
			}
		}
		if amax == 0 {
			*b = q8KBlock{}
			continue
		}
		iscale := -127 / maxv
		for j, v := range blk {
			b.qs[j] = int8(min(127, nearestInt(float32(iscale*v))))
		}
		for j := range 16 {
			var s int32
			for _, q := range b.qs[16*j : 16*j+16] {
				s += int32(q)
			}
			b.bsums[j] = s
		}
		for j := range 8 {
			b.sub[j] = b.bsums[2*j] + b.bsums[2*j+1]
		}
		b.d = 1 / iscale
	}
}

// packActivations writes qs+128 four to a uint64, the first at bit 48 and the fourth at bit 0.
func packActivations(dst []uint64, qs []int8) {
	for g := range dst {
		q := qs[4*g : 4*g+4 : 4*g+4]
		dst[g] = uint64(uint8(q[0])^0x80)<<48 | uint64(uint8(q[1])^0x80)<<32 |
			uint64(uint8(q[2])^0x80)<<16 | uint64(uint8(q[3])^0x80)
	}
}

// --- dot products ---
//
// Each kernel returns the dot product of one weight row (raw blocks) with quantized activations,
// with the float operations of ggml's generic C kernels (ggml_vec_dot_*_q8_*, the ones llama.cpp
// runs on a CPU without SIMD extensions), so that on such a build our results are llama.cpp's to
// the bit:
//
//	Q4_0:  s += float32(float32(isum)·d_w)·d_x               per block of 32
//	Q8_0:  s += float32(isum)·(d_w·d_x)                       per block of 32
//	K-quants: per super-block of 256, lane sums aux[l] over the positions p ≡ l (mod 8) of
//	          scale(p)·q_w,p·q_x,p (exact int32); sums[l] += (d_w·d_x)·aux[l]; for Q4_K and Q5_K
//	          also s -= (dmin_w·d_x)·imin with imin = Σ_j min_j·Σ_{p in sub-block j} q_x,p; after
//	          the last super-block s += sums[0], ..., sums[7] in order.
//
// Every integer part is exact, so only the float formula is fixed; the integer sums may be
// computed in any order (the SWAR kernel of Q4_0 does four products per multiplication).

// spread16 moves the four low bytes of v into the low bytes of four 16-bit lanes.
func spread16(v uint64) uint64 {
	v &= 0xFFFFFFFF
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	return (v | v<<8) & 0x00FF00FF00FF00FF
}

const lanes16 = 0x0001000100010001 // multiplying by this sums the four 16-bit lanes into bits 48..63

// dotQ4_0 is Q4_0 weights times Q8_0 activations.
func dotQ4_0(w []byte, x []q8Block) float32 {
	var s float32
	for b := range x {
		blk := (*[q4BlockBytes]byte)(w[b*q4BlockBytes:])
		y := &x[b]
		lo := binary.LittleEndian.Uint64(blk[2:])
		hi := binary.LittleEndian.Uint64(blk[10:])
		var dot, wsum uint64
		for k, word := range [4]uint64{spread16(lo), spread16(lo >> 32), spread16(hi), spread16(hi >> 32)} {
			a := word & 0x000F000F000F000F // elements 4k..4k+3
			c := word >> 4 & 0x000F000F000F000F
			dot += (a*y.packed[k])>>48 + (c*y.packed[k+4])>>48
			wsum += a + c
		}
		wsum = (wsum * lanes16) >> 48
		// Σ (a-8)·y = Σ a·(y+128) - 128·Σa - 8·Σy
		isum := int32(dot) - 128*int32(wsum) - 8*y.sum
		s += float32(float32(float32(isum)*f16At(blk[:])) * y.d)
	}
	return s
}

// dotQ8_0 is Q8_0 weights times Q8_0 activations (ggml's vec_dot_q8_0_q8_0 order).
func dotQ8_0(w []byte, x []q8Block) float32 {
	var s float32
	for b := range x {
		blk := (*[q8BlockBytes]byte)(w[b*q8BlockBytes:])
		qs := &x[b].qs
		var isum int32
		for j := 0; j < q8BlockSize; j += 4 {
			isum += int32(int8(blk[2+j]))*int32(qs[j]) + int32(int8(blk[3+j]))*int32(qs[j+1]) +
				int32(int8(blk[4+j]))*int32(qs[j+2]) + int32(int8(blk[5+j]))*int32(qs[j+3])
		}
		s += float32(float32(isum) * float32(f16At(blk[:])*x[b].d))
	}
	return s
}

// dotQ4_K is Q4_K weights times Q8_K activations.
func dotQ4_K(w []byte, x []q8KBlock) float32 {
	var sums [8]float32
	var s float32
	for b := range x {
		blk := (*[q4KBlockBytes]byte)(w[b*q4KBlockBytes:])
		y := &x[b]
		sc, mn := unpackScalesK4((*[12]byte)(blk[4:16]))
		var aux [8]int32
		for c := range 4 {
			q := (*[32]byte)(blk[16+32*c:])
			yl, yh := (*[32]int8)(y.qs[64*c:]), (*[32]int8)(y.qs[64*c+32:])
			s0, s1 := sc[2*c], sc[2*c+1]
			for l := range 8 {
				b0, b1, b2, b3 := int32(q[l]), int32(q[l+8]), int32(q[l+16]), int32(q[l+24])
				lo := (b0&15)*int32(yl[l]) + (b1&15)*int32(yl[l+8]) + (b2&15)*int32(yl[l+16]) + (b3&15)*int32(yl[l+24])
				hi := (b0>>4)*int32(yh[l]) + (b1>>4)*int32(yh[l+8]) + (b2>>4)*int32(yh[l+16]) + (b3>>4)*int32(yh[l+24])
				aux[l] += s0*lo + s1*hi
			}
		}
		addLanes(&sums, f16At(blk[0:])*y.d, &aux)
		s -= float32(float32(f16At(blk[2:])*y.d) * float32(kMins(&mn, y)))
	}
	return sumLanes(s, &sums)
}

// addLanes adds one super-block's lane sums, scaled by d = d_w·d_x, to the running lane sums:
// sums[l] += d·aux[l], as ggml's K-quant kernels do.
func addLanes(sums *[8]float32, d float32, aux *[8]int32) {
	for l, a := range aux {
		sums[l] += float32(d * float32(a))
	}
}

// sumLanes is s + sums[0] + ... + sums[7], in that order.
func sumLanes(s float32, sums *[8]float32) float32 {
	for _, v := range sums {
		s += v
	}
	return s
}

// kMins is Σ_j min_j · (sum of the activations of sub-block j), the offset term of Q4_K and Q5_K.
func kMins(mn *[8]int32, y *q8KBlock) int32 {
	var m int32
	for j, v := range mn {
		m += v * y.sub[j]
	}
	return m
}

// dotQ5_K is Q5_K weights times Q8_K activations: Q4_K's layout plus a fifth bit per weight
// (bit c of qh[k] for position 64c+k, bit c+1 for 64c+32+k).
func dotQ5_K(w []byte, x []q8KBlock) float32 {
	var sums [8]float32
	var s float32
	for b := range x {
		blk := (*[q5KBlockBytes]byte)(w[b*q5KBlockBytes:])
		y := &x[b]
		sc, mn := unpackScalesK4((*[12]byte)(blk[4:16]))
		h := (*[32]byte)(blk[16:48])
		var aux [8]int32
		for c := range 4 {
			q := (*[32]byte)(blk[48+32*c:])
			yl, yh := (*[32]int8)(y.qs[64*c:]), (*[32]int8)(y.qs[64*c+32:])
			s0, s1 := sc[2*c], sc[2*c+1]
			sh := uint(2 * c)
			for l := range 8 {
				b0, b1, b2, b3 := int32(q[l]), int32(q[l+8]), int32(q[l+16]), int32(q[l+24])
				h0, h1, h2, h3 := int32(h[l])>>sh, int32(h[l+8])>>sh, int32(h[l+16])>>sh, int32(h[l+24])>>sh
				lo := (b0&15|(h0&1)<<4)*int32(yl[l]) + (b1&15|(h1&1)<<4)*int32(yl[l+8]) +
					(b2&15|(h2&1)<<4)*int32(yl[l+16]) + (b3&15|(h3&1)<<4)*int32(yl[l+24])
				hi := (b0>>4|(h0&2)<<3)*int32(yh[l]) + (b1>>4|(h1&2)<<3)*int32(yh[l+8]) +
					(b2>>4|(h2&2)<<3)*int32(yh[l+16]) + (b3>>4|(h3&2)<<3)*int32(yh[l+24])
				aux[l] += s0*lo + s1*hi
			}
		}
		addLanes(&sums, f16At(blk[0:])*y.d, &aux)
		s -= float32(float32(f16At(blk[2:])*y.d) * float32(kMins(&mn, y)))
	}
	return sumLanes(s, &sums)
}

// dotQ6_K is Q6_K weights times Q8_K activations. In each half h of a super-block, byte k of ql,
// ql[k+32] and qh[k] (k < 32) hold the four 6-bit values of positions 128h + 32r + k, r = 0..3
// (low nibbles then high nibbles, two high bits each from qh); positions 16j..16j+15 share the
// int8 scale j.
func dotQ6_K(w []byte, x []q8KBlock) float32 {
	var sums [8]float32
	for b := range x {
		blk := (*[q6KBlockBytes]byte)(w[b*q6KBlockBytes:])
		y := &x[b]
		var aux [8]int32
		for h := range 2 {
			ql, qh := (*[64]byte)(blk[64*h:]), (*[32]byte)(blk[128+32*h:])
			sc := (*[8]byte)(blk[192+8*h:])
			ys := (*[128]int8)(y.qs[128*h:])
			for half := range 2 { // values k in [16·half, 16·half+16) of each quarter
				s0, s1 := int32(int8(sc[half])), int32(int8(sc[2+half]))
				s2, s3 := int32(int8(sc[4+half])), int32(int8(sc[6+half]))
				q0, q1, hb := (*[16]byte)(ql[16*half:]), (*[16]byte)(ql[32+16*half:]), (*[16]byte)(qh[16*half:])
				y0, y1 := (*[16]int8)(ys[16*half:]), (*[16]int8)(ys[32+16*half:])
				y2, y3 := (*[16]int8)(ys[64+16*half:]), (*[16]int8)(ys[96+16*half:])
				for l := range 8 {
					a, c, e := int32(q0[l]), int32(q1[l]), int32(hb[l])
					a8, c8, e8 := int32(q0[l+8]), int32(q1[l+8]), int32(hb[l+8])
					p0 := ((a&15|(e&3)<<4)-32)*int32(y0[l]) + ((a8&15|(e8&3)<<4)-32)*int32(y0[l+8])
					p1 := ((c&15|(e>>2&3)<<4)-32)*int32(y1[l]) + ((c8&15|(e8>>2&3)<<4)-32)*int32(y1[l+8])
					p2 := ((a>>4|(e>>4&3)<<4)-32)*int32(y2[l]) + ((a8>>4|(e8>>4&3)<<4)-32)*int32(y2[l+8])
					p3 := ((c>>4|(e>>6)<<4)-32)*int32(y3[l]) + ((c8>>4|(e8>>6)<<4)-32)*int32(y3[l+8])
					aux[l] += s0*p0 + s1*p1 + s2*p2 + s3*p3
				}
			}
		}
		addLanes(&sums, f16At(blk[208:])*y.d, &aux)
	}
	return sumLanes(0, &sums)
}
