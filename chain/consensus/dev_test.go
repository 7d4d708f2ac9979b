package consensus

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/trie"
)

// testChain stands in for chain/core here, so the sealer's timing logic is tested on its own;
// chain/node's end-to-end tests run the sealer on the real chain. Each block takes at most
// perBlock pending transactions, like a gas limit would.
type testChain struct {
	mu       sync.Mutex
	pending  int
	perBlock int
	blocks   []int // transactions per sealed block
	feed     event.Feed
}

func (c *testChain) add(n int) {
	c.mu.Lock()
	c.pending += n
	c.mu.Unlock()
	c.feed.Send(make([]*types.Transaction, n))
}

func (c *testChain) Seal(context.Context) (*types.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(c.pending, c.perBlock)
	c.pending -= n
	c.blocks = append(c.blocks, n)
	txs := make([]*types.Transaction, n)
	for i := range txs {
		txs[i] = types.NewTx(&types.LegacyTx{Nonce: uint64(i)})
	}
	h := &types.Header{Number: big.NewInt(int64(len(c.blocks)))}
	return types.NewBlock(h, &types.Body{Transactions: txs}, nil, trie.NewStackTrie(nil)), nil
}

func (c *testChain) HasPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending > 0
}

func (c *testChain) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return c.feed.Subscribe(ch)
}

func (c *testChain) sealed() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.blocks...)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestInstantSealsWhatArrivesAndRefills(t *testing.T) {
	c := &testChain{perBlock: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- NewDev(c, 0, nil).Run(ctx) }()
	c.add(7) // more than one block holds: the sealer must keep sealing until the pool is empty
	waitFor(t, func() bool { return !c.HasPending() })
	got := c.sealed()
	total := 0
	for _, n := range got {
		if n == 0 {
			t.Fatalf("instant mode sealed an empty block: %v", got)
		}
		total += n
	}
	if total != 7 {
		t.Fatalf("sealed %v, want 7 transactions in all", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestIntervalSealsEmptyBlocks(t *testing.T) {
	c := &testChain{perBlock: 100}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- NewDev(c, 5*time.Millisecond, nil).Run(ctx) }()
	waitFor(t, func() bool { return len(c.sealed()) >= 3 })
	c.add(2)
	waitFor(t, func() bool { return !c.HasPending() })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := c.sealed()
	if got[0] != 0 {
		t.Fatalf("first interval block held %d transactions, want an empty block", got[0])
	}
}
