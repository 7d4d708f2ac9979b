package core

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/core/txpool"
	"github.com/metisgo/metis/chain/metisdb"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/state"
)

// Errors callers branch on; returned errors wrap them (test with errors.Is).
var (
	// ErrNotFound: no such block, transaction or receipt (at or below the head).
	ErrNotFound = errors.New("core: not found")
	// ErrClosed: the chain has been closed.
	ErrClosed = errors.New("core: chain closed")
	// ErrFailed: a block commit failed half way; the chain refuses further blocks until it is
	// reopened (Open then completes or re-executes the block, see the package doc).
	ErrFailed = errors.New("core: a block commit failed; reopen the chain")
	// ErrQueryLimit: a GetLogs query would read more blocks or return more logs than Options
	// allow.
	ErrQueryLimit = errors.New("core: query limit exceeded")
)

// Defaults of Options.
const (
	DefaultRPCGasCap    = 50_000_000
	DefaultMaxLogBlocks = 10_000
	DefaultMaxLogs      = 10_000
)

// Options configure a Chain. The zero value opens a dev chain.
type Options struct {
	// Genesis initialises an empty directory; nil means DevGenesis(). It is ignored when the
	// directory already holds a chain (whose chain configuration is stored in it).
	Genesis *Genesis
	// Modules are the native system modules (chain/node wires the default set).
	Modules []metisvm.Module
	// GasLimit is the gas limit of new blocks; 0 keeps the parent's (the genesis gas limit).
	GasLimit uint64
	// TxPool bounds the transaction pool.
	TxPool txpool.Config
	// RPCGasCap caps the gas of Call and EstimateGas (DefaultRPCGasCap); a call without gas
	// gets the cap.
	RPCGasCap uint64
	// MaxLogBlocks caps the blocks whose receipts one GetLogs reads (after the log index has
	// ruled out the others) and MaxLogs the logs it returns; beyond either GetLogs fails with
	// ErrQueryLimit. Defaults DefaultMaxLogBlocks and DefaultMaxLogs.
	MaxLogBlocks int
	MaxLogs      int
	// ChainCache is the block cache of the chain store (pebble), in bytes; DefaultChainCache
	// when 0. With two memtables of 8 MiB it bounds the chain store's memory.
	ChainCache int64
	// NoSync skips fdatasync in both stores: a block then survives the process being killed but
	// not the machine losing power. For tests.
	NoSync bool
	// Logger receives recovery notices; nil discards.
	Logger *slog.Logger
	// Clock gives block timestamps (default time.Now). A block's time is
	// max(Clock(), parent time + 1), as go-ethereum's dev mode does.
	Clock func() time.Time
}

