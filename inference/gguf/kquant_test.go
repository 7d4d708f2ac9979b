package gguf

import (
	"fmt"
	"math"
	"testing"
)

// refWeights decodes one block of a quantized row position by position, straight from ggml's
// layout (ggml-common.h), independently of the kernels: the integer value at each position, the
// index of its sub-block, and the block's integer scales and offsets.
type refBlock struct {
	q       []int32 // per position, before any offset (Q4_0: 0..15, Q6_K: 0..63)
	sub     []int   // sub-block of each position
	sc, mn  []int32 // per sub-block scale and min (K-quants)
	d, dmin float32
}

func refDecode(t TensorType, blk []byte) refBlock {
	var r refBlock
	switch t {
	case Q4_0:
		r.d = f16At(blk)
		for p := range 32 {
			if p < 16 {
				r.q = append(r.q, int32(blk[2+p]&15))
			} else {
				r.q = append(r.q, int32(blk[2+p-16]>>4))
			}
			r.sub = append(r.sub, 0)
		}
	case Q8_0:
		r.d = f16At(blk)
		for p := range 32 {
			r.q = append(r.q, int32(int8(blk[2+p])))
			r.sub = append(r.sub, 0)
		}
	case Q4_K, Q5_K:
		r.d, r.dmin = f16At(blk), f16At(blk[2:])
		s := blk[4:16]
		for j := range 8 {
			// get_scale_min_k4, written out per index
			var sc, m byte
			if j < 4 {
				sc, m = s[j]&63, s[j+4]&63
			} else {
				sc = s[j+4]&0xF | (s[j-4]>>6)<<4
				m = s[j+4]>>4 | (s[j]>>6)<<4
			}
			r.sc, r.mn = append(r.sc, int32(sc)), append(r.mn, int32(m))
		}
		qs, qh := blk[16:], []byte(nil)
		if t == Q5_K {
			qh, qs = blk[16:48], blk[48:]
		}
		for p := range qkK {
			b := qs[32*(p/64)+p%32]
			v := int32(b & 15)
			if p%64 >= 32 {
				v = int32(b >> 4)
			}
			if qh != nil {
				v += int32(qh[p%32]>>(p/32)&1) << 4
			}
			r.q, r.sub = append(r.q, v), append(r.sub, p/32)
		}
	case Q6_K:
		r.d = f16At(blk[208:])
		for j := range 16 {
			r.sc = append(r.sc, int32(int8(blk[192+j])))
		}
		for p := range qkK {
			h, rr, l := p/128, (p%128)/32, p%32
			low := blk[64*h+32*(rr&1)+l] >> (4 * (rr >> 1)) & 15
			high := blk[128+32*h+l] >> (2 * rr) & 3
			r.q, r.sub = append(r.q, int32(low|high<<4)), append(r.sub, p/16)
		}
	}
	return r
}

// refDot is the dot product of a row with activations, from refDecode and plain loops, with the
// kernels' documented float formula.
func refDot(t TensorType, row []byte, x []float32) float32 {
	var s float32
	switch t {
	case Q4_0, Q8_0:
		xq := make([]q8Block, len(x)/32)
		quantizeActQ8_0(xq, x)
		for b := range xq {
			_, bs := blockInfo(t)
			r := refDecode(t, row[b*bs:])
			var isum int32
			for p := range 32 {
				a := r.q[p]
				if t == Q4_0 {
					a -= 8
				}
				isum += a * int32(xq[b].qs[p])
			}
			if t == Q8_0 {
				s += float32(float32(isum) * float32(r.d*xq[b].d))
			} else {
				s += float32(float32(float32(isum)*r.d) * xq[b].d)
			}
		}
	default:
		xk := make([]q8KBlock, len(x)/qkK)
		quantizeActQ8_K(xk, x)
		_, bs := blockInfo(t)
		var sums [8]float32
		for b := range xk {
			r := refDecode(t, row[b*bs:])
			var aux [8]int32
			var imin int32
			for p := range qkK {
				y := int32(xk[b].qs[p])
				if t == Q6_K {
					aux[p%8] += r.sc[r.sub[p]] * (r.q[p] - 32) * y
				} else {
					aux[p%8] += r.sc[r.sub[p]] * r.q[p] * y
					imin += r.mn[r.sub[p]] * y
				}
			}
			d := float32(r.d * xk[b].d)
			for l := range aux {
				sums[l] += float32(d * float32(aux[l]))
			}
			if t != Q6_K {
				s -= float32(float32(r.dmin*xk[b].d) * float32(imin))
			}
		}
		for _, v := range sums {
			s += v
		}
	}
	return s
}

