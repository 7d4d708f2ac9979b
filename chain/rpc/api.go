package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/chain/state"
)

var errHashNotFound = errors.New("header for hash not found")

// maxGetProofKeys bounds the storage keys of one eth_getProof (as go-ethereum does).
const maxGetProofKeys = 1024

// ethAPI is the eth_ namespace. Every exported method is a JSON-RPC method (go-ethereum's
// rpc package lower-cases the first letter: GetBalance is eth_getBalance).
type ethAPI struct {
	s *Server
	b Backend
}

// --- block selection ---

// headerByNumber resolves a block number or tag; nil when there is no such block.
func (s *Server) headerByNumber(n gethrpc.BlockNumber) *types.Header {
	switch n {
	case gethrpc.LatestBlockNumber, gethrpc.PendingBlockNumber, gethrpc.SafeBlockNumber, gethrpc.FinalizedBlockNumber:
		return s.backend.CurrentHeader()
	case gethrpc.EarliestBlockNumber:
		return s.backend.HeaderByNumber(0)
	}
	if n < 0 {
		return nil
	}
	return s.backend.HeaderByNumber(uint64(n))
}

// resolve finds the header an EIP-1898 block parameter names; nil means latest.
func (s *Server) resolve(bnh *gethrpc.BlockNumberOrHash) (*types.Header, error) {
	if bnh == nil {
		return s.backend.CurrentHeader(), nil
	}
	if hash, ok := bnh.Hash(); ok {
		h := s.backend.HeaderByHash(hash)
		if h == nil {
			return nil, errHashNotFound
		}
		if bnh.RequireCanonical {
			if c := s.backend.HeaderByNumber(h.Number.Uint64()); c == nil || c.Hash() != hash {
				return nil, errors.New("hash is not currently canonical")
			}
		}
		return h, nil
	}
	n, ok := bnh.Number()
	if !ok {
		return nil, invalidParams("invalid block number or hash")
	}
	h := s.headerByNumber(n)
	if h == nil {
		return nil, ErrHeaderNotFound
	}
	return h, nil
}

func (s *Server) stateAt(bnh *gethrpc.BlockNumberOrHash) (StateReader, *types.Header, error) {
	h, err := s.resolve(bnh)
	if err != nil {
		return nil, nil, err
	}
	st, err := s.backend.State(h.Number.Uint64())
	if err != nil {
		return nil, nil, err
	}
	return st, h, nil
}

func isPending(bnh *gethrpc.BlockNumberOrHash) bool {
	if bnh == nil {
		return false
	}
	n, ok := bnh.Number()
	return ok && n == gethrpc.PendingBlockNumber
}

// --- chain and state ---

// ChainId returns the chain ID (EIP-695).
func (api *ethAPI) ChainId() *hexutil.Big {
	defer api.s.stats.track("eth_chainId", nil)
	return (*hexutil.Big)(new(big.Int).Set(api.b.ChainConfig().ChainID))
}

// BlockNumber returns the head's number.
func (api *ethAPI) BlockNumber() hexutil.Uint64 {
	defer api.s.stats.track("eth_blockNumber", nil)
	return hexutil.Uint64(api.b.CurrentHeader().Number.Uint64())
}

// Syncing is always false: a dev node is never behind.
func (api *ethAPI) Syncing() bool {
	defer api.s.stats.track("eth_syncing", nil)
	return false
}

// Accounts lists the node's dev accounts.
func (api *ethAPI) Accounts() []common.Address {
	defer api.s.stats.track("eth_accounts", nil)
	accs := api.b.Accounts()
	if accs == nil {
		accs = []common.Address{}
	}
	return accs
}

// GetBalance returns the balance of addr at a block (default latest).
func (api *ethAPI) GetBalance(ctx context.Context, addr common.Address, bnh *gethrpc.BlockNumberOrHash) (_ *hexutil.Big, err error) {
	defer api.s.stats.track("eth_getBalance", &err)
	st, _, err := api.s.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	return (*hexutil.Big)(st.GetBalance(addr).ToBig()), nil
}

