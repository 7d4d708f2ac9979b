package core

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/trie"
)

// TestStoredReceiptsMatchGeth checks the receipts the chain store derived once, at commit,
// against go-ethereum's own derivation from the consensus fields (types.Receipts.DeriveFields,
// what a geth node computes on every read): every field of every receipt, read one by one and
// per block. The consensus fields themselves are checked against the header's receipts root.
func TestStoredReceiptsMatchGeth(t *testing.T) {
	h := newHarness(t, testOptions())
	to := h.addrs[9]
	contract := crypto.CreateAddress(h.addrs[0], 0)
	h.send(0, nil, nil, storeLogInit(), 200_000, false)
	h.seal()
	sent := []*types.Transaction{
		h.send(1, &contract, nil, common.BigToHash(big.NewInt(7)).Bytes(), 100_000, false), // two topics
		h.send(2, &to, ether(1), nil, 21000, true),                                         // legacy transfer
		h.send(3, &contract, nil, revertWord.Bytes(), 100_000, false),                      // reverts
		h.send(4, nil, nil, storeLogInit(), 200_000, true),                                 // legacy creation
		h.send(5, &contract, nil, common.BigToHash(big.NewInt(8)).Bytes(), 100_000, false),
	}
	block := h.seal()
	if len(block.Transactions()) != len(sent) {
		t.Fatalf("block has %d transactions", len(block.Transactions()))
	}

	rs, err := h.c.Receipts(block.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if got := types.DeriveSha(rs, trie.NewStackTrie(nil)); got != block.ReceiptHash() {
		t.Fatalf("receipts root %s, header has %s", got, block.ReceiptHash())
	}
	if types.MergeBloom(rs) != block.Bloom() {
		t.Fatal("receipts' blooms differ from the header's")
	}
	ref := make(types.Receipts, len(rs))
	for i, r := range rs {
		c := &types.Receipt{Type: r.Type, Status: r.Status, CumulativeGasUsed: r.CumulativeGasUsed}
		for _, l := range r.Logs {
			c.Logs = append(c.Logs, &types.Log{Address: l.Address, Topics: l.Topics, Data: l.Data})
		}
		c.Bloom = types.CreateBloom(c)
		ref[i] = c
	}
	if err := ref.DeriveFields(h.c.ChainConfig(), block.Hash(), block.NumberU64(), block.Time(), block.BaseFee(), nil, block.Transactions()); err != nil {
		t.Fatal(err)
	}
	want := func(i int) string {
		if ref[i].Logs == nil {
			ref[i].Logs = []*types.Log{}
		}
		j, _ := json.Marshal(ref[i])
		return string(j)
	}
	for i, tx := range block.Transactions() { // the block orders them by tip, not as sent
		one, oneTx, err := h.c.TransactionReceipt(tx.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if oneTx.Hash() != tx.Hash() {
			t.Errorf("tx %d: TransactionReceipt returned transaction %s", i, oneTx.Hash())
		}
		for name, r := range map[string]*types.Receipt{"Receipt": one, "Receipts": rs[i]} {
			if got, _ := json.Marshal(r); string(got) != want(i) {
				t.Errorf("tx %d, %s:\n got %s\nwant %s", i, name, got, want(i))
			}
		}
	}
	if h.receipt(sent[2]).Status != types.ReceiptStatusFailed || h.receipt(sent[3]).ContractAddress != crypto.CreateAddress(h.addrs[4], 0) ||
		h.receipt(sent[4]).Logs[0].Index != 1 {
		t.Error("the block does not exercise what it should (failure, creation, log positions)")
	}
}

// TestSenderCached checks that transactions read from the chain store carry their sender:
// types.Sender with the block's signer answers from the cache, allocating nothing (recovering a
// signature allocates), and answers the stored sender even when it is not the signature's.
func TestSenderCached(t *testing.T) {
	h := newHarness(t, testOptions())
	to := h.addrs[9]
	tx := h.send(1, &to, ether(1), nil, 21000, false)
	block := h.seal()
	got, _, _, _, err := h.c.Transaction(tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	signer := types.MakeSigner(h.c.ChainConfig(), block.Number(), block.Time())
	if from, err := types.Sender(signer, got); err != nil || from != h.addrs[1] {
		t.Fatalf("sender %s, %v", from, err)
	}
	if n := testing.AllocsPerRun(10, func() { types.Sender(signer, got) }); n != 0 {
		t.Errorf("types.Sender allocates %v times: the sender was recovered, not cached", n)
	}
	_, rtx, err := h.c.TransactionReceipt(tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10, func() { types.Sender(signer, rtx) }); n != 0 {
		t.Errorf("TransactionReceipt's transaction: types.Sender allocates %v times", n)
	}

	raw, _ := tx.MarshalBinary()
	stored := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	dec, err := decodeTx(append(stored.Bytes(), raw...), signer)
	if err != nil {
		t.Fatal(err)
	}
	if from, _ := types.Sender(signer, dec); from != stored {
		t.Errorf("types.Sender = %s, want the stored %s", from, stored)
	}
}

// TestReceiptCostIndependentOfBlockSize reads the receipt of a transaction in a block of one
// transfer and of one in a block of 300, and compares the allocations of the two reads: a
// measure of the work done that does not depend on the machine's speed or load. Reading the
// whole block (as before pebble) costs hundreds of times more in the large block.
func TestReceiptCostIndependentOfBlockSize(t *testing.T) {
	h := newHarness(t, testOptions())
	to := h.addrs[9]
	small := h.send(0, &to, big.NewInt(1), nil, 21000, false)
	h.seal()
	var large *types.Transaction
	for i := range 300 {
		large = h.send(i%9, &to, big.NewInt(1), nil, 21000, false)
	}
	if b := h.seal(); len(b.Transactions()) != 300 {
		t.Fatalf("block of %d transactions", len(b.Transactions()))
	}
	allocs := func(tx *types.Transaction) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, _, err := h.c.TransactionReceipt(tx.Hash()); err != nil {
				t.Fatal(err)
			}
		})
	}
	s, l := allocs(small), allocs(large)
	t.Logf("allocations per receipt read: block of 1: %v, block of 300: %v", s, l)
	if l > s+5 {
		t.Errorf("a receipt in a block of 300 costs %v allocations, in a block of 1 %v", l, s)
	}
}