func quantizeRow(t TensorType, x []float32) []byte {
	switch t {
	case Q8_0:
		return quantizeQ8_0(nil, x)
	case Q4_0:
		return quantizeQ4_0(nil, x)
	case Q4_K:
		return quantizeKMin(nil, x, 15)
	case Q5_K:
		return quantizeKMin(nil, x, 31)
	case Q6_K:
		return quantizeQ6_K(nil, x)
	}
	panic(t)
}

// testVectors are rows that stress the kernels: random values, values at the extremes of every
// quantized range, all zeros, a single spike, constant rows, and rows with only positive values.
func testVectors(n int, seed uint64) [][]float32 {
	rng := &SplitMix64{State: seed}
	var out [][]float32
	for range 6 {
		v := make([]float32, n)
		scale := float32(math.Ldexp(1, int(rng.Next()%20)-10))
		for i := range v {
			v[i] = (2*rng.Float32() - 1) * scale
		}
		out = append(out, v)
	}
	ext := make([]float32, n)
	for i := range ext {
		ext[i] = float32(1 - 2*float64(i%2)) // ±1: every block hits its extreme codes
	}
	spike := make([]float32, n)
	spike[n/3] = -7
	pos := make([]float32, n)
	for i := range pos {
		pos[i] = 1 + rng.Float32()
	}
	constant := make([]float32, n)
	for i := range constant {
		constant[i] = 0.25
	}
	return append(out, ext, make([]float32, n), spike, pos, constant)
}

// TestKernelsMatchReference: for every quantized type, the SWAR kernels give exactly (bit for
// bit) what a position-by-position reference computes from ggml's layout, over random and
// extreme weights and activations.
func TestKernelsMatchReference(t *testing.T) {
	const n = 4 * qkK
	kernel := map[TensorType]func(row []byte, x []float32) float32{}
	for _, typ := range []TensorType{Q8_0, Q4_0, Q4_K, Q5_K, Q6_K} {
		kernel[typ] = func(row []byte, x []float32) float32 {
			m, err := newMatrix(typ, n, 1, row)
			if err != nil {
				t.Fatal(err)
			}
			return m.rowDot(x)(0)
		}
	}
	ws, xs := testVectors(n, 1), testVectors(n, 2)
	for typ, k := range kernel {
		for wi, w := range ws {
			row := quantizeRow(typ, w)
			if _, bs := blockInfo(typ); len(row) != n/blockElems(typ)*bs {
				t.Fatalf("%v: row of %d bytes", typ, len(row))
			}
			for xi, x := range xs {
				got, want := k(row, x), refDot(typ, row, x)
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Errorf("%v weights %d activations %d: kernel %v, reference %v", typ, wi, xi, got, want)
				}
			}
		}
	}
}

// TestDequantRow checks ggml's dequantization against the reference decoding, and the encoders'
// accuracy: every value is reproduced within its type's step size.
func TestDequantRow(t *testing.T) {
	const n = 2 * qkK
	// Worst-case error as a fraction of the block's largest magnitude, generous for our simple
	// round-to-nearest encoders (one quantization step, plus the 6-bit rounding of sub-block scales).
	tol := map[TensorType]float64{Q8_0: 1.0 / 127, Q4_0: 1.0 / 8, Q4_K: 2.0 / 15, Q5_K: 2.0 / 31, Q6_K: 2.0 / 31}
	for typ, tl := range tol {
		for vi, x := range testVectors(n, 3) {
			row := quantizeRow(typ, x)
			got := make([]float32, n)
			dequantRow(typ, row, got)
			e, bs := blockInfo(typ)
			for b := range n / e {
				r := refDecode(typ, row[b*bs:])
				var amax float64
				for _, v := range x[b*e : (b+1)*e] {
					amax = math.Max(amax, math.Abs(float64(v)))
				}
				for p := range e {
					i := b*e + p
					var want float32
					switch typ {
					case Q8_0:
						want = float32(r.d * float32(r.q[p]))
					case Q4_0:
						want = float32(float32(r.q[p]-8) * r.d)
					case Q6_K:
						want = float32(float32(r.d*float32(r.sc[r.sub[p]])) * float32(r.q[p]-32))
					default:
						want = float32(float32(r.d*float32(r.sc[r.sub[p]]))*float32(r.q[p])) - float32(r.dmin*float32(r.mn[r.sub[p]]))
					}
					if math.Float32bits(got[i]) != math.Float32bits(want) {
						t.Fatalf("%v vector %d [%d]: dequantized %v, reference %v", typ, vi, i, got[i], want)
					}
					if d := math.Abs(float64(got[i] - x[i])); d > tl*amax*1.001+1e-30 {
						t.Errorf("%v vector %d [%d]: %v encodes as %v (error %.3g of block max %.3g)", typ, vi, i, x[i], got[i], d, amax)
					}
				}
			}
		}
	}
}