// GetCode returns the code of addr at a block.
func (api *ethAPI) GetCode(ctx context.Context, addr common.Address, bnh *gethrpc.BlockNumberOrHash) (_ hexutil.Bytes, err error) {
	defer api.s.stats.track("eth_getCode", &err)
	st, _, err := api.s.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	return common.CopyBytes(st.GetCode(addr)), nil
}

// GetStorageAt returns one 32-byte storage word of addr at a block.
func (api *ethAPI) GetStorageAt(ctx context.Context, addr common.Address, hexKey string, bnh *gethrpc.BlockNumberOrHash) (_ hexutil.Bytes, err error) {
	defer api.s.stats.track("eth_getStorageAt", &err)
	key, _, err := decodeStorageKey(hexKey)
	if err != nil {
		return nil, invalidParams("%v: %q", err, hexKey)
	}
	st, _, err := api.s.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	v := st.GetState(addr, key)
	return v[:], nil
}

// GetTransactionCount returns the nonce of addr at a block; "pending" counts pooled
// transactions too.
func (api *ethAPI) GetTransactionCount(ctx context.Context, addr common.Address, bnh *gethrpc.BlockNumberOrHash) (_ *hexutil.Uint64, err error) {
	defer api.s.stats.track("eth_getTransactionCount", &err)
	if isPending(bnh) {
		n := hexutil.Uint64(api.b.PendingNonce(addr))
		return &n, nil
	}
	st, _, err := api.s.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	n := hexutil.Uint64(st.GetNonce(addr))
	return &n, nil
}

// AccountResult is the answer of eth_getProof. Its shape is go-ethereum's, its proofs are
// MetisDB's: accountProof holds one element, the 0x-hex metisdb.Proof.MarshalBinary of the
// account key 0x01‖address (chain/state's layout) against the block's stateRoot; the proven
// value is nonce (8 bytes BE) ‖ balance (32) ‖ codeHash (32), or absence when codeHash is
// the zero hash (no account). MetisDB keeps accounts and storage in one tree, so storageHash
// is the block's state root, and each storageProof's proof is likewise one element proving
// the key 0x02‖address‖slot, whose value is the 32-byte word (absent when zero). Verify with
// metisdb.VerifyProof.
type AccountResult struct {
	Address      common.Address  `json:"address"`
	AccountProof []string        `json:"accountProof"`
	Balance      *hexutil.Big    `json:"balance"`
	CodeHash     common.Hash     `json:"codeHash"`
	Nonce        hexutil.Uint64  `json:"nonce"`
	StorageHash  common.Hash     `json:"storageHash"`
	StorageProof []StorageResult `json:"storageProof"`
}

// StorageResult is one storage slot of AccountResult. Key echoes the request as
// go-ethereum does (a 32-byte hex if 32 bytes were given, else a quantity).
type StorageResult struct {
	Key   string       `json:"key"`
	Value *hexutil.Big `json:"value"`
	Proof []string     `json:"proof"`
}

