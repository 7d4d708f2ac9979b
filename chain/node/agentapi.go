package node

// The agent_ namespace: agents publish signed events (agents/event) and dashboards and other
// programs follow them over WebSocket.
//
// agent_publish checks an event in this order: its encoded size (event.MaxSize), its shape and
// signature (event.Verify), that its agent is registered and active in the iDAO at the head
// (the module's agent(address) view; a positive answer is kept until the head changes, a
// negative one is not kept, so a newly registered agent is accepted at once), and that its seq is
// above the last one relayed for that agent (replay protection; in memory, so it restarts with
// the node). Then it is kept in a ring of recent events (agent_recent) and fanned out.
//
// Fan-out follows chain/rpc's subscriptions: the publisher hands each matching subscriber the
// event, encoded once, without ever blocking; each subscriber has a bounded queue
// (rpc.Options.SubscriptionBuffer) and a goroutine writing it to the client. A subscriber whose
// queue is full is dropped: it gets one last notification {"dropped": reason} (event.Dropped;
// agents/stream ends the subscription there with event.ErrDropped) and then its connection is
// closed (rpc.Server.CloseConn), as chain/rpc closes the eth_subscribe subscribers it drops, so
// a client that fell behind reconnects and catches up with agent_recent instead of keeping a
// connection that silently lost events. Publishers and other subscribers are never held up.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethcore "github.com/ethereum/go-ethereum/core"
	gethevent "github.com/ethereum/go-ethereum/event"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/rpc"
	"github.com/metisgo/metis/idao"
)

// Defaults of the agent event stream.
const (
	// AgentRecentEvents is how many recent events the node keeps for agent_recent.
	AgentRecentEvents = 1024
	// DefaultAgentRecentLimit is agent_recent's limit when none is given.
	DefaultAgentRecentLimit = 100
)

// ErrAgentSubscriptionDropped ends an in-process subscription (AgentStream.Subscribe) whose
// subscriber fell too far behind.
var ErrAgentSubscriptionDropped = event.ErrDropped

// AgentStream relays agent events: it is the agent_ namespace's state and the in-process path
// for agents and observers running inside the node's process. Get it with Node.Agents.
type AgentStream struct {
	chain       *core.Chain
	log         *slog.Logger
	buffer      int // queue per subscriber
	maxPerConn  int // subscriptions per WebSocket connection
	published   atomic.Uint64
	rejected    atomic.Uint64
	dropped     atomic.Uint64
	activeCache sync.Map // common.Address -> common.Hash: head at which the agent was active

	mu      sync.Mutex // orders publications: seq checks, the ring and fan-out
	lastSeq map[common.Address]uint64
	ring    []relayed // AgentRecentEvents entries, next at ring[next%len]
	next    uint64
	subs    map[*agentSub]struct{}
	perConn map[string]int // live subscriptions by remote address
}

// relayed is an accepted event with its encoding.
type relayed struct {
	ev  *event.Event
	enc json.RawMessage
}

// agentSub is one subscription, remote (agent_subscribe) or in-process.
type agentSub struct {
	filter event.Filter
	queue  chan relayed
	gone   chan struct{} // closed when dropped
	reason string        // why, set before gone is closed
	remote string        // the connection's remote address, "" in process
	once   sync.Once
}

// AgentStats are the stream's counters.
type AgentStats struct {
	Published     uint64 // events accepted and fanned out
	Rejected      uint64 // events refused by agent_publish or PublishLocal
	Dropped       uint64 // subscribers dropped for falling behind or failing
	Subscriptions int    // live subscriptions
}

func newAgentStream(chain *core.Chain, log *slog.Logger, buffer, maxPerConn int) *AgentStream {
	if buffer <= 0 {
		buffer = rpc.DefaultSubscriptionBuffer
	}
	if maxPerConn <= 0 {
		maxPerConn = rpc.DefaultMaxSubscriptionsPerConn
	}
	return &AgentStream{
		chain: chain, log: log, buffer: buffer, maxPerConn: maxPerConn,
		lastSeq: make(map[common.Address]uint64),
		ring:    make([]relayed, AgentRecentEvents),
		subs:    make(map[*agentSub]struct{}),
		perConn: make(map[string]int),
	}
}