func (o Options) withDefaults() Options {
	if o.RPCGasCap == 0 {
		o.RPCGasCap = DefaultRPCGasCap
	}
	if o.MaxLogBlocks <= 0 {
		o.MaxLogBlocks = DefaultMaxLogBlocks
	}
	if o.MaxLogs <= 0 {
		o.MaxLogs = DefaultMaxLogs
	}
	if o.ChainCache <= 0 {
		o.ChainCache = DefaultChainCache
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

// ChainHeadEvent announces a new head block with its receipts (every field derived).
type ChainHeadEvent struct {
	Block    *types.Block
	Receipts types.Receipts
}

// Chain is the chain store, the block builder and the read API over them. Reads are safe from
// any goroutine and see the published head only; Seal is serialised.
type Chain struct {
	opts    Options
	log     *slog.Logger
	config  *params.ChainConfig
	host    *metisvm.Host
	signer  types.Signer
	stateDB *metisdb.DB
	store   *chainStore
	pool    *txpool.Pool
	genesis *types.Block

	view atomic.Pointer[view]
	tip  atomic.Pointer[tipCache] // SuggestTip's last answer

	mu     sync.Mutex // the writer: Seal, Close
	closed bool
	failed error

	headFeed event.Feed // ChainHeadEvent
	logsFeed event.Feed // []*types.Log
	scope    event.SubscriptionScope

	// hook, if set (tests), runs at the named points of a block commit; an error stops the
	// commit there, as a crash would.
	hook func(stage string) error
	// logWork, if set (tests), counts the steps of GetLogs: index seeks and entries, blocks and
	// logs examined.
	logWork *atomic.Int64
}

// Commit stages passed to Chain.hook.
const (
	stagePending = "pending" // the pending record is in the chain store, the state is not committed
	stageState   = "state"   // the state is committed, the block is not finished in the chain store
)

// view is a published head: the block, and the chain store that holds it and every block
// below it.
type view struct {
	block *types.Block
	chain *chainStore
}

// Open opens (or creates) the chain in dir: dir/state is the MetisDB state, dir/chaindata the
// pebble chain store. A block whose commit was interrupted is completed or re-executed before
// Open returns (see the package doc).
func Open(dir string, opts Options) (*Chain, error) {
	opts = opts.withDefaults()
	store, err := openChainStore(dir, opts.ChainCache, opts.NoSync, opts.Logger)
	if err != nil {
		return nil, err
	}
	stateDB, err := metisdb.Open(filepath.Join(dir, "state"), &metisdb.Options{NoSync: opts.NoSync, Logger: opts.Logger})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("core: open state: %w", err)
	}
	c := &Chain{opts: opts, log: opts.Logger, stateDB: stateDB, store: store}
	if err := c.init(); err != nil {
		store.Close()
		stateDB.Close()
		return nil, err
	}
	head := c.Head()
	c.pool = txpool.New(opts.TxPool, c.config, head.Header(), c.stateReader(head.NumberU64()))
	return c, nil
}

func (c *Chain) init() error {
	r := c.store
	headRaw, ok, err := r.get(keyHead)
	if err != nil {
		return err
	}
	if !ok {
		return c.initGenesis()
	}
	cfgRaw, err := r.must(keyConfig)
	if err != nil {
		return err
	}
	c.config = new(params.ChainConfig)
	if err := json.Unmarshal(cfgRaw, c.config); err != nil {
		return fmt.Errorf("%w: chain config: %v", errCorruptStore, err)
	}
	if err := c.setHost(); err != nil {
		return err
	}
	if c.genesis, err = r.block(0); err != nil {
		return err
	}
	headNum, err := decodeNum(headRaw)
	if err != nil {
		return err
	}
	head, err := r.block(headNum)
	if err != nil {
		return err
	}
	c.view.Store(&view{block: head, chain: r})
	if err := c.recoverPending(); err != nil {
		return err
	}
	head = c.Head()
	want := head.NumberU64() + 1
	if v := c.stateDB.Version(); v != want {
		return fmt.Errorf("%w: state is at version %d, head block %d needs version %d", errCorruptStore, v, head.NumberU64(), want)
	}
	if root := common.Hash(c.stateDB.Root()); root != head.Root() {
		return fmt.Errorf("%w: state root %s, head block %d has %s", errCorruptStore, root, head.NumberU64(), head.Root())
	}
	return nil
}

func (c *Chain) setHost() error {
	host, err := metisvm.NewHost(c.config, c.opts.Modules...)
	if err != nil {
		return fmt.Errorf("core: %w", err)
	}
	c.host = host
	c.signer = types.LatestSigner(c.config)
	c.store.config = c.config
	return nil
}

// initGenesis writes the genesis block into an empty chain store. The genesis state is committed
// first (state version 1); if the process died before the chain store commit, the state is
// there already and only the block is written.
func (c *Chain) initGenesis() error {
	if _, ok, err := c.store.get(keyPending); err != nil || ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: pending block without a genesis", errCorruptStore)
	}
	g := c.opts.Genesis
	if g == nil {
		g = DevGenesis()
	}
	g = g.withDefaults()
	if err := g.validate(); err != nil {
		return err
	}
	c.config = g.Config
	if err := c.setHost(); err != nil {
		return err
	}
	var root common.Hash
	switch v := c.stateDB.Version(); v {
	case 0:
		var err error
		if root, err = g.commitState(c.stateDB, c.host); err != nil {
			return err
		}
	case 1:
		c.log.Warn("core: genesis state found without a genesis block; writing the block")
		root = common.Hash(c.stateDB.Root())
	default:
		return fmt.Errorf("%w: state at version %d but no genesis block", errCorruptStore, v)
	}
	block := g.block(root)
	cfg, err := json.Marshal(c.config)
	if err != nil {
		return fmt.Errorf("core: chain config: %w", err)
	}
	batch := c.store.db.NewBatch()
	defer batch.Close()
	if err := writeBlock(batch, block, nil, nil); err != nil {
		return err
	}
	if err := batch.Set(keyConfig, cfg, nil); err != nil {
		return err
	}
	if err := batch.Commit(c.store.write); err != nil {
		return fmt.Errorf("core: commit genesis: %w", err)
	}
	c.genesis = block
	c.view.Store(&view{block: block, chain: c.store})
	return nil
}

