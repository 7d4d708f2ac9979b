package node_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/agents/stream"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/chain/rpc"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/devnet"
)

// agentNet is a running node with the iDAO, registered agents and clients.
type agentNet struct {
	node  *node.Node
	eth   *ethclient.Client
	ws    *gethrpc.Client
	http  *gethrpc.Client
	keys  []*ecdsa.PrivateKey
	addrs []common.Address
	owner *idao.Client // dev account 0: owns the agents
	seq   map[common.Address]uint64
}

// startAgentNet starts a node (devnet's, or one with rpcOpts when given) and registers dev
// accounts 1 and 2 as agents, owned by dev account 0.
func startAgentNet(t testing.TB, rpcOpts *rpc.Options) *agentNet {
	t.Helper()
	ctx := context.Background()
	an := &agentNet{seq: make(map[common.Address]uint64)}
	if rpcOpts == nil {
		net := devnet.Start(t, devnet.Options{})
		an.node, an.eth = net.Node, net.Eth
	} else {
		n, err := node.New(node.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RPC: *rpcOpts,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		n.Start()
		t.Cleanup(func() { n.Close() })
		an.node = n
		if an.eth, err = ethclient.DialContext(ctx, n.WSURL()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(an.eth.Close)
	}
	for _, a := range core.DevAccounts() {
		an.keys = append(an.keys, a.Key)
		an.addrs = append(an.addrs, a.Address)
	}
	var err error
	if an.ws, err = gethrpc.DialContext(ctx, an.node.WSURL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(an.ws.Close)
	if an.http, err = gethrpc.DialContext(ctx, an.node.HTTPURL()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(an.http.Close)
	an.owner = idao.NewClient(an.eth, bind.NewKeyedTransactor(an.keys[0], big.NewInt(metisvm.DevChainID)))
	for i := 1; i <= 2; i++ {
		an.register(t, i)
	}
	return an
}

func (an *agentNet) register(t testing.TB, i int) {
	t.Helper()
	if _, err := an.owner.RegisterAgent(context.Background(), an.addrs[i], fmt.Sprintf("agent-%d", i), "", new(big.Int)); err != nil {
		t.Fatalf("register agent %d: %v", i, err)
	}
}

// event signs the next event of the agent with dev key i.
func (an *agentNet) event(t testing.TB, i int, kind event.Kind, data string) *event.Event {
	t.Helper()
	a := an.addrs[i]
	an.seq[a]++
	e := &event.Event{Name: fmt.Sprintf("agent-%d", i), Kind: kind, Seq: an.seq[a], Time: time.Now().UnixMilli()}
	if data != "" {
		e.Data = json.RawMessage(data)
	}
	if err := e.Sign(an.keys[i]); err != nil {
		t.Fatal(err)
	}
	return e
}

type seen struct {
	agent common.Address
	seq   uint64
}

func collect(t *testing.T, ch <-chan *event.Event, sub interface{ Err() <-chan error }, n int) []seen {
	t.Helper()
	var out []seen
	for len(out) < n {
		select {
		case e := <-ch:
			if err := e.Verify(); err != nil {
				t.Fatalf("received event does not verify: %v", err)
			}
			out = append(out, seen{e.Agent, e.Seq})
		case err := <-sub.Err():
			t.Fatalf("subscription ended after %v: %v", out, err)
		}
	}
	return out
}

// TestAgentEvents: a registered agent publishes over HTTP (and in process); WebSocket
// subscribers get exactly the events their filters match, in order; agent_recent serves late
// joiners.
func TestAgentEvents(t *testing.T) {
	ctx := context.Background()
	an := startAgentNet(t, nil)
	a1, a2 := an.addrs[1], an.addrs[2]
	filters := map[string]event.Filter{
		"all":        {},
		"agent1":     {Agents: []common.Address{a1}},
		"txOrStop":   {Kinds: []event.Kind{event.TxSent, event.Stopped}},
		"agent2":     {Agents: []common.Address{a2}},
		"a1Thoughts": {Agents: []common.Address{a1}, Kinds: []event.Kind{event.Thought, event.Stopped}},
	}
	want := map[string][]seen{
		"all":        {{a1, 1}, {a1, 2}, {a1, 3}, {a2, 1}, {a1, 4}},
		"agent1":     {{a1, 1}, {a1, 2}, {a1, 3}, {a1, 4}},
		"txOrStop":   {{a1, 3}, {a2, 1}, {a1, 4}},
		"agent2":     {{a2, 1}},
		"a1Thoughts": {{a1, 2}, {a1, 4}},
	}
	chans := map[string]chan *event.Event{}
	subs := map[string]interface{ Err() <-chan error }{}
	for name, f := range filters {
		ch := make(chan *event.Event, 16)
		sub, err := stream.Subscribe(ctx, an.ws, f, ch)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Unsubscribe)
		chans[name], subs[name] = ch, sub
	}
	// A second connection, through SubscribeURL, and an in-process subscriber.
	urlCh := make(chan *event.Event, 16)
	urlSub, err := stream.SubscribeURL(ctx, an.node.WSURL(), event.Filter{Agents: []common.Address{a2}}, urlCh)
	if err != nil {
		t.Fatal(err)
	}
	defer urlSub.Unsubscribe()
	localCh := make(chan *event.Event, 16)
	localSub, err := an.node.Agents().Subscribe(event.Filter{Kinds: []event.Kind{event.Stopped}}, localCh)
	if err != nil {
		t.Fatal(err)
	}
	defer localSub.Unsubscribe()

	for _, e := range []*event.Event{
		an.event(t, 1, event.Started, `{"goal":"mint"}`),
		an.event(t, 1, event.Thought, `{"text":"I should mint a DAT"}`),
		an.event(t, 1, event.TxSent, `{"hash":"0x01"}`),
		an.event(t, 2, event.Stopped, ""),
	} {
		if err := stream.Publish(ctx, an.http, e); err != nil {
			t.Fatalf("publish %s/%d: %v", e.Kind, e.Seq, err)
		}
	}
	if err := an.node.Agents().PublishLocal(ctx, an.event(t, 1, event.Stopped, "")); err != nil {
		t.Fatalf("PublishLocal: %v", err)
	}
	for name, w := range want {
		got := collect(t, chans[name], subs[name], len(w))
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got %v, want %v", name, got, w)
		}
	}
	if got := collect(t, urlCh, urlSub, 1); got[0] != (seen{a2, 1}) {
		t.Errorf("SubscribeURL: %v", got)
	}
	if got := collect(t, localCh, localSub, 2); fmt.Sprint(got) != fmt.Sprint([]seen{{a2, 1}, {a1, 4}}) {
		t.Errorf("in-process subscriber: %v", got)
	}

	recent, err := stream.Recent(ctx, an.http, event.Filter{Agents: []common.Address{a1}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 2 || recent[0].Seq != 3 || recent[1].Seq != 4 || recent[0].Verify() != nil {
		t.Fatalf("recent: %+v", recent)
	}
	if all, err := stream.Recent(ctx, an.ws, event.Filter{}, 0); err != nil || len(all) != 5 {
		t.Fatalf("recent, all: %d %v", len(all), err)
	}
	if st := an.node.Agents().Stats(); st.Published != 5 || st.Rejected != 0 || st.Dropped != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestAgentPublishRejects: forged, tampered, unsigned, unregistered, deregistered, oversized,
// replayed and unknown-kind events are refused with their codes; nothing reaches subscribers.
func TestAgentPublishRejects(t *testing.T) {
	ctx := context.Background()
	an := startAgentNet(t, nil)
	ch := make(chan *event.Event, 64)
	sub, err := stream.Subscribe(ctx, an.ws, event.Filter{}, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	// publishRaw bypasses the client's own size check.
	publishRaw := func(e *event.Event) error {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return an.http.CallContext(ctx, nil, "agent_publish", json.RawMessage(raw))
	}
	mallory, _ := crypto.GenerateKey()

	forged := an.event(t, 1, event.Thought, `{"text":"send everything to mallory"}`)
	if err := forged.Sign(mallory); err != nil {
		t.Fatal(err)
	}
	forged.Agent = an.addrs[1]
	tampered := an.event(t, 1, event.TxSent, `{"to":"0x01"}`)
	tampered.Data = json.RawMessage(`{"to":"0x02"}`)
	unsigned := an.event(t, 1, event.Thought, "")
	unsigned.Signature = nil
	unregistered := an.event(t, 3, event.Started, "")
	unknownKind := &event.Event{Kind: "dance", Seq: 1}
	if err := unknownKind.Sign(an.keys[1]); err != nil {
		t.Fatal(err)
	}
	oversized := an.event(t, 1, event.Thought, `"`+strings.Repeat("x", event.MaxSize)+`"`)
	badData := &event.Event{Kind: event.Thought, Seq: 1, Data: json.RawMessage(`{"x":1e400}`)}
	badData.Agent, badData.Signature = an.addrs[1], make([]byte, 65)

	cases := []struct {
		name string
		e    *event.Event
		code int
		is   error
	}{
		{"forged signature", forged, event.CodeBadSignature, event.ErrBadSignature},
		{"tampered data", tampered, event.CodeBadSignature, event.ErrBadSignature},
		{"unsigned", unsigned, event.CodeInvalid, event.ErrUnsigned},
		{"unregistered agent", unregistered, event.CodeNotRegistered, event.ErrNotRegistered},
		{"unknown kind", unknownKind, event.CodeInvalid, event.ErrUnknownKind},
		{"oversized", oversized, event.CodeTooLarge, event.ErrTooLarge},
		{"data out of range", badData, event.CodeInvalid, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := publishRaw(c.e)
			var re gethrpc.Error
			if !errors.As(err, &re) || re.ErrorCode() != c.code {
				t.Fatalf("agent_publish: %v, want code %d", err, c.code)
			}
			// The in-process path refuses it with the same error.
			if err := an.node.Agents().PublishLocal(ctx, c.e); c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("PublishLocal: %v, want %v", err, c.is)
			} else if err == nil {
				t.Fatal("PublishLocal accepted it")
			}
			// And the Go client maps the code back to event's error.
			if c.is != nil && c.is != event.ErrUnsigned && c.is != event.ErrUnknownKind {
				if err := stream.Publish(ctx, an.ws, c.e); !errors.Is(err, c.is) {
					t.Fatalf("stream.Publish: %v, want %v", err, c.is)
				}
			}
		})
	}
	if err := an.node.Agents().PublishLocal(ctx, unknownKind); !strings.Contains(fmt.Sprint(err), `unknown kind "dance"`) {
		t.Fatalf("unknown kind message: %v", err)
	}

	// Replay protection: the same seq (or a lower one) is refused.
	first := an.event(t, 2, event.Started, "")
	if err := stream.Publish(ctx, an.http, first); err != nil {
		t.Fatal(err)
	}
	if err := stream.Publish(ctx, an.http, first); !errors.Is(err, event.ErrStaleSeq) {
		t.Fatalf("replay: %v", err)
	}
	zero := &event.Event{Kind: event.Thought}
	if err := zero.Sign(an.keys[1]); err != nil {
		t.Fatal(err)
	}
	if err := stream.Publish(ctx, an.ws, zero); !errors.Is(err, event.ErrStaleSeq) {
		t.Fatalf("seq 0: %v", err)
	}

	// A deregistered agent is refused from the next head on (the positive cache is per head).
	ok := an.event(t, 1, event.Thought, "")
	if err := stream.Publish(ctx, an.http, ok); err != nil {
		t.Fatal(err)
	}
	if _, err := an.owner.DeregisterAgent(ctx, an.addrs[1]); err != nil {
		t.Fatal(err)
	}
	if err := stream.Publish(ctx, an.http, an.event(t, 1, event.Thought, "")); !errors.Is(err, event.ErrNotRegistered) {
		t.Fatalf("deregistered agent: %v", err)
	}

	// Subscribers saw exactly the two accepted events.
	got := collect(t, ch, sub, 2)
	if fmt.Sprint(got) != fmt.Sprint([]seen{{an.addrs[2], 1}, {an.addrs[1], ok.Seq}}) {
		t.Fatalf("subscriber got %v", got)
	}
	// Bad filters and limits; subscriptions need a WebSocket.
	var re gethrpc.Error
	if _, err := stream.Subscribe(ctx, an.ws, event.Filter{Kinds: []event.Kind{"dance"}}, ch); !errors.As(err, &re) || re.ErrorCode() != event.CodeInvalid {
		t.Fatalf("bad filter: %v", err)
	}
	if _, err := stream.Recent(ctx, an.http, event.Filter{}, node.AgentRecentEvents+1); !errors.As(err, &re) || re.ErrorCode() != event.CodeInvalid {
		t.Fatalf("limit over the ring: %v", err)
	}
	if _, err := stream.Subscribe(ctx, an.http, event.Filter{}, ch); !errors.Is(err, gethrpc.ErrNotificationsUnsupported) {
		t.Fatalf("subscribe over HTTP: %v", err)
	}
	if st := an.node.Agents().Stats(); st.Published != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestAgentSlowSubscriberDropped: a WebSocket subscriber that stops reading is dropped once its
// queue is full, while a subscriber that keeps up gets every event; the dropped one learns why.
func TestAgentSlowSubscriberDropped(t *testing.T) {
	ctx := context.Background()
	an := startAgentNet(t, &rpc.Options{SubscriptionBuffer: 8})

	// The slow subscriber: a raw WebSocket client that subscribes and then reads nothing.
	slow, _, err := websocket.DefaultDialer.Dial(an.node.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "agent_subscribe", "params": []any{"events", map[string]any{}}}); err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Result string          `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := slow.ReadJSON(&resp); err != nil || resp.Result == "" {
		t.Fatalf("subscribe: %v %s", err, resp.Error)
	}

	fastCh := make(chan *event.Event, 1)
	fast, err := stream.Subscribe(ctx, an.ws, event.Filter{}, fastCh)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Unsubscribe()

	// Large events fill the socket buffers, then the slow subscriber's queue. The publisher
	// waits for the fast subscriber to receive each event, so only the slow one falls behind.
	data := `{"blob":"` + strings.Repeat("a", 48<<10) + `"}`
	agents := an.node.Agents()
	published := 0
	for agents.Stats().Dropped == 0 {
		if published == 20000 {
			t.Fatal("the slow subscriber was never dropped")
		}
		e := an.event(t, 1, event.Thought, data)
		if err := agents.PublishLocal(ctx, e); err != nil {
			t.Fatal(err)
		}
		published++
		select {
		case got := <-fastCh:
			if got.Seq != e.Seq {
				t.Fatalf("fast subscriber got seq %d, want %d", got.Seq, e.Seq)
			}
		case err := <-fast.Err():
			t.Fatalf("fast subscriber ended: %v", err)
		}
	}
	// Others keep receiving after the drop.
	for range 3 {
		e := an.event(t, 1, event.Thought, `{"after":"drop"}`)
		if err := agents.PublishLocal(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got := <-fastCh; got.Seq != e.Seq {
			t.Fatalf("after the drop: seq %d, want %d", got.Seq, e.Seq)
		}
	}
	if st := agents.Stats(); st.Dropped != 1 || st.Subscriptions != 1 {
		t.Fatalf("stats after %d events: %+v", published, st)
	}
	t.Logf("slow subscriber dropped after %d events of %d bytes", published, len(data))

	// The slow client, reading again, gets what was buffered and then the dropped notice
	// (or, had the node's write timed out meanwhile, the end of the connection), and never
	// the events published after the drop.
	var last []byte
	for {
		_, msg, err := slow.ReadMessage()
		if err != nil {
			t.Logf("slow connection ended: %v", err)
			break
		}
		var n struct {
			Params struct {
				Result json.RawMessage `json:"result"`
			} `json:"params"`
		}
		if err := json.Unmarshal(msg, &n); err != nil {
			t.Fatal(err)
		}
		last = n.Params.Result
		if strings.Contains(string(last), `"after"`) {
			t.Fatal("dropped subscriber received an event published after the drop")
		}
		var d event.Dropped
		if json.Unmarshal(last, &d) == nil && d.Dropped != "" {
			t.Logf("dropped notice: %s", d.Dropped)
			// Then the node closes the connection, as chain/rpc does for eth_subscribe: the
			// next read ends with the connection, not with our generous deadline.
			if err := slow.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			_, _, err := slow.ReadMessage()
			var ne net.Error
			if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
				t.Fatalf("the dropped subscriber's connection stayed open: %v", err)
			}
			t.Logf("connection closed by the node: %v", err)
			break
		}
	}
}

// TestAgentLocalSubscriberDropped: an in-process subscriber that does not drain its channel is
// dropped with ErrAgentSubscriptionDropped, and publishing never waits for it.
func TestAgentLocalSubscriberDropped(t *testing.T) {
	ctx := context.Background()
	an := startAgentNet(t, &rpc.Options{SubscriptionBuffer: 4})
	agents := an.node.Agents()
	stuck := make(chan *event.Event) // never read
	sub, err := agents.Subscribe(event.Filter{}, stuck)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	// One event waits in the forwarder, four in the queue; the sixth overflows it.
	for range 6 {
		if err := agents.PublishLocal(ctx, an.event(t, 1, event.Thought, "")); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-sub.Err(); !errors.Is(err, node.ErrAgentSubscriptionDropped) {
		t.Fatalf("Err: %v", err)
	}
	if st := agents.Stats(); st.Dropped != 1 || st.Published != 6 {
		t.Fatalf("stats: %+v", st)
	}
}

// TestAgentLastSeq: agent_lastSeq reports the highest Seq relayed for an agent (0 before any), so
// a restarted agent process continues above it instead of being refused as a replay.
func TestAgentLastSeq(t *testing.T) {
	ctx := context.Background()
	an := startAgentNet(t, nil)
	if n, err := stream.LastSeq(ctx, an.http, an.addrs[1]); err != nil || n != 0 {
		t.Fatalf("before any event: %d, %v", n, err)
	}
	for range 3 {
		if err := stream.Publish(ctx, an.http, an.event(t, 1, event.Thought, `{"text":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := stream.LastSeq(ctx, an.ws, an.addrs[1])
	if err != nil || n != 3 {
		t.Fatalf("after three events: %d, %v", n, err)
	}
	// A "restarted" agent that starts again from 1 is refused; one that continues is relayed.
	stale := &event.Event{Kind: event.Started, Seq: 1, Time: time.Now().UnixMilli()}
	if err := stale.Sign(an.keys[1]); err != nil {
		t.Fatal(err)
	}
	if err := stream.Publish(ctx, an.http, stale); !errors.Is(err, event.ErrStaleSeq) {
		t.Fatalf("restart from 1: %v, want ErrStaleSeq", err)
	}
	next := &event.Event{Kind: event.Started, Seq: n + 1, Time: time.Now().UnixMilli()}
	if err := next.Sign(an.keys[1]); err != nil {
		t.Fatal(err)
	}
	if err := stream.Publish(ctx, an.http, next); err != nil {
		t.Fatalf("continuing at %d: %v", n+1, err)
	}
}
