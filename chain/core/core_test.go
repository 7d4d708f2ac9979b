package core

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/metisdb"
	"github.com/metisgo/metis/chain/state"
)

func TestDevAccounts(t *testing.T) {
	// The addresses every Hardhat/Anvil user knows: they follow from BIP-39 and BIP-32, not from
	// anything in this package.
	want := map[int]string{
		0: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
		1: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
		9: "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
	}
	accts := DevAccounts()
	if len(accts) != 10 {
		t.Fatalf("%d accounts", len(accts))
	}
	for i, w := range want {
		if got := accts[i].Address.Hex(); got != w {
			t.Errorf("account %d = %s, want %s", i, got, w)
		}
	}
	key, err := DeriveKey(DevMnemonic, "", "m/44'/60'/0'/0/1")
	if err != nil {
		t.Fatal(err)
	}
	if crypto.PubkeyToAddress(key.PublicKey) != accts[1].Address {
		t.Error("DeriveKey disagrees with DevAccounts")
	}
	if _, err := DeriveKey("tést", "", "m/0"); err == nil {
		t.Error("non-ASCII mnemonic accepted")
	}
}

func TestBIP39And32Vectors(t *testing.T) {
	// BIP-39 (Trezor vectors): "abandon ×11 about", passphrase "TREZOR".
	seed := mnemonicSeed("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "TREZOR")
	if got := hex.EncodeToString(seed); got != "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04" {
		t.Errorf("BIP-39 seed %s", got)
	}
	// BIP-32 test vector 1, chain m/0H/1/2H/2/1000000000 (hardened and normal steps).
	seed, _ = hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	path, err := accounts.ParseDerivationPath("m/0'/1/2'/2/1000000000")
	if err != nil {
		t.Fatal(err)
	}
	key, err := deriveKey(seed, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(crypto.FromECDSA(key)); got != "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8" {
		t.Errorf("BIP-32 key %s", got)
	}
}

func TestGenesis(t *testing.T) {
	h := newHarness(t, testOptions())
	g := h.c.Genesis()
	if g.NumberU64() != 0 || h.c.Head().Hash() != g.Hash() {
		t.Fatal("head is not genesis")
	}
	hd := g.Header()
	switch {
	case hd.Difficulty.Sign() != 0, hd.BaseFee.Cmp(gwei) != 0, hd.GasLimit != DevGasLimit, hd.Time != DevTimestamp:
		t.Errorf("header %+v", hd)
	case hd.WithdrawalsHash == nil || *hd.WithdrawalsHash != types.EmptyWithdrawalsHash:
		t.Error("withdrawals hash")
	case hd.BlobGasUsed == nil || hd.ExcessBlobGas == nil || hd.ParentBeaconRoot == nil || *hd.ParentBeaconRoot != (common.Hash{}):
		t.Error("cancun fields")
	case hd.RequestsHash == nil || *hd.RequestsHash != types.EmptyRequestsHash:
		t.Error("requests hash")
	case hd.Coinbase != lazai:
		t.Error("coinbase")
	}
	if root := common.Hash(h.c.stateDB.Root()); root != hd.Root || h.c.stateDB.Version() != 1 {
		t.Errorf("state root %s version %d, header %s", root, h.c.stateDB.Version(), hd.Root)
	}
	for i, a := range h.addrs {
		if b := h.balance(0, a); b.Cmp(ether(10_000)) != 0 {
			t.Errorf("account %d balance %s", i, b)
		}
	}
	if h.c.ChainConfig().ChainID.Int64() != 1337 {
		t.Error("chain id")
	}
	// The genesis is the same in another directory, and after reopening.
	h2 := newHarness(t, testOptions())
	if h2.c.Genesis().Hash() != g.Hash() || h2.c.Genesis().Root() != g.Root() {
		t.Error("genesis differs across runs")
	}
	h.reopen()
	if h.c.Genesis().Hash() != g.Hash() || h.c.Head().Hash() != g.Hash() {
		t.Error("genesis differs after reopen")
	}
	if !h.c.ChainConfig().IsOsaka(common.Big1, DevTimestamp+1) {
		t.Error("stored config lost Osaka")
	}
}

// fees returns Σ gasUsed × effectiveGasPrice over a block's receipts.
func fees(rs types.Receipts) *big.Int {
	sum := new(big.Int)
	for _, r := range rs {
		sum.Add(sum, new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice))
	}
	return sum
}

func TestSealBlocks(t *testing.T) {
	h := newHarness(t, testOptions())
	heads := make(chan ChainHeadEvent, 10)
	logsCh := make(chan []*types.Log, 10)
	defer h.c.SubscribeChainHead(heads).Unsubscribe()
	defer h.c.SubscribeLogs(logsCh).Unsubscribe()

	to5, to6 := h.addrs[5], h.addrs[6]
	legacy := h.send(0, &to5, ether(1), nil, 21000, true)
	dyn := h.send(1, &to6, ether(2), nil, 21000, false)
	deploy := h.send(2, nil, nil, storeLogInit(), 200_000, false)
	b1 := h.seal()
	if b1.NumberU64() != 1 || len(b1.Transactions()) != 3 || h.c.Pool().Len() != 0 {
		t.Fatalf("block 1: %d txs, pool %d", len(b1.Transactions()), h.c.Pool().Len())
	}
	baseFee1 := eip1559.CalcBaseFee(h.c.ChainConfig(), h.c.Genesis().Header())
	if b1.BaseFee().Cmp(baseFee1) != 0 {
		t.Errorf("base fee %s, want %s", b1.BaseFee(), baseFee1)
	}
	rs1, err := h.c.Receipts(b1.Hash())
	if err != nil {
		t.Fatal(err)
	}
	var cum uint64
	for i, r := range rs1 {
		cum += r.GasUsed
		if r.Status != types.ReceiptStatusSuccessful || r.CumulativeGasUsed != cum || r.BlockHash != b1.Hash() || r.TransactionIndex != uint(i) || r.TxHash != b1.Transactions()[i].Hash() {
			t.Errorf("receipt %d: %+v", i, r)
		}
	}
	if b1.GasUsed() != cum {
		t.Errorf("header gas used %d, receipts %d", b1.GasUsed(), cum)
	}
	if rs1[0].GasUsed != 21000 || rs1[1].GasUsed != 21000 {
		t.Error("transfer gas")
	}
	// Legacy pays its gas price; 1559 pays base fee + tip.
	if got := h.receipt(legacy).EffectiveGasPrice; got.Cmp(new(big.Int).Mul(big.NewInt(3), gwei)) != 0 {
		t.Errorf("legacy price %s", got)
	}
	if got, want := h.receipt(dyn).EffectiveGasPrice, new(big.Int).Add(baseFee1, gwei); got.Cmp(want) != 0 {
		t.Errorf("1559 price %s, want %s", got, want)
	}
	contract := crypto.CreateAddress(h.addrs[2], 0)
	if r := h.receipt(deploy); r.ContractAddress != contract {
		t.Errorf("contract address %s, want %s", r.ContractAddress, contract)
	}
	st, _ := h.c.StateAt(1)
	if !bytes.Equal(st.GetCode(contract), storeLogRuntime()) {
		t.Error("contract code")
	}

	// Fees and balances.
	if got := h.balance(1, lazai); got.Cmp(fees(rs1)) != 0 {
		t.Errorf("LazAI got %s, want Σ gasUsed×price %s", got, fees(rs1))
	}
	cost := new(big.Int).Mul(big.NewInt(21000), rs1[0].EffectiveGasPrice)
	if got, want := h.balance(1, h.addrs[0]), new(big.Int).Sub(new(big.Int).Sub(ether(10_000), ether(1)), cost); got.Cmp(want) != 0 {
		t.Errorf("sender balance %s, want %s", got, want)
	}
	if got := h.balance(1, to5); got.Cmp(ether(10_001)) != 0 {
		t.Errorf("recipient balance %s", got)
	}

	// Block 2: a call that stores and logs, and one that reverts.
	set := h.send(2, &contract, nil, common.BigToHash(big.NewInt(42)).Bytes(), 100_000, false)
	bad := h.send(3, &contract, nil, revertWord.Bytes(), 100_000, true)
	b2 := h.seal()
	if len(b2.Transactions()) != 2 {
		t.Fatalf("block 2: %d txs", len(b2.Transactions()))
	}
	rs2, _ := h.c.Receipts(b2.Hash())
	rSet, rBad := h.receipt(set), h.receipt(bad)
	if rSet.Status != 1 || rBad.Status != 0 {
		t.Errorf("status %d %d", rSet.Status, rBad.Status)
	}
	if len(rSet.Logs) != 1 || len(rBad.Logs) != 0 {
		t.Fatalf("logs %d %d", len(rSet.Logs), len(rBad.Logs))
	}
	l := rSet.Logs[0]
	if l.Address != contract || len(l.Topics) != 2 || l.Topics[0] != storedTopic || l.Topics[1] != common.BigToHash(big.NewInt(42)) ||
		l.BlockHash != b2.Hash() || l.BlockNumber != 2 || l.TxHash != set.Hash() || l.TxIndex != rSet.TransactionIndex || l.Index != 0 || l.BlockTimestamp != b2.Time() {
		t.Errorf("log %+v", l)
	}
	if !types.BloomLookup(b2.Bloom(), contract) || !types.BloomLookup(b2.Bloom(), storedTopic) || !types.BloomLookup(rSet.Bloom, contract) {
		t.Error("bloom misses the log")
	}
	if types.BloomLookup(b1.Bloom(), contract) {
		t.Error("block 1 bloom has the contract")
	}
	lazai2 := new(big.Int).Sub(h.balance(2, lazai), h.balance(1, lazai))
	if lazai2.Cmp(fees(rs2)) != 0 {
		t.Errorf("block 2 LazAI got %s, want %s", lazai2, fees(rs2))
	}

	// Transaction lookup.
	tx, bh, num, idx, err := h.c.Transaction(bad.Hash())
	if err != nil || tx.Hash() != bad.Hash() || bh != b2.Hash() || num != 2 || idx != uint64(rBad.TransactionIndex) {
		t.Errorf("lookup: %v %s %d %d", err, bh, num, idx)
	}
	if _, _, _, _, err := h.c.Transaction(common.Hash{1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tx: %v", err)
	}
	if _, err := h.c.BlockByNumber(3); !errors.Is(err, ErrNotFound) {
		t.Errorf("future block: %v", err)
	}
	if b, err := h.c.BlockByHash(b2.Hash()); err != nil || b.Hash() != b2.Hash() || len(b.Transactions()) != 2 {
		t.Errorf("block by hash: %v", err)
	}
	if hd, err := h.c.HeaderByNumber(1); err != nil || hd.Hash() != b1.Hash() {
		t.Errorf("header by number: %v", err)
	}

	// Subscriptions saw both blocks, in order, with derived fields.
	for _, want := range []*types.Block{b1, b2} {
		ev := <-heads
		if ev.Block.Hash() != want.Hash() || len(ev.Receipts) != len(want.Transactions()) {
			t.Errorf("head event %d", ev.Block.NumberU64())
		}
	}
	got := <-logsCh
	if len(got) != 1 || got[0].BlockHash != b2.Hash() || got[0].TxHash != set.Hash() {
		t.Errorf("log event %+v", got)
	}

	// Empty blocks are allowed and cost nothing.
	b3 := h.seal()
	if len(b3.Transactions()) != 0 || b3.GasUsed() != 0 || b3.TxHash() != types.EmptyTxsHash || b3.ReceiptHash() != types.EmptyReceiptsHash {
		t.Error("empty block")
	}
	if h.balance(3, lazai).Cmp(h.balance(2, lazai)) != 0 {
		t.Error("empty block paid fees")
	}
	// The EIP-2935 system contract holds the parent hash.
	st3, _ := h.c.StateAt(3)
	if got := st3.GetState(params.HistoryStorageAddress, common.BigToHash(big.NewInt(2))); got != b2.Hash() {
		t.Errorf("EIP-2935 slot 2 = %s, want %s", got, b2.Hash())
	}

	// Proof of an account against the header root.
	val, proof, err := h.c.Proof(2, state.AccountKey(contract))
	if err != nil || val == nil {
		t.Fatal(err)
	}
	if err := metisdb.VerifyProof(metisdb.Hash(b2.Root()), state.AccountKey(contract), val, proof); err != nil {
		t.Errorf("proof: %v", err)
	}
}

func TestBaseFeeAndGasLimit(t *testing.T) {
	g := DevGenesis()
	g.GasLimit = 3 * 21000
	opts := testOptions()
	opts.Genesis = g
	h := newHarness(t, opts)
	cfg := h.c.ChainConfig()
	to := h.addrs[9]
	var txs []*types.Transaction
	for i := range 4 {
		txs = append(txs, h.send(i, &to, big.NewInt(1), nil, 21000, false))
	}
	b1 := h.seal()
	if len(b1.Transactions()) != 3 || b1.GasUsed() != b1.GasLimit() {
		t.Fatalf("block 1: %d txs, gas %d/%d", len(b1.Transactions()), b1.GasUsed(), b1.GasLimit())
	}
	if h.c.Pool().Len() != 1 || h.c.Pool().Get(txs[3].Hash()) == nil {
		t.Fatal("the fourth transaction should wait")
	}
	b2 := h.seal() // one transaction: below target
	b3 := h.seal() // empty
	b4 := h.seal()
	if len(b2.Transactions()) != 1 || len(b3.Transactions()) != 0 {
		t.Fatal("blocks 2, 3")
	}
	want := []*big.Int{
		big.NewInt(875_000_000), // genesis empty: −12.5%
		big.NewInt(984_375_000), // block 1 full: +12.5%
		eip1559.CalcBaseFee(cfg, b2.Header()),
		new(big.Int).Sub(b3.BaseFee(), new(big.Int).Div(b3.BaseFee(), big.NewInt(8))),
	}
	for i, b := range []*types.Block{b1, b2, b3, b4} {
		if b.BaseFee().Cmp(want[i]) != 0 {
			t.Errorf("block %d base fee %s, want %s", i+1, b.BaseFee(), want[i])
		}
	}
	if b3.BaseFee().Cmp(b2.BaseFee()) >= 0 {
		t.Error("base fee did not fall below target")
	}
	// A transaction above the block gas limit is refused by the pool.
	if err := h.c.SendTransaction(h.tx(5, &to, big.NewInt(1), nil, 100_000, false)); err == nil {
		t.Error("transaction above the gas limit accepted")
	}
	if got := h.c.SuggestTip(); got.Cmp(gwei) != 0 {
		t.Errorf("suggested tip %s, want 1 gwei", got)
	}
	fh, err := h.c.FeeHistory(context.Background(), 3, 4, []float64{10, 50, 90})
	if err != nil {
		t.Fatal(err)
	}
	if fh.OldestBlock != 2 || len(fh.BaseFees) != 4 || fh.BaseFees[3].Cmp(eip1559.CalcBaseFee(cfg, b4.Header())) != 0 || len(fh.Rewards) != 3 {
		t.Errorf("fee history %+v", fh)
	}
	if fh.Rewards[0][1].Cmp(gwei) != 0 || fh.Rewards[1][0].Sign() != 0 || fh.GasUsedRatios[0] != 1.0/3 {
		t.Errorf("fee history rewards %v ratios %v", fh.Rewards, fh.GasUsedRatios)
	}
	// go-ethereum's answers (eth/gasprice), which eth_feeHistory clients see: no blocks is an
	// empty history, a block beyond the head and percentiles not strictly ascending are errors.
	if fh, err := h.c.FeeHistory(context.Background(), 0, 4, nil); err != nil || fh.OldestBlock != 0 || len(fh.BaseFees) != 0 {
		t.Errorf("empty fee history %+v, %v", fh, err)
	}
	if _, err := h.c.FeeHistory(context.Background(), 1, 5, nil); err == nil || err.Error() != "request beyond head block: requested 5, head 4" {
		t.Errorf("fee history beyond head: %v", err)
	}
	if _, err := h.c.FeeHistory(context.Background(), 1, 4, []float64{50, 50}); err == nil || err.Error() != "invalid reward percentile: #0:50.000000 >= #1:50.000000" {
		t.Errorf("repeated percentile: %v", err)
	}
}

// chainWithContract seals: block 1 deploys the test contract, blocks 2 and 3 store 42 and 43.
func chainWithContract(t *testing.T) (*harness, common.Address) {
	h := newHarness(t, testOptions())
	h.send(0, nil, nil, storeLogInit(), 200_000, false)
	h.seal()
	contract := crypto.CreateAddress(h.addrs[0], 0)
	for _, v := range []int64{42, 43} {
		h.send(0, &contract, nil, common.BigToHash(big.NewInt(v)).Bytes(), 100_000, false)
		h.seal()
	}
	return h, contract
}

func TestCallAndEstimate(t *testing.T) {
	h, contract := chainWithContract(t)
	ctx := context.Background()
	for num, want := range map[uint64]int64{1: 0, 2: 42, 3: 43} {
		res, err := h.c.Call(ctx, &gethcore.Message{From: h.addrs[1], To: &contract}, num)
		if err != nil || res.Failed() {
			t.Fatalf("call at %d: %v %v", num, err, res.Err)
		}
		if got := new(big.Int).SetBytes(res.ReturnData); got.Int64() != want {
			t.Errorf("call at block %d = %d, want %d", num, got, want)
		}
	}
	res, err := h.c.Call(ctx, &gethcore.Message{From: h.addrs[1], To: &contract, Data: revertWord.Bytes()}, 3)
	if err != nil || !errors.Is(res.Err, vm.ErrExecutionReverted) || !bytes.Equal(res.Revert(), revertWord.Bytes()) {
		t.Errorf("reverting call: %v %v %x", err, res.Err, res.Revert())
	}
	// head+1 is pending: the head's state in the next block's context; beyond that, nothing.
	if res, err := h.c.Call(ctx, &gethcore.Message{From: h.addrs[1], To: &contract}, 4); err != nil || res.Err != nil {
		t.Errorf("pending call: %v %v", err, res.Err)
	}
	if _, err := h.c.Call(ctx, &gethcore.Message{From: h.addrs[1], To: &contract}, 5); !errors.Is(err, ErrNotFound) {
		t.Errorf("call beyond pending: %v", err)
	}

	to := h.addrs[7]
	gas, err := h.c.EstimateGas(ctx, &gethcore.Message{From: h.addrs[1], To: &to, Value: u256(ether(1))}, 3)
	if err != nil || gas != 21000 {
		t.Errorf("transfer estimate %d %v", gas, err)
	}
	store := &gethcore.Message{From: h.addrs[1], To: &contract, Data: common.BigToHash(big.NewInt(7)).Bytes(), GasFeeCap: u256(gwei), GasPrice: u256(gwei)}
	gas, err = h.c.EstimateGas(ctx, store, 3)
	if err != nil {
		t.Fatal(err)
	}
	// The estimate is enough, and within the error ratio of the least that is.
	m := *store
	m.GasLimit = gas
	if res, err := h.c.Call(ctx, &m, 3); err != nil || res.Failed() {
		t.Errorf("call with estimated gas %d failed: %v", gas, err)
	}
	m.GasLimit = gas * 97 / 100
	if res, err := h.c.Call(ctx, &m, 3); err == nil && !res.Failed() {
		t.Errorf("estimate %d is more than 3%% too high", gas)
	}
	_, err = h.c.EstimateGas(ctx, &gethcore.Message{From: h.addrs[1], To: &contract, Data: revertWord.Bytes()}, 3)
	var rev *RevertError
	if !errors.As(err, &rev) || !bytes.Equal(rev.Data, revertWord.Bytes()) || !errors.Is(err, vm.ErrExecutionReverted) {
		t.Errorf("reverting estimate: %v", err)
	}
}

func TestGetLogs(t *testing.T) {
	h := newHarness(t, testOptions())
	h.send(0, nil, nil, storeLogInit(), 200_000, false)
	h.send(1, nil, nil, storeLogInit(), 200_000, false)
	h.seal() // 1
	a, b := crypto.CreateAddress(h.addrs[0], 0), crypto.CreateAddress(h.addrs[1], 0)
	v := func(n int64) common.Hash { return common.BigToHash(big.NewInt(n)) }
	h.send(0, &a, nil, v(1).Bytes(), 100_000, false)
	h.send(1, &b, nil, v(2).Bytes(), 100_000, false)
	b2 := h.seal() // 2: a:1, b:2
	h.seal()       // 3: empty
	h.send(0, &a, nil, v(3).Bytes(), 100_000, false)
	h.seal() // 4: a:3
	h.send(1, &b, nil, v(1).Bytes(), 100_000, false)
	h.seal() // 5: b:1

	type logID struct {
		block uint64
		addr  common.Address
		v     int64
	}
	ctx := context.Background()
	n := func(x int64) *big.Int { return big.NewInt(x) }
	cases := []struct {
		name string
		q    ethereum.FilterQuery
		want []logID
	}{
		{"all", ethereum.FilterQuery{}, []logID{{2, a, 1}, {2, b, 2}, {4, a, 3}, {5, b, 1}}},
		{"address", ethereum.FilterQuery{Addresses: []common.Address{a}}, []logID{{2, a, 1}, {4, a, 3}}},
		{"addresses", ethereum.FilterQuery{Addresses: []common.Address{a, b}, FromBlock: n(3)}, []logID{{4, a, 3}, {5, b, 1}}},
		{"range", ethereum.FilterQuery{FromBlock: n(2), ToBlock: n(4)}, []logID{{2, a, 1}, {2, b, 2}, {4, a, 3}}},
		{"empty range", ethereum.FilterQuery{FromBlock: n(3), ToBlock: n(3)}, nil},
		{"topic 1", ethereum.FilterQuery{Topics: [][]common.Hash{{}, {v(1)}}}, []logID{{2, a, 1}, {5, b, 1}}},
		{"topic OR", ethereum.FilterQuery{Topics: [][]common.Hash{{storedTopic}, {v(2), v(3)}}}, []logID{{2, b, 2}, {4, a, 3}}},
		{"address and topic", ethereum.FilterQuery{Addresses: []common.Address{b}, Topics: [][]common.Hash{{}, {v(1)}}}, []logID{{5, b, 1}}},
		{"wrong topic position", ethereum.FilterQuery{Topics: [][]common.Hash{{v(1)}}}, nil},
		{"too many positions", ethereum.FilterQuery{Topics: [][]common.Hash{{}, {}, {}}}, nil},
		{"block hash", ethereum.FilterQuery{BlockHash: ptr(b2.Hash()), Addresses: []common.Address{b}}, []logID{{2, b, 2}}},
		{"latest tag", ethereum.FilterQuery{FromBlock: n(-2), ToBlock: n(-2)}, []logID{{5, b, 1}}},
	}
	for _, tc := range cases {
		logs, err := h.c.GetLogs(ctx, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []logID
		for _, l := range logs {
			got = append(got, logID{l.BlockNumber, l.Address, new(big.Int).SetBytes(l.Data).Int64()})
			hd, _ := h.c.HeaderByNumber(l.BlockNumber)
			if l.BlockHash != hd.Hash() {
				t.Errorf("%s: log block hash", tc.name)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
	// go-ethereum's range errors (eth/filters), which eth_getLogs clients see.
	if _, err := h.c.GetLogs(ctx, ethereum.FilterQuery{FromBlock: n(4), ToBlock: n(2)}); err == nil || err.Error() != "invalid block range params" {
		t.Errorf("inverted range: %v", err)
	}
	for _, q := range []ethereum.FilterQuery{{FromBlock: n(9), ToBlock: n(20)}, {FromBlock: n(2), ToBlock: n(6)}} {
		if _, err := h.c.GetLogs(ctx, q); err == nil || err.Error() != "block range extends beyond current head block" {
			t.Errorf("range %v-%v beyond the head: %v", q.FromBlock, q.ToBlock, err)
		}
	}
	if _, err := h.c.GetLogs(ctx, ethereum.FilterQuery{BlockHash: ptr(common.Hash{1})}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown block hash: %v", err)
	}
	if _, err := h.c.GetLogs(ctx, ethereum.FilterQuery{Topics: make([][]common.Hash, 5)}); err == nil {
		t.Error("five topic positions accepted")
	}
	h.c.opts.MaxLogs = 2
	if _, err := h.c.GetLogs(ctx, ethereum.FilterQuery{}); !errors.Is(err, ErrQueryLimit) {
		t.Errorf("result cap: %v", err)
	}
	h.c.opts.MaxLogs, h.c.opts.MaxLogBlocks = 100, 2
	if _, err := h.c.GetLogs(ctx, ethereum.FilterQuery{}); !errors.Is(err, ErrQueryLimit) {
		t.Errorf("block cap: %v", err)
	}
	if logs, err := h.c.GetLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{b}, Topics: [][]common.Hash{{}, {v(1)}}}); err != nil || len(logs) != 1 {
		t.Errorf("selective query under the block cap: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRestart(t *testing.T) {
	h, contract := chainWithContract(t)
	to := h.addrs[8]
	tx := h.send(4, &to, ether(3), nil, 21000, false)
	h.seal()
	head := h.c.Head()
	r := h.receipt(tx)
	h.reopen()
	if h.c.Head().Hash() != head.Hash() || common.Hash(h.c.stateDB.Root()) != head.Root() {
		t.Fatal("head or root changed across restart")
	}
	r2 := h.receipt(tx)
	if r2.BlockHash != r.BlockHash || r2.TransactionIndex != r.TransactionIndex || r2.GasUsed != r.GasUsed {
		t.Error("receipt changed across restart")
	}
	logs, err := h.c.GetLogs(context.Background(), ethereum.FilterQuery{Addresses: []common.Address{contract}})
	if err != nil || len(logs) != 2 {
		t.Errorf("logs after restart: %d %v", len(logs), err)
	}
	if got := h.balance(head.NumberU64(), to); got.Cmp(ether(10_003)) != 0 {
		t.Errorf("balance after restart %s", got)
	}
	// The chain goes on: the pool knows the nonces.
	tx2 := h.send(4, &to, ether(1), nil, 21000, false)
	b := h.seal()
	if b.NumberU64() != head.NumberU64()+1 || b.ParentHash() != head.Hash() || h.receipt(tx2).Status != 1 {
		t.Error("sealing after restart")
	}
}

var errCrash = errors.New("simulated crash")

func TestCrashRecovery(t *testing.T) {
	for _, stage := range []string{stagePending, stageState} {
		t.Run(stage, func(t *testing.T) {
			ref := newHarness(t, testOptions())
			crash := newHarness(t, testOptions())
			to := ref.addrs[7]
			run := func(h *harness) []*types.Transaction {
				h.send(0, nil, nil, storeLogInit(), 200_000, false)
				h.send(1, &to, ether(1), nil, 21000, true)
				return []*types.Transaction{h.tx(0, ptr(crypto.CreateAddress(h.addrs[0], 0)), nil, common.BigToHash(big.NewInt(5)).Bytes(), 100_000, false)}
			}
			for _, h := range []*harness{ref, crash} {
				next := run(h)
				h.seal()
				if err := h.c.SendTransaction(next[0]); err != nil {
					t.Fatal(err)
				}
			}
			want := ref.seal()

			crash.c.hook = func(s string) error {
				if s == stage {
					return errCrash
				}
				return nil
			}
			if _, err := crash.c.Seal(context.Background()); !errors.Is(err, errCrash) {
				t.Fatalf("seal: %v", err)
			}
			if crash.c.Head().NumberU64() != 1 {
				t.Fatal("crashed block was published")
			}
			if _, err := crash.c.Seal(context.Background()); !errors.Is(err, ErrFailed) {
				t.Fatalf("seal after failure: %v", err)
			}
			wantV := uint64(2) // the state commit did not happen: re-execution makes it
			if stage == stageState {
				wantV = 3 // it did: Open checks it and finishes the block
			}
			if v := crash.c.stateDB.Version(); v != wantV {
				t.Fatalf("state version %d before reopening, want %d", v, wantV)
			}
			crash.reopen()
			got := crash.c.Head()
			if got.Hash() != want.Hash() || got.Root() != want.Root() {
				t.Fatalf("recovered head %d %s (root %s), want %d %s (root %s)", got.NumberU64(), got.Hash(), got.Root(), want.NumberU64(), want.Hash(), want.Root())
			}
			rs, err := crash.c.Receipts(got.Hash())
			if err != nil || len(rs) != 1 || len(rs[0].Logs) != 1 || rs[0].Logs[0].BlockHash != got.Hash() {
				t.Fatalf("recovered receipts: %v", err)
			}
			if v := crash.c.stateDB.Version(); v != got.NumberU64()+1 {
				t.Errorf("state version %d, head %d", v, got.NumberU64())
			}
			// And it goes on.
			if b := crash.seal(); b.NumberU64() != 3 {
				t.Error("sealing after recovery")
			}
		})
	}
}

func TestConcurrentReads(t *testing.T) {
	h, contract := chainWithContract(t)
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				head := h.c.Head()
				if _, err := h.c.Receipts(head.Hash()); err != nil {
					done <- err
					return
				}
				if _, err := h.c.GetLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{contract}}); err != nil {
					done <- err
					return
				}
				if _, err := h.c.Call(ctx, &gethcore.Message{From: h.addrs[1], To: &contract}, head.NumberU64()); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	for i := range 20 {
		h.send(i%3, &contract, nil, common.BigToHash(big.NewInt(int64(i+100))).Bytes(), 100_000, false)
		h.seal()
	}
	close(stop)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	logs, err := h.c.GetLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{contract}})
	if err != nil || len(logs) != 22 {
		t.Fatalf("%d logs, %v", len(logs), err)
	}
}