// recoverPending finishes a block whose commit was interrupted (see the package doc).
func (c *Chain) recoverPending() error {
	raw, ok, err := c.store.get(keyPending)
	if err != nil || !ok {
		return err
	}
	var p pendingBlock
	if err := rlp.DecodeBytes(raw, &p); err != nil {
		return fmt.Errorf("%w: pending block: %v", errCorruptStore, err)
	}
	v := c.view.Load()
	n := p.Header.Number.Uint64()
	if n != v.block.NumberU64()+1 || p.Header.ParentHash != v.block.Hash() {
		return fmt.Errorf("%w: pending block %d does not extend head %d", errCorruptStore, n, v.block.NumberU64())
	}
	ex, err := c.execute(context.Background(), v, types.CopyHeader(p.Header), p.Txs, false)
	if err != nil {
		return fmt.Errorf("core: re-execute pending block %d: %w", n, err)
	}
	if err := samePending(ex.header, p.Header); err != nil {
		return fmt.Errorf("core: re-execute pending block %d: %w", n, err)
	}
	var root common.Hash
	switch sv := c.stateDB.Version(); sv {
	case n + 1: // the state commit happened: check that it holds exactly this block's writes
		snap, err := c.stateDB.Snapshot(n + 1)
		if err != nil {
			return fmt.Errorf("core: %w", err)
		}
		if err := ex.st.Flush(checkWriter{snap}); err != nil {
			return fmt.Errorf("%w: state version %d is not pending block %d: %v", errCorruptStore, n+1, n, err)
		}
		root = common.Hash(snap.Root())
		c.log.Info("core: finishing block interrupted after its state commit", "number", n, "root", root)
	case n: // the state commit did not happen: make it
		if root, err = c.commitState(ex.st); err != nil {
			return fmt.Errorf("core: state of pending block %d: %w", n, err)
		}
		c.log.Info("core: re-executed block interrupted before its state commit", "number", n, "root", root)
	default:
		return fmt.Errorf("%w: state at version %d, pending block %d", errCorruptStore, sv, n)
	}
	_, err = c.finish(ex, root, false)
	return err
}

// samePending compares a re-executed header with the stored one (all but the root).
func samePending(got, want *types.Header) error {
	g, w := types.CopyHeader(got), types.CopyHeader(want)
	g.Root, w.Root = common.Hash{}, common.Hash{}
	if g.Hash() != w.Hash() {
		return fmt.Errorf("%w: re-execution differs (gas used %d/%d, receipts %s/%s)", errCorruptStore, got.GasUsed, want.GasUsed, got.ReceiptHash, want.ReceiptHash)
	}
	return nil
}

// checkWriter is a state.Writer that checks every write against a snapshot instead of staging.
type checkWriter struct{ snap *metisdb.Snapshot }

func (w checkWriter) Set(key, value []byte) error {
	v, err := w.snap.Get(key)
	if err != nil {
		return fmt.Errorf("key %x: %w", key, err)
	}
	if string(v) != string(value) {
		return fmt.Errorf("key %x differs", key)
	}
	return nil
}

func (w checkWriter) Delete(key []byte) error {
	if _, err := w.snap.Get(key); !errors.Is(err, metisdb.ErrNotFound) {
		return fmt.Errorf("key %x not deleted (%v)", key, err)
	}
	return nil
}

// Close closes the stores and ends every subscription. A Seal in progress finishes first.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.scope.Close()
	return errors.Join(c.store.Close(), c.stateDB.Close())
}

// ChainConfig returns the chain configuration.
func (c *Chain) ChainConfig() *params.ChainConfig { return c.config }

// Host returns the EVM host (chain configuration and system modules).
func (c *Chain) Host() *metisvm.Host { return c.host }

// Signer returns the latest signer of the chain (it accepts every transaction type enabled).
func (c *Chain) Signer() types.Signer { return c.signer }

// Pool returns the transaction pool.
func (c *Chain) Pool() *txpool.Pool { return c.pool }

// SendTransaction validates tx and adds it to the pool (see txpool.Pool.Add).
func (c *Chain) SendTransaction(tx *types.Transaction) error { return c.pool.Add(tx) }

