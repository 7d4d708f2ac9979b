package gguf

import (
	"math"
	"testing"
)

// ulps is the distance between two float32s in units in the last place.
func ulps(a, b float32) int64 {
	ia, ib := int64(int32(math.Float32bits(a))), int64(int32(math.Float32bits(b)))
	if ia < 0 {
		ia = math.MinInt32 - ia
	}
	if ib < 0 {
		ib = math.MinInt32 - ib
	}
	if ia > ib {
		return ia - ib
	}
	return ib - ia
}

// TestMathAccuracy checks the portable functions against the math package (float64, rounded to
// float32) over the ranges the engine uses: at most one ulp of float32 apart.
func TestMathAccuracy(t *testing.T) {
	worst := map[string]int64{"exp": 0, "sin": 0, "cos": 0, "pow": 0}
	check := func(name string, got float32, want float64) {
		if d := ulps(got, float32(want)); d > worst[name] {
			worst[name] = d
		}
	}
	for i := -100000; i <= 100000; i++ {
		x := float32(i) * 0.00087 // [-87, 87]: the arguments of expf in softmax, SiLU and sampling
		check("exp", expf(x), math.Exp(float64(x)))
		th := float32(i) * 0.0417 // RoPE angles up to ~4000 rad
		s, c := sincosf(th)
		// Compare where the result is not tiny, since ulps near zero say nothing about accuracy.
		if ws := math.Sin(float64(th)); math.Abs(ws) > 1e-3 {
			check("sin", s, ws)
		}
		if wc := math.Cos(float64(th)); math.Abs(wc) > 1e-3 {
			check("cos", c, wc)
		}
	}
	for _, base := range []float32{10000, 500000, 1e6} {
		for hd := 2; hd <= 256; hd += 2 {
			e := -2 / float32(hd)
			check("pow", powf(base, e), math.Pow(float64(base), float64(e)))
		}
	}
	for name, w := range worst {
		t.Logf("%s: worst %d ulp", name, w)
		if w > 1 {
			t.Errorf("%s is %d ulps from math", name, w)
		}
	}
	if expf(-200) != 0 || !math.IsInf(float64(expf(100)), 1) || expf(0) != 1 {
		t.Error("expf edge cases")
	}
}
