package agents

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/llms"
)

// memory is what an agent carries from one trigger to the next: the recent conversation, kept
// as whole turns (a trigger and everything the model and tools said about it, so that a tool
// call is never separated from its result) up to maxMessages, and key/value notes up to
// maxNotes.
type memory struct {
	mu          sync.Mutex
	maxMessages int
	maxNotes    int
	turns       [][]llms.MessageContent
	messages    int
	notes       map[string]string
}

func newMemory(s MemorySpec) *memory {
	return &memory{maxMessages: s.MaxMessages, maxNotes: s.MaxNotes, notes: map[string]string{}}
}

// history is the remembered conversation, oldest first.
func (m *memory) history() []llms.MessageContent {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]llms.MessageContent, 0, m.messages)
	for _, t := range m.turns {
		out = append(out, t...)
	}
	return out
}

// add remembers a turn, dropping the oldest turns while over the bound. A turn longer than the
// bound by itself is not kept.
func (m *memory) add(turn []llms.MessageContent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(turn) == 0 || len(turn) > m.maxMessages {
		return
	}
	m.turns = append(m.turns, turn)
	m.messages += len(turn)
	for m.messages > m.maxMessages {
		m.messages -= len(m.turns[0])
		m.turns = m.turns[1:]
	}
}

// setNote sets (or, with value "", deletes) a note.
func (m *memory) setNote(key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if value == "" {
		delete(m.notes, key)
		return nil
	}
	if _, ok := m.notes[key]; !ok && len(m.notes) >= m.maxNotes {
		return fmt.Errorf("memory holds %d notes already; forget one first (an empty value)", m.maxNotes)
	}
	m.notes[key] = value
	return nil
}

// Note returns a note.
func (m *memory) note(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.notes[key]
	return v, ok
}

// notesText lists the notes, sorted by key, for the system prompt.
func (m *memory) notesText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.notes) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m.notes))
	for k := range m.notes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "- %s: %s\n", k, m.notes[k])
	}
	return b.String()
}
