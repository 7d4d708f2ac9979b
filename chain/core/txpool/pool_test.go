package txpool

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

const gwei = 1_000_000_000

var chain = params.AllDevChainProtocolChanges

// env is a pool over a real go-ethereum state with funded keys.
type env struct {
	t     *testing.T
	state *state.StateDB
	head  *types.Header
	pool  *Pool
	keys  []*ecdsa.PrivateKey
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, state: st}
	for range 4 {
		k, _ := crypto.GenerateKey()
		e.keys = append(e.keys, k)
		st.AddBalance(crypto.PubkeyToAddress(k.PublicKey), uint256.NewInt(1e18), tracing.BalanceChangeUnspecified)
	}
	e.head = &types.Header{Number: big.NewInt(10), GasLimit: 30_000_000, BaseFee: big.NewInt(gwei),
		Difficulty: new(big.Int), Time: uint64(time.Now().Unix())}
	e.pool = New(cfg, chain, e.head, st)
	return e
}

func (e *env) addr(i int) common.Address { return crypto.PubkeyToAddress(e.keys[i].PublicKey) }

// dyn signs an EIP-1559 transfer from key i.
func (e *env) dyn(i int, nonce uint64, tip, feeCap int64) *types.Transaction {
	return e.sign(i, &types.DynamicFeeTx{ChainID: chain.ChainID, Nonce: nonce, GasTipCap: big.NewInt(tip),
		GasFeeCap: big.NewInt(feeCap), Gas: 21000, To: &common.Address{1}, Value: big.NewInt(1)})
}

func (e *env) sign(i int, inner types.TxData) *types.Transaction {
	e.t.Helper()
	tx, err := types.SignNewTx(e.keys[i], types.LatestSigner(chain), inner)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

func (e *env) mustAdd(txs ...*types.Transaction) {
	e.t.Helper()
	for _, tx := range txs {
		if err := e.pool.Add(tx); err != nil {
			e.t.Fatalf("Add(nonce %d): %v", tx.Nonce(), err)
		}
	}
}

func hashes(txs []*types.Transaction) []common.Hash {
	var out []common.Hash
	for _, tx := range txs {
		out = append(out, tx.Hash())
	}
	return out
}

func TestOrderedByTipThenNonce(t *testing.T) {
	e := newEnv(t, Config{})
	a0, a1 := e.dyn(0, 0, 1*gwei, 10*gwei), e.dyn(0, 1, 5*gwei, 10*gwei)
	b0 := e.dyn(1, 0, 3*gwei, 10*gwei)
	legacy := e.sign(2, &types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(3 * gwei), Gas: 21000, To: &common.Address{2}})
	al := e.sign(3, &types.AccessListTx{ChainID: chain.ChainID, Nonce: 0, GasPrice: big.NewInt(2 * gwei), Gas: 30000,
		To: &common.Address{3}, AccessList: types.AccessList{{Address: common.Address{3}}}})
	e.mustAdd(a1, a0, b0, legacy, al)
	// Effective tips at base fee 1 gwei: b0 3, legacy 2 (3-1), al 1 (2-1), a0 1; a1 (5) waits
	// behind a0. Ties go to the earlier arrival.
	got := e.pool.Ordered(big.NewInt(gwei))
	want := []*types.Transaction{b0, legacy, a0, a1, al}
	if !equalHashes(hashes(got), hashes(want)) {
		t.Fatalf("order:\n got %v\nwant %v", nonces(got), nonces(want))
	}
}