// registerAgentService adds the agent_ namespace to o.Services unless the caller set one.
func (n *Node) registerAgentService(o *rpc.Options) {
	if _, ok := o.Services["agent"]; ok {
		return
	}
	n.agents = newAgentStream(n.chain, n.log, o.SubscriptionBuffer, o.MaxSubscriptionsPerConn)
	n.agentAPI = &agentAPI{s: n.agents}
	o.Services["agent"] = n.agentAPI
}

// Agents returns the node's agent event stream, or nil when Config.RPC.Services replaced the
// agent namespace.
func (n *Node) Agents() *AgentStream { return n.agents }

// Stats returns the stream's counters.
func (s *AgentStream) Stats() AgentStats {
	s.mu.Lock()
	subs := len(s.subs)
	s.mu.Unlock()
	return AgentStats{Published: s.published.Load(), Rejected: s.rejected.Load(), Dropped: s.dropped.Load(), Subscriptions: subs}
}

// agentError is a JSON-RPC error with one of event's codes; it unwraps to the event error.
type agentError struct {
	code int
	err  error
}

func (e *agentError) Error() string  { return e.err.Error() }
func (e *agentError) ErrorCode() int { return e.code }
func (e *agentError) Unwrap() error  { return e.err }

// classify gives err its JSON-RPC code.
func classify(err error) error {
	var ae *agentError
	switch {
	case err == nil || errors.As(err, &ae):
		return err
	case errors.Is(err, event.ErrTooLarge):
		return &agentError{event.CodeTooLarge, err}
	case errors.Is(err, event.ErrBadSignature):
		return &agentError{event.CodeBadSignature, err}
	case errors.Is(err, event.ErrNotRegistered):
		return &agentError{event.CodeNotRegistered, err}
	case errors.Is(err, event.ErrStaleSeq):
		return &agentError{event.CodeStaleSeq, err}
	}
	return &agentError{event.CodeInvalid, err}
}

// Publish checks an encoded event from outside (event.Decode, then the registry and seq) and
// relays it.
func (s *AgentStream) Publish(ctx context.Context, raw []byte) error {
	e, err := event.Decode(raw)
	if err != nil {
		s.rejected.Add(1)
		return classify(err)
	}
	return s.relay(ctx, e)
}

// PublishLocal relays an event of an agent running in the node's process. It is checked like
// agent_publish: signed by a registered, active agent, with a seq above its last, and at most
// event.MaxSize encoded. Errors wrap event's (errors.Is).
func (s *AgentStream) PublishLocal(ctx context.Context, e *event.Event) error {
	if err := e.Verify(); err != nil {
		s.rejected.Add(1)
		return classify(err)
	}
	c := *e // the caller may reuse e
	return s.relay(ctx, &c)
}

func (s *AgentStream) relay(ctx context.Context, e *event.Event) (err error) {
	defer func() {
		if err != nil {
			s.rejected.Add(1)
			err = classify(err)
		}
	}()
	enc, err := e.Encode()
	if err != nil {
		return err
	}
	if err := s.checkAgent(ctx, e.Agent); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := s.lastSeq[e.Agent]; e.Seq <= last {
		return fmt.Errorf("%w: seq %d, last relayed %d", event.ErrStaleSeq, e.Seq, last)
	}
	s.lastSeq[e.Agent] = e.Seq
	r := relayed{ev: e, enc: enc}
	s.ring[s.next%uint64(len(s.ring))] = r
	s.next++
	s.published.Add(1)
	for sub := range s.subs {
		if !sub.filter.Match(e) {
			continue
		}
		select {
		case sub.queue <- r:
		default:
			s.dropLocked(sub, "subscription buffer full")
		}
	}
	return nil
}