// GetProof returns the account and storage proofs of addr at a block.
func (api *ethAPI) GetProof(ctx context.Context, addr common.Address, storageKeys []string, bnh *gethrpc.BlockNumberOrHash) (_ *AccountResult, err error) {
	defer api.s.stats.track("eth_getProof", &err)
	if len(storageKeys) > maxGetProofKeys {
		return nil, invalidParams("too many storage keys requested (max %d, got %d)", maxGetProofKeys, len(storageKeys))
	}
	keys := make([]common.Hash, len(storageKeys))
	outKeys := make([]string, len(storageKeys))
	for i, hexKey := range storageKeys {
		key, n, err := decodeStorageKey(hexKey)
		if err != nil {
			return nil, invalidParams("%v: %q", err, hexKey)
		}
		keys[i] = key
		if n != 32 {
			outKeys[i] = hexutil.EncodeBig(key.Big())
		} else {
			outKeys[i] = hexutil.Encode(key[:])
		}
	}
	st, header, err := api.s.stateAt(bnh)
	if err != nil {
		return nil, err
	}
	number := header.Number.Uint64()
	prove := func(key []byte) ([]string, error) {
		p, err := api.b.Proof(number, key)
		if err != nil {
			return nil, err
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return []string{hexutil.Encode(enc)}, nil
	}
	res := &AccountResult{
		Address:      addr,
		Balance:      (*hexutil.Big)(st.GetBalance(addr).ToBig()),
		CodeHash:     st.GetCodeHash(addr),
		Nonce:        hexutil.Uint64(st.GetNonce(addr)),
		StorageHash:  header.Root,
		StorageProof: make([]StorageResult, len(keys)),
	}
	if res.AccountProof, err = prove(state.AccountKey(addr)); err != nil {
		return nil, err
	}
	ctx, cancel := api.s.bounded(ctx)
	defer cancel()
	for i, key := range keys {
		if err := ctx.Err(); err != nil {
			return nil, timedOut(ctx, err)
		}
		proof, err := prove(state.StorageKey(addr, key))
		if err != nil {
			return nil, err
		}
		v := st.GetState(addr, key)
		res.StorageProof[i] = StorageResult{Key: outKeys[i], Value: (*hexutil.Big)(v.Big()), Proof: proof}
	}
	return res, nil
}

// --- blocks and transactions ---

// GetBlockByNumber returns a block with transaction hashes or, with fullTx, transaction
// objects; null when there is no such block. "pending" is the head block.
func (api *ethAPI) GetBlockByNumber(ctx context.Context, number gethrpc.BlockNumber, fullTx bool) (_ map[string]any, err error) {
	defer api.s.stats.track("eth_getBlockByNumber", &err)
	h := api.s.headerByNumber(number)
	if h == nil {
		return nil, nil
	}
	block := api.b.BlockByHash(h.Hash())
	if block == nil {
		return nil, nil
	}
	return marshalBlock(block, true, fullTx, api.b.ChainConfig()), nil
}

// GetBlockByHash returns a block by hash; null when unknown.
func (api *ethAPI) GetBlockByHash(ctx context.Context, hash common.Hash, fullTx bool) (_ map[string]any, err error) {
	defer api.s.stats.track("eth_getBlockByHash", &err)
	block := api.b.BlockByHash(hash)
	if block == nil {
		return nil, nil
	}
	return marshalBlock(block, true, fullTx, api.b.ChainConfig()), nil
}

// GetBlockTransactionCountByNumber returns the number of transactions in a block.
func (api *ethAPI) GetBlockTransactionCountByNumber(ctx context.Context, number gethrpc.BlockNumber) (_ *hexutil.Uint, err error) {
	defer api.s.stats.track("eth_getBlockTransactionCountByNumber", &err)
	if h := api.s.headerByNumber(number); h != nil {
		if block := api.b.BlockByHash(h.Hash()); block != nil {
			n := hexutil.Uint(len(block.Transactions()))
			return &n, nil
		}
	}
	return nil, nil
}

// GetBlockTransactionCountByHash returns the number of transactions in a block.
func (api *ethAPI) GetBlockTransactionCountByHash(ctx context.Context, hash common.Hash) (_ *hexutil.Uint, err error) {
	defer api.s.stats.track("eth_getBlockTransactionCountByHash", &err)
	if block := api.b.BlockByHash(hash); block != nil {
		n := hexutil.Uint(len(block.Transactions()))
		return &n, nil
	}
	return nil, nil
}

// GetTransactionByBlockNumberAndIndex returns one transaction of a block.
func (api *ethAPI) GetTransactionByBlockNumberAndIndex(ctx context.Context, number gethrpc.BlockNumber, index hexutil.Uint) (_ *rpcTransaction, err error) {
	defer api.s.stats.track("eth_getTransactionByBlockNumberAndIndex", &err)
	if h := api.s.headerByNumber(number); h != nil {
		if block := api.b.BlockByHash(h.Hash()); block != nil {
			return newRPCTransactionFromBlockIndex(block, uint64(index), api.b.ChainConfig()), nil
		}
	}
	return nil, nil
}

// GetTransactionByBlockHashAndIndex returns one transaction of a block.
func (api *ethAPI) GetTransactionByBlockHashAndIndex(ctx context.Context, hash common.Hash, index hexutil.Uint) (_ *rpcTransaction, err error) {
	defer api.s.stats.track("eth_getTransactionByBlockHashAndIndex", &err)
	if block := api.b.BlockByHash(hash); block != nil {
		return newRPCTransactionFromBlockIndex(block, uint64(index), api.b.ChainConfig()), nil
	}
	return nil, nil
}

// GetTransactionByHash returns an included or pooled transaction; null when unknown.
func (api *ethAPI) GetTransactionByHash(ctx context.Context, hash common.Hash) (_ *rpcTransaction, err error) {
	defer api.s.stats.track("eth_getTransactionByHash", &err)
	cfg := api.b.ChainConfig()
	tx, blockHash, number, index := api.b.Transaction(hash)
	if tx == nil {
		if ptx := api.b.PendingTransaction(hash); ptx != nil {
			return newRPCPendingTransaction(ptx, api.b.CurrentHeader(), cfg), nil
		}
		return nil, nil
	}
	header := api.b.HeaderByHash(blockHash)
	if header == nil {
		return nil, fmt.Errorf("%w: block %s of transaction %s", ErrHeaderNotFound, blockHash, hash)
	}
	return newRPCTransaction(tx, blockHash, number, header.Time, index, header.BaseFee, cfg), nil
}

// GetRawTransactionByHash returns the binary encoding of an included or pooled transaction.
func (api *ethAPI) GetRawTransactionByHash(ctx context.Context, hash common.Hash) (_ hexutil.Bytes, err error) {
	defer api.s.stats.track("eth_getRawTransactionByHash", &err)
	tx, _, _, _ := api.b.Transaction(hash)
	if tx == nil {
		tx = api.b.PendingTransaction(hash)
	}
	if tx == nil {
		return nil, nil
	}
	return tx.MarshalBinary()
}

// GetTransactionReceipt returns the receipt of an included transaction; null otherwise.
func (api *ethAPI) GetTransactionReceipt(ctx context.Context, hash common.Hash) (_ map[string]any, err error) {
	defer api.s.stats.track("eth_getTransactionReceipt", &err)
	r, tx := api.b.Receipt(hash)
	if r == nil || tx == nil {
		return nil, nil
	}
	header := api.b.HeaderByHash(r.BlockHash)
	if header == nil {
		return nil, fmt.Errorf("%w: block %s of transaction %s", ErrHeaderNotFound, r.BlockHash, hash)
	}
	signer := types.MakeSigner(api.b.ChainConfig(), header.Number, header.Time)
	return marshalReceipt(r, r.BlockHash, header.Number.Uint64(), signer, tx, int(r.TransactionIndex)), nil
}

// GetBlockReceipts returns every receipt of a block; null when there is no such block.
func (api *ethAPI) GetBlockReceipts(ctx context.Context, bnh gethrpc.BlockNumberOrHash) (_ []map[string]any, err error) {
	defer api.s.stats.track("eth_getBlockReceipts", &err)
	h, err := api.s.resolve(&bnh)
	if err != nil {
		if errors.Is(err, ErrHeaderNotFound) || errors.Is(err, errHashNotFound) {
			return nil, nil
		}
		return nil, err
	}
	block := api.b.BlockByHash(h.Hash())
	if block == nil {
		return nil, nil
	}
	rs, err := api.s.blockReceipts(block)
	if err != nil {
		return nil, err
	}
	signer := types.MakeSigner(api.b.ChainConfig(), block.Number(), block.Time())
	txs := block.Transactions()
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		out[i] = marshalReceipt(r, block.Hash(), block.NumberU64(), signer, txs[i], i)
	}
	return out, nil
}