func equalHashes(a, b []common.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func nonces(txs []*types.Transaction) []string {
	var out []string
	for _, tx := range txs {
		out = append(out, tx.Hash().Hex()[:8])
	}
	return out
}

func TestNonceGapHeldUntilFilled(t *testing.T) {
	e := newEnv(t, Config{})
	t0, t2 := e.dyn(0, 0, gwei, 10*gwei), e.dyn(0, 2, gwei, 10*gwei)
	e.mustAdd(t0, t2)
	if got := e.pool.Ordered(big.NewInt(gwei)); len(got) != 1 || got[0] != t0 {
		t.Fatalf("with a gap, ordered = %v", nonces(got))
	}
	pending, queued := e.pool.Content()
	if len(pending[e.addr(0)]) != 1 || len(queued[e.addr(0)]) != 1 || queued[e.addr(0)][0] != t2 {
		t.Fatalf("content: pending %v queued %v", pending, queued)
	}
	if n := e.pool.PendingNonce(e.addr(0)); n != 1 {
		t.Fatalf("pending nonce %d, want 1", n)
	}
	t1 := e.dyn(0, 1, gwei, 10*gwei)
	e.mustAdd(t1)
	if got := e.pool.Ordered(big.NewInt(gwei)); !equalHashes(hashes(got), hashes([]*types.Transaction{t0, t1, t2})) {
		t.Fatalf("gap filled, ordered = %v", nonces(got))
	}
	if n := e.pool.PendingNonce(e.addr(0)); n != 3 {
		t.Fatalf("pending nonce %d, want 3", n)
	}
}

func TestReplacementNeedsTenPercent(t *testing.T) {
	e := newEnv(t, Config{})
	orig := e.dyn(0, 0, 10*gwei, 100*gwei)
	e.mustAdd(orig)
	for _, tc := range []struct {
		name        string
		tip, feeCap int64
		ok          bool
	}{
		{"same fees", 10 * gwei, 100 * gwei, false},
		{"tip +9%", 10.9 * gwei, 110 * gwei, false},
		{"fee cap +9%", 11 * gwei, 109 * gwei, false},
		{"both +10%", 11 * gwei, 110 * gwei, true},
	} {
		// A different value, so that "same fees" is a new transaction, not the known one.
		tx := e.sign(0, &types.DynamicFeeTx{ChainID: chain.ChainID, GasTipCap: big.NewInt(tc.tip), GasFeeCap: big.NewInt(tc.feeCap),
			Gas: 21000, To: &common.Address{1}, Value: big.NewInt(2)})
		err := e.pool.Add(tx)
		if tc.ok != (err == nil) {
			t.Fatalf("%s: err = %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrReplaceUnderpriced) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, ErrReplaceUnderpriced)
		}
		if tc.ok && (e.pool.Get(orig.Hash()) != nil || e.pool.Get(tx.Hash()) == nil || e.pool.Len() != 1) {
			t.Fatalf("%s: replacement did not replace", tc.name)
		}
	}
}

func TestRejectsWithGethMessages(t *testing.T) {
	e := newEnv(t, Config{})
	e.state.SetNonce(e.addr(1), 5, tracing.NonceChangeUnspecified)
	poor, _ := crypto.GenerateKey()
	e.keys = append(e.keys, poor) // key 4 has no funds

	wrongChain, err := types.SignNewTx(e.keys[0], types.LatestSignerForChainID(big.NewInt(1)),
		&types.DynamicFeeTx{ChainID: big.NewInt(1), GasTipCap: big.NewInt(gwei), GasFeeCap: big.NewInt(10 * gwei), Gas: 21000, To: &common.Address{1}})
	if err != nil {
		t.Fatal(err)
	}
	badSig, err := types.NewTx(&types.DynamicFeeTx{ChainID: chain.ChainID, GasTipCap: big.NewInt(gwei), GasFeeCap: big.NewInt(10 * gwei),
		Gas: 21000, To: &common.Address{1}}).WithSignature(types.LatestSigner(chain), bytes.Repeat([]byte{0}, 65))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tx   *types.Transaction
		want string // go-ethereum's message, as clients see it
	}{
		{"bad signature", badSig, "invalid sender"},
		{"wrong chain id", wrongChain, "invalid sender: invalid chain id for signer"},
		{"nonce too low", e.dyn(1, 4, gwei, 10*gwei), "nonce too low"},
		{"insufficient funds", e.dyn(4, 0, gwei, 10*gwei), "insufficient funds for gas * price + value"},
		{"intrinsic gas too low", e.sign(0, &types.DynamicFeeTx{ChainID: chain.ChainID, GasTipCap: big.NewInt(gwei),
			GasFeeCap: big.NewInt(10 * gwei), Gas: 20999, To: &common.Address{1}}), "intrinsic gas too low"},
		{"fee cap below base fee", e.dyn(0, 0, 1, gwei/2), "max fee per gas less than block base fee"},
		{"tip above fee cap", e.dyn(0, 0, 2*gwei, gwei+1), "max priority fee per gas higher than max fee per gas"},
		{"oversize", e.sign(0, &types.DynamicFeeTx{ChainID: chain.ChainID, GasTipCap: big.NewInt(gwei), GasFeeCap: big.NewInt(10 * gwei),
			Gas: 10_000_000, To: &common.Address{1}, Data: make([]byte, 130*1024)}), "oversized data"},
		{"above block gas limit", e.sign(0, &types.DynamicFeeTx{ChainID: chain.ChainID, GasTipCap: big.NewInt(gwei),
			GasFeeCap: big.NewInt(10 * gwei), Gas: 30_000_001, To: &common.Address{1}}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.pool.Add(tc.tx)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to start with %q", err, tc.want)
			}
			if e.pool.Len() != 0 {
				t.Fatal("a rejected transaction was pooled")
			}
		})
	}
}

