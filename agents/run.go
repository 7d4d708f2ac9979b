package agents

import (
	"context"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	gethevent "github.com/ethereum/go-ethereum/event"

	"github.com/metisgo/metis/agents/event"
)

// Run emits started, starts the spec's triggers and handles what they deliver, one step at a
// time, until ctx ends; then it emits stopped and returns nil. Chain triggers need the agent's
// connection to be a WebSocket one; a dropped subscription is an error event and is retried.
func (a *Agent) Run(ctx context.Context) error {
	names := a.toolNames()
	a.emit(ctx, event.Started, map[string]any{"address": a.addr, "tools": names,
		"triggers": len(a.spec.Triggers), "chainId": a.chainID.String()})
	ctx, cancel := context.WithCancel(ctx)
	triggers := make(chan Trigger, 64)
	done := make(chan struct{})
	n := 0
	for _, ts := range a.spec.Triggers {
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			a.produce(ctx, ts, triggers)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			cancel()
			for range n {
				<-done
			}
			a.emit(ctx, event.Stopped, map[string]any{"reason": context.Cause(ctx).Error()})
			return nil
		case tr := <-triggers:
			if err := a.Handle(ctx, tr); err != nil && ctx.Err() == nil {
				a.log.Warn("agent step failed", "agent", a.spec.Name, "err", err)
			}
		}
	}
}

// produce delivers one trigger spec's triggers until ctx ends.
func (a *Agent) produce(ctx context.Context, ts TriggerSpec, out chan<- Trigger) {
	deliver := func(t Trigger) bool {
		t.Prompt = ts.Prompt
		select {
		case out <- t:
			return true
		case <-ctx.Done():
			return false
		}
	}
	switch ts.Kind {
	case TriggerStart:
		deliver(Trigger{Kind: TriggerStart})
	case TriggerInterval:
		t := time.NewTicker(ts.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !deliver(Trigger{Kind: TriggerInterval}) {
					return
				}
			}
		}
	case TriggerChain:
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := a.watch(ctx, ts.Event, func(data map[string]any) bool {
				backoff = 100 * time.Millisecond
				return deliver(Trigger{Kind: TriggerChain, Event: ts.Event, Data: data})
			})
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = errors.New("subscription ended")
			}
			a.emitError(ctx, "trigger", err, "event", ts.Event)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// watch subscribes to one chain event and calls fn with each, until fn returns false, the
// subscription fails or ctx ends.
func (a *Agent) watch(ctx context.Context, name string, fn func(map[string]any) bool) error {
	switch name {
	case "proposal_created":
		return watchLoop(ctx, a.IDAO.WatchProposalCreated, fn)
	case "vote_cast":
		return watchLoop(ctx, a.IDAO.WatchVoteCast, fn)
	case "task_requested":
		return watchLoop(ctx, a.Verifier.WatchTaskRequested, fn)
	case "class_created":
		return watchLoop(ctx, a.DAT.WatchClassCreated, fn)
	case "minted":
		return watchLoop(ctx, a.DAT.WatchMinted, fn)
	}
	return errors.New("unknown chain event " + name)
}

func watchLoop[T any](ctx context.Context, sub func(context.Context, chan<- *T) (gethevent.Subscription, error), fn func(map[string]any) bool) error {
	ch := make(chan *T, 16)
	s, err := sub(ctx, ch)
	if err != nil {
		return err
	}
	defer s.Unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.Err():
			return err
		case ev := <-ch:
			if !fn(eventData(ev)) {
				return nil
			}
		}
	}
}

// eventData flattens a decoded module event for the model and the trigger's event: big
// integers as decimal strings, byte arrays as hex, the log as block and tx.
func eventData(ev any) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(ev)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return out
	}
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if !f.IsExported() {
			continue
		}
		switch x := fv.Interface().(type) {
		case types.Log:
			out["block"], out["tx"] = x.BlockNumber, x.TxHash
		case *big.Int:
			if x != nil {
				out[f.Name] = x.String()
			}
		case []*big.Int:
			s := make([]string, len(x))
			for i, b := range x {
				s[i] = b.String()
			}
			out[f.Name] = s
		case [32]byte:
			out[f.Name] = "0x" + hex.EncodeToString(x[:])
		case []byte:
			out[f.Name] = "0x" + hex.EncodeToString(x)
		case [][]byte:
			s := make([]string, len(x))
			for i, b := range x {
				s[i] = "0x" + hex.EncodeToString(b)
			}
			out[f.Name] = s
		default:
			out[f.Name] = x
		}
	}
	return out
}
