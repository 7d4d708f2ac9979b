package stream

// End-to-end tests of this package against a real node are in chain/node (agentapi_test.go),
// which owns the node side; these cover the notification decoder on its own.

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/metisgo/metis/agents/event"
)

func TestNotification(t *testing.T) {
	var n notification
	if err := json.Unmarshal([]byte(`{"agent":"0x0000000000000000000000000000000000000001","kind":"thought","seq":3}`), &n); err != nil {
		t.Fatal(err)
	}
	if n.e == nil || n.e.Seq != 3 || n.e.Kind != event.Thought {
		t.Fatalf("event: %+v", n.e)
	}
	err := json.Unmarshal([]byte(`{"dropped":"subscription buffer full"}`), &n)
	if !errors.Is(err, event.ErrDropped) {
		t.Fatalf("dropped notice: %v", err)
	}
}

// FuzzNotification: notifications come from the node, outside this process; none panics, and
// each is an event, the dropped notice, or an error.
func FuzzNotification(f *testing.F) {
	f.Add([]byte(`{"agent":"0x0000000000000000000000000000000000000001","kind":"thought","seq":3,"data":{"a":1}}`))
	f.Add([]byte(`{"dropped":"x"}`))
	f.Add([]byte(`{"dropped":"","kind":"started"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var n notification
		err := n.UnmarshalJSON(b)
		if err == nil && n.e == nil {
			t.Fatalf("no error and no event for %q", b)
		}
	})
}
