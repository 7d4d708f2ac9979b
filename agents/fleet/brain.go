package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/agents/internal/chatscript"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/llm"
)

// scripted is a brain whose replies are scripted: before each step the fleet has it say the
// tool call the agent's role needs, as a tiny GGUF model (agents/internal/chatscript) written
// for that reply and run by the embedded engine through the langchaingo adapter, the same path
// a real model's reply takes.
type scripted struct {
	engine inference.Engine
	dir    string
	name   string

	mu  sync.Mutex
	n   int
	cur llms.Model
}

func newScripted(engine inference.Engine, dir, name string) *scripted {
	return &scripted{engine: engine, dir: dir, name: name}
}

// say makes the model's next replies the call of tool with args.
func (b *scripted) say(tool string, args any) error {
	reply, err := json.Marshal(map[string]any{"name": tool, "arguments": args})
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	path := filepath.Join(b.dir, fmt.Sprintf("brain-%s-%d.gguf", b.name, b.n))
	if err := chatscript.WriteFile(path, string(reply)); err != nil {
		return err
	}
	b.cur = llm.New(b.engine, path)
	return nil
}

// GenerateContent implements llms.Model with the current script.
func (b *scripted) GenerateContent(ctx context.Context, msgs []llms.MessageContent, opts ...llms.CallOption) (*llms.ContentResponse, error) {
	b.mu.Lock()
	m := b.cur
	b.mu.Unlock()
	if m == nil {
		return nil, errors.New("fleet: the scripted brain has no script yet")
	}
	return m.GenerateContent(ctx, msgs, opts...)
}

// Call implements llms.Model.
func (b *scripted) Call(ctx context.Context, prompt string, opts ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, b, prompt, opts...)
}
