package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"

	"github.com/metisgo/metis/chain/metisdb"
	"github.com/metisgo/metis/chain/state"
)

func dialHTTP(t *testing.T, addr string) (*ethclient.Client, *gethrpc.Client) {
	t.Helper()
	c, err := gethrpc.DialHTTP("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return ethclient.NewClient(c), c
}

func dialWS(t *testing.T, addr string) (*ethclient.Client, *gethrpc.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := gethrpc.DialContext(ctx, "ws://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return ethclient.NewClient(c), c
}

func rpcCode(err error) int {
	var re gethrpc.Error
	if errors.As(err, &re) {
		return re.ErrorCode()
	}
	return 0
}

// chainWithTxs mines block 1 with two transactions (the first with two logs, the second a
// contract creation with one log) and block 2 with one transaction and no logs.
func chainWithTxs(t testing.TB, b *testBackend) (b1, b2 *types.Block) {
	t.Helper()
	tx0 := b.signTx(t, testKey, 0, &logAddr, []byte{1})
	tx1 := b.signTx(t, testKey, 1, nil, []byte{0x60, 0x00})
	b1 = b.mine([]*types.Transaction{tx0, tx1}, [][]*types.Log{
		{
			{Address: logAddr, Topics: []common.Hash{topicA, topicB}, Data: []byte{1}},
			{Address: otherAddr, Topics: []common.Hash{topicA, topicC}, Data: []byte{2}},
		},
		{
			{Address: logAddr, Topics: []common.Hash{topicC}, Data: []byte{3}},
		},
	})
	tx2 := b.signTx(t, testKey, 2, &otherAddr, nil)
	b2 = b.mine([]*types.Transaction{tx2}, nil)
	return b1, b2
}

func TestBasics(t *testing.T) {
	b := newTestBackend()
	_, addr := startServer(t, b, Options{})
	ec, c := dialHTTP(t, addr)
	ctx := context.Background()

	id, err := ec.ChainID(ctx)
	if err != nil || id.Uint64() != 1337 {
		t.Fatalf("chainId = %v, %v", id, err)
	}
	chainWithTxs(t, b)
	n, err := ec.BlockNumber(ctx)
	if err != nil || n != 2 {
		t.Fatalf("blockNumber = %d, %v", n, err)
	}
	bal, err := ec.BalanceAt(ctx, testAddr, nil)
	if err != nil || bal.String() != "10000000000000000000000" {
		t.Fatalf("balance = %v, %v", bal, err)
	}
	if bal, err := ec.BalanceAt(ctx, testAddr, big.NewInt(1)); err != nil || bal.Sign() == 0 {
		t.Fatalf("balance at 1 = %v, %v", bal, err)
	}
	if _, err := ec.BalanceAt(ctx, testAddr, big.NewInt(99)); err == nil || !strings.Contains(err.Error(), "header not found") {
		t.Fatalf("balance at unknown block: %v", err)
	}
	code, err := ec.CodeAt(ctx, logAddr, nil)
	if err != nil || !bytes.Equal(code, []byte{0x60, 0x00}) {
		t.Fatalf("code = %x, %v", code, err)
	}
	word, err := ec.StorageAt(ctx, logAddr, common.HexToHash("0x01"), nil)
	if err != nil || common.BytesToHash(word) != common.HexToHash("0x2a") {
		t.Fatalf("storage = %x, %v", word, err)
	}
	nonce, err := ec.NonceAt(ctx, testAddr, nil)
	if err != nil || nonce != 3 {
		t.Fatalf("nonce = %d, %v", nonce, err)
	}
	tx := b.signTx(t, testKey, 3, &otherAddr, nil)
	if err := ec.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if pn, err := ec.PendingNonceAt(ctx, testAddr); err != nil || pn != 4 {
		t.Fatalf("pending nonce = %d, %v", pn, err)
	}
	if sp, err := ec.SyncProgress(ctx); err != nil || sp != nil {
		t.Fatalf("syncing = %v, %v", sp, err)
	}
	var version, netVersion string
	var listening bool
	var accounts []common.Address
	for _, call := range []struct {
		method string
		out    any
	}{{"web3_clientVersion", &version}, {"net_version", &netVersion}, {"net_listening", &listening}, {"eth_accounts", &accounts}} {
		if err := c.Call(call.out, call.method); err != nil {
			t.Fatalf("%s: %v", call.method, err)
		}
	}
	if !strings.HasPrefix(version, "metis/v") || !strings.Contains(version, "/go1.") {
		t.Errorf("clientVersion = %q", version)
	}
	if netVersion != "1337" || !listening || len(accounts) != 2 || accounts[0] != testAddr {
		t.Errorf("net_version %q, listening %v, accounts %v", netVersion, listening, accounts)
	}
	var status map[string]hexutil.Uint
	if err := c.Call(&status, "txpool_status"); err != nil || status["pending"] != 1 || status["queued"] != 0 {
		t.Fatalf("txpool_status = %v, %v", status, err)
	}
	var content map[string]map[string]map[string]json.RawMessage
	if err := c.Call(&content, "txpool_content"); err != nil {
		t.Fatal(err)
	}
	if _, ok := content["pending"][testAddr.Hex()]["3"]; !ok {
		t.Errorf("txpool_content = %v", content)
	}
	gp, err := ec.SuggestGasPrice(ctx)
	head := b.CurrentHeader()
	if err != nil || gp.Cmp(new(big.Int).Add(head.BaseFee, b.SuggestTip())) != 0 {
		t.Fatalf("gasPrice = %v, %v", gp, err)
	}
	tip, err := ec.SuggestGasTipCap(ctx)
	if err != nil || tip.Cmp(b.SuggestTip()) != 0 {
		t.Fatalf("maxPriorityFeePerGas = %v, %v", tip, err)
	}
}

func TestBlocksRoundTrip(t *testing.T) {
	b := newTestBackend()
	_, addr := startServer(t, b, Options{})
	ec, c := dialHTTP(t, addr)
	ctx := context.Background()
	b1, b2 := chainWithTxs(t, b)

	for _, want := range []*types.Block{b.BlockByNumber(0), b1, b2} {
		h, err := ec.HeaderByNumber(ctx, want.Number())
		if err != nil {
			t.Fatal(err)
		}
		if h.Hash() != want.Hash() {
			t.Fatalf("block %d: header hash %s after JSON, want %s", want.NumberU64(), h.Hash(), want.Hash())
		}
		got, err := ec.BlockByHash(ctx, want.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if got.Hash() != want.Hash() || len(got.Transactions()) != len(want.Transactions()) {
			t.Fatalf("block %d: got %s with %d txs", want.NumberU64(), got.Hash(), len(got.Transactions()))
		}
		for i, tx := range got.Transactions() {
			if tx.Hash() != want.Transactions()[i].Hash() {
				t.Fatalf("tx %d hash differs", i)
			}
			if from, err := types.Sender(b.signer(), tx); err != nil || from != testAddr {
				t.Fatalf("tx %d sender %s, %v", i, from, err)
			}
		}
	}
	if h, err := ec.HeaderByNumber(ctx, nil); err != nil || h.Hash() != b2.Hash() {
		t.Fatalf("latest = %v, %v", h, err)
	}
	if _, err := ec.BlockByNumber(ctx, big.NewInt(50)); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("unknown block: %v", err)
	}
	// Hash-only blocks.
	var raw map[string]any
	if err := c.Call(&raw, "eth_getBlockByNumber", "0x1", false); err != nil {
		t.Fatal(err)
	}
	if txs := raw["transactions"].([]any); len(txs) != 2 || txs[0] != b1.Transactions()[0].Hash().Hex() {
		t.Fatalf("hash-only transactions = %v", txs)
	}
	for _, f := range []string{"hash", "parentHash", "stateRoot", "logsBloom", "baseFeePerGas", "size", "uncles", "miner", "mixHash", "nonce"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("block JSON lacks %q", f)
		}
	}
	if n, err := ec.TransactionCount(ctx, b1.Hash()); err != nil || n != 2 {
		t.Fatalf("tx count = %d, %v", n, err)
	}

	// Transactions: included and pending.
	tx0 := b1.Transactions()[0]
	got, pending, err := ec.TransactionByHash(ctx, tx0.Hash())
	if err != nil || pending || got.Hash() != tx0.Hash() {
		t.Fatalf("tx by hash = %v, %v, %v", got, pending, err)
	}
	ptx := b.signTx(t, testKey, 3, &otherAddr, nil)
	if err := ec.SendTransaction(ctx, ptx); err != nil {
		t.Fatal(err)
	}
	if got, pending, err := ec.TransactionByHash(ctx, ptx.Hash()); err != nil || !pending || got.Hash() != ptx.Hash() {
		t.Fatalf("pending tx = %v, %v, %v", got, pending, err)
	}
	if r, err := ec.TransactionReceipt(ctx, ptx.Hash()); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("receipt of pending tx = %v, %v", r, err)
	}

	// Receipts with derived fields.
	r0, err := ec.TransactionReceipt(ctx, tx0.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if r0.BlockHash != b1.Hash() || r0.BlockNumber.Uint64() != 1 || r0.TransactionIndex != 0 || r0.Status != 1 ||
		r0.GasUsed != 21_000 || r0.Type != types.DynamicFeeTxType || len(r0.Logs) != 2 {
		t.Fatalf("receipt = %+v", r0)
	}
	wantPrice := new(big.Int).Add(b1.BaseFee(), tx0.GasTipCap())
	if r0.EffectiveGasPrice.Cmp(wantPrice) != 0 {
		t.Errorf("effectiveGasPrice %v, want %v", r0.EffectiveGasPrice, wantPrice)
	}
	if l := r0.Logs[1]; l.BlockHash != b1.Hash() || l.TxHash != tx0.Hash() || l.Index != 1 || l.BlockNumber != 1 {
		t.Errorf("log = %+v", l)
	}
	r1, err := ec.TransactionReceipt(ctx, b1.Transactions()[1].Hash())
	if err != nil {
		t.Fatal(err)
	}
	if want := crypto.CreateAddress(testAddr, 1); r1.ContractAddress != want || r1.GasUsed != 22_000 || r1.Logs[0].Index != 2 {
		t.Fatalf("creation receipt: contract %s gas %d log index %d", r1.ContractAddress, r1.GasUsed, r1.Logs[0].Index)
	}
	if r1.Bloom != types.CreateBloom(r1) {
		t.Error("logsBloom differs")
	}
	var rawReceipt map[string]any
	if err := c.Call(&rawReceipt, "eth_getTransactionReceipt", tx0.Hash()); err != nil {
		t.Fatal(err)
	}
	if rawReceipt["contractAddress"] != nil || rawReceipt["from"] != strings.ToLower(testAddr.Hex()) || rawReceipt["type"] != "0x2" {
		t.Errorf("raw receipt = %v", rawReceipt)
	}
	rs, err := ec.BlockReceipts(ctx, gethrpc.BlockNumberOrHashWithNumber(1))
	if err != nil || len(rs) != 2 || rs[1].ContractAddress != r1.ContractAddress {
		t.Fatalf("block receipts = %v, %v", rs, err)
	}
	if rs, err := ec.BlockReceipts(ctx, gethrpc.BlockNumberOrHashWithHash(b2.Hash(), true)); err != nil || len(rs) != 1 {
		t.Fatalf("block receipts by hash = %v, %v", rs, err)
	}
}

func TestSendRawTransaction(t *testing.T) {
	b := newTestBackend()
	_, addr := startServer(t, b, Options{})
	ec, c := dialHTTP(t, addr)
	ctx := context.Background()

	tx := b.signTx(t, testKey, 0, &otherAddr, nil)
	var hash common.Hash
	enc, _ := tx.MarshalBinary()
	if err := c.Call(&hash, "eth_sendRawTransaction", hexutil.Encode(enc)); err != nil || hash != tx.Hash() {
		t.Fatalf("send = %s, %v", hash, err)
	}
	// The pool's error message reaches the client unchanged.
	b.setSendErr(errNonceTooLow)
	err := ec.SendTransaction(ctx, tx)
	if err == nil || err.Error() != errNonceTooLow.Error() {
		t.Fatalf("pool error = %v", err)
	}
	// Undecodable bytes are invalid params.
	for _, bad := range []string{"0x", "0x02", "0xdeadbeef", "0xc0"} {
		err := c.Call(&hash, "eth_sendRawTransaction", bad)
		if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), "invalid raw transaction") {
			t.Errorf("%s: %v (code %d)", bad, err, rpcCode(err))
		}
	}
	if err := c.Call(&hash, "eth_sendRawTransaction", "not hex"); rpcCode(err) != -32602 {
		t.Errorf("non-hex: %v", err)
	}
}

