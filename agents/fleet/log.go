package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/metisgo/metis/agents/event"
)

// LogPublisher is a Publisher (agents.Publisher) writing each event to w as one line of Line.
type LogPublisher struct {
	mu sync.Mutex
	w  io.Writer
}

// NewLogPublisher returns a LogPublisher writing to w.
func NewLogPublisher(w io.Writer) *LogPublisher { return &LogPublisher{w: w} }

// Publish writes the event's line.
func (p *LogPublisher) Publish(_ context.Context, e *event.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := fmt.Fprintln(p.w, Line(e))
	return err
}

// Line is an event as one line of a terminal log: its time, the agent's name, its kind and a
// summary of its data.
func Line(e *event.Event) string {
	name := e.Name
	if name == "" {
		name = e.Agent.Hex()[:10]
	}
	return fmt.Sprintf("%s  %-10s %-9s %s", time.UnixMilli(e.Time).Format("15:04:05.000"), name, e.Kind, Summary(e))
}

// Summary is a short human reading of an event's data: the tool and its arguments, the method
// and hash of a transaction, the reason of a refusal, the text of a thought.
func Summary(e *event.Event) string {
	var d map[string]any
	if json.Unmarshal(e.Data, &d) != nil {
		return clip(string(e.Data), 160)
	}
	s := func(k string) string {
		if v, ok := d[k]; ok && v != nil {
			if str, ok := v.(string); ok {
				return str
			}
			b, _ := json.Marshal(v)
			return string(b)
		}
		return ""
	}
	var out string
	switch e.Kind {
	case event.Started:
		out = "address " + s("address")
		if svc := s("service"); svc != "" {
			out += " service " + svc
		}
		if t := s("tools"); t != "" && t != "null" && t != "[]" {
			out += " tools " + t
		}
	case event.Thought:
		if c, ok := d["tool_call"].(map[string]any); ok {
			out = fmt.Sprintf("calls %v %v", c["name"], c["arguments"])
		} else {
			out = s("text")
		}
	case event.ToolCall:
		out = s("tool") + " " + s("arguments")
	case event.TxSent:
		out = fmt.Sprintf("%s %s", orStr(s("method"), "tx"), shortHash(s("hash")))
	case event.TxMined:
		status := "ok"
		if st, ok := d["status"].(float64); ok && st != 1 {
			status = "FAILED"
		}
		out = fmt.Sprintf("%s %s %s", orStr(s("method"), "tx"), status, shortHash(s("hash")))
		if b := s("block"); b != "" {
			out += " block " + b
		}
		if x := s("detail"); x != "" {
			out += " " + x
		}
	case event.Refused:
		out = s("reason") + " " + s("method")
	case event.Error:
		out = s("stage") + ": " + s("error")
	case event.Inference:
		out = s("text")
	case event.Stopped:
		out = s("reason")
	default:
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out += k + "=" + s(k) + " "
		}
	}
	return clip(strings.TrimSpace(out), 200)
}

func orStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// shortHash shortens a 0x hash to its first bytes.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:10] + "…"
	}
	return h
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
