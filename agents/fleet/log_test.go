package fleet

import (
	"strings"
	"testing"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/chain/core"
)

func TestLine(t *testing.T) {
	for _, c := range []struct {
		kind event.Kind
		data string
		want string
	}{
		{event.TxMined, `{"method":"dat.createClass","status":1,"hash":"0x9a626a5900000000000000000000000000000000000000000000000000000000","block":2}`, "dat.createClass ok 0x9a626a59… block 2"},
		{event.TxMined, `{"method":"idao.execute","status":0,"hash":"0x01"}`, "idao.execute FAILED 0x01"},
		{event.Thought, `{"text":"x","tool_call":{"name":"idao_vote","arguments":"{}"}}`, "calls idao_vote {}"},
		{event.Refused, `{"reason":"spend cap","method":"stake"}`, "spend cap stake"},
		{event.Error, `{"stage":"tool","error":"boom"}`, "tool: boom"},
	} {
		e := &event.Event{Name: "a", Kind: c.kind, Seq: 1, Time: 0, Data: []byte(c.data)}
		if err := e.Sign(core.DevAccounts()[1].Key); err != nil {
			t.Fatal(err)
		}
		if got := Line(e); !strings.HasSuffix(got, c.want) || !strings.Contains(got, " a ") {
			t.Errorf("%s: %q, want …%q", c.kind, got, c.want)
		}
	}
}