func revertData(t *testing.T, reason string) []byte {
	t.Helper()
	str, _ := abi.NewType("string", "", nil)
	packed, err := abi.Arguments{{Type: str}}.Pack(reason)
	if err != nil {
		t.Fatal(err)
	}
	return append(crypto.Keccak256([]byte("Error(string)"))[:4], packed...)
}

func TestCallAndEstimate(t *testing.T) {
	b := newTestBackend()
	_, addr := startServer(t, b, Options{})
	ec, c := dialHTTP(t, addr)
	ctx := context.Background()
	chainWithTxs(t, b)

	out, err := ec.CallContract(ctx, ethereum.CallMsg{From: testAddr, To: &logAddr, Data: []byte{1, 2, 3}}, nil)
	if err != nil || !bytes.Equal(out, []byte{1, 2, 3}) {
		t.Fatalf("call = %x, %v", out, err)
	}
	var (
		seenMu sync.Mutex
		seen   *core.Message
	)
	b.setCall(func(m *core.Message) (*core.ExecutionResult, error) {
		seenMu.Lock()
		defer seenMu.Unlock()
		seen = m
		return &core.ExecutionResult{UsedGas: 21_000, ReturnData: []byte{9}}, nil
	})
	// Every EIP-1898 block selector.
	b1 := b.BlockByNumber(1)
	for _, sel := range []any{"latest", "pending", "earliest", "safe", "finalized", "0x1",
		map[string]any{"blockNumber": "0x1"}, map[string]any{"blockHash": b1.Hash(), "requireCanonical": true}} {
		var res hexutil.Bytes
		if err := c.Call(&res, "eth_call", map[string]any{"to": logAddr, "data": "0x01", "gas": "0x5208"}, sel); err != nil || !bytes.Equal(res, []byte{9}) {
			t.Errorf("call at %v: %x, %v", sel, res, err)
		}
	}
	seenMu.Lock()
	if seen.GasLimit != 21_000 || !bytes.Equal(seen.Data, []byte{1}) || *seen.To != logAddr {
		t.Errorf("message = %+v", seen)
	}
	seenMu.Unlock()
	var res hexutil.Bytes
	err = c.Call(&res, "eth_call", map[string]any{"to": logAddr, "gasPrice": "0x1", "maxFeePerGas": "0x2"}, "latest")
	if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), "both gasPrice and") {
		t.Errorf("conflicting fees: %v", err)
	}
	err = c.Call(&res, "eth_call", map[string]any{"to": logAddr}, "latest", map[string]any{logAddr.Hex(): map[string]any{"balance": "0x1"}})
	if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), "overrides are not supported") {
		t.Errorf("overrides: %v", err)
	}
	if err := c.Call(&res, "eth_call", map[string]any{"to": logAddr}, "0x99"); err == nil || !strings.Contains(err.Error(), "header not found") {
		t.Errorf("unknown block: %v", err)
	}
	if err := c.Call(&res, "eth_call", map[string]any{"to": 5}, "latest"); rpcCode(err) != -32602 {
		t.Errorf("bad args: %v", err)
	}

	// A revert: code 3, "execution reverted: reason", data = revert bytes.
	rd := revertData(t, "not enough tokens")
	b.setCall(func(m *core.Message) (*core.ExecutionResult, error) {
		return &core.ExecutionResult{UsedGas: 30_000, Err: vm.ErrExecutionReverted, ReturnData: rd}, nil
	})
	_, err = ec.CallContract(ctx, ethereum.CallMsg{From: testAddr, To: &logAddr}, nil)
	if err == nil || err.Error() != "execution reverted: not enough tokens" || rpcCode(err) != 3 {
		t.Fatalf("revert error = %v (code %d)", err, rpcCode(err))
	}
	var de gethrpc.DataError
	if !errors.As(err, &de) || de.ErrorData() != hexutil.Encode(rd) {
		t.Fatalf("revert data = %v", de)
	}
	// A revert without a reason, and another EVM failure.
	b.setCall(func(m *core.Message) (*core.ExecutionResult, error) {
		return &core.ExecutionResult{Err: vm.ErrExecutionReverted}, nil
	})
	if _, err = ec.CallContract(ctx, ethereum.CallMsg{To: &logAddr}, nil); err == nil || err.Error() != "execution reverted" || rpcCode(err) != 3 {
		t.Fatalf("bare revert = %v", err)
	}
	b.setCall(func(m *core.Message) (*core.ExecutionResult, error) {
		return &core.ExecutionResult{Err: vm.ErrInvalidJump}, nil
	})
	if _, err = ec.CallContract(ctx, ethereum.CallMsg{To: &logAddr}, nil); err == nil || err.Error() != vm.ErrInvalidJump.Error() {
		t.Fatalf("invalid jump = %v", err)
	}
}

