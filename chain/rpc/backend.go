package rpc

import (
	"context"
	"math/big"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisdb"
)

// Backend is everything the RPC server needs from the chain. It is declared here, at the
// consumer, and uses go-ethereum types only (plus metisdb.Proof), so that chain/core's Chain can
// satisfy it with plain methods. Every method must be safe for concurrent use.
//
// Block tags (latest, pending, safe, finalized, earliest) and EIP-1898 hashes are resolved by
// the server; the backend only sees concrete block numbers. On this instant-finality dev chain
// "pending", "safe" and "finalized" all mean the head, except that eth_getTransactionCount
// "pending" asks PendingNonce.
//
// Lookups return nil when the object is unknown; they never return a non-canonical block for
// a number.
type Backend interface {
	// ChainConfig is the chain's configuration (chain ID, forks): the server uses it for
	// signers, receipt field derivation and the next block's base fee.
	ChainConfig() *params.ChainConfig
	// CurrentHeader is the head of the canonical chain; never nil.
	CurrentHeader() *types.Header
	// HeaderByNumber and HeaderByHash return a canonical header, or nil.
	HeaderByNumber(number uint64) *types.Header
	HeaderByHash(hash common.Hash) *types.Header
	// BlockByNumber and BlockByHash return a canonical block, or nil.
	BlockByNumber(number uint64) *types.Block
	BlockByHash(hash common.Hash) *types.Block
	// Receipts returns the receipts of a canonical block in transaction order, every field
	// set as eth_getBlockReceipts reports it (location, gas used, effective gas price,
	// contract address, bloom, logs with their positions), or nil for an unknown block. The
	// server marshals them as they are and never modifies them.
	Receipts(blockHash common.Hash) types.Receipts
	// Receipt returns the receipt of an included transaction, every field set as in Receipts,
	// and the transaction; nil, nil when the transaction is not in a canonical block. It
	// should not read the rest of the block: eth_getTransactionReceipt is called once per
	// transaction by clients waiting for them.
	Receipt(hash common.Hash) (*types.Receipt, *types.Transaction)
	// Transaction finds an included transaction; tx is nil when it is not in a canonical
	// block.
	//
	// The transactions of Receipt, Transaction and the blocks above may carry their sender in
	// go-ethereum's cache (types.Sender), which the server relies on to recover no signature
	// the chain already knows.
	Transaction(hash common.Hash) (tx *types.Transaction, blockHash common.Hash, number, index uint64)

	// State opens the read-only world state after block number.
	State(number uint64) (StateReader, error)
	// Proof proves the MetisDB key (see chain/state's key layout) against the state root of
	// block number.
	Proof(number uint64, key []byte) (*metisdb.Proof, error)
	// Call executes msg on the state after block number, with that block's header as block
	// context, go-ethereum's eth_call semantics (vm.Config{NoBaseFee: true}, a gas pool of
	// msg.GasLimit, nothing persisted) and core.ApplyMessage's result: the error is a
	// consensus error (nonce, funds, intrinsic gas...) wrapping go-ethereum's core errors
	// with %w; an EVM failure (revert, out of gas) is in the result's Err. It must stop when
	// ctx is done (evm.Cancel). number = head+1 must mean the head's state in the next
	// block's context (pending).
	Call(ctx context.Context, msg *core.Message, number uint64) (*core.ExecutionResult, error)
	// EstimateGas returns the least gas limit (within go-ethereum's 1.5%) at which msg succeeds
	// on the state after block number, searching up to msg.GasLimit or, when that is below
	// params.TxGas, the block gas limit, capped by EIP-7825 and by what msg.From can pay at
	// msg.GasFeeCap. The server passes number = head+1 (pending, as for Call) to estimate at
	// the head: a transaction is estimated in the block it will be included in. Errors follow
	// go-ethereum's estimator: "gas required exceeds allowance (N)", a revert at the upper
	// bound as NewRevertError(revert data), any other error as it is (returned to the client).
	EstimateGas(ctx context.Context, msg *core.Message, number uint64) (uint64, error)
	// GetLogs returns the logs matching q with every field derived, in block and index order.
	// The server resolves tags and checks the range first, so q.FromBlock and q.ToBlock are
	// concrete numbers not beyond the head, or q.BlockHash names a canonical block. A query
	// over the backend's own cost limits fails with NewLimitError(err).
	GetLogs(ctx context.Context, q ethereum.FilterQuery) ([]*types.Log, error)
	// FeeHistory reports blocks blocks (at least 1; the backend may return fewer, down to the
	// genesis, and caps them at 1024) ending at block last (at most the head), with the effective
	// tips at percentiles (validated by the server: ascending, in [0, 100], at most 100).
	FeeHistory(ctx context.Context, blocks, last uint64, percentiles []float64) (*FeeHistory, error)

	// SendTransaction validates tx and adds it to the pool. Its error message is returned to
	// the client unchanged, so use go-ethereum's txpool errors ("nonce too low", ...).
	SendTransaction(tx *types.Transaction) error
	// PendingNonce is the next nonce of addr counting pooled transactions.
	PendingNonce(addr common.Address) uint64
	// PendingTransaction returns a pooled transaction, or nil.
	PendingTransaction(hash common.Hash) *types.Transaction
	// TxPoolContent returns the pool's executable (pending) and gapped (queued)
	// transactions per sender, each sorted by nonce.
	TxPoolContent() (pending, queued map[common.Address][]*types.Transaction)
	// SuggestTip is the priority fee (wei) a transaction should pay to be included soon.
	SuggestTip() *big.Int
	// Accounts lists the node's unlocked (dev) accounts, for eth_accounts.
	Accounts() []common.Address

	// SubscribeChainHead delivers each new canonical head, after its block and receipts are
	// readable through the lookups above (newHeads and logs subscriptions are built on it).
	SubscribeChainHead(ch chan<- *types.Header) event.Subscription
	// SubscribeNewTxs delivers transactions as they enter the pool.
	SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription
}

// FeeHistory is the backend's eth_feeHistory answer.
type FeeHistory struct {
	OldestBlock uint64
	// BaseFees has one entry per block plus the base fee of the block after the last.
	BaseFees      []*big.Int
	GasUsedRatios []float64
	// Rewards[i][j] is block i's effective tip at percentile j, weighted by gas used; nil when
	// no percentiles were asked.
	Rewards [][]*big.Int
}

// StateReader is the read-only view of one block's world state. chain/state's StateDB
// satisfies it (these are vm.StateDB's methods).
type StateReader interface {
	GetBalance(addr common.Address) *uint256.Int
	GetNonce(addr common.Address) uint64
	GetCode(addr common.Address) []byte
	// GetCodeHash is the zero hash for an account that does not exist and
	// types.EmptyCodeHash for an existing account without code.
	GetCodeHash(addr common.Address) common.Hash
	GetState(addr common.Address, slot common.Hash) common.Hash
}
