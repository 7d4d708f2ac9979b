package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/service"
)

// runService runs a verifier/service loop (a Prover's or a Verifier's Run) as the identity's:
// started and stopped around it, tx_sent for each transaction it signs (serviceConfig's
// signer), and its log lines as events: those naming a transaction as tx_mined, warnings and
// errors as error, other decisions as thought (serviceConfig's logger).
func runService(ctx context.Context, id *identity, role string, run func(context.Context) error) error {
	id.emit(ctx, event.Started, map[string]any{"address": id.addr, "service": role})
	err := run(ctx)
	reason := "context done"
	if err != nil {
		reason = err.Error()
		id.emit(ctx, event.Error, map[string]any{"stage": role, "error": err.Error()})
	}
	id.emit(ctx, event.Stopped, map[string]any{"reason": reason})
	return err
}

// serviceConfig is a service's configuration whose log lines become the identity's events and
// whose signer reports each transaction it signs as tx_sent.
func serviceConfig(rpc, modelDir string, id *identity, chainID *big.Int, next slog.Handler) service.Config {
	keyed := bind.NewKeyedTransactor(id.key, chainID)
	signer := &bind.TransactOpts{From: keyed.From, Signer: func(from common.Address, tx *types.Transaction) (*types.Transaction, error) {
		signed, err := keyed.Signer(from, tx)
		if err != nil {
			return nil, err
		}
		d := map[string]any{"hash": signed.Hash(), "nonce": signed.Nonce(), "value": signed.Value().String(), "gas": signed.Gas()}
		if to := signed.To(); to != nil {
			d["to"] = *to
			d["method"] = methodName(signed.Data())
		}
		id.emit(context.Background(), event.TxSent, d)
		return signed, nil
	}}
	return service.Config{RPC: rpc, Key: id.key, Signer: signer, ModelDir: modelDir, Logger: slog.New(&eventHandler{id: id, next: next})}
}

// eventHandler turns a service's log records into agent events.
type eventHandler struct {
	id    *identity
	next  slog.Handler // may be nil
	attrs []slog.Attr
}

func (h *eventHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || (h.next != nil && h.next.Enabled(ctx, l))
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		_ = h.next.Handle(ctx, r.Clone())
	}
	if r.Level < slog.LevelInfo || strings.HasSuffix(r.Message, " starting") || strings.HasSuffix(r.Message, " stopped") {
		return nil
	}
	d := map[string]any{}
	var kv []string
	add := func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		d[a.Key] = v
		kv = append(kv, a.Key+"="+v)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	text := r.Message
	if len(kv) > 0 {
		text += " " + strings.Join(kv, " ")
	}
	switch {
	case r.Level >= slog.LevelWarn:
		h.id.emit(ctx, event.Error, map[string]any{"stage": "service", "error": text})
	case d["tx"] != nil:
		detail := []string{}
		for _, k := range []string{"task", "dispute", "why", "steps", "tokens", "step"} {
			if v, ok := d[k]; ok {
				detail = append(detail, fmt.Sprintf("%s=%v", k, v))
			}
		}
		h.id.emit(ctx, event.TxMined, map[string]any{"hash": d["tx"], "block": d["block"], "status": 1,
			"method": r.Message, "detail": strings.Join(detail, " ")})
	default:
		h.id.emit(ctx, event.Thought, map[string]any{"text": text})
	}
	return nil
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	if h.next != nil {
		c.next = h.next.WithAttrs(as)
	}
	return &c
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

// methodName is the name of the system-module method data calls, or its hex selector.
func methodName(data []byte) string {
	if len(data) < 4 {
		return ""
	}
	for _, a := range []*abi.ABI{verifier.ABI, dat.ABI, idao.ABI, lazai.ABI} {
		if m, err := a.MethodById(data[:4]); err == nil {
			return m.Name
		}
	}
	return fmt.Sprintf("%x", data[:4])
}
