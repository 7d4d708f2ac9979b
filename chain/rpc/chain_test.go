package rpc

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"testing"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisdb"
)

// chainBackend serves a real chain/core Chain (in t.TempDir()). eth_getLogs, eth_estimateGas
// and eth_feeHistory are computed by the backend, so their tests must run over the real
// implementation rather than testBackend. It repeats chain/node's adapter, which these
// internal tests cannot import (chain/node imports this package).
type chainBackend struct {
	c *core.Chain
	t testing.TB
}

var _ Backend = (*chainBackend)(nil)

// newChainBackend opens a dev chain; maxLogs > 0 sets its own GetLogs result limit.
func newChainBackend(t testing.TB, maxLogs int) *chainBackend {
	t.Helper()
	c, err := core.Open(t.TempDir(), core.Options{NoSync: true, MaxLogs: maxLogs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &chainBackend{c: c, t: t}
}

func nilIfErr[T any](v *T, err error) *T {
	if err != nil {
		return nil
	}
	return v
}

func (b *chainBackend) ChainConfig() *params.ChainConfig { return b.c.ChainConfig() }
func (b *chainBackend) CurrentHeader() *types.Header     { return b.c.CurrentHeader() }
func (b *chainBackend) HeaderByNumber(n uint64) *types.Header {
	return nilIfErr(b.c.HeaderByNumber(n))
}
func (b *chainBackend) HeaderByHash(h common.Hash) *types.Header {
	return nilIfErr(b.c.HeaderByHash(h))
}
func (b *chainBackend) BlockByNumber(n uint64) *types.Block { return nilIfErr(b.c.BlockByNumber(n)) }
func (b *chainBackend) BlockByHash(h common.Hash) *types.Block {
	return nilIfErr(b.c.BlockByHash(h))
}
func (b *chainBackend) Receipts(h common.Hash) types.Receipts {
	rs, _ := b.c.Receipts(h)
	return rs
}
func (b *chainBackend) Receipt(h common.Hash) (*types.Receipt, *types.Transaction) {
	r, tx, err := b.c.TransactionReceipt(h)
	if err != nil {
		return nil, nil
	}
	return r, tx
}

func (b *chainBackend) Transaction(h common.Hash) (*types.Transaction, common.Hash, uint64, uint64) {
	tx, bh, n, i, err := b.c.Transaction(h)
	if err != nil {
		return nil, common.Hash{}, 0, 0
	}
	return tx, bh, n, i
}
func (b *chainBackend) State(n uint64) (StateReader, error) { return b.c.StateAt(n) }
func (b *chainBackend) Proof(n uint64, key []byte) (*metisdb.Proof, error) {
	_, p, err := b.c.Proof(n, key)
	return p, err
}
func (b *chainBackend) Call(ctx context.Context, msg *gethcore.Message, n uint64) (*gethcore.ExecutionResult, error) {
	res, err := b.c.Call(ctx, msg, n)
	if err != nil {
		return nil, err
	}
	return &res.ExecutionResult, nil
}
func (b *chainBackend) EstimateGas(ctx context.Context, msg *gethcore.Message, n uint64) (uint64, error) {
	gas, err := b.c.EstimateGas(ctx, msg, n)
	if rev, ok := errors.AsType[*core.RevertError](err); ok {
		return 0, NewRevertError(rev.Data)
	}
	return gas, err
}
func (b *chainBackend) GetLogs(ctx context.Context, q ethereum.FilterQuery) ([]*types.Log, error) {
	logs, err := b.c.GetLogs(ctx, q)
	if errors.Is(err, core.ErrQueryLimit) {
		return nil, NewLimitError(err)
	}
	return logs, err
}
func (b *chainBackend) FeeHistory(ctx context.Context, blocks, last uint64, percentiles []float64) (*FeeHistory, error) {
	fh, err := b.c.FeeHistory(ctx, blocks, last, percentiles)
	if err != nil {
		return nil, err
	}
	return &FeeHistory{OldestBlock: fh.OldestBlock, BaseFees: fh.BaseFees, GasUsedRatios: fh.GasUsedRatios, Rewards: fh.Rewards}, nil
}
func (b *chainBackend) SendTransaction(tx *types.Transaction) error { return b.c.SendTransaction(tx) }
func (b *chainBackend) PendingNonce(a common.Address) uint64        { return b.c.Pool().PendingNonce(a) }
func (b *chainBackend) PendingTransaction(h common.Hash) *types.Transaction {
	return b.c.Pool().Get(h)
}
func (b *chainBackend) TxPoolContent() (pending, queued map[common.Address][]*types.Transaction) {
	return b.c.Pool().Content()
}
func (b *chainBackend) SuggestTip() *big.Int       { return b.c.SuggestTip() }
func (b *chainBackend) Accounts() []common.Address { return []common.Address{testAddr, testAddr2} }

// The head and pool feeds are not needed by the tests over the real chain.
func (b *chainBackend) SubscribeChainHead(ch chan<- *types.Header) event.Subscription {
	return event.NewSubscription(func(quit <-chan struct{}) error { <-quit; return nil })
}
func (b *chainBackend) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return b.c.SubscribeNewTxs(ch)
}

// send signs a dynamic-fee transaction from key with the next pending nonce and pools it.
func (b *chainBackend) send(key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte, gas uint64) *types.Transaction {
	b.t.Helper()
	from := crypto.PubkeyToAddress(key.PublicKey)
	tx, err := types.SignNewTx(key, b.c.Signer(), &types.DynamicFeeTx{
		ChainID:   b.c.ChainConfig().ChainID,
		Nonce:     b.PendingNonce(from),
		GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(100 * params.GWei),
		Gas:       gas,
		To:        to,
		Value:     value,
		Data:      data,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.c.SendTransaction(tx); err != nil {
		b.t.Fatalf("send: %v", err)
	}
	return tx
}

// seal seals the pooled transactions into a block and checks they all succeeded.
func (b *chainBackend) seal() *types.Block {
	b.t.Helper()
	block, err := b.c.Seal(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	rs, err := b.c.Receipts(block.Hash())
	if err != nil {
		b.t.Fatal(err)
	}
	for i, r := range rs {
		if r.Status != types.ReceiptStatusSuccessful {
			b.t.Fatalf("block %d transaction %d failed", block.NumberU64(), i)
		}
	}
	return block
}

// deploy creates a contract with runtime code rt from key and seals it.
func (b *chainBackend) deploy(key *ecdsa.PrivateKey, rt []byte) common.Address {
	b.t.Helper()
	from := crypto.PubkeyToAddress(key.PublicKey)
	addr := crypto.CreateAddress(from, b.PendingNonce(from))
	// PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN, then the runtime (at 11).
	init := append([]byte{0x60, byte(len(rt)), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}, rt...)
	b.send(key, nil, nil, init, 500_000)
	b.seal()
	return addr
}

// Hand-assembled test contracts.
var (
	// emitterCode logs word 0 of the calldata as data with topics words 1 and 2 (LOG2), or
	// only word 1 when the calldata is two words (LOG1).
	emitterCode = []byte{
		0x60, 0x00, 0x35, 0x60, 0x00, 0x52, // mstore(0, calldataload(0))
		0x36, 0x60, 0x40, 0x14, 0x60, 0x19, 0x57, // if calldatasize == 64 goto one
		0x60, 0x40, 0x35, 0x60, 0x20, 0x35, 0x60, 0x20, 0x60, 0x00, 0xa2, 0x00, // log2(0, 32, cd[32], cd[64]); stop
		0x5b, 0x60, 0x20, 0x35, 0x60, 0x20, 0x60, 0x00, 0xa1, 0x00, // one: log1(0, 32, cd[32]); stop
	}
	// reverterCode reverts with its calldata as revert data.
	reverterCode = []byte{0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x36, 0x60, 0x00, 0xfd}
	// burnerCode loops until it runs out of gas.
	burnerCode = []byte{0x5b, 0x60, 0x00, 0x56}
	// storerCode stores calldata word 0 at slot 0: a cold zero-to-nonzero SSTORE, whose
	// 2300-gas stipend check makes the gas needed exceed the gas used.
	storerCode = []byte{0x60, 0x00, 0x35, 0x60, 0x00, 0x55, 0x00}
)

// emitData is emitterCode's calldata for a log with data word d (first byte d) and topics.
func emitData(d byte, topics ...common.Hash) []byte {
	out := make([]byte, 32)
	out[0] = d
	for _, t := range topics {
		out = append(out, t[:]...)
	}
	return out
}
