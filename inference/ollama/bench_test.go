package ollama_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/metisgo/metis/inference"
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
