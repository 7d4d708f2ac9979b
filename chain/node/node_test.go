package node

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisdb"
	"github.com/metisgo/metis/chain/rpc"
	"github.com/metisgo/metis/chain/state"
)

//go:embed testdata/Store.json
var storeJSON []byte

type compiled struct {
	ABI      json.RawMessage `json:"abi"`
	Bytecode string          `json:"bytecode"`
}

func loadStore(t testing.TB) (abi.ABI, []byte) {
	t.Helper()
	var c compiled
	if err := json.Unmarshal(storeJSON, &c); err != nil {
		t.Fatal(err)
	}
	a, err := abi.JSON(strings.NewReader(string(c.ABI)))
	if err != nil {
		t.Fatal(err)
	}
	return a, hexutil.MustDecode(c.Bytecode)
}

func startNode(t *testing.T, dir string) *Node {
	t.Helper()
	n, err := New(Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	return n
}

// sender signs and sends transactions from one dev account and waits for their receipts.
type sender struct {
	t      *testing.T
	ec     *ethclient.Client
	acct   core.DevAccount
	signer types.Signer
}

func (s *sender) send(inner types.TxData) *types.Receipt {
	s.t.Helper()
	tx, err := types.SignNewTx(s.acct.Key, s.signer, inner)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.ec.SendTransaction(ctx, tx); err != nil {
		s.t.Fatalf("send: %v", err)
	}
	for {
		r, err := s.ec.TransactionReceipt(ctx, tx.Hash())
		if err == nil {
			return r
		}
		if !errors.Is(err, ethereum.NotFound) {
			s.t.Fatalf("receipt: %v", err)
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("no receipt for %s", tx.Hash())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (s *sender) nonce() uint64 {
	n, err := s.ec.PendingNonceAt(context.Background(), s.acct.Address)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

func TestEndToEndWithEthclient(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := startNode(t, dir)
	defer func() { n.Close() }()

	ec, err := ethclient.Dial(n.HTTPURL())
	if err != nil {
		t.Fatal(err)
	}
	ws, err := ethclient.Dial(n.WSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	chainID, err := ec.ChainID(ctx)
	if err != nil || chainID.Int64() != 1337 {
		t.Fatalf("chain id %v, %v", chainID, err)
	}
	devs := core.DevAccounts()
	bal, err := ec.BalanceAt(ctx, devs[9].Address, nil)
	if want, _ := new(big.Int).SetString("10000000000000000000000", 10); err != nil || bal.Cmp(want) != 0 {
		t.Fatalf("dev account balance %v, %v", bal, err)
	}

	heads := make(chan *types.Header, 64)
	headSub, err := ws.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer headSub.Unsubscribe()

	s := &sender{t: t, ec: ec, acct: devs[0], signer: types.LatestSignerForChainID(chainID)}
	to := devs[1].Address
	tip, err := ec.SuggestGasTipCap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := ec.HeaderByNumber(ctx, nil)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)

	// Both transaction types.
	r := s.send(&types.DynamicFeeTx{ChainID: chainID, Nonce: s.nonce(), GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000, To: &to, Value: big.NewInt(1e15)})
	if r.Status != types.ReceiptStatusSuccessful || r.Type != types.DynamicFeeTxType {
		t.Fatalf("1559 transfer receipt %+v", r)
	}
	price, err := ec.SuggestGasPrice(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r = s.send(&types.LegacyTx{Nonce: s.nonce(), GasPrice: price, Gas: 21000, To: &to, Value: big.NewInt(1e15)})
	if r.Status != types.ReceiptStatusSuccessful || r.Type != types.LegacyTxType {
		t.Fatalf("legacy transfer receipt %+v", r)
	}

	// Deploy the compiled contract, call it, read its event three ways.
	storeABI, code := loadStore(t)
	r = s.send(&types.DynamicFeeTx{ChainID: chainID, Nonce: s.nonce(), GasTipCap: tip, GasFeeCap: feeCap, Gas: 1_000_000, Data: code})
	if r.Status != types.ReceiptStatusSuccessful || r.ContractAddress == (common.Address{}) {
		t.Fatalf("deploy receipt %+v", r)
	}
	store := r.ContractAddress
	if got, _ := ec.CodeAt(ctx, store, nil); len(got) == 0 {
		t.Fatal("no code at the contract address")
	}

	logs := make(chan types.Log, 16)
	logSub, err := ws.SubscribeFilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{store}}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer logSub.Unsubscribe()

	input, _ := storeABI.Pack("set", big.NewInt(7), big.NewInt(42))
	r = s.send(&types.DynamicFeeTx{ChainID: chainID, Nonce: s.nonce(), GasTipCap: tip, GasFeeCap: feeCap, Gas: 200_000, To: &store, Data: input})
	if r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 {
		t.Fatalf("set receipt %+v", r)
	}
	ev := storeABI.Events["Stored"]
	if l := r.Logs[0]; l.Address != store || l.Topics[0] != ev.ID || l.Topics[1] != common.BytesToHash(devs[0].Address[:]) ||
		l.Topics[2] != common.BigToHash(big.NewInt(7)) || l.BlockHash != r.BlockHash || l.TxHash != r.TxHash {
		t.Fatalf("event log %+v", l)
	}
	got, err := ec.FilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{store}, Topics: [][]common.Hash{{ev.ID}, nil, {common.BigToHash(big.NewInt(7))}}})
	if err != nil || len(got) != 1 || got[0].TxHash != r.TxHash {
		t.Fatalf("eth_getLogs: %v %v", got, err)
	}
	select {
	case l := <-logs:
		if l.TxHash != r.TxHash {
			t.Fatalf("logs subscription delivered %+v", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs subscription delivered nothing")
	}

	// eth_call reads; reverts come back with their data so clients decode reasons.
	input, _ = storeABI.Pack("get", big.NewInt(7))
	out, err := ec.CallContract(ctx, ethereum.CallMsg{To: &store, Data: input}, nil)
	if err != nil || new(big.Int).SetBytes(out).Int64() != 42 {
		t.Fatalf("get(7) = %x, %v", out, err)
	}
	input, _ = storeABI.Pack("set", big.NewInt(1), big.NewInt(0))
	_, err = ec.CallContract(ctx, ethereum.CallMsg{From: devs[0].Address, To: &store, Data: input}, nil)
	if err == nil || !strings.Contains(err.Error(), "execution reverted: zero value") {
		t.Fatalf("revert with reason: %v", err)
	}
	tooLarge, _ := new(big.Int).SetString("2000000000000000000", 10)
	input, _ = storeABI.Pack("set", big.NewInt(1), tooLarge)
	_, err = ec.EstimateGas(ctx, ethereum.CallMsg{From: devs[0].Address, To: &store, Data: input})
	var de gethrpc.DataError
	if !errors.As(err, &de) {
		t.Fatalf("custom error: %v (no data)", err)
	}
	data := hexutil.MustDecode(de.ErrorData().(string))
	if e := storeABI.Errors["TooLarge"]; len(data) < 4 || !strings.EqualFold(hexutil.Encode(data[:4]), hexutil.Encode(e.ID[:4])) {
		t.Fatalf("custom error data %x is not TooLarge", data)
	}
	gas, err := ec.EstimateGas(ctx, ethereum.CallMsg{From: devs[0].Address, To: &to, Value: big.NewInt(1)})
	if err != nil || gas != 21000 {
		t.Fatalf("estimate transfer: %d, %v", gas, err)
	}

	// eth_getProof verifies against the header's state root with MetisDB's VerifyProof.
	head, err = ec.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var proof rpc.AccountResult
	rc := ec.Client()
	countSlot := common.BigToHash(big.NewInt(1)) // Store.count is slot 1
	if err := rc.CallContext(ctx, &proof, "eth_getProof", store, []string{countSlot.Hex()}, hexutil.EncodeBig(head.Number)); err != nil {
		t.Fatal(err)
	}
	root := metisdb.Hash(head.Root)
	var p metisdb.Proof
	if err := p.UnmarshalBinary(hexutil.MustDecode(proof.AccountProof[0])); err != nil {
		t.Fatal(err)
	}
	acct := state.Account{Nonce: uint64(proof.Nonce), CodeHash: proof.CodeHash}
	acct.Balance.Set(uint256.MustFromBig(proof.Balance.ToInt()))
	if err := metisdb.VerifyProof(root, state.AccountKey(store), state.EncodeAccount(&acct), &p); err != nil {
		t.Fatalf("account proof: %v", err)
	}
	if proof.CodeHash != crypto.Keccak256Hash(mustCode(t, ec, store)) {
		t.Fatal("proof code hash is not the code's")
	}
	sp := proof.StorageProof[0]
	if err := p.UnmarshalBinary(hexutil.MustDecode(sp.Proof[0])); err != nil {
		t.Fatal(err)
	}
	word := common.BigToHash(sp.Value.ToInt())
	if sp.Value.ToInt().Int64() != 1 {
		t.Fatalf("count = %v, want 1", sp.Value)
	}
	if err := metisdb.VerifyProof(root, state.StorageKey(store, countSlot), word[:], &p); err != nil {
		t.Fatalf("storage proof: %v", err)
	}

	// newHeads saw every block.
	deadline := time.After(10 * time.Second)
	for seen := uint64(0); seen < head.Number.Uint64(); {
		select {
		case h := <-heads:
			seen = h.Number.Uint64()
		case <-deadline:
			t.Fatalf("newHeads stopped before block %d", head.Number)
		}
	}

	// Restart: same head, same state, lookups still answer.
	wantHead, wantReceipt := head, r
	ws.Close()
	ec.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, dir)
	ec, err = ethclient.Dial(n.HTTPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	head, err = ec.HeaderByNumber(ctx, nil)
	if err != nil || head.Hash() != wantHead.Hash() {
		t.Fatalf("head after restart %v (%v), want %v", head.Number, err, wantHead.Number)
	}
	r, err = ec.TransactionReceipt(ctx, wantReceipt.TxHash)
	if err != nil || r.BlockHash != wantReceipt.BlockHash {
		t.Fatalf("receipt after restart: %v", err)
	}
	input, _ = storeABI.Pack("get", big.NewInt(7))
	out, err = ec.CallContract(ctx, ethereum.CallMsg{To: &store, Data: input}, nil)
	if err != nil || new(big.Int).SetBytes(out).Int64() != 42 {
		t.Fatalf("state after restart: get(7) = %x, %v", out, err)
	}
}

func mustCode(t *testing.T, ec *ethclient.Client, a common.Address) []byte {
	t.Helper()
	c, err := ec.CodeAt(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
