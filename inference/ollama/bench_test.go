package ollama_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/ollama"
)

// BenchmarkGenerate compares the engine with the baseline it wraps, a raw HTTP POST to
// /api/generate, on the same request to the same server in the same run: a non-streamed
// generation of 16 tokens, greedy, seed 0, from the tiny random model. The difference is the
// engine's overhead (building the options map, the api client's JSON, mapping the response, the
// cached model digest). Compare with benchstat -col /api.
func BenchmarkGenerate(b *testing.B) {
	s, e := models(b)
	const prompt = "The quick brown fox"
	const n = 16
	b.Run("api=raw", func(b *testing.B) {
		b.ReportAllocs()
		body := `{"model":"tiny","prompt":"` + prompt + `","stream":false,"options":{"temperature":0,"seed":0,"num_predict":16}}`
		url := s.URL.String() + "/api/generate"
		for b.Loop() {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			var r struct {
				Response  string `json:"response"`
				EvalCount int    `json:"eval_count"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil || r.EvalCount != n {
				b.Fatalf("decode: %v (eval_count %d)", err, r.EvalCount)
			}
		}
	})
	b.Run("api=engine", func(b *testing.B) {
		b.ReportAllocs()
		req := inference.Request{Model: "tiny", Prompt: prompt, Sampling: inference.Sampling{MaxTokens: n}}
		ctx := context.Background()
		for b.Loop() {
			r, err := e.Generate(ctx, req)
			if err != nil || r.Usage.OutputTokens != n {
				b.Fatalf("generate: %v", err)
			}
		}
	})
}

// BenchmarkOverhead isolates the engine's own cost, which BenchmarkGenerate cannot resolve on a
// noisy 2-core machine (a 7–10 ms generation varies by ±10–50%): a local HTTP server replays,
// byte for byte, the answers the real Ollama server gave to /api/generate and /api/show for the
// request of BenchmarkGenerate, and the raw POST (baseline) and the engine each call it. The
// difference per call is the engine's overhead (request building, options, decoding, mapping);
// divided by BenchmarkGenerate's raw call time it gives the overhead as a fraction of a real
// call, reported here as the custom metric "overhead-%-of-real-call".
func BenchmarkOverhead(b *testing.B) {
	s, _ := models(b)
	const prompt = "The quick brown fox"
	body := `{"model":"tiny","prompt":"` + prompt + `","stream":false,"options":{"temperature":0,"seed":0,"num_predict":16}}`
	post := func(url, body string) ([]byte, time.Duration) {
		start := time.Now()
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("recording %s: %v (status %d)", url, err, resp.StatusCode)
		}
		return raw, time.Since(start)
	}
	genAnswer, _ := post(s.URL.String()+"/api/generate", body)
	showAnswer, _ := post(s.URL.String()+"/api/show", `{"model":"tiny"}`)
	// The real call's time, for the ratio: the median of a few real raw calls.
	var real []time.Duration
	for range 15 {
		_, d := post(s.URL.String()+"/api/generate", body)
		real = append(real, d)
	}
	slices.Sort(real)
	realCall := real[len(real)/2]

	replay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch r.URL.Path {
		case "/api/generate":
			_, _ = w.Write(genAnswer)
		case "/api/show":
			_, _ = w.Write(showAnswer)
		default:
			http.NotFound(w, r)
		}
	}))
	defer replay.Close()
	e, err := ollama.New(ollama.WithHost(replay.URL))
	if err != nil {
		b.Fatal(err)
	}
	var rawNs float64
	b.Run("api=raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := http.Post(replay.URL+"/api/generate", "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			var r struct {
				Response  string `json:"response"`
				EvalCount int    `json:"eval_count"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil || r.EvalCount != 16 {
				b.Fatalf("decode: %v", err)
			}
		}
		rawNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("api=engine", func(b *testing.B) {
		b.ReportAllocs()
		req := inference.Request{Model: "tiny", Prompt: prompt, Sampling: inference.Sampling{MaxTokens: 16}}
		ctx := context.Background()
		for b.Loop() {
			r, err := e.Generate(ctx, req)
			if err != nil || r.Usage.OutputTokens != 16 {
				b.Fatalf("generate: %v", err)
			}
		}
		perCall := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if rawNs > 0 {
			b.ReportMetric(100*(perCall-rawNs)/float64(realCall.Nanoseconds()), "overhead-%-of-real-call")
		}
	})
}
