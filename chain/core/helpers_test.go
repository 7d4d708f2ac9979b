package core

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
)

// storedTopic is topic 0 of the test contract's log.
var storedTopic = crypto.Keccak256Hash([]byte("Stored(uint256)"))

// revertWord is the calldata that makes the test contract revert, with itself as revert data.
var revertWord = common.BigToHash(big.NewInt(0xdead))

// storeLogRuntime is the test contract, hand-assembled:
//
//	no calldata:        return sload(0)
//	calldata v = 0xdead: revert(v)            (32 bytes of revert data)
//	calldata v:          sstore(0, v); log2(mem[0:32] = v, topics: storedTopic, v)
func storeLogRuntime() []byte {
	c := []byte{
		0x36, 0x15, 0x60, 0x00 /* get */, 0x57, // if calldatasize == 0 goto get
		0x60, 0x00, 0x35, // v = calldataload(0)
		0x80, 0x61, 0xde, 0xad, 0x14, 0x60, 0x00 /* rev */, 0x57, // if v == 0xdead goto rev
		0x80, 0x60, 0x00, 0x55, // sstore(0, v)
		0x80, 0x60, 0x00, 0x52, // mstore(0, v)
		0x7f, // push32 storedTopic
	}
	c = append(c, storedTopic[:]...)
	c = append(c, 0x60, 0x20, 0x60, 0x00, 0xa2, 0x00) // log2(0, 32, storedTopic, v); stop
	get := len(c)
	c = append(c, 0x5b, 0x60, 0x00, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3)
	rev := len(c)
	c = append(c, 0x5b, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xfd)
	c[3], c[14] = byte(get), byte(rev)
	return c
}

// storeLogInit deploys storeLogRuntime.
func storeLogInit() []byte {
	rt := storeLogRuntime()
	init := []byte{0x60, byte(len(rt)), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}
	return append(init, rt...)
}

type harness struct {
	t      *testing.T
	dir    string
	opts   Options
	c      *Chain
	keys   []*ecdsa.PrivateKey
	addrs  []common.Address
	nonces map[common.Address]uint64
}

var (
	gwei       = big.NewInt(params.GWei)
	lazai      = metisvm.LazAIAddress
	testClock0 = time.Unix(DevTimestamp+1000, 0)
)

// testOptions: no fsync, a fixed clock (each block is then parent time + 1), so two chains fed
// the same transactions build the same blocks.
func testOptions() Options {
	return Options{NoSync: true, Clock: func() time.Time { return testClock0 }}
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), opts: opts, nonces: make(map[common.Address]uint64)}
	for _, a := range DevAccounts() {
		h.keys = append(h.keys, a.Key)
		h.addrs = append(h.addrs, a.Address)
	}
	h.open()
	t.Cleanup(func() { h.c.Close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	c, err := Open(h.dir, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
}

func (h *harness) reopen() {
	h.t.Helper()
	if err := h.c.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// tx signs a transaction from dev account i (1559 unless legacy) with the next nonce.
func (h *harness) tx(i int, to *common.Address, value *big.Int, data []byte, gas uint64, legacy bool) *types.Transaction {
	h.t.Helper()
	from := h.addrs[i]
	nonce := h.nonces[from]
	h.nonces[from]++
	var inner types.TxData
	if legacy {
		inner = &types.LegacyTx{Nonce: nonce, GasPrice: new(big.Int).Mul(big.NewInt(3), gwei), Gas: gas, To: to, Value: value, Data: data}
	} else {
		inner = &types.DynamicFeeTx{
			ChainID: big.NewInt(metisvm.DevChainID), Nonce: nonce, GasTipCap: gwei,
			GasFeeCap: new(big.Int).Mul(big.NewInt(100), gwei), Gas: gas, To: to, Value: value, Data: data,
		}
	}
	tx, err := types.SignNewTx(h.keys[i], h.c.Signer(), inner)
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

// send signs and pools a transaction.
func (h *harness) send(i int, to *common.Address, value *big.Int, data []byte, gas uint64, legacy bool) *types.Transaction {
	h.t.Helper()
	tx := h.tx(i, to, value, data, gas, legacy)
	if err := h.c.SendTransaction(tx); err != nil {
		h.t.Fatalf("send: %v", err)
	}
	return tx
}

func (h *harness) seal() *types.Block {
	h.t.Helper()
	b, err := h.c.Seal(context.Background())
	if err != nil {
		h.t.Fatalf("seal: %v", err)
	}
	return b
}

// balance returns addr's balance after block num.
func (h *harness) balance(num uint64, addr common.Address) *big.Int {
	h.t.Helper()
	st, err := h.c.StateAt(num)
	if err != nil {
		h.t.Fatal(err)
	}
	return st.GetBalance(addr).ToBig()
}

func (h *harness) receipt(tx *types.Transaction) *types.Receipt {
	h.t.Helper()
	r, err := h.c.Receipt(tx.Hash())
	if err != nil {
		h.t.Fatalf("receipt of %s: %v", tx.Hash(), err)
	}
	return r
}

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

func u256(b *big.Int) *uint256.Int { return uint256.MustFromBig(b) }
