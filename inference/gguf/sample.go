package gguf

import (
	"math"
	"sort"
)

// SamplingParams are the knobs that decide which token is picked from the logits.
type SamplingParams struct {
	Temperature float32 // <= 0: greedy
	TopK        int     // > 0: keep the K most likely tokens
	TopP        float32 // in (0, 1): keep the smallest most-likely set whose probability reaches TopP
}

// sample picks the next token. The procedure is part of the trace's meaning, so it is fixed:
//
//   - Temperature <= 0 (greedy): the token with the largest logit, the lowest id on ties; the PRNG
//     is not advanced.
//   - Otherwise the tokens are ordered by logit descending (lowest id first on ties) and cut to
//     TopK when 0 < TopK < vocabulary; each logit is divided by the temperature (float32) and
//     exponentiated relative to the largest (expf), the weights summed in float64 in that order;
//     with 0 < TopP < 1 the list is cut after the first token at which the running sum of weights
//     reaches TopP times the total. One draw u = Float64() of the SplitMix64 generator (seeded with
//     the request's seed once per run) picks the first token whose running sum exceeds u times the
//     kept total.
func sample(logits []float32, p SamplingParams, rng *SplitMix64) uint32 {
	if !(p.Temperature > 0) {
		best := 0
		for i, l := range logits {
			if l > logits[best] {
				best = i
			}
		}
		return uint32(best)
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		la, lb := logits[idx[a]], logits[idx[b]]
		return la > lb || (la == lb && idx[a] < idx[b])
	})
	if p.TopK > 0 && p.TopK < len(idx) {
		idx = idx[:p.TopK]
	}
	w := make([]float64, len(idx))
	maxl := logits[idx[0]] / p.Temperature
	var total float64
	for i, id := range idx {
		w[i] = float64(expf(logits[id]/p.Temperature - maxl))
		total += w[i]
	}
	if p.TopP > 0 && p.TopP < 1 {
		limit := float64(p.TopP) * total
		var cum float64
		for i := range w {
			cum += w[i]
			if cum >= limit {
				idx, w, total = idx[:i+1], w[:i+1], cum
				break
			}
		}
	}
	u := float64(rng.Float64() * total)
	var cum float64
	for i := range w {
		cum += w[i]
		if cum > u {
			return uint32(idx[i])
		}
	}
	return uint32(idx[len(idx)-1]) // u*total rounded up to the total: the last kept token
}

// isFinite reports whether every logit is a finite number (a NaN would make the order undefined).
func isFinite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}