// TestOldChainStoreRefused: a data directory from before the pebble chain store is refused with
// a message saying what to do, not misread.
func TestOldChainStoreRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "chain"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, testOptions())
	if err == nil || !strings.Contains(err.Error(), "older format") {
		t.Fatalf("Open = %v", err)
	}
}

// TestGetLogsCostBounded is issue 12's eth_getLogs probe: many addresses over many blocks, the
// only emitter last in the list. The work (index seeks and entries, blocks and logs examined,
// counted by GetLogs) must be about addresses + blocks, where checking each candidate block
// against the address list (the old bloom check) was their product: 10,000 × 1,000 = 10^7.
func TestGetLogsCostBounded(t *testing.T) {
	blocks, addrs := 1000, 10_000
	if testing.Short() {
		blocks = 200
	}
	h := newHarness(t, testOptions())
	contract := crypto.CreateAddress(h.addrs[0], 0)
	h.send(0, nil, nil, storeLogInit(), 200_000, false)
	h.seal()
	for i := range blocks {
		h.send(i%10, &contract, nil, common.BigToHash(big.NewInt(int64(i+1))).Bytes(), 100_000, false)
		h.seal()
	}
	q := ethereum.FilterQuery{Addresses: make([]common.Address, 0, addrs)}
	for i := range addrs - 1 {
		q.Addresses = append(q.Addresses, common.BigToAddress(big.NewInt(int64(0x10000+i))))
	}
	q.Addresses = append(q.Addresses, contract)
	var work atomic.Int64
	h.c.logWork = &work
	start := time.Now()
	logs, err := h.c.GetLogs(context.Background(), q)
	elapsed := time.Since(start) // logged for the record, never asserted
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != blocks {
		t.Fatalf("%d logs, want %d", len(logs), blocks)
	}
	bound := int64(addrs + 4*blocks)
	t.Logf("%d addresses over %d blocks: %d steps in %v (bound %d; one check per address and block would be %d)", addrs, blocks, work.Load(), elapsed, bound, addrs*blocks)
	if work.Load() > bound {
		t.Errorf("GetLogs took %d steps, more than %d", work.Load(), bound)
	}

	// A query cut short by its context stops, with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.c.GetLogs(ctx, q); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled query: %v", err)
	}
}
