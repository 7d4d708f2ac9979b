package gguf

import "github.com/metisgo/metis/inference"

// PromptTokens returns the tokens the engine feeds for req: with chat false, Generate's (req.Prompt
// with BOS, special-token texts parsed); with chat true, Chat's (req.Messages and req.Tools
// rendered in the model's chat format, then tokenized the same way). A verifier that holds the
// request a receipt's input digest commits to recomputes the prompt with it.
func (m *Model) PromptTokens(req inference.Request, chat bool) ([]uint32, error) {
	if !chat {
		return m.Vocab.Encode(req.Prompt, true), nil
	}
	prompt, err := m.chatFormat().render(req.Messages, req.Tools)
	if err != nil {
		return nil, err
	}
	return m.Vocab.Encode(prompt, true), nil
}
