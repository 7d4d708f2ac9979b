package node_test

// Issue 8's fan-out benchmark (acceptance 5, first half): one agent event to 1,000 WebSocket
// subscribers on a real node, against a plain gorilla/websocket broadcast in the same run.
//
// One op publishes one signed event (a ~200-byte "thought") and waits until all 1,000
// subscribers have received it, so ns/op is the time to reach the last subscriber; p50-ns and
// p99-ns are over every (event, subscriber) delivery: from just before the publisher sends the
// event to when the subscriber's client has decoded it.
//
//   - path=agent_subscribe: the agent publishes with agent_publish over its own WebSocket; the
//     node checks size, signature, registry (cached per head) and seq, then fans out through
//     agent_subscribe; subscribers are agents/stream clients (go-ethereum's rpc.Client), one
//     connection each.
//   - path=gorilla-broadcast: the floor for the same work without JSON-RPC: a server that reads
//     the event from the publisher's WebSocket, decodes and verifies it (event.Decode), and
//     hands the same bytes to 1,000 connections' bounded queues, each written by its own
//     goroutine (the node's policy); subscribers are gorilla clients decoding into event.Event.
//     Same gorilla/websocket version as go-ethereum's rpc uses, same loopback, same process.
//
// Why this baseline: it is what the node's fan-out would cost with no JSON-RPC framing, no
// per-subscriber notification envelope and no go-ethereum client dispatch, so the gap is what
// the protocol and libraries cost; the newHeads path would time block sealing rather than
// fan-out, and event.Feed has no sockets at all.

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/agents/stream"
)

const fanoutSubscribers = 1000

// fanoutRun is one benchmark run's bookkeeping, shared with the subscriber goroutines.
type fanoutRun struct {
	base      uint64         // seq of the run's first event
	sent      []atomic.Int64 // unix ns just before event i was sent
	lat       []int64        // [event*fanoutSubscribers + subscriber] delivery latency, ns
	remaining []atomic.Int32
	done      []chan struct{}
}

func newFanoutRun(base uint64, n int) *fanoutRun {
	r := &fanoutRun{base: base, sent: make([]atomic.Int64, n), lat: make([]int64, n*fanoutSubscribers),
		remaining: make([]atomic.Int32, n), done: make([]chan struct{}, n)}
	for i := range n {
		r.remaining[i].Store(fanoutSubscribers)
		r.done[i] = make(chan struct{})
	}
	return r
}

// received records subscriber s's delivery of the event with seq.
func (r *fanoutRun) received(s int, seq uint64) {
	now := time.Now().UnixNano()
	i := int(seq - r.base)
	if i < 0 || i >= len(r.done) {
		return
	}
	r.lat[i*fanoutSubscribers+s] = now - r.sent[i].Load()
	if r.remaining[i].Add(-1) == 0 {
		close(r.done[i])
	}
}

func (r *fanoutRun) report(b *testing.B) {
	l := slices.Clone(r.lat)
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2]), "p50-ns")
	b.ReportMetric(float64(l[len(l)*99/100]), "p99-ns")
}

func BenchmarkAgentFanout(b *testing.B) {
	var current atomic.Pointer[fanoutRun]
	deliver := func(s int, seq uint64) {
		if r := current.Load(); r != nil {
			r.received(s, seq)
		}
	}
	ctx := context.Background()

	// --- the node ---
	an := startAgentNet(b, nil)
	for s := range fanoutSubscribers {
		c, err := gethrpc.DialContext(ctx, an.node.WSURL())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		ch := make(chan *event.Event, 64)
		sub, err := stream.Subscribe(ctx, c, event.Filter{}, ch)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(sub.Unsubscribe)
		go func() {
			for {
				select {
				case e := <-ch:
					deliver(s, e.Seq)
				case <-sub.Err():
					return
				}
			}
		}()
	}
	pub, err := gethrpc.DialContext(ctx, an.node.WSURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pub.Close)

	// --- the gorilla broadcast ---
	bc := startBroadcast(b)
	for s := range fanoutSubscribers {
		conn, _, err := websocket.DefaultDialer.Dial(bc.url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		go func() {
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				var e event.Event
				if json.Unmarshal(msg, &e) == nil {
					deliver(s, e.Seq)
				}
			}
		}()
	}
	bc.waitSubscribers(fanoutSubscribers)
	bpub, _, err := websocket.DefaultDialer.Dial(bc.url+"?publisher=1", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bpub.Close() })

	// events signs n events of agent 1, as a ~200-byte thought.
	events := func(b *testing.B, n int) (*fanoutRun, []*event.Event) {
		b.Helper()
		evs := make([]*event.Event, n)
		for i := range evs {
			evs[i] = an.event(b, 1, event.Thought, `{"text":"The proposal moves 2% of fees to holders; I vote for it.","step":12}`)
		}
		return newFanoutRun(evs[0].Seq, n), evs
	}

	b.Run("path=agent_subscribe", func(b *testing.B) {
		r, evs := events(b, b.N)
		current.Store(r)
		defer current.Store(nil)
		b.ResetTimer()
		for i, e := range evs {
			r.sent[i].Store(time.Now().UnixNano())
			if err := stream.Publish(ctx, pub, e); err != nil {
				b.Fatal(err)
			}
			<-r.done[i]
		}
		b.StopTimer()
		r.report(b)
	})
	b.Run("path=gorilla-broadcast", func(b *testing.B) {
		r, evs := events(b, b.N)
		raws := make([][]byte, len(evs))
		for i, e := range evs {
			raws[i], _ = e.Encode()
		}
		current.Store(r)
		defer current.Store(nil)
		b.ResetTimer()
		for i, raw := range raws {
			r.sent[i].Store(time.Now().UnixNano())
			if err := bpub.WriteMessage(websocket.TextMessage, raw); err != nil {
				b.Fatal(err)
			}
			<-r.done[i]
		}
		b.StopTimer()
		r.report(b)
	})
	if st := an.node.Agents().Stats(); st.Dropped != 0 {
		b.Fatalf("subscribers dropped: %+v", st)
	}
}

// broadcast is the baseline server.
type broadcast struct {
	url   string
	mu    sync.Mutex
	conns map[*bcConn]struct{}
}

type bcConn struct {
	conn  *websocket.Conn
	queue chan []byte
}

func startBroadcast(b *testing.B) *broadcast {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bc := &broadcast{url: "ws://" + ln.Addr().String(), conns: make(map[*bcConn]struct{})}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		if r.URL.Query().Get("publisher") != "" {
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				if _, err := event.Decode(msg); err != nil {
					continue
				}
				bc.mu.Lock()
				for c := range bc.conns {
					select {
					case c.queue <- msg:
					default: // the node's policy: drop the slow subscriber
						delete(bc.conns, c)
						c.conn.Close()
					}
				}
				bc.mu.Unlock()
			}
		}
		c := &bcConn{conn: conn, queue: make(chan []byte, 256)}
		bc.mu.Lock()
		bc.conns[c] = struct{}{}
		bc.mu.Unlock()
		closed := make(chan struct{})
		go func() { // reads nothing but the close
			defer close(closed)
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
		for {
			select {
			case msg := <-c.queue:
				conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
					return
				}
			case <-closed:
				return
			}
		}
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return bc
}

func (bc *broadcast) waitSubscribers(n int) {
	for {
		bc.mu.Lock()
		have := len(bc.conns)
		bc.mu.Unlock()
		if have == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