// chainWithLogs deploys two emitterCode contracts a and b, then seals block n with three
// logs, (a, [topicA topicB], 1), (b, [topicA topicC], 2) and (a, [topicC], 3), and block n+1
// with a transfer and no logs.
func chainWithLogs(t testing.TB, b *chainBackend) (la, lb common.Address, withLogs *types.Block) {
	t.Helper()
	la, lb = b.deploy(testKey, emitterCode), b.deploy(testKey, emitterCode)
	b.send(testKey, &la, nil, emitData(1, topicA, topicB), 100_000)
	b.send(testKey, &lb, nil, emitData(2, topicA, topicC), 100_000)
	b.send(testKey, &la, nil, emitData(3, topicC), 100_000)
	withLogs = b.seal()
	b.send(testKey, &otherAddr, big.NewInt(1), nil, 21_000)
	b.seal()
	return la, lb, withLogs
}

func TestGetLogs(t *testing.T) {
	b := newChainBackend(t, 0)
	_, addr := startServer(t, b, Options{MaxLogBlockRange: 10})
	ec, c := dialHTTP(t, addr)
	ctx := context.Background()
	la, lb, b1 := chainWithLogs(t, b)
	n1 := b1.Number()

	cases := []struct {
		name  string
		q     ethereum.FilterQuery
		datas []byte // Data[0] of the expected logs, in order
	}{
		{"all", ethereum.FilterQuery{}, []byte{1, 2, 3}},
		{"address", ethereum.FilterQuery{Addresses: []common.Address{la}}, []byte{1, 3}},
		{"two addresses", ethereum.FilterQuery{Addresses: []common.Address{la, lb}}, []byte{1, 2, 3}},
		{"topic0", ethereum.FilterQuery{Topics: [][]common.Hash{{topicA}}}, []byte{1, 2}},
		{"wildcard then topic", ethereum.FilterQuery{Topics: [][]common.Hash{nil, {topicC}}}, []byte{2}},
		{"alternatives", ethereum.FilterQuery{Topics: [][]common.Hash{{topicA, topicC}}}, []byte{1, 2, 3}},
		{"no match", ethereum.FilterQuery{Topics: [][]common.Hash{{topicB}}}, nil},
		{"block hash", ethereum.FilterQuery{BlockHash: ptr(b1.Hash()), Addresses: []common.Address{lb}}, []byte{2}},
		{"range with logs", ethereum.FilterQuery{FromBlock: n1, ToBlock: n1}, []byte{1, 2, 3}},
		{"range without logs", ethereum.FilterQuery{FromBlock: new(big.Int).Add(n1, common.Big1)}, nil},
	}
	for _, tc := range cases {
		logs, err := ec.FilterLogs(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []byte
		for _, l := range logs {
			got = append(got, l.Data[0])
			if l.BlockHash != b1.Hash() || l.TxHash == (common.Hash{}) {
				t.Errorf("%s: underived log %+v", tc.name, l)
			}
		}
		if !bytes.Equal(got, tc.datas) {
			t.Errorf("%s: logs %v, want %v", tc.name, got, tc.datas)
		}
	}
	// Raw JSON forms: address as a string, null and nested null topics, tags.
	var logs []types.Log
	// [topicB, null] matches anything in position 1, but the log with one topic has no position 1.
	if err := c.Call(&logs, "eth_getLogs", json.RawMessage(`{"fromBlock":"earliest","toBlock":"latest","address":"`+la.Hex()+`","topics":[null,["`+topicB.Hex()+`",null]]}`)); err != nil || len(logs) != 1 || logs[0].Data[0] != 1 {
		t.Fatalf("raw filter: %d logs, %v", len(logs), err)
	}
	var empty json.RawMessage
	if err := c.Call(&empty, "eth_getLogs", map[string]any{"fromBlock": hexutil.EncodeBig(new(big.Int).Add(n1, common.Big1))}); err != nil || string(empty) != "[]" {
		t.Fatalf("empty result = %s, %v", empty, err)
	}
	head := b.CurrentHeader().Number.Uint64()
	bad := []struct{ filter, want string }{
		{`{"fromBlock":"0x2","toBlock":"0x1"}`, "invalid block range"},
		{`{"fromBlock":"0x1","toBlock":"` + hexutil.EncodeUint64(head+1) + `"}`, "beyond current head"},
		{`{"blockHash":"` + b1.Hash().Hex() + `","fromBlock":"0x1"}`, "cannot specify both"},
		{`{"address":"0x1234"}`, "invalid address"},
		{`{"address":[1]}`, "non-string address"},
		{`{"topics":[1]}`, "invalid topic"},
		{`{"topics":["0x01"]}`, "invalid length"},
		{`{"topics":[null,null,null,null,null]}`, "exceed max topics"},
		{`{"fromBlock":"yesterday"}`, "invalid"},
	}
	for _, tc := range bad {
		err := c.Call(&logs, "eth_getLogs", json.RawMessage(tc.filter))
		if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (code %d), want -32602 %q", tc.filter, err, rpcCode(err), tc.want)
		}
	}
	for range 12 {
		b.seal()
	}
	if err := c.Call(&logs, "eth_getLogs", map[string]any{"fromBlock": "0x0"}); rpcCode(err) != CodeLimitExceeded || !strings.Contains(err.Error(), "block range too large") {
		t.Errorf("range limit: %v", err)
	}
	if err := c.Call(&logs, "eth_getLogs", map[string]any{"blockHash": common.Hash{1}}); err == nil || !strings.Contains(err.Error(), "unknown block") {
		t.Errorf("unknown block hash: %v", err)
	}
}