// checkAgent reads the iDAO's agent(a) view at the head.
func (s *AgentStream) checkAgent(ctx context.Context, a common.Address) error {
	head := s.chain.CurrentHeader()
	if h, ok := s.activeCache.Load(a); ok && h.(common.Hash) == head.Hash() {
		return nil
	}
	data, err := idao.ABI.Pack("agent", a)
	if err != nil {
		return err
	}
	to := idao.Address
	res, err := s.chain.Call(ctx, &gethcore.Message{To: &to, Data: data}, head.Number.Uint64())
	if err != nil {
		return &agentError{-32000, fmt.Errorf("agent registry: %w", err)}
	}
	if res.Err != nil { // UnknownAgent, or no iDAO module
		return fmt.Errorf("%w: %s at block %d", event.ErrNotRegistered, a, head.Number)
	}
	vals, err := idao.ABI.Unpack("agent", res.ReturnData)
	if err != nil || len(vals) != 1 {
		return &agentError{-32000, fmt.Errorf("agent registry: %d outputs, %v", len(vals), err)}
	}
	var info idao.AgentInfo
	abi.ConvertType(vals[0], &info)
	if info.Agent != a || !info.Active {
		return fmt.Errorf("%w: %s is inactive at block %d", event.ErrNotRegistered, a, head.Number)
	}
	s.activeCache.Store(a, head.Hash())
	return nil
}

