package gguf

import (
	"crypto/sha256"
	"math"
)

// Transcendental functions with the same results on every architecture.
//
// Go's math.Exp has assembly implementations on amd64 and arm64 (exp_amd64.s, exp_arm64.s) and a
// pure-Go one elsewhere, and even the pure-Go functions (Sin, Cos, Log, Pow) may be compiled with
// fused multiply-adds on arm64, ppc64, s390x, riscv64 and amd64 with GOAMD64=v3 — the Go spec
// allows x*y+z to be fused unless a product is explicitly converted. So none of them can be used
// where bits matter. The functions below use only float64 +, -, *, / and exact bit manipulation,
// and every product that feeds an addition is wrapped in float64(...), which the spec says rounds
// and prevents fusion. IEEE 754 makes each such operation correctly rounded everywhere, so the
// results are identical on all platforms. Accuracy is within an ulp of float32 for the arguments
// the engine uses (TestMathAccuracy finds them equal to the math package rounded to float32);
// exactness against libm is not a goal.

const (
	ln2Hi  = 6.93147180369123816490e-01 // high bits of ln 2 (trailing zeros make k*ln2Hi exact)
	ln2Lo  = 1.90821492927058770002e-10 // ln 2 - ln2Hi
	invLn2 = 1.44269504088896338700e+00
)

// exp64 returns e**x for x in float32's useful range (results for |x| > 745 saturate).
func exp64(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 709:
		return math.Inf(1)
	case x < -745:
		return 0
	}
	// x = k*ln2 + r with |r| <= ln2/2, by Cody and Waite's two-constant reduction.
	k := math.Floor(float64(x*invLn2) + 0.5)
	r := (x - float64(k*ln2Hi)) - float64(k*ln2Lo)
	// exp(r) by its Taylor series to r^13/13! (truncation < 2e-17 for |r| <= 0.347), Horner form.
	p := 1.0 / 6227020800 // 1/13!
	for _, c := range [...]float64{1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880,
		1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1} {
		p = c + float64(p*r)
	}
	return scale2(p, int(k))
}

// scale2 returns p * 2**k exactly (p in [0.5, 2), k in float64's exponent range or below).
func scale2(p float64, k int) float64 {
	if k < -1022 {
		// Subnormal result: scale in two steps so that only the last one rounds.
		return float64(p*math.Float64frombits(uint64(1023-1000)<<52)) * math.Float64frombits(uint64(1023+k+1000)<<52)
	}
	if k > 1023 {
		return math.Inf(1)
	}
	return p * math.Float64frombits(uint64(1023+k)<<52)
}

// expf is e**x rounded to float32.
func expf(x float32) float32 { return float32(exp64(float64(x))) }

// vexpf is the exponential llama.cpp's CPU backend uses inside softmax and SiLU on x86-64 without
// FMA (ggml's SSE2 ggml_v_expf, after Arm's optimized-routines expf): x = n·ln2 + b with n rounded
// by adding 1.5·2^23, 2^n built in the exponent bits, e^b by a degree-5 polynomial, and a scaled
// path for |n| > 126. It is within 2 ulp of e^x, not correctly rounded; the engine computes it
// step for step in float32 (every product rounded before the add, as without FMA) so that
// attention weights and SwiGLU activations are bit-identical to that build's, which keeps the
// quantized activations downstream identical too.
func vexpf(x float32) float32 {
	const shift = 0x1.8p23
	z := float32(x*0x1.715476p+0) + shift
	n := z - shift
	b := x - float32(n*0x1.62e4p-1)
	b -= float32(n * 0x1.7f7d1cp-20)
	e := math.Float32bits(z) << 23
	k := math.Float32frombits(e + math.Float32bits(1))
	u := float32(b * b)
	p := float32(float32(float32(0x1.0e4020p-7*b)+0x1.573e2ep-5)*u) + (float32(0x1.555e66p-3*b) + 0x1.fffdb6p-2)
	j := float32(p*u) + float32(0x1.ffffecp-1*b)
	an := float32(math.Abs(float64(n)))
	if !(an > 126) {
		return float32(j*k) + k
	}
	var g uint32
	if n <= 0 {
		g = 0x82000000
	}
	s1 := math.Float32frombits(g + 0x7f000000)
	if an > 192 {
		return float32(s1 * s1)
	}
	s2 := math.Float32frombits(e - g)
	return float32((float32(s2*j) + s2) * s1)
}