// TestGetLogsResultLimits checks both result limits are -32005: the server's MaxLogResults
// and the chain's own (core.Options.MaxLogs, through NewLimitError).
func TestGetLogsResultLimits(t *testing.T) {
	b := newChainBackend(t, 0)
	chainWithLogs(t, b)
	_, addr := startServer(t, b, Options{MaxLogResults: 2})
	_, c := dialHTTP(t, addr)
	var logs []types.Log
	if err := c.Call(&logs, "eth_getLogs", map[string]any{"fromBlock": "earliest"}); rpcCode(err) != CodeLimitExceeded || !strings.Contains(err.Error(), "more than 2 results") {
		t.Errorf("server result limit: %v (code %d)", err, rpcCode(err))
	}

	small := newChainBackend(t, 2)
	chainWithLogs(t, small)
	_, addr = startServer(t, small, Options{})
	_, c = dialHTTP(t, addr)
	if err := c.Call(&logs, "eth_getLogs", map[string]any{"fromBlock": "earliest"}); rpcCode(err) != CodeLimitExceeded || !strings.Contains(err.Error(), "query limit") {
		t.Errorf("chain result limit: %v (code %d)", err, rpcCode(err))
	}
}

func TestEstimateGas(t *testing.T) {
	b := newChainBackend(t, 0)
	_, addr := startServer(t, b, Options{})
	ec, c := dialHTTP(t, addr)
	ctx := context.Background()
	reverter, burner, storer := b.deploy(testKey, reverterCode), b.deploy(testKey, burnerCode), b.deploy(testKey, storerCode)

	// A revert: code 3, "execution reverted: reason", data = revert bytes.
	rd := revertData(t, "not enough tokens")
	_, err := ec.EstimateGas(ctx, ethereum.CallMsg{From: testAddr, To: &reverter, Data: rd})
	var de gethrpc.DataError
	if err == nil || err.Error() != "execution reverted: not enough tokens" || rpcCode(err) != CodeRevert || !errors.As(err, &de) || de.ErrorData() != hexutil.Encode(rd) {
		t.Fatalf("estimate revert = %v", err)
	}
	// The zero-to-nonzero SSTORE needs more gas limit (the 2300 stipend check) than it uses:
	// the estimate succeeds and is within go-ethereum's 1.5% of the least limit that does.
	word := common.BigToHash(big.NewInt(7)).Bytes()
	var gas hexutil.Uint64
	for _, sel := range []any{nil, "latest", "pending", map[string]any{"blockHash": b.CurrentHeader().Hash()}} {
		args := []any{map[string]any{"from": testAddr, "to": storer, "data": hexutil.Encode(word)}}
		if sel != nil {
			args = append(args, sel)
		}
		if err := c.Call(&gas, "eth_estimateGas", args...); err != nil {
			t.Fatalf("estimate at %v: %v", sel, err)
		}
	}
	run := func(limit uint64) bool {
		m := &core.Message{From: testAddr, To: &storer, Data: word, GasLimit: limit}
		res, err := b.Call(ctx, m, b.CurrentHeader().Number.Uint64()+1)
		return err == nil && !res.Failed()
	}
	if !run(uint64(gas)) || run(uint64(gas)*985/1000-1) {
		t.Errorf("estimate %d: not the least limit within 1.5%%", gas)
	}
	tx := b.send(testKey, &storer, nil, word, uint64(gas))
	b.seal()
	if r, err := b.c.Receipt(tx.Hash()); err != nil || r.Status != types.ReceiptStatusSuccessful || r.GasUsed >= uint64(gas) {
		t.Errorf("transaction with the estimate: %+v, %v", r, err)
	}
	// A plain transfer is estimated from one run at 21,000.
	if gas, err := ec.EstimateGas(ctx, ethereum.CallMsg{From: testAddr, To: &otherAddr, Value: big.NewInt(1)}); err != nil || gas != 21_000 {
		t.Fatalf("transfer estimate = %d, %v", gas, err)
	}
	// Always out of gas: the allowance error, naming the upper bound: the block gas limit,
	// capped by EIP-7825 (the dev chain is at Osaka).
	hi := min(b.CurrentHeader().GasLimit, params.MaxTxGas)
	if _, err := ec.EstimateGas(ctx, ethereum.CallMsg{To: &burner}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("gas required exceeds allowance (%d)", hi)) {
		t.Fatalf("out of gas estimate: %v", err)
	}
	// The caller's gas is the upper bound, and the sender's funds cap it at the fee cap.
	if _, err := ec.EstimateGas(ctx, ethereum.CallMsg{To: &burner, Gas: 100_000}); err == nil || !strings.Contains(err.Error(), "gas required exceeds allowance (100000)") {
		t.Fatalf("out of gas with a gas argument: %v", err)
	}
	poor := common.HexToAddress("0x0000000000000000000000000000000000000b0b")
	b.send(testKey, &poor, big.NewInt(50_000*params.GWei), nil, 21_000)
	b.seal()
	if _, err := ec.EstimateGas(ctx, ethereum.CallMsg{From: poor, To: &burner, GasPrice: big.NewInt(params.GWei)}); err == nil || !strings.Contains(err.Error(), "gas required exceeds allowance (50000)") {
		t.Fatalf("allowance-capped estimate: %v", err)
	}
	if _, err := ec.EstimateGas(ctx, ethereum.CallMsg{From: poor, To: &otherAddr, Value: big.NewInt(params.Ether), GasPrice: big.NewInt(params.GWei)}); err == nil || !strings.Contains(err.Error(), "insufficient funds for transfer") {
		t.Fatalf("transfer beyond the balance: %v", err)
	}
	// Argument errors are the server's.
	if err := c.Call(&gas, "eth_estimateGas", map[string]any{"to": storer, "gasPrice": "0x1", "maxFeePerGas": "0x2"}); rpcCode(err) != CodeInvalidParams {
		t.Errorf("conflicting fees: %v", err)
	}
	if err := c.Call(&gas, "eth_estimateGas", map[string]any{"to": storer}, "0x999"); err == nil || !strings.Contains(err.Error(), "header not found") {
		t.Errorf("unknown block: %v", err)
	}
}