// SendRawTransaction decodes a signed transaction and hands it to the pool; the pool's
// error is returned as is.
func (api *ethAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (_ common.Hash, err error) {
	defer api.s.stats.track("eth_sendRawTransaction", &err)
	tx, err := decodeRawTransaction(input)
	if err != nil {
		return common.Hash{}, err
	}
	if err := api.b.SendTransaction(tx); err != nil {
		return common.Hash{}, err
	}
	return tx.Hash(), nil
}

// GetLogs returns the logs matching a filter.
func (api *ethAPI) GetLogs(ctx context.Context, crit FilterCriteria) (_ []*types.Log, err error) {
	defer api.s.stats.track("eth_getLogs", &err)
	return api.s.getLogs(ctx, &crit)
}

// --- execution ---

// noOverrides rejects go-ethereum's optional state and block override parameters, which
// this server does not implement.
func noOverrides(overrides ...*json.RawMessage) error {
	for _, o := range overrides {
		if o != nil && string(*o) != "null" {
			return invalidParams("state and block overrides are not supported")
		}
	}
	return nil
}

// Call executes a message call on the state of a block (default latest). A revert is
// error code 3 "execution reverted: <reason>" with the revert bytes as data.
func (api *ethAPI) Call(ctx context.Context, args CallArgs, bnh *gethrpc.BlockNumberOrHash, stateOverrides, blockOverrides *json.RawMessage) (_ hexutil.Bytes, err error) {
	defer api.s.stats.track("eth_call", &err)
	if err := noOverrides(stateOverrides, blockOverrides); err != nil {
		return nil, err
	}
	header, err := api.s.resolve(bnh)
	if err != nil {
		return nil, err
	}
	msg, err := args.toMessage(api.s.opts.GasCap, header.BaseFee, api.b.ChainConfig().ChainID)
	if err != nil {
		return nil, err
	}
	res, err := api.s.call(ctx, msg, header)
	if err != nil {
		return nil, err
	}
	if errors.Is(res.Err, vm.ErrExecutionReverted) {
		return nil, newRevertError(res.ReturnData)
	}
	if res.Err != nil {
		return nil, res.Err
	}
	return common.CopyBytes(res.ReturnData), nil
}

// call runs msg through the backend under the call timeout.
func (s *Server) call(ctx context.Context, msg *core.Message, header *types.Header) (*core.ExecutionResult, error) {
	return s.callAt(ctx, msg, header.Number.Uint64())
}

// callAt runs msg at block number num (head+1: pending, see Backend.Call).
func (s *Server) callAt(ctx context.Context, msg *core.Message, num uint64) (*core.ExecutionResult, error) {
	cctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	res, err := s.backend.Call(cctx, msg, num)
	if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("execution aborted (timeout = %v)", s.opts.CallTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("err: %w (supplied gas %d)", err, msg.GasLimit)
	}
	if res == nil {
		return nil, errors.New("backend returned no execution result")
	}
	return res, nil
}

// EstimateGas returns the gas a transaction needs at a block (default latest).
func (api *ethAPI) EstimateGas(ctx context.Context, args CallArgs, bnh *gethrpc.BlockNumberOrHash, stateOverrides, blockOverrides *json.RawMessage) (_ hexutil.Uint64, err error) {
	defer api.s.stats.track("eth_estimateGas", &err)
	if err := noOverrides(stateOverrides, blockOverrides); err != nil {
		return 0, err
	}
	header, err := api.s.resolve(bnh)
	if err != nil {
		return 0, err
	}
	gas, err := api.s.estimateGas(ctx, &args, header)
	return hexutil.Uint64(gas), err
}

// --- fees ---

// GasPrice suggests a legacy gas price: the head's base fee plus the suggested tip.
func (api *ethAPI) GasPrice(ctx context.Context) (_ *hexutil.Big, err error) {
	defer api.s.stats.track("eth_gasPrice", &err)
	price := new(big.Int)
	if tip := api.b.SuggestTip(); tip != nil {
		price.Set(tip)
	}
	if bf := api.b.CurrentHeader().BaseFee; bf != nil {
		price.Add(price, bf)
	}
	return (*hexutil.Big)(price), nil
}

// MaxPriorityFeePerGas suggests a tip for dynamic-fee transactions.
func (api *ethAPI) MaxPriorityFeePerGas(ctx context.Context) (_ *hexutil.Big, err error) {
	defer api.s.stats.track("eth_maxPriorityFeePerGas", &err)
	tip := new(big.Int)
	if t := api.b.SuggestTip(); t != nil {
		tip.Set(t)
	}
	return (*hexutil.Big)(tip), nil
}

// FeeHistory returns base fees, gas used ratios and tip percentiles of recent blocks.
func (api *ethAPI) FeeHistory(ctx context.Context, blockCount math.HexOrDecimal64, lastBlock gethrpc.BlockNumber, rewardPercentiles []float64) (_ *feeHistoryResult, err error) {
	defer api.s.stats.track("eth_feeHistory", &err)
	return api.s.feeHistory(ctx, uint64(blockCount), lastBlock, rewardPercentiles)
}

// --- subscriptions (WebSocket only) ---

// NewHeads notifies each new head (eth_subscribe "newHeads").
func (api *ethAPI) NewHeads(ctx context.Context) (_ *gethrpc.Subscription, err error) {
	defer api.s.stats.track("eth_subscribe", &err)
	return api.s.subscribe(ctx, kindHeads, nil, false)
}

// Logs notifies each new log matching crit (eth_subscribe "logs"). Only new blocks are
// watched; fromBlock/toBlock, when numbers, bound the blocks notified.
func (api *ethAPI) Logs(ctx context.Context, crit FilterCriteria) (_ *gethrpc.Subscription, err error) {
	defer api.s.stats.track("eth_subscribe", &err)
	if crit.BlockHash != nil {
		return nil, invalidParams("blockHash is not supported in a logs subscription")
	}
	if err := api.s.checkLogQuery(&crit); err != nil {
		return nil, err
	}
	return api.s.subscribe(ctx, kindLogs, &crit, false)
}

// NewPendingTransactions notifies the hash (or, with fullTx, the object) of each
// transaction entering the pool (eth_subscribe "newPendingTransactions").
func (api *ethAPI) NewPendingTransactions(ctx context.Context, fullTx *bool) (_ *gethrpc.Subscription, err error) {
	defer api.s.stats.track("eth_subscribe", &err)
	return api.s.subscribe(ctx, kindTxs, nil, fullTx != nil && *fullTx)
}

// --- net_, web3_, txpool_ ---

type netAPI struct{ s *Server }

// Version returns the network ID, which is the chain ID, in decimal.
func (api *netAPI) Version() string {
	defer api.s.stats.track("net_version", nil)
	return api.s.backend.ChainConfig().ChainID.String()
}

// Listening is always true.
func (api *netAPI) Listening() bool {
	defer api.s.stats.track("net_listening", nil)
	return true
}

// PeerCount is always zero: a dev node has no peers.
func (api *netAPI) PeerCount() hexutil.Uint {
	defer api.s.stats.track("net_peerCount", nil)
	return 0
}

type web3API struct{ s *Server }

// ClientVersion returns Options.ClientVersion.
func (api *web3API) ClientVersion() string {
	defer api.s.stats.track("web3_clientVersion", nil)
	return api.s.opts.ClientVersion
}

// Sha3 returns keccak256 of input.
func (api *web3API) Sha3(input hexutil.Bytes) hexutil.Bytes {
	defer api.s.stats.track("web3_sha3", nil)
	return crypto.Keccak256(input)
}

type txpoolAPI struct{ s *Server }

// Content returns the pool's pending and queued transactions by sender and nonce, in
// go-ethereum's shape.
func (api *txpoolAPI) Content() map[string]map[string]map[string]*rpcTransaction {
	defer api.s.stats.track("txpool_content", nil)
	pending, queued := api.s.backend.TxPoolContent()
	head, cfg := api.s.backend.CurrentHeader(), api.s.backend.ChainConfig()
	flatten := func(m map[common.Address][]*types.Transaction) map[string]map[string]*rpcTransaction {
		out := make(map[string]map[string]*rpcTransaction, len(m))
		for addr, txs := range m {
			byNonce := make(map[string]*rpcTransaction, len(txs))
			for _, tx := range txs {
				byNonce[fmt.Sprintf("%d", tx.Nonce())] = newRPCPendingTransaction(tx, head, cfg)
			}
			out[addr.Hex()] = byNonce
		}
		return out
	}
	return map[string]map[string]map[string]*rpcTransaction{
		"pending": flatten(pending),
		"queued":  flatten(queued),
	}
}

// Status returns the number of pending and queued transactions.
func (api *txpoolAPI) Status() map[string]hexutil.Uint {
	defer api.s.stats.track("txpool_status", nil)
	pending, queued := api.s.backend.TxPoolContent()
	count := func(m map[common.Address][]*types.Transaction) hexutil.Uint {
		n := 0
		for _, txs := range m {
			n += len(txs)
		}
		return hexutil.Uint(n)
	}
	return map[string]hexutil.Uint{"pending": count(pending), "queued": count(queued)}
}
