package node

import (
	"context"
	"errors"
	"math/big"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisdb"
	"github.com/metisgo/metis/chain/rpc"
)

// backend adapts *core.Chain to the rpc.Backend the server declares. The adapter lives here,
// where the two are wired, so that chain/rpc never imports chain/core and each package keeps
// the API natural to it (core reports ErrNotFound; rpc wants nil for "no such block").
type backend struct {
	chain    *core.Chain
	accounts []common.Address
}

var _ rpc.Backend = (*backend)(nil)

func newBackend(c *core.Chain) *backend {
	b := &backend{chain: c}
	for _, a := range core.DevAccounts() {
		b.accounts = append(b.accounts, a.Address)
	}
	return b
}

func (b *backend) ChainConfig() *params.ChainConfig { return b.chain.ChainConfig() }
func (b *backend) CurrentHeader() *types.Header     { return b.chain.CurrentHeader() }

// orNil turns core's not-found into the nil rpc expects; any other error is also a missing
// answer to the client, but it is not expected on a healthy node.
func orNil[T any](v *T, err error) *T {
	if err != nil {
		return nil
	}
	return v
}

func (b *backend) HeaderByNumber(n uint64) *types.Header {
	return orNil(b.chain.HeaderByNumber(n))
}
func (b *backend) HeaderByHash(h common.Hash) *types.Header { return orNil(b.chain.HeaderByHash(h)) }
func (b *backend) BlockByNumber(n uint64) *types.Block      { return orNil(b.chain.BlockByNumber(n)) }
func (b *backend) BlockByHash(h common.Hash) *types.Block   { return orNil(b.chain.BlockByHash(h)) }

func (b *backend) Receipts(blockHash common.Hash) types.Receipts {
	rs, err := b.chain.Receipts(blockHash)
	if err != nil {
		return nil
	}
	return rs
}

func (b *backend) Receipt(h common.Hash) (*types.Receipt, *types.Transaction) {
	r, tx, err := b.chain.TransactionReceipt(h)
	if err != nil {
		return nil, nil
	}
	return r, tx
}

func (b *backend) Transaction(hash common.Hash) (*types.Transaction, common.Hash, uint64, uint64) {
	tx, bh, n, i, err := b.chain.Transaction(hash)
	if err != nil {
		return nil, common.Hash{}, 0, 0
	}
	return tx, bh, n, i
}

func (b *backend) State(n uint64) (rpc.StateReader, error) { return b.chain.StateAt(n) }

func (b *backend) Proof(n uint64, key []byte) (*metisdb.Proof, error) {
	_, p, err := b.chain.Proof(n, key)
	return p, err
}

func (b *backend) Call(ctx context.Context, msg *gethcore.Message, n uint64) (*gethcore.ExecutionResult, error) {
	res, err := b.chain.Call(ctx, msg, n)
	if err != nil {
		return nil, err
	}
	return &res.ExecutionResult, nil
}

// EstimateGas translates core's revert into rpc's, so the client gets code 3 and the data.
func (b *backend) EstimateGas(ctx context.Context, msg *gethcore.Message, n uint64) (uint64, error) {
	gas, err := b.chain.EstimateGas(ctx, msg, n)
	if rev, ok := errors.AsType[*core.RevertError](err); ok {
		return 0, rpc.NewRevertError(rev.Data)
	}
	return gas, err
}

// GetLogs translates core's query limit into rpc's "limit exceeded".
func (b *backend) GetLogs(ctx context.Context, q ethereum.FilterQuery) ([]*types.Log, error) {
	logs, err := b.chain.GetLogs(ctx, q)
	if errors.Is(err, core.ErrQueryLimit) {
		return nil, rpc.NewLimitError(err)
	}
	return logs, err
}

func (b *backend) FeeHistory(ctx context.Context, blocks, last uint64, percentiles []float64) (*rpc.FeeHistory, error) {
	fh, err := b.chain.FeeHistory(ctx, blocks, last, percentiles)
	if err != nil {
		return nil, err
	}
	return &rpc.FeeHistory{OldestBlock: fh.OldestBlock, BaseFees: fh.BaseFees, GasUsedRatios: fh.GasUsedRatios, Rewards: fh.Rewards}, nil
}

func (b *backend) SendTransaction(tx *types.Transaction) error { return b.chain.SendTransaction(tx) }
func (b *backend) PendingNonce(a common.Address) uint64        { return b.chain.Pool().PendingNonce(a) }
func (b *backend) PendingTransaction(h common.Hash) *types.Transaction {
	return b.chain.Pool().Get(h)
}
func (b *backend) TxPoolContent() (pending, queued map[common.Address][]*types.Transaction) {
	return b.chain.Pool().Content()
}
func (b *backend) SuggestTip() *big.Int       { return b.chain.SuggestTip() }
func (b *backend) Accounts() []common.Address { return b.accounts }

// SubscribeChainHead forwards core's head events as headers. The forwarding goroutine reads
// core's feed promptly (a buffered channel) so a slow rpc consumer can never hold up sealing;
// rpc itself drops subscribers that fall behind.
func (b *backend) SubscribeChainHead(ch chan<- *types.Header) event.Subscription {
	return event.NewSubscription(func(quit <-chan struct{}) error {
		in := make(chan core.ChainHeadEvent, 64)
		sub := b.chain.SubscribeChainHead(in)
		defer sub.Unsubscribe()
		for {
			select {
			case ev := <-in:
				select {
				case ch <- ev.Block.Header():
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				if err == nil {
					err = errors.New("chain closed")
				}
				return err
			case <-quit:
				return nil
			}
		}
	})
}

func (b *backend) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return b.chain.SubscribeNewTxs(ch)
}