// TestKernelsApproximateFloatDot: the quantized dot product is close to the float dot product of
// the dequantized weights with the activations (a sanity check of the scales and offsets, which
// the exact reference comparison shares).
func TestKernelsApproximateFloatDot(t *testing.T) {
	const n = 8 * qkK
	xs := testVectors(n, 5)[:6]
	for _, typ := range []TensorType{Q8_0, Q4_0, Q4_K, Q5_K, Q6_K} {
		for _, w := range testVectors(n, 4)[:6] {
			row := quantizeRow(typ, w)
			wd := make([]float32, n)
			dequantRow(typ, row, wd)
			m, _ := newMatrix(typ, n, 1, row)
			for _, x := range xs {
				var exact, mag float64
				for i := range x {
					exact += float64(wd[i]) * float64(x[i])
					mag += math.Abs(float64(wd[i]) * float64(x[i]))
				}
				got := float64(m.rowDot(x)(0))
				if math.Abs(got-exact) > 0.02*mag {
					t.Errorf("%v: quantized dot %v, float dot %v (Σ|w·x| %v)", typ, got, exact, mag)
				}
			}
		}
	}
}

func TestNearestInt(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want int32
	}{{0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2}, {126.49, 126}, {-127, -127}, {3.7, 4}} {
		if got := nearestInt(c.in); got != c.want {
			t.Errorf("nearestInt(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestQuantizeActQ8_K checks llama.cpp's Q8_K rules: the first value of largest magnitude maps to
// -127 (so d is negative for a positive maximum), codes stay within [-127, 127], and the sums.
func TestQuantizeActQ8_K(t *testing.T) {
	for vi, x := range testVectors(qkK, 6) {
		var b [1]q8KBlock
		quantizeActQ8_K(b[:], x)
		var amax float32
		first := -1
		for i, v := range x {
			if abs32(v) > amax {
				amax, first = abs32(v), i
			}
		}
		if amax == 0 {
			if b[0].d != 0 {
				t.Errorf("vector %d: zero block has d %v", vi, b[0].d)
			}
			continue
		}
		if b[0].qs[first] != -127 {
			t.Errorf("vector %d: the largest value quantizes to %d, want -127", vi, b[0].qs[first])
		}
		for j := range 16 {
			var s int32
			for _, q := range b[0].qs[16*j : 16*j+16] {
				s += int32(q)
			}
			if s != b[0].bsums[j] {
				t.Fatalf("vector %d: bsums[%d] = %d, want %d", vi, j, b[0].bsums[j], s)
			}
		}
		for i, v := range x {
			if d := math.Abs(float64(b[0].d*float32(b[0].qs[i]) - v)); d > float64(amax)/127*0.5001 {
				t.Fatalf("vector %d [%d]: %v -> %d·%v", vi, i, v, b[0].qs[i], b[0].d)
			}
		}
	}
}

func BenchmarkDot(b *testing.B) {
	const n = 4096
	x := testVectors(n, 1)[0]
	for _, typ := range []TensorType{F32, F16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K} {
		var row []byte
		switch typ {
		case F32, F16:
			row = make([]byte, n*map[TensorType]int{F32: 4, F16: 2}[typ])
		default:
			row = quantizeRow(typ, testVectors(n, 2)[0])
		}
		m, err := newMatrix(typ, n, 1, row)
		if err != nil {
			b.Fatal(err)
		}
		dot := m.rowDot(x)
		b.Run(fmt.Sprint(typ), func(b *testing.B) {
			for range b.N {
				dot(0)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/weight")
		})
	}
}