// Genesis returns block 0.
func (c *Chain) Genesis() *types.Block { return c.genesis }

// Head returns the head block: the latest block whose commit completed.
func (c *Chain) Head() *types.Block { return c.view.Load().block }

// CurrentHeader returns the head block's header.
func (c *Chain) CurrentHeader() *types.Header { return c.view.Load().block.Header() }

// has reports ErrNotFound for a block number above the published head.
func (v *view) has(num uint64) error {
	if num > v.block.NumberU64() {
		return fmt.Errorf("%w: block %d (head is %d)", ErrNotFound, num, v.block.NumberU64())
	}
	return nil
}

// numberOf returns the number of the published block with the given hash, or ErrNotFound.
func (v *view) numberOf(hash common.Hash) (uint64, error) {
	n, ok, err := v.chain.number(hash)
	if err != nil {
		return 0, err
	}
	if !ok || n > v.block.NumberU64() {
		return 0, fmt.Errorf("%w: block %s", ErrNotFound, hash)
	}
	return n, nil
}

// HeaderByNumber returns the header of block num.
func (c *Chain) HeaderByNumber(num uint64) (*types.Header, error) {
	v := c.view.Load()
	if err := v.has(num); err != nil {
		return nil, err
	}
	return v.chain.header(num)
}

// HeaderByHash returns the header of the block with hash h.
func (c *Chain) HeaderByHash(h common.Hash) (*types.Header, error) {
	v := c.view.Load()
	n, err := v.numberOf(h)
	if err != nil {
		return nil, err
	}
	return v.chain.header(n)
}

// BlockByNumber returns block num.
func (c *Chain) BlockByNumber(num uint64) (*types.Block, error) {
	v := c.view.Load()
	if err := v.has(num); err != nil {
		return nil, err
	}
	return v.chain.block(num)
}

// BlockByHash returns the block with hash h.
func (c *Chain) BlockByHash(h common.Hash) (*types.Block, error) {
	v := c.view.Load()
	n, err := v.numberOf(h)
	if err != nil {
		return nil, err
	}
	return v.chain.block(n)
}

// Receipts returns the receipts of the block with hash blockHash, every field derived.
func (c *Chain) Receipts(blockHash common.Hash) (types.Receipts, error) {
	v := c.view.Load()
	n, err := v.numberOf(blockHash)
	if err != nil {
		return nil, err
	}
	ref, _, err := v.chain.ref(n)
	if err != nil {
		return nil, err
	}
	return v.chain.receipts(ref)
}

// lookup returns where transaction h is.
func (v *view) lookup(h common.Hash) (num uint64, index int, err error) {
	raw, ok, err := v.chain.get(hashKey(prefixTxLookup, h))
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("%w: transaction %s", ErrNotFound, h)
	}
	if len(raw) != 12 {
		return 0, 0, fmt.Errorf("%w: lookup of %s", errCorruptStore, h)
	}
	num = binary.BigEndian.Uint64(raw)
	if err := v.has(num); err != nil {
		return 0, 0, fmt.Errorf("%w: transaction %s", ErrNotFound, h)
	}
	return num, int(binary.BigEndian.Uint32(raw[8:])), nil
}

// Receipt returns the receipt of the included transaction txHash, every field derived. It reads
// that one receipt, in time independent of its block's size.
func (c *Chain) Receipt(txHash common.Hash) (*types.Receipt, error) {
	r, _, err := c.receipt(txHash, false)
	return r, err
}

// TransactionReceipt returns the included transaction txHash and its receipt, every field
// derived (eth_getTransactionReceipt). The transaction's sender is cached in it: types.Sender
// with the block's signer (types.MakeSigner) recovers no signature. Like Receipt, it reads
// nothing else of the block.
func (c *Chain) TransactionReceipt(txHash common.Hash) (*types.Receipt, *types.Transaction, error) {
	return c.receipt(txHash, true)
}

func (c *Chain) receipt(txHash common.Hash, withTx bool) (*types.Receipt, *types.Transaction, error) {
	v := c.view.Load()
	num, i, err := v.lookup(txHash)
	if err != nil {
		return nil, nil, err
	}
	ref, h, err := v.chain.ref(num)
	if err != nil {
		return nil, nil, err
	}
	r, err := v.chain.receipt(ref, i)
	if err != nil || !withTx {
		return r, nil, err
	}
	tx, err := v.chain.tx(h, i)
	if err != nil {
		return nil, nil, err
	}
	return r, tx, nil
}

