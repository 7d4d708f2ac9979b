// Package stream is the Go client of the node's agent event stream (the agent_ JSON-RPC
// namespace): agents publish their signed events (agents/event) with Publish; dashboards and
// other programs follow them with Subscribe over WebSocket and catch up with Recent.
//
// Errors of Publish wrap agents/event's (errors.Is(err, event.ErrNotRegistered), ...), recovered
// from the node's JSON-RPC error codes, and keep the node's message.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethevent "github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/agents/event"
)

// Publish sends a signed event to the node (agent_publish), which relays it if it is the
// signature of a registered, active agent with a seq above its last.
func Publish(ctx context.Context, c *rpc.Client, e *event.Event) error {
	raw, err := e.Encode()
	if err != nil {
		return err
	}
	return wrap(c.CallContext(ctx, nil, "agent_publish", json.RawMessage(raw)))
}

// wrap maps the node's error codes back to event's errors.
func wrap(err error) error {
	var re rpc.Error
	if !errors.As(err, &re) {
		return err
	}
	var target error
	switch re.ErrorCode() {
	case event.CodeTooLarge:
		target = event.ErrTooLarge
	case event.CodeBadSignature:
		target = event.ErrBadSignature
	case event.CodeNotRegistered:
		target = event.ErrNotRegistered
	case event.CodeStaleSeq:
		target = event.ErrStaleSeq
	default:
		return err
	}
	return &nodeError{target: target, err: err}
}

// nodeError is a node's error that is also one of event's.
type nodeError struct {
	target error
	err    error // the rpc.Error, its message the node's
}

func (e *nodeError) Error() string   { return e.err.Error() }
func (e *nodeError) Unwrap() []error { return []error{e.target, e.err} }

// LastSeq asks the node for the highest Seq it relayed for agent (agent_lastSeq), 0 if none: a
// restarted agent continues from it (agents.WithLastSeq).
func LastSeq(ctx context.Context, c *rpc.Client, agent common.Address) (uint64, error) {
	var n hexutil.Uint64
	if err := c.CallContext(ctx, &n, "agent_lastSeq", agent); err != nil {
		return 0, wrap(err)
	}
	return uint64(n), nil
}

// Recent returns up to limit (0: the node's default, 100) of the most recent events matching f
// that the node still holds (agent_recent), oldest first.
func Recent(ctx context.Context, c *rpc.Client, f event.Filter, limit int) ([]*event.Event, error) {
	var out []*event.Event
	var lim *hexutil.Uint64
	if limit > 0 {
		l := hexutil.Uint64(limit)
		lim = &l
	}
	if err := c.CallContext(ctx, &out, "agent_recent", f, lim); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// notification is one agent_subscribe notification: an event or, last, event.Dropped.
type notification struct{ e *event.Event }

// UnmarshalJSON fails on event.Dropped, which makes go-ethereum's client end the subscription
// with that error.
func (n *notification) UnmarshalJSON(b []byte) error {
	var w struct { // one pass for both shapes
		event.Event
		event.Dropped
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.Dropped.Dropped != "" {
		return fmt.Errorf("%w: %s", event.ErrDropped, w.Dropped.Dropped)
	}
	n.e = &w.Event
	return nil
}

// Subscribe delivers the events matching f to ch, in the order the node relayed them, until
// the subscription is unsubscribed or fails; c must be a WebSocket (or IPC) client. The node
// has checked every event's signature (call Verify to check again). Its Err channel yields an
// error wrapping event.ErrDropped when the node dropped the subscriber for falling behind: keep
// reading ch, or give ch room.
func Subscribe(ctx context.Context, c *rpc.Client, f event.Filter, ch chan<- *event.Event) (ethereum.Subscription, error) {
	in := make(chan notification, 64)
	sub, err := c.Subscribe(ctx, "agent", in, "events", f)
	if err != nil {
		return nil, wrap(err)
	}
	return gethevent.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case n := <-in:
				select {
				case ch <- n.e:
				case <-quit:
					return nil
				case err := <-sub.Err():
					return err
				}
			case <-quit:
				return nil
			case err := <-sub.Err():
				return err
			}
		}
	}), nil
}

// SubscribeURL dials wsURL and subscribes as Subscribe; the connection is closed when the
// subscription ends.
func SubscribeURL(ctx context.Context, wsURL string, f event.Filter, ch chan<- *event.Event) (ethereum.Subscription, error) {
	c, err := rpc.DialContext(ctx, wsURL)
	if err != nil {
		return nil, err
	}
	sub, err := Subscribe(ctx, c, f, ch)
	if err != nil {
		c.Close()
		return nil, err
	}
	return gethevent.NewSubscription(func(quit <-chan struct{}) error {
		defer c.Close()
		defer sub.Unsubscribe()
		select {
		case <-quit:
			return nil
		case err := <-sub.Err():
			return err
		}
	}), nil
}
