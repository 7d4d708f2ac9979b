package rpc

// Subscriptions. The server holds one subscription to each backend feed and a hub goroutine
// that reads it at once and fans every event out to the subscribers' bounded queues without
// ever blocking: a subscriber whose queue is full is dropped and its connection closed. Each
// subscriber has a forwarding goroutine that writes its queue to the client with go-ethereum's
// rpc.Notifier (whose writes block for at most the codec's write deadline, 10 s). So a client
// that stops reading costs its own connection and never delays the chain's event feeds, which
// go-ethereum's event.Feed delivers synchronously.

import (
	"context"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

type eventKind int

const (
	kindHeads eventKind = iota
	kindLogs
	kindTxs
)

func (k eventKind) String() string {
	return [...]string{"newHeads", "logs", "newPendingTransactions"}[k]
}

// feedBuffer is the capacity of the channels the hub hands to the backend feeds: it
// absorbs bursts while the hub fans out one event.
const feedBuffer = 128

// subscriber is one eth_subscribe.
type subscriber struct {
	kind   eventKind
	crit   FilterCriteria // kindLogs
	fullTx bool           // kindTxs
	conn   *wsConn        // nil when the connection is not known (no limit, cannot close)
	queue  chan any       // *types.Header, []*types.Log or []*types.Transaction
	gone   chan struct{}  // closed when the hub dropped the subscriber
	once   sync.Once
}

type hub struct {
	s      *Server
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	nLogs  int
	heads  event.Subscription
	txs    event.Subscription
	quit   chan struct{}
	done   chan struct{}
	closer sync.Once
}

func newHub(s *Server) *hub {
	h := &hub{
		s:    s,
		subs: make(map[*subscriber]struct{}),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	heads := make(chan *types.Header, feedBuffer)
	txs := make(chan []*types.Transaction, feedBuffer)
	h.heads = s.backend.SubscribeChainHead(heads)
	h.txs = s.backend.SubscribeNewTxs(txs)
	go h.loop(heads, txs)
	return h
}

func (h *hub) loop(heads chan *types.Header, txs chan []*types.Transaction) {
	defer close(h.done)
	defer h.heads.Unsubscribe()
	defer h.txs.Unsubscribe()
	headErr, txErr := h.heads.Err(), h.txs.Err()
	for {
		select {
		case head := <-heads:
			h.publishHead(head)
		case batch := <-txs:
			for _, sub := range h.snapshot(kindTxs) {
				h.deliver(sub, batch)
			}
		case err := <-headErr:
			h.s.log.Warn("rpc: chain head feed ended", "err", err)
			headErr = nil
		case err := <-txErr:
			h.s.log.Warn("rpc: new transaction feed ended", "err", err)
			txErr = nil
		case <-h.quit:
			return
		}
	}
}

func (h *hub) publishHead(head *types.Header) {
	for _, sub := range h.snapshot(kindHeads) {
		h.deliver(sub, head)
	}
	subs := h.snapshot(kindLogs)
	if len(subs) == 0 {
		return
	}
	logs, err := h.s.blockLogs(head.Hash())
	if err != nil {
		h.s.log.Warn("rpc: logs of new head", "number", head.Number, "hash", head.Hash(), "err", err)
		return
	}
	for _, sub := range subs {
		if m := filterLogs(logs, sub.crit.FromBlock, sub.crit.ToBlock, sub.crit.Addresses, sub.crit.Topics); len(m) > 0 {
			h.deliver(sub, m)
		}
	}
}

func (h *hub) snapshot(kind eventKind) []*subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	if kind == kindLogs && h.nLogs == 0 {
		return nil
	}
	var out []*subscriber
	for sub := range h.subs {
		if sub.kind == kind {
			out = append(out, sub)
		}
	}
	return out
}

// deliver queues v for sub, or drops sub when its queue is full. It never blocks.
func (h *hub) deliver(sub *subscriber, v any) {
	select {
	case sub.queue <- v:
	default:
		h.drop(sub, "subscription buffer full")
	}
}

// drop removes sub and closes its connection (a subscriber that cannot keep up, or whose
// connection failed), which ends every subscription on that connection.
func (h *hub) drop(sub *subscriber, reason string) {
	h.remove(sub)
	sub.once.Do(func() {
		close(sub.gone)
		h.s.stats.dropped.Add(1)
		key := "unknown"
		if sub.conn != nil {
			key = sub.conn.key
			sub.conn.conn.Close()
		}
		h.s.log.Warn("rpc: dropping subscriber", "reason", reason, "kind", sub.kind, "remote", key)
	})
}

func (h *hub) add(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[sub] = struct{}{}
	if sub.kind == kindLogs {
		h.nLogs++
	}
}

func (h *hub) remove(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub]; ok {
		delete(h.subs, sub)
		if sub.kind == kindLogs {
			h.nLogs--
		}
	}
}

func (h *hub) close() {
	h.closer.Do(func() {
		close(h.quit)
		<-h.done
	})
}

// subscribe creates the subscription of the eth_subscribe call in ctx.
func (s *Server) subscribe(ctx context.Context, kind eventKind, crit *FilterCriteria, fullTx bool) (*gethrpc.Subscription, error) {
	notifier, ok := gethrpc.NotifierFromContext(ctx)
	if !ok {
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	conn := s.conns.get(gethrpc.PeerInfoFromContext(ctx).RemoteAddr)
	if conn != nil && !conn.acquire(s.opts.MaxSubscriptionsPerConn) {
		return nil, &limitError{fmt.Errorf("%w (limit %d)", ErrTooManySubscriptions, s.opts.MaxSubscriptionsPerConn)}
	}
	sub := &subscriber{
		kind:   kind,
		fullTx: fullTx,
		conn:   conn,
		queue:  make(chan any, s.opts.SubscriptionBuffer),
		gone:   make(chan struct{}),
	}
	if crit != nil {
		sub.crit = *crit
	}
	rpcSub := notifier.CreateSubscription()
	s.stats.subscriptions.Add(1)
	s.hub.add(sub)
	go s.forward(notifier, rpcSub, sub)
	return rpcSub, nil
}

// forward writes sub's events to the client until it unsubscribes, the connection ends or
// the hub drops it.
func (s *Server) forward(n *gethrpc.Notifier, rs *gethrpc.Subscription, sub *subscriber) {
	defer func() {
		s.hub.remove(sub)
		if sub.conn != nil {
			sub.conn.release()
		}
		s.stats.subscriptions.Add(-1)
	}()
	for {
		select {
		case v := <-sub.queue:
			if err := s.notify(n, rs.ID, sub, v); err != nil {
				// The write failed or timed out: the connection is unusable.
				s.hub.drop(sub, "notification failed: "+err.Error())
				return
			}
		case <-sub.gone:
			return
		case <-rs.Err():
			return
		}
	}
}

func (s *Server) notify(n *gethrpc.Notifier, id gethrpc.ID, sub *subscriber, v any) error {
	switch v := v.(type) {
	case *types.Header:
		return n.Notify(id, v)
	case []*types.Log:
		for _, l := range v {
			if err := n.Notify(id, l); err != nil {
				return err
			}
		}
	case []*types.Transaction:
		var head *types.Header
		if sub.fullTx {
			head = s.backend.CurrentHeader()
		}
		for _, tx := range v {
			var err error
			if sub.fullTx {
				err = n.Notify(id, newRPCPendingTransaction(tx, head, s.backend.ChainConfig()))
			} else {
				err = n.Notify(id, tx.Hash())
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
