package rpc

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisdb"
)

// testBackend is an in-memory stand-in for chain/core's Chain, for the server's own logic
// (encoding, block tags, errors, limits, subscriptions) with hooks to inject answers; what the
// chain computes (estimation, log search, fee history) is tested over chainBackend instead. It keeps one world state (every block number sees it), builds real blocks with
// types.NewBlock (so header hashes, transaction and receipt roots and blooms are genuine) and
// derives its receipts' fields with go-ethereum's types.Receipts.DeriveFields.
type testBackend struct {
	cfg *params.ChainConfig

	mu       sync.Mutex
	blocks   []*types.Block
	byHash   map[common.Hash]*types.Block
	receipts map[common.Hash]types.Receipts
	txLoc    map[common.Hash]txLocation
	pool     map[common.Hash]*types.Transaction
	balances map[common.Address]*uint256.Int
	nonces   map[common.Address]uint64
	code     map[common.Address][]byte
	storage  map[common.Address]map[common.Hash]common.Hash

	sendErr error                                                   // returned by SendTransaction when set
	callFn  func(*core.Message) (*core.ExecutionResult, error)      // Call; default echoes the input
	proofFn func(number uint64, key []byte) (*metisdb.Proof, error) // Proof; default a one-sibling proof
	logsFn  func(ctx context.Context) ([]*types.Log, error)         // GetLogs; default errNoChain

	headFeed event.Feed
	txFeed   event.Feed
}

type txLocation struct {
	blockHash     common.Hash
	number, index uint64
}