// Recent returns up to limit of the most recent events matching f, oldest first, encoded.
func (s *AgentStream) Recent(f event.Filter, limit int) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []json.RawMessage
	n := uint64(len(s.ring))
	for i := s.next; i > 0 && i+n > s.next && len(out) < limit; i-- {
		r := s.ring[(i-1)%n]
		if f.Match(r.ev) {
			out = append(out, r.enc)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (s *AgentStream) add(f event.Filter, remote string) (*agentSub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if remote != "" {
		if s.perConn[remote] >= s.maxPerConn {
			return nil, &agentError{rpc.CodeLimitExceeded, fmt.Errorf("%w (limit %d)", rpc.ErrTooManySubscriptions, s.maxPerConn)}
		}
		s.perConn[remote]++
	}
	sub := &agentSub{filter: f, queue: make(chan relayed, s.buffer), gone: make(chan struct{}), remote: remote}
	s.subs[sub] = struct{}{}
	return sub, nil
}

func (s *AgentStream) remove(sub *agentSub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(sub)
}

func (s *AgentStream) removeLocked(sub *agentSub) {
	if _, ok := s.subs[sub]; !ok {
		return
	}
	delete(s.subs, sub)
	if sub.remote != "" {
		if s.perConn[sub.remote]--; s.perConn[sub.remote] <= 0 {
			delete(s.perConn, sub.remote)
		}
	}
}

// dropLocked removes sub and tells its forwarder to stop. It never blocks.
func (s *AgentStream) dropLocked(sub *agentSub, reason string) {
	s.removeLocked(sub)
	sub.once.Do(func() {
		sub.reason = reason
		close(sub.gone)
		s.dropped.Add(1)
		remote := sub.remote
		if remote == "" {
			remote = "in-process"
		}
		s.log.Warn("agent: dropping subscriber", "reason", reason, "remote", remote)
	})
}

func (s *AgentStream) drop(sub *agentSub, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(sub, reason)
}

// Subscribe delivers events matching f to ch, in publication order, until unsubscribed. A
// subscriber that lets more than the subscription buffer's worth of events wait is dropped: the
// subscription's Err channel then yields ErrAgentSubscriptionDropped.
func (s *AgentStream) Subscribe(f event.Filter, ch chan<- *event.Event) (gethevent.Subscription, error) {
	if err := f.Validate(); err != nil {
		return nil, classify(err)
	}
	sub, err := s.add(f, "")
	if err != nil {
		return nil, err
	}
	return gethevent.NewSubscription(func(quit <-chan struct{}) error {
		defer s.remove(sub)
		for {
			select {
			case <-sub.gone:
				return fmt.Errorf("%w: %s", ErrAgentSubscriptionDropped, sub.reason)
			case <-quit:
				return nil
			case r := <-sub.queue:
				select {
				case ch <- r.ev:
				case <-sub.gone:
					return fmt.Errorf("%w: %s", ErrAgentSubscriptionDropped, sub.reason)
				case <-quit:
					return nil
				}
			}
		}
	}), nil
}

// agentAPI is the agent_ JSON-RPC namespace.
type agentAPI struct {
	s *AgentStream
	// closeConn closes a WebSocket connection by remote address (rpc.Server.CloseConn); set by
	// the node once the server exists, before it serves.
	closeConn func(remoteAddr string) bool
}

// LastSeq is the highest Seq relayed for agent since the node started (agent_lastSeq), 0 if
// none: an agent process that restarts continues from it, since a Seq not above it is refused.
func (a *agentAPI) LastSeq(agent common.Address) hexutil.Uint64 {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	return hexutil.Uint64(a.s.lastSeq[agent])
}

// Publish relays a signed event (agent_publish); errors carry event's codes.
func (a *agentAPI) Publish(ctx context.Context, raw json.RawMessage) error {
	return a.s.Publish(ctx, raw)
}

// Recent returns up to limit (default DefaultAgentRecentLimit, at most AgentRecentEvents) of the
// most recent events matching the filter, oldest first (agent_recent).
func (a *agentAPI) Recent(f *event.Filter, limit *hexutil.Uint64) ([]json.RawMessage, error) {
	var filter event.Filter
	if f != nil {
		filter = *f
	}
	if err := filter.Validate(); err != nil {
		return nil, classify(err)
	}
	n := uint64(DefaultAgentRecentLimit)
	if limit != nil {
		n = uint64(*limit)
	}
	if n > AgentRecentEvents {
		return nil, classify(fmt.Errorf("limit %d is over %d", n, AgentRecentEvents))
	}
	out := a.s.Recent(filter, int(n))
	if out == nil {
		out = []json.RawMessage{}
	}
	return out, nil
}

// Events notifies each relayed event matching the filter (agent_subscribe "events"; WebSocket
// only). Each notification is the event's JSON; a subscriber dropped for falling behind gets
// event.Dropped as its last one.
func (a *agentAPI) Events(ctx context.Context, f *event.Filter) (*gethrpc.Subscription, error) {
	var filter event.Filter
	if f != nil {
		filter = *f
	}
	if err := filter.Validate(); err != nil {
		return nil, classify(err)
	}
	notifier, ok := gethrpc.NotifierFromContext(ctx)
	if !ok {
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	remote := gethrpc.PeerInfoFromContext(ctx).RemoteAddr
	if remote == "" {
		remote = "unknown"
	}
	sub, err := a.s.add(filter, remote)
	if err != nil {
		return nil, err
	}
	rs := notifier.CreateSubscription()
	go a.forward(notifier, rs, sub)
	return rs, nil
}

// dropped tells a dropped subscriber why (event.Dropped, written synchronously, so it arrives
// unless the client stopped reading) and then closes its connection, as chain/rpc does with the
// eth_subscribe subscribers it drops: a client that fell behind must reconnect and catch up
// (agent_recent) rather than keep a connection that silently lost events.
func (a *agentAPI) dropped(n *gethrpc.Notifier, rs *gethrpc.Subscription, sub *agentSub) {
	_ = n.Notify(rs.ID, event.Dropped{Dropped: sub.reason})
	if a.closeConn != nil && sub.remote != "" {
		a.closeConn(sub.remote)
	}
}

// forward writes sub's queue to the client until it unsubscribes, the connection ends or the
// stream drops it.
func (a *agentAPI) forward(n *gethrpc.Notifier, rs *gethrpc.Subscription, sub *agentSub) {
	defer a.s.remove(sub)
	for {
		select {
		case <-sub.gone:
			a.dropped(n, rs, sub)
			return
		default:
		}
		select {
		case r := <-sub.queue:
			if err := n.Notify(rs.ID, r.enc); err != nil {
				a.s.drop(sub, "notification failed: "+err.Error())
				a.dropped(n, rs, sub)
				return
			}
		case <-sub.gone:
			a.dropped(n, rs, sub)
			return
		case <-rs.Err():
			return
		}
	}
}
