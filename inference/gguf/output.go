package gguf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/metisgo/metis/inference"
)

// ResponseOf rebuilds, from the output tokens a run sampled, the response the engine returned for
// req (Chat when req has messages, Generate otherwise), and checks that the run ended exactly at
// the last token. It is the engine's own logic (complete and Run) without the forward passes:
//
//   - each token before the last must neither end generation (an end-of-generation token), nor
//     complete a stop string (req.Sampling.Stop, and the chat format's stops for Chat), nor reach
//     maxTokens or the model's context (promptLen + k tokens fed);
//   - the last token must do one of these: an end-of-generation token (not part of the text) or a
//     stop string ends with DoneReason "stop", maxTokens or the context with "length";
//   - the text is the tokens' pieces cut at the first stop string, and for Chat with tools a
//     reply that is a tool call becomes that call.
//
// maxTokens is the limit the run had (the engine's default when the request said 0). The
// response has no trace root; its Usage counts promptLen and len(tokens).
func (m *Model) ResponseOf(req inference.Request, promptLen int, tokens []uint32, maxTokens int) (*inference.Response, error) {
	if len(tokens) == 0 {
		return nil, errors.New("gguf: a run samples at least one token")
	}
	if maxTokens < 1 {
		return nil, fmt.Errorf("gguf: maxTokens %d", maxTokens)
	}
	chat := len(req.Messages) > 0
	stops := append([]string(nil), req.Sampling.Stop...)
	if chat {
		stops = append(stops, m.chatFormat().stops...)
	}
	vocab := uint32(m.Vocab.Len())
	var out strings.Builder
	end, reason := -1, ""
	for k, tok := range tokens {
		if tok >= vocab {
			return nil, fmt.Errorf("gguf: output token %d is %d, outside a vocabulary of %d", k, tok, vocab)
		}
		last := k == len(tokens)-1
		stopAt := func(why string) error {
			if !last {
				return fmt.Errorf("gguf: the run ends at output token %d (%s), not at the last of %d", k, why, len(tokens))
			}
			return nil
		}
		// As Run: an end-of-generation token first, then onToken's stop strings, then the limits.
		if m.Vocab.IsEOG(tok) {
			if err := stopAt("end of generation"); err != nil {
				return nil, err
			}
			reason = "stop"
			break
		}
		out.WriteString(m.Vocab.Piece(tok))
		if i := firstStop(out.String(), stops); i >= 0 {
			if err := stopAt("a stop string"); err != nil {
				return nil, err
			}
			end, reason = i, "stop"
			break
		}
		if k+1 >= maxTokens || promptLen+k >= m.Params.Context {
			if err := stopAt("the token limit or the full context"); err != nil {
				return nil, err
			}
			reason = "length"
			break
		}
		if last {
			return nil, fmt.Errorf("gguf: the run would go on after its %d output tokens (no end-of-generation token, stop string, token limit or full context)", len(tokens))
		}
	}
	text := out.String()
	if end >= 0 {
		text = text[:end]
	}
	resp := &inference.Response{
		Model: req.Model, ModelDigest: m.Digest(), Text: text,
		Usage:      inference.Usage{PromptTokens: promptLen, OutputTokens: len(tokens)},
		DoneReason: reason,
	}
	if chat && len(req.Tools) > 0 {
		if call, ok := parseToolCall(resp.Text, req.Tools); ok {
			resp.ToolCalls = []inference.ToolCall{call}
			resp.Text = ""
		}
	}
	return resp, nil
}