var (
	testKey, _  = crypto.HexToECDSA("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
	testAddr    = crypto.PubkeyToAddress(testKey.PublicKey)
	testKey2, _ = crypto.HexToECDSA("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
	testAddr2   = crypto.PubkeyToAddress(testKey2.PublicKey)
	logAddr     = common.HexToAddress("0x0000000000000000000000000000000000000a01")
	otherAddr   = common.HexToAddress("0x0000000000000000000000000000000000000a02")
	topicA      = common.HexToHash("0xaa")
	topicB      = common.HexToHash("0xbb")
	topicC      = common.HexToHash("0xcc")
)

func newTestBackend() *testBackend {
	b := &testBackend{
		cfg:      params.AllDevChainProtocolChanges,
		byHash:   make(map[common.Hash]*types.Block),
		receipts: make(map[common.Hash]types.Receipts),
		txLoc:    make(map[common.Hash]txLocation),
		pool:     make(map[common.Hash]*types.Transaction),
		balances: map[common.Address]*uint256.Int{testAddr: uint256.MustFromDecimal("10000000000000000000000")},
		nonces:   make(map[common.Address]uint64),
		code:     map[common.Address][]byte{logAddr: {0x60, 0x00}},
		storage:  map[common.Address]map[common.Hash]common.Hash{logAddr: {common.HexToHash("0x01"): common.HexToHash("0x2a")}},
	}
	genesis := &types.Header{
		Number:     new(big.Int),
		GasLimit:   30_000_000,
		Time:       1_700_000_000,
		BaseFee:    big.NewInt(params.InitialBaseFee),
		Difficulty: new(big.Int),
		Extra:      []byte("metis genesis"),
		Root:       common.HexToHash("0x1234"),
	}
	g := types.NewBlock(genesis, nil, nil, trie.NewStackTrie(nil))
	b.blocks = append(b.blocks, g)
	b.byHash[g.Hash()] = g
	b.receipts[g.Hash()] = types.Receipts{}
	return b
}

func (b *testBackend) signer() types.Signer { return types.LatestSigner(b.cfg) }

// signTx signs a dynamic-fee transaction (to nil creates a contract).
func (b *testBackend) signTx(t testing.TB, key *ecdsa.PrivateKey, nonce uint64, to *common.Address, data []byte) *types.Transaction {
	t.Helper()
	tx, err := types.SignNewTx(key, b.signer(), &types.DynamicFeeTx{
		ChainID:   b.cfg.ChainID,
		Nonce:     nonce,
		GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(10 * params.GWei),
		Gas:       100_000,
		To:        to,
		Value:     big.NewInt(1),
		Data:      data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// mine appends a block with txs; logs[i] are the logs of txs[i] (address and topics only).
// It announces the head on the feed and returns the block.
func (b *testBackend) mine(txs []*types.Transaction, logs [][]*types.Log) *types.Block {
	b.mu.Lock()
	parent := b.blocks[len(b.blocks)-1].Header()
	header := &types.Header{
		ParentHash: parent.Hash(),
		Number:     new(big.Int).Add(parent.Number, common.Big1),
		GasLimit:   parent.GasLimit,
		Time:       parent.Time + 1,
		BaseFee:    eip1559.CalcBaseFee(b.cfg, parent),
		Difficulty: new(big.Int),
		Root:       common.BigToHash(new(big.Int).Add(parent.Number, common.Big1)),
	}
	var receipts types.Receipts
	var cum uint64
	for i, tx := range txs {
		cum += 21_000 + uint64(i)*1000
		r := &types.Receipt{Type: tx.Type(), Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: cum}
		if i < len(logs) {
			r.Logs = logs[i]
		}
		r.Bloom = types.CreateBloom(r)
		receipts = append(receipts, r)
	}
	header.GasUsed = cum
	block := types.NewBlock(header, &types.Body{Transactions: txs}, receipts, trie.NewStackTrie(nil))
	// The Backend contract: receipts come with every field derived, as chain/core stores them.
	if err := receipts.DeriveFields(b.cfg, block.Hash(), block.NumberU64(), block.Time(), block.BaseFee(), nil, txs); err != nil {
		panic(err)
	}
	b.blocks = append(b.blocks, block)
	b.byHash[block.Hash()] = block
	b.receipts[block.Hash()] = receipts
	for i, tx := range txs {
		b.txLoc[tx.Hash()] = txLocation{block.Hash(), block.NumberU64(), uint64(i)}
		delete(b.pool, tx.Hash())
		from, _ := types.Sender(b.signer(), tx)
		b.nonces[from] = tx.Nonce() + 1
	}
	b.mu.Unlock()
	b.headFeed.Send(block.Header())
	return block
}

func (b *testBackend) ChainConfig() *params.ChainConfig { return b.cfg }

func (b *testBackend) CurrentHeader() *types.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blocks[len(b.blocks)-1].Header()
}

func (b *testBackend) HeaderByNumber(n uint64) *types.Header {
	if blk := b.BlockByNumber(n); blk != nil {
		return blk.Header()
	}
	return nil
}

func (b *testBackend) HeaderByHash(h common.Hash) *types.Header {
	if blk := b.BlockByHash(h); blk != nil {
		return blk.Header()
	}
	return nil
}

func (b *testBackend) BlockByNumber(n uint64) *types.Block {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n >= uint64(len(b.blocks)) {
		return nil
	}
	return b.blocks[n]
}

func (b *testBackend) BlockByHash(h common.Hash) *types.Block {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byHash[h]
}

func (b *testBackend) Receipts(h common.Hash) types.Receipts {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.receipts[h]
}

func (b *testBackend) Receipt(h common.Hash) (*types.Receipt, *types.Transaction) {
	b.mu.Lock()
	defer b.mu.Unlock()
	loc, ok := b.txLoc[h]
	if !ok {
		return nil, nil
	}
	return b.receipts[loc.blockHash][loc.index], b.byHash[loc.blockHash].Transactions()[loc.index]
}

func (b *testBackend) Transaction(h common.Hash) (*types.Transaction, common.Hash, uint64, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	loc, ok := b.txLoc[h]
	if !ok {
		return nil, common.Hash{}, 0, 0
	}
	return b.byHash[loc.blockHash].Transactions()[loc.index], loc.blockHash, loc.number, loc.index
}

type testState struct{ b *testBackend }

func (s testState) GetBalance(a common.Address) *uint256.Int {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if v := s.b.balances[a]; v != nil {
		return new(uint256.Int).Set(v)
	}
	return new(uint256.Int)
}

func (s testState) GetNonce(a common.Address) uint64 {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.b.nonces[a]
}

func (s testState) GetCode(a common.Address) []byte {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.b.code[a]
}

func (s testState) GetCodeHash(a common.Address) common.Hash {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if c, ok := s.b.code[a]; ok {
		return crypto.Keccak256Hash(c)
	}
	if _, ok := s.b.balances[a]; ok {
		return types.EmptyCodeHash
	}
	return common.Hash{}
}

func (s testState) GetState(a common.Address, k common.Hash) common.Hash {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.b.storage[a][k]
}

func (b *testBackend) State(number uint64) (StateReader, error) {
	if b.BlockByNumber(number) == nil {
		return nil, ErrHeaderNotFound
	}
	return testState{b}, nil
}

func (b *testBackend) setCall(f func(*core.Message) (*core.ExecutionResult, error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.callFn = f
}

func (b *testBackend) setProof(f func(uint64, []byte) (*metisdb.Proof, error)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.proofFn = f
}

func (b *testBackend) setSendErr(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sendErr = err
}

func (b *testBackend) hooks() (func(*core.Message) (*core.ExecutionResult, error), func(uint64, []byte) (*metisdb.Proof, error), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.callFn, b.proofFn, b.sendErr
}

func (b *testBackend) Proof(number uint64, key []byte) (*metisdb.Proof, error) {
	if _, proofFn, _ := b.hooks(); proofFn != nil {
		return proofFn(number, key)
	}
	return &metisdb.Proof{Siblings: []metisdb.Hash{metisdb.Hash(crypto.Keccak256Hash(key))}}, nil
}

func (b *testBackend) Call(ctx context.Context, msg *core.Message, number uint64) (*core.ExecutionResult, error) {
	if callFn, _, _ := b.hooks(); callFn != nil {
		return callFn(msg)
	}
	used := 21_000 + 16*uint64(len(msg.Data))
	if msg.GasLimit < used {
		return nil, core.ErrIntrinsicGas
	}
	return &core.ExecutionResult{UsedGas: used, MaxUsedGas: used, ReturnData: msg.Data}, nil
}

// errNoChain answers the paths the server delegates to the chain: testBackend has none, so
// tests of eth_estimateGas, eth_getLogs and eth_feeHistory use chainBackend (a real chain).
var errNoChain = errors.New("testBackend has no chain: use newChainBackend")

func (b *testBackend) EstimateGas(context.Context, *core.Message, uint64) (uint64, error) {
	return 0, errNoChain
}

func (b *testBackend) GetLogs(ctx context.Context, _ ethereum.FilterQuery) ([]*types.Log, error) {
	b.mu.Lock()
	logsFn := b.logsFn
	b.mu.Unlock()
	if logsFn != nil {
		return logsFn(ctx)
	}
	return nil, errNoChain
}

func (b *testBackend) FeeHistory(context.Context, uint64, uint64, []float64) (*FeeHistory, error) {
	return nil, errNoChain
}

func (b *testBackend) SendTransaction(tx *types.Transaction) error {
	if _, _, sendErr := b.hooks(); sendErr != nil {
		return sendErr
	}
	if _, err := types.Sender(b.signer(), tx); err != nil {
		return err
	}
	b.mu.Lock()
	b.pool[tx.Hash()] = tx
	b.mu.Unlock()
	b.txFeed.Send([]*types.Transaction{tx})
	return nil
}

func (b *testBackend) PendingNonce(a common.Address) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nonces[a]
	for _, tx := range b.pool {
		if from, _ := types.Sender(b.signer(), tx); from == a && tx.Nonce() >= n {
			n = tx.Nonce() + 1
		}
	}
	return n
}

func (b *testBackend) PendingTransaction(h common.Hash) *types.Transaction {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pool[h]
}

func (b *testBackend) TxPoolContent() (pending, queued map[common.Address][]*types.Transaction) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pending = make(map[common.Address][]*types.Transaction)
	for _, tx := range b.pool {
		from, _ := types.Sender(b.signer(), tx)
		pending[from] = append(pending[from], tx)
	}
	return pending, map[common.Address][]*types.Transaction{}
}

func (b *testBackend) SuggestTip() *big.Int       { return big.NewInt(params.GWei) }
func (b *testBackend) Accounts() []common.Address { return []common.Address{testAddr, testAddr2} }

func (b *testBackend) SubscribeChainHead(ch chan<- *types.Header) event.Subscription {
	return b.headFeed.Subscribe(ch)
}

func (b *testBackend) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return b.txFeed.Subscribe(ch)
}

var _ Backend = (*testBackend)(nil)

// quietLogger discards the server's log lines.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer serves b on a random 127.0.0.1 port and returns the server and its address.
func startServer(t testing.TB, b Backend, opts Options) (*Server, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	srv, err := New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return srv, ln.Addr().String()
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var errNonceTooLow = errors.New("nonce too low: address 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266, tx: 0 state: 1")
