package chaintx

import (
	"context"
	"fmt"
	"math/big"
	"reflect"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// Filter returns the module's events name mined in blocks [from, to] (to nil: up to the head),
// decoded as Watch decodes them (a field Raw types.Log receives the log). It works over HTTP as
// well as WebSocket; services use it to catch up on what happened before they subscribed.
// query optionally filters the indexed arguments, in order.
func Filter[T any](ctx context.Context, c *Client, name string, from uint64, to *uint64, query ...[]any) ([]*T, error) {
	ev, ok := c.ABI.Events[name]
	if !ok {
		return nil, fmt.Errorf("no event %q", name)
	}
	topics, err := abi.MakeTopics(query...)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", name, err)
	}
	q := ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from),
		Addresses: []common.Address{c.Address},
		Topics:    append([][]common.Hash{{ev.ID}}, topics...),
	}
	if to != nil {
		q.ToBlock = new(big.Int).SetUint64(*to)
	}
	logs, err := c.Eth.FilterLogs(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", name, err)
	}
	out := make([]*T, 0, len(logs))
	for _, l := range logs {
		v := new(T)
		if err := c.contract.UnpackLog(v, name, l); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", name, err)
		}
		if f := reflect.ValueOf(v).Elem().FieldByName("Raw"); f.IsValid() && f.Type() == reflect.TypeOf(l) {
			f.Set(reflect.ValueOf(l))
		}
		out = append(out, v)
	}
	return out, nil
}