// Transaction returns the included transaction txHash and where it is, its sender cached as in
// TransactionReceipt. Pooled transactions are not returned (see Pool().Get).
func (c *Chain) Transaction(txHash common.Hash) (tx *types.Transaction, blockHash common.Hash, number uint64, index uint64, err error) {
	v := c.view.Load()
	num, i, err := v.lookup(txHash)
	if err != nil {
		return nil, common.Hash{}, 0, 0, err
	}
	ref, h, err := v.chain.ref(num)
	if err != nil {
		return nil, common.Hash{}, 0, 0, err
	}
	if tx, err = v.chain.tx(h, i); err != nil {
		return nil, common.Hash{}, 0, 0, err
	}
	return tx, ref.hash, num, uint64(i), nil
}

// stateSnapshot returns the state after block num (state version num+1).
func (c *Chain) stateSnapshot(num uint64) (*metisdb.Snapshot, error) {
	if err := c.view.Load().has(num); err != nil {
		return nil, err
	}
	snap, err := c.stateDB.Snapshot(num + 1)
	if err != nil {
		return nil, fmt.Errorf("core: state of block %d: %w", num, err)
	}
	return snap, nil
}

// StateAt returns a StateDB over the state after block num, for reads (balances, code, storage,
// nonces). Writes to it stay in memory and are dropped with it. It is not safe for concurrent
// use; make one per request.
func (c *Chain) StateAt(num uint64) (*state.StateDB, error) {
	snap, err := c.stateSnapshot(num)
	if err != nil {
		return nil, err
	}
	return state.New(snap), nil
}

// Proof returns the value of a state key (state.AccountKey, StorageKey or CodeKey) after block
// num, nil if absent, and MetisDB's proof of it (or of its absence) against that block's state
// root (eth_getProof).
func (c *Chain) Proof(num uint64, key []byte) (value []byte, proof *metisdb.Proof, err error) {
	snap, err := c.stateSnapshot(num)
	if err != nil {
		return nil, nil, err
	}
	v, err := snap.Get(key)
	switch {
	case errors.Is(err, metisdb.ErrNotFound):
		v = nil
	case err != nil:
		return nil, nil, fmt.Errorf("core: %w", err)
	default:
		v = common.CopyBytes(v)
	}
	p, err := snap.Proof(key)
	if err != nil {
		return nil, nil, fmt.Errorf("core: %w", err)
	}
	return v, p, nil
}

// SubscribeChainHead delivers every new head block, in order. feed semantics: the block builder
// waits until every subscriber has taken the event, so subscribers must read promptly (buffer
// and drop on their side if they can be slow). Close ends the subscription.
func (c *Chain) SubscribeChainHead(ch chan<- ChainHeadEvent) event.Subscription {
	return c.scope.Track(c.headFeed.Subscribe(ch))
}

// SubscribeLogs delivers the logs of every new block that has any (every derived field set), in
// order. Subscribers must read promptly (see SubscribeChainHead).
func (c *Chain) SubscribeLogs(ch chan<- []*types.Log) event.Subscription {
	return c.scope.Track(c.logsFeed.Subscribe(ch))
}

// SubscribeNewTxs delivers every transaction the pool accepts. Subscribers must read promptly.
func (c *Chain) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return c.scope.Track(c.pool.SubscribeNewTxs(ch))
}

// stateReader reads nonces and balances straight from a state snapshot; unlike a StateDB it is
// safe for concurrent use (the pool's head state).
type stateReader struct{ snap *metisdb.Snapshot }

func (c *Chain) stateReader(num uint64) stateReader {
	snap, err := c.stateDB.Snapshot(num + 1)
	if err != nil {
		c.log.Error("core: head state unavailable", "number", num, "err", err)
	}
	return stateReader{snap}
}

func (r stateReader) account(addr common.Address) state.Account {
	if r.snap == nil {
		return state.Account{}
	}
	v, err := r.snap.Get(state.AccountKey(addr))
	if err != nil {
		return state.Account{}
	}
	a, err := state.DecodeAccount(v)
	if err != nil {
		return state.Account{}
	}
	return a
}

func (r stateReader) GetNonce(addr common.Address) uint64 { return r.account(addr).Nonce }

func (r stateReader) GetBalance(addr common.Address) *uint256.Int {
	a := r.account(addr)
	return new(uint256.Int).Set(&a.Balance)
}
