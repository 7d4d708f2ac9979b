package rpc

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// filterLogsFunc is ethclient.Client.FilterLogs, for running one check over HTTP and WebSocket.
type filterLogsFunc func(context.Context, ethereum.FilterQuery) ([]types.Log, error)

// TestGetLogsQueryLimit: a filter with more addresses (or topics in one position) than
// Options.LogQueryLimit is refused at once with go-ethereum's message, over HTTP and WebSocket
// and for a logs subscription; a filter at the limit is answered. Issue 12's probe sent 10,000
// addresses over 1,000 blocks and took 10 s of CPU.
func TestGetLogsQueryLimit(t *testing.T) {
	b := newChainBackend(t, 0)
	la, _, _ := chainWithLogs(t, b)
	_, addr := startServer(t, b, Options{})
	ctx := context.Background()
	many := func(n int, last common.Address) []common.Address {
		out := make([]common.Address, 0, n)
		for i := range n - 1 {
			out = append(out, common.BigToAddress(big.NewInt(int64(0x10000+i))))
		}
		return append(out, last)
	}
	const want = "exceed max addresses or topics per search position"
	httpEC, _ := dialHTTP(t, addr)
	wsEC, _ := dialWS(t, addr)
	for name, filterLogs := range map[string]filterLogsFunc{"http": httpEC.FilterLogs, "ws": wsEC.FilterLogs} {
		_, err := filterLogs(ctx, ethereum.FilterQuery{Addresses: many(10_000, la)})
		if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: 10,000 addresses: %v (code %d)", name, err, rpcCode(err))
		}
		logs, err := filterLogs(ctx, ethereum.FilterQuery{Addresses: many(DefaultLogQueryLimit, la)})
		if err != nil || len(logs) != 2 {
			t.Errorf("%s: %d addresses, the last emitting: %d logs, %v", name, DefaultLogQueryLimit, len(logs), err)
		}
	}
	_, err := wsEC.SubscribeFilterLogs(ctx, ethereum.FilterQuery{Addresses: many(DefaultLogQueryLimit+1, la)}, make(chan types.Log))
	if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), want) {
		t.Errorf("logs subscription with %d addresses: %v", DefaultLogQueryLimit+1, err)
	}

	_, addr = startServer(t, b, Options{LogQueryLimit: 2})
	ec, _ := dialHTTP(t, addr)
	_, err = ec.FilterLogs(ctx, ethereum.FilterQuery{Topics: [][]common.Hash{nil, {topicA, topicB, topicC}}})
	if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), want) {
		t.Errorf("three topics in a position, limit 2: %v", err)
	}
	if logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{Topics: [][]common.Hash{{topicA, topicC}}}); err != nil || len(logs) != 3 {
		t.Errorf("two topics in a position, limit 2: %d logs, %v", len(logs), err)
	}
}

// TestRequestTimeoutWebSocket: over WebSocket, where go-ethereum's rpc package applies no time
// limit, eth_getLogs obeys Options.RequestTimeout and answers go-ethereum's HTTP timeout error
// (-32002 "request timed out"). First on a real chain with a limit that has passed before the
// search starts, then with a backend that searches until it is stopped, where HTTP and
// WebSocket must give the same answer.
func TestRequestTimeoutWebSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	chain := newChainBackend(t, 0)
	chainWithLogs(t, chain)
	_, addr := startServer(t, chain, Options{RequestTimeout: time.Nanosecond})
	ec, _ := dialWS(t, addr)
	if _, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0)}); rpcCode(err) != CodeTimeout || err.Error() != "request timed out" {
		t.Errorf("real chain over WebSocket: %v (code %d), want -32002 request timed out", err, rpcCode(err))
	}

	b := newTestBackend()
	b.mu.Lock()
	b.logsFn = func(ctx context.Context) ([]*types.Log, error) {
		<-ctx.Done() // a search that only its deadline stops
		return nil, ctx.Err()
	}
	b.mu.Unlock()
	_, addr = startServer(t, b, Options{RequestTimeout: 500 * time.Millisecond})
	httpEC, _ := dialHTTP(t, addr)
	wsEC, _ := dialWS(t, addr)
	for name, filterLogs := range map[string]filterLogsFunc{"http": httpEC.FilterLogs, "ws": wsEC.FilterLogs} {
		if _, err := filterLogs(ctx, ethereum.FilterQuery{}); rpcCode(err) != CodeTimeout || err.Error() != "request timed out" {
			t.Errorf("%s: %v (code %d), want -32002 request timed out", name, err, rpcCode(err))
		}
	}
}