func TestFeeHistory(t *testing.T) {
	b := newChainBackend(t, 0)
	_, addr := startServer(t, b, Options{})
	ec, c := dialHTTP(t, addr)
	ctx := context.Background()
	tx0 := b.send(testKey, &otherAddr, big.NewInt(1), nil, 21_000)
	b1 := b.seal()
	b.seal()

	fh, err := ec.FeeHistory(ctx, 10, nil, []float64{10, 90})
	if err != nil {
		t.Fatal(err)
	}
	if fh.OldestBlock.Uint64() != 0 || len(fh.BaseFee) != 4 || len(fh.GasUsedRatio) != 3 || len(fh.Reward) != 3 {
		t.Fatalf("fee history = %+v", fh)
	}
	if fh.Reward[1][0].Cmp(tx0.GasTipCap()) != 0 || fh.BaseFee[1].Cmp(b1.BaseFee()) != 0 || fh.Reward[2][1].Sign() != 0 {
		t.Errorf("fee history block 1: reward %v base fee %v", fh.Reward[1], fh.BaseFee[1])
	}
	if fh, err := ec.FeeHistory(ctx, 1, big.NewInt(1), []float64{}); err != nil || fh.OldestBlock.Uint64() != 1 || len(fh.BaseFee) != 2 || len(fh.Reward) != 0 {
		t.Errorf("fee history of block 1 = %+v, %v", fh, err)
	}
	var raw map[string]any
	if err := c.Call(&raw, "eth_feeHistory", "0x0", "latest", []float64{}); err != nil || raw["oldestBlock"] != "0x0" {
		t.Errorf("no blocks: %v, %v", raw, err)
	}
	for _, tc := range []struct {
		last        string
		percentiles []float64
		want        string
	}{
		{"latest", []float64{50, 10}, "invalid reward percentile: #0:50.000000 >= #1:10.000000"},
		{"latest", []float64{50, 50}, "invalid reward percentile: #0:50.000000 >= #1:50.000000"},
		{"latest", []float64{101}, "invalid reward percentile: 101.000000"},
		{"0x9", []float64{}, "request beyond head block"},
	} {
		err := c.Call(&raw, "eth_feeHistory", "0x1", tc.last, tc.percentiles)
		if rpcCode(err) != CodeInvalidParams || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v (code %d), want -32602 %q", tc.last, tc.percentiles, err, rpcCode(err), tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestGetProof(t *testing.T) {
	b := newTestBackend()
	_, addr := startServer(t, b, Options{})
	_, c := dialHTTP(t, addr)
	chainWithTxs(t, b)
	var (
		keysMu sync.Mutex
		keys   [][]byte
	)
	b.setProof(func(number uint64, key []byte) (*metisdb.Proof, error) {
		keysMu.Lock()
		defer keysMu.Unlock()
		keys = append(keys, key)
		return &metisdb.Proof{Siblings: []metisdb.Hash{{}, {byte(len(keys))}}}, nil
	})
	var res AccountResult
	if err := c.Call(&res, "eth_getProof", logAddr, []string{"0x01", common.HexToHash("0x02").Hex()}, "latest"); err != nil {
		t.Fatal(err)
	}
	head := b.CurrentHeader()
	if res.Address != logAddr || res.StorageHash != head.Root || res.CodeHash != crypto.Keccak256Hash([]byte{0x60, 0x00}) ||
		len(res.AccountProof) != 1 || len(res.StorageProof) != 2 {
		t.Fatalf("proof = %+v", res)
	}
	keysMu.Lock()
	if !bytes.Equal(keys[0], state.AccountKey(logAddr)) || !bytes.Equal(keys[1], state.StorageKey(logAddr, common.HexToHash("0x01"))) {
		t.Fatalf("proved keys %x", keys)
	}
	keysMu.Unlock()
	var p metisdb.Proof
	if err := p.UnmarshalBinary(hexutil.MustDecode(res.AccountProof[0])); err != nil || p.Siblings[1] != (metisdb.Hash{1}) {
		t.Fatalf("account proof %v, %v", p, err)
	}
	if sp := res.StorageProof[0]; sp.Key != "0x1" || sp.Value.ToInt().Int64() != 0x2a || len(sp.Proof) != 1 {
		t.Fatalf("storage proof = %+v", sp)
	}
	if sp := res.StorageProof[1]; sp.Key != common.HexToHash("0x02").Hex() || sp.Value.ToInt().Sign() != 0 {
		t.Fatalf("storage proof 2 = %+v", sp)
	}
	if err := c.Call(&res, "eth_getProof", logAddr, []string{"0x" + strings.Repeat("00", 33)}, "latest"); rpcCode(err) != CodeInvalidParams {
		t.Fatalf("long key: %v", err)
	}
	var missing AccountResult
	if err := c.Call(&missing, "eth_getProof", common.HexToAddress("0xdead"), []string{}, "latest"); err != nil || missing.CodeHash != (common.Hash{}) {
		t.Fatalf("absent account: %+v, %v", missing, err)
	}
}

func TestBatch(t *testing.T) {
	b := newTestBackend()
	_, addr := startServer(t, b, Options{MaxBatchItems: 4})
	_, c := dialHTTP(t, addr)
	var id hexutil.Big
	var num hexutil.Uint64
	var bal hexutil.Big
	var nothing any
	batch := []gethrpc.BatchElem{
		{Method: "eth_chainId", Result: &id},
		{Method: "eth_blockNumber", Result: &num},
		{Method: "eth_getBalance", Args: []any{testAddr, "latest"}, Result: &bal},
		{Method: "eth_noSuchMethod", Result: &nothing},
	}
	if err := c.BatchCall(batch); err != nil {
		t.Fatal(err)
	}
	if id.ToInt().Int64() != 1337 || num != 0 || bal.ToInt().Sign() == 0 || batch[0].Error != nil || batch[2].Error != nil {
		t.Fatalf("batch results %v %v %v, errors %v %v", id.ToInt(), num, bal.ToInt(), batch[0].Error, batch[2].Error)
	}
	if rpcCode(batch[3].Error) != -32601 {
		t.Fatalf("unknown method in batch: %v", batch[3].Error)
	}
	big := append(batch, gethrpc.BatchElem{Method: "eth_chainId", Result: &id})
	err := c.BatchCall(big)
	if err == nil {
		for _, e := range big {
			if e.Error != nil {
				err = e.Error
				break
			}
		}
	}
	if err == nil || !strings.Contains(err.Error(), "batch too large") {
		t.Fatalf("oversized batch: %v", err)
	}
}

func TestLimitsAndCORS(t *testing.T) {
	b := newTestBackend()
	_, addr := startServer(t, b, Options{MaxRequestBytes: 2048, CORSOrigins: []string{"http://good.example"}})
	url := "http://" + addr

	post := func(body string, header map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
	if resp := post(call, map[string]string{"Origin": "http://good.example"}); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://good.example" {
		t.Fatalf("allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := post(call, map[string]string{"Origin": "http://evil.example"}); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed origin got CORS headers: %v", resp.Header)
	}
	oversized := `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x` + strings.Repeat("00", 2048) + `"]}`
	if resp := post(oversized, nil); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d", resp.StatusCode)
	}
	// A chunked body of unknown length gets the same answer.
	req, _ := http.NewRequest(http.MethodPost, url, io.MultiReader(strings.NewReader(oversized)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized chunked body: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req, _ = http.NewRequest(http.MethodPost, url, io.MultiReader(strings.NewReader(call)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("small chunked body: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, url, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight("http://good.example"); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("evil preflight: %d", resp.StatusCode)
	}
	// WebSocket: the origin check and the message size limit.
	hdr := http.Header{"Origin": {"http://evil.example"}}
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+addr, hdr); err == nil {
		t.Fatal("WebSocket from a disallowed origin accepted")
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr, http.Header{"Origin": {"http://good.example"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(oversized)); err != nil {
		// The server may close the connection as soon as the frame header announces more
		// than the limit, while the rest is still being written (seen under the race
		// detector): that too is the oversized message refused.
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			return
		}
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := conn.ReadMessage(); err == nil {
		t.Fatalf("oversized WebSocket message answered: %s", msg)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("oversized WebSocket message: connection left open")
	}
}

func TestSubscriptions(t *testing.T) {
	b := newTestBackend()
	srv, addr := startServer(t, b, Options{MaxSubscriptionsPerConn: 4})
	ec, c := dialWS(t, addr)
	ctx := context.Background()

	heads := make(chan *types.Header, 16)
	hsub, err := ec.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	logs := make(chan types.Log, 16)
	lsub, err := ec.SubscribeFilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{logAddr}, Topics: [][]common.Hash{nil, {topicB}}}, logs)
	if err != nil {
		t.Fatal(err)
	}
	pending := make(chan common.Hash, 16)
	psub, err := c.EthSubscribe(ctx, pending, "newPendingTransactions")
	if err != nil {
		t.Fatal(err)
	}
	full := make(chan *rpcTransaction, 16)
	fsub, err := c.EthSubscribe(ctx, full, "newPendingTransactions", true)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "4 subscriptions", func() bool { return srv.Stats().Subscriptions == 4 })

	// Over the limit: a clear error, code -32005.
	_, err = ec.SubscribeNewHead(ctx, make(chan *types.Header))
	if err == nil || !strings.Contains(err.Error(), ErrTooManySubscriptions.Error()) || rpcCode(err) != CodeLimitExceeded {
		t.Fatalf("fifth subscription: %v (code %d)", err, rpcCode(err))
	}

	tx := b.signTx(t, testKey, 0, &logAddr, nil)
	if err := ec.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-pending:
		if h != tx.Hash() {
			t.Fatalf("pending hash %s", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pending transaction notification")
	}
	select {
	case p := <-full:
		if p.Hash != tx.Hash() || p.From != testAddr {
			t.Fatalf("full pending tx %+v", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no full pending transaction notification")
	}
	b1, _ := chainWithTxs(t, b)
	for _, want := range []uint64{1, 2} {
		select {
		case h := <-heads:
			if h.Number.Uint64() != want || h.Hash() != b.BlockByNumber(want).Hash() {
				t.Fatalf("head %d: %s, want block %d %s", h.Number, h.Hash(), want, b.BlockByNumber(want).Hash())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no head %d", want)
		}
	}
	select {
	case l := <-logs:
		if l.Data[0] != 1 || l.BlockHash != b1.Hash() || l.TxHash != b1.Transactions()[0].Hash() {
			t.Fatalf("log %+v", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no log notification")
	}
	select {
	case l := <-logs:
		t.Fatalf("unexpected log %+v", l)
	case <-time.After(50 * time.Millisecond):
	}
	// Unsubscribing frees the slot.
	hsub.Unsubscribe()
	eventually(t, 5*time.Second, "slot release", func() bool { return srv.Stats().Subscriptions == 3 })
	hsub2, err := ec.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatalf("subscribe after unsubscribe: %v", err)
	}
	hsub2.Unsubscribe()
	lsub.Unsubscribe()
	psub.Unsubscribe()
	fsub.Unsubscribe()
	eventually(t, 5*time.Second, "all unsubscribed", func() bool { return srv.Stats().Subscriptions == 0 })

	// Subscriptions need a WebSocket.
	_, hc := dialHTTP(t, addr)
	if _, err := hc.EthSubscribe(ctx, make(chan *types.Header), "newHeads"); err == nil {
		t.Fatal("subscription over HTTP accepted")
	}
	st := srv.Stats()
	if st.Methods["eth_subscribe"].Requests < 5 || st.Methods["eth_subscribe"].Errors < 1 || st.WSConnections != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestSlowSubscriberDropped subscribes over a raw WebSocket that never reads: the server
// must drop it (close the connection) while the chain feed keeps flowing and a healthy
// subscriber keeps receiving.
func TestSlowSubscriberDropped(t *testing.T) {
	b := newTestBackend()
	srv, addr := startServer(t, b, Options{SubscriptionBuffer: 8})

	healthy, _ := dialWS(t, addr)
	got := make(chan *types.Header, 1024)
	hsub, err := healthy.SubscribeNewHead(context.Background(), got)
	if err != nil {
		t.Fatal(err)
	}
	defer hsub.Unsubscribe()

	slow, _, err := websocket.DefaultDialer.Dial("ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := slow.ReadMessage(); err != nil || !strings.Contains(string(msg), `"result"`) {
		t.Fatalf("subscribe: %s, %v", msg, err)
	}
	eventually(t, 5*time.Second, "2 subscriptions", func() bool { return srv.Stats().Subscriptions == 2 })

	// Big headers (64 KiB of extra data, 128 KiB of JSON) fill the socket buffers fast.
	extra := bytes.Repeat([]byte{0xab}, 64<<10)
	var worst time.Duration
	sent := 0
	for srv.Stats().DroppedSubscribers == 0 {
		if sent == 2000 {
			t.Fatal("slow subscriber never dropped")
		}
		h := &types.Header{Number: big.NewInt(int64(sent + 1)), Difficulty: new(big.Int), Extra: extra}
		start := time.Now()
		b.headFeed.Send(h)
		worst = max(worst, time.Since(start))
		sent++
		// The healthy client keeps up; the slow one does not read at all.
		select {
		case <-got:
		case err := <-hsub.Err():
			t.Fatalf("healthy subscriber dropped: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("healthy subscriber got no head")
		}
	}
	if worst > time.Second {
		t.Fatalf("feed.Send blocked for %v", worst)
	}
	t.Logf("dropped after %d heads; slowest feed.Send %v", sent, worst)
	// The slow connection is closed: reading drains what was buffered, then fails.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	nread := 0
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			nread++
			continue
		}
		t.Logf("slow client read %d buffered heads, then: %v", nread, err)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("slow connection not closed")
		}
		break
	}
	eventually(t, 5*time.Second, "slow subscription gone", func() bool { return srv.Stats().Subscriptions == 1 })
	// The feed still flows and the healthy subscriber still receives.
	b.headFeed.Send(&types.Header{Number: big.NewInt(99999), Difficulty: new(big.Int)})
	deadline := time.After(10 * time.Second)
	for {
		select {
		case h := <-got:
			if h.Number.Int64() == 99999 {
				return
			}
		case err := <-hsub.Err():
			t.Fatalf("healthy subscriber dropped: %v", err)
		case <-deadline:
			t.Fatal("healthy subscriber stopped receiving")
		}
	}
}

func TestStatsAndClose(t *testing.T) {
	b := newTestBackend()
	srv, addr := startServer(t, b, Options{})
	_, c := dialHTTP(t, addr)
	var out any
	_ = c.Call(&out, "eth_chainId")
	_ = c.Call(&out, "eth_getBalance", testAddr, "0x99")
	st := srv.Stats()
	if st.Methods["eth_chainId"] != (MethodStats{Requests: 1}) || st.Methods["eth_getBalance"] != (MethodStats{Requests: 1, Errors: 1}) {
		t.Fatalf("stats = %+v", st.Methods)
	}
	// GET without a body is a health check.
	resp, err := http.Get("http://" + addr)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health check: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("nil backend accepted")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}