func TestCaps(t *testing.T) {
	e := newEnv(t, Config{AccountSlots: 3, GlobalSlots: 4})
	e.mustAdd(e.dyn(0, 0, gwei, 10*gwei), e.dyn(0, 1, gwei, 10*gwei), e.dyn(0, 5, gwei, 10*gwei))
	if err := e.pool.Add(e.dyn(0, 2, gwei, 10*gwei)); !errors.Is(err, ErrAccountLimitExceeded) {
		t.Fatalf("fourth tx of one sender: %v", err)
	}
	// A replacement does not take a new slot.
	e.mustAdd(e.dyn(0, 5, 2*gwei, 20*gwei))
	e.mustAdd(e.dyn(1, 0, gwei, 10*gwei))
	if err := e.pool.Add(e.dyn(2, 0, gwei, 10*gwei)); !errors.Is(err, ErrPoolFull) || !strings.HasPrefix(err.Error(), "txpool is full") {
		t.Fatalf("fifth tx in the pool: %v", err)
	}
	if err := e.pool.Add(e.dyn(1, 0, gwei, 10*gwei)); !errors.Is(err, ErrAlreadyKnown) {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestBalanceCoversAllPooled(t *testing.T) {
	e := newEnv(t, Config{})
	// 1e18 wei: each tx costs 21000 gas × 10 gwei + value.
	value := new(big.Int).Sub(big.NewInt(1e18), big.NewInt(21000*10*gwei))
	first := e.sign(0, &types.DynamicFeeTx{ChainID: chain.ChainID, Nonce: 0, GasTipCap: big.NewInt(gwei), GasFeeCap: big.NewInt(10 * gwei),
		Gas: 21000, To: &common.Address{1}, Value: value})
	e.mustAdd(first)
	if err := e.pool.Add(e.dyn(0, 1, gwei, 10*gwei)); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("second tx beyond the balance: %v", err)
	}
}

func TestResetDropsMinedAndUnaffordable(t *testing.T) {
	e := newEnv(t, Config{})
	t0, t1, t2 := e.dyn(0, 0, gwei, 10*gwei), e.dyn(0, 1, gwei, 10*gwei), e.dyn(0, 3, gwei, 10*gwei)
	b0 := e.dyn(1, 0, gwei, 10*gwei)
	e.mustAdd(t0, t1, t2, b0)
	e.state.SetNonce(e.addr(0), 1, tracing.NonceChangeUnspecified) // t0 mined
	e.state.SetBalance(e.addr(1), uint256.NewInt(1), tracing.BalanceChangeUnspecified)
	e.pool.Reset(e.head, e.state)
	if e.pool.Get(t0.Hash()) != nil || e.pool.Get(b0.Hash()) != nil {
		t.Fatal("mined or unaffordable transaction kept")
	}
	if e.pool.Get(t1.Hash()) == nil || e.pool.Get(t2.Hash()) == nil {
		t.Fatal("executable or gapped transaction dropped")
	}
	if got := e.pool.Ordered(big.NewInt(gwei)); len(got) != 1 || got[0] != t1 {
		t.Fatalf("ordered after reset: %v", nonces(got))
	}
}

func TestWaitsForBaseFee(t *testing.T) {
	e := newEnv(t, Config{})
	tx := e.dyn(0, 0, gwei, 2*gwei)
	e.mustAdd(tx)
	if got := e.pool.Ordered(big.NewInt(3 * gwei)); len(got) != 0 {
		t.Fatal("a transaction below the base fee was offered")
	}
	if got := e.pool.Ordered(big.NewInt(gwei)); len(got) != 1 {
		t.Fatal("the transaction was not offered once the base fee fell")
	}
}

func TestSubscribeNewTxs(t *testing.T) {
	e := newEnv(t, Config{})
	ch := make(chan []*types.Transaction, 4)
	sub := e.pool.SubscribeNewTxs(ch)
	defer sub.Unsubscribe()
	tx := e.dyn(0, 0, gwei, 10*gwei)
	e.mustAdd(tx)
	select {
	case got := <-ch:
		if len(got) != 1 || got[0].Hash() != tx.Hash() {
			t.Fatalf("notified %v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	if err := e.pool.Add(tx); err == nil {
		t.Fatal("duplicate accepted")
	}
	select {
	case got := <-ch:
		t.Fatalf("notified of a rejected transaction: %v", got)
	default:
	}
}