// log64 returns the natural logarithm of x > 0 (finite, normal).
func log64(x float64) float64 {
	b := math.Float64bits(x)
	k := int(b>>52&0x7ff) - 1023
	m := math.Float64frombits(b&^(0x7ff<<52) | 1023<<52) // mantissa in [1, 2)
	if m > math.Sqrt2 {
		m /= 2
		k++
	}
	// log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: series to s^27.
	s := (m - 1) / (m + 1)
	s2 := s * s
	p := 2.0 / 27
	for n := 25; n >= 1; n -= 2 {
		p = 2.0/float64(n) + float64(p*s2)
	}
	kf := float64(k)
	return float64(kf*ln2Hi) + (float64(s*p) + float64(kf*ln2Lo))
}

// powf is base**e rounded to float32, for base > 0.
func powf(base, e float32) float32 {
	return float32(exp64(float64(float64(e) * log64(float64(base)))))
}

// π/2 in three parts (fdlibm's pio2_1, pio2_2, pio2_3): each has enough trailing zero bits that
// n*part is exact for the n the engine needs (|theta| up to about 2^20).
const (
	pio2a = 1.57079632673412561417e+00
	pio2b = 6.07710050630396597660e-11
	pio2c = 2.02226624871116645580e-21
	twoPi = 6.36619772367581382433e-01 // 2/π
)

// sincosf returns sin(x) and cos(x) rounded to float32.
func sincosf(x float32) (float32, float32) {
	t := float64(x)
	n := math.Floor(float64(t*twoPi) + 0.5)
	r := ((t - float64(n*pio2a)) - float64(n*pio2b)) - float64(n*pio2c)
	s, c := sinPoly(r), cosPoly(r)
	switch int64(n) & 3 {
	case 1:
		s, c = c, -s
	case 2:
		s, c = -s, -c
	case 3:
		s, c = -c, s
	}
	return float32(s), float32(c)
}

// sinPoly and cosPoly are Taylor series for |r| <= π/4 (truncation below 1e-19).
func sinPoly(r float64) float64 {
	r2 := r * r
	p := -1.0 / 51090942171709440000 // -1/21!
	for _, c := range [...]float64{1.0 / 121645100408832000, -1.0 / 355687428096000, 1.0 / 1307674368000,
		-1.0 / 6227020800, 1.0 / 39916800, -1.0 / 362880, 1.0 / 5040, -1.0 / 120, 1.0 / 6} {
		p = c + float64(p*r2)
	}
	// p now holds 1/3! - r²/5! + ... with the sign pattern shifted; sin r = r - r³ p.
	return r - float64(float64(r*r2)*p)
}

func cosPoly(r float64) float64 {
	r2 := r * r
	p := 1.0 / 2432902008176640000 // 1/20!
	for _, c := range [...]float64{-1.0 / 6402373705728000, 1.0 / 20922789888000, -1.0 / 87178291200,
		1.0 / 479001600, -1.0 / 3628800, 1.0 / 40320, -1.0 / 720, 1.0 / 24, -0.5, 1} {
		p = c + float64(p*r2)
	}
	return p
}

// MathFingerprint hashes the engine's expf, sincosf and powf over a fixed sweep of arguments, so
// that a determinism check across machines can tell a difference in these functions apart from
// one elsewhere.
func MathFingerprint() [32]byte {
	var b []byte
	put := func(f float32) {
		b = append(b, byte(math.Float32bits(f)), byte(math.Float32bits(f)>>8), byte(math.Float32bits(f)>>16), byte(math.Float32bits(f)>>24))
	}
	for i := -2000; i <= 2000; i++ {
		x := float32(i) * 0.0437
		put(expf(x))
		put(vexpf(x * 2.3))
		s, c := sincosf(x * 37)
		put(s)
		put(c)
		put(powf(10000, float32(i)/977))
	}
	return sha256.Sum256(b)
}
