package state

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

// testSeed returns STATE_SEED if set, else a fresh seed; either way it is logged.
func testSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STATE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with STATE_SEED=%d)", seed, seed)
	return seed
}

// TestDifferential applies random sequences of StateDB operations to this package's StateDB
// over MetisDB and to go-ethereum's core/state.StateDB, comparing every getter after every
// operation, and at block ends flushes, commits, re-opens and compares again, together with
// the raw contents of MetisDB.
func TestDifferential(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	h := newHarness(t)
	h.txScoped = true // every comparison below follows a Prepare

	addrs := make([]common.Address, 8)
	for i := range addrs {
		addrs[i] = common.BytesToAddress([]byte{0xaa, byte(i + 1)})
	}
	slots := []common.Hash{{}, common.BytesToHash([]byte{1}), common.BytesToHash([]byte{2}), common.BytesToHash([]byte{3}), {0xff, 0xee}, common.BytesToHash([]byte{0xde, 0xad})}
	codes := [][]byte{nil, {}, {0x60, 0x00}, {0x5f, 0x5f, 0xfd}, []byte("some longer contract code here")}
	precompiles := vm.ActivePrecompiles(testRules)

	pick := func() common.Address { return addrs[rng.IntN(len(addrs))] }
	pickSlot := func() common.Hash { return slots[rng.IntN(len(slots))] }
	value := func() common.Hash {
		switch rng.IntN(4) {
		case 0:
			return common.Hash{}
		case 1:
			return common.BytesToHash([]byte{1})
		case 2:
			return common.BytesToHash([]byte{2})
		}
		var v common.Hash
		binary.BigEndian.PutUint64(v[24:], rng.Uint64())
		v[0] = byte(rng.IntN(256))
		return v
	}
	amount := func() *uint256.Int {
		switch rng.IntN(4) {
		case 0:
			return new(uint256.Int)
		case 1:
			return uint256.NewInt(1)
		case 2:
			return uint256.NewInt(rng.Uint64N(1 << 20))
		}
		return new(uint256.Int).Lsh(uint256.NewInt(rng.Uint64()), uint(rng.IntN(128)))
	}

	type rev struct{ m, g int }
	var revs []rev
	txIndex := 0
	var thash common.Hash
	ops := 0
	where := ""

	beginTx := func() {
		thash = crypto.Keccak256Hash([]byte(fmt.Sprintf("block %d tx %d", h.block, txIndex)))
		h.m.SetTxContext(thash, txIndex, uint32(txIndex+1))
		h.g.SetTxContext(thash, txIndex, uint32(txIndex+1))
		sender, coinbase := pick(), pick()
		var dst *common.Address
		if rng.IntN(3) > 0 {
			d := pick()
			dst = &d
		}
		var list types.AccessList
		for range rng.IntN(3) {
			tuple := types.AccessTuple{Address: pick()}
			for range rng.IntN(3) {
				tuple.StorageKeys = append(tuple.StorageKeys, pickSlot())
			}
			list = append(list, tuple)
		}
		h.m.Prepare(testRules, sender, coinbase, dst, precompiles, list)
		h.g.Prepare(testRules, sender, coinbase, dst, precompiles, list)
	}
	endTx := func() {
		h.compareLogs(where, thash)
		h.m.Finalise(testRules)
		h.g.Finalise(testRules)
		revs = revs[:0]
		txIndex++
		beginTx()
	}

	const blocks, txsPerBlock, opsPerTx = 48, 10, 40
	beginTx()
	for b := 0; b < blocks; b++ {
		for tx := 0; tx < txsPerBlock; tx++ {
			n := 1 + rng.IntN(2*opsPerTx)
			for range n {
				ops++
				a := pick()
				op := rng.IntN(23)
				where = fmt.Sprintf("seed %d block %d tx %d op #%d (kind %d, %s)", seed, h.block, txIndex, ops, op, a)
				switch op {
				case 0: // CreateAccount, only where go-ethereum allows it
					if !h.g.Exist(a) {
						h.m.CreateAccount(a)
						h.g.CreateAccount(a)
					}
				case 1: // contract creation as evm.create does it
					if !h.g.Exist(a) {
						h.m.CreateAccount(a)
						h.g.CreateAccount(a)
					}
					h.m.CreateContract(a)
					h.g.CreateContract(a)
					h.m.SetNonce(a, 1, tracing.NonceChangeNewContract)
					h.g.SetNonce(a, 1, tracing.NonceChangeNewContract)
				case 2, 3:
					v := amount()
					x := h.m.AddBalance(a, v, tracing.BalanceChangeTransfer)
					y := h.g.AddBalance(a, v, tracing.BalanceChangeTransfer)
					if x != y {
						t.Fatalf("%s: AddBalance returned %v, geth %v", where, &x, &y)
					}
				case 4:
					bal := h.g.GetBalance(a)
					v := new(uint256.Int)
					if rng.IntN(8) == 0 {
						v = amount() // may underflow: both wrap
					} else if bal.IsUint64() {
						v.SetUint64(rng.Uint64N(bal.Uint64() + 1))
					} else {
						v.Rsh(bal, uint(1+rng.IntN(8)))
					}
					x := h.m.SubBalance(a, v, tracing.BalanceChangeTransfer)
					y := h.g.SubBalance(a, v, tracing.BalanceChangeTransfer)
					if x != y {
						t.Fatalf("%s: SubBalance returned %v, geth %v", where, &x, &y)
					}
				case 5:
					n := []uint64{0, 1, h.g.GetNonce(a) + 1, rng.Uint64()}[rng.IntN(4)]
					h.m.SetNonce(a, n, tracing.NonceChangeUnspecified)
					h.g.SetNonce(a, n, tracing.NonceChangeUnspecified)
				case 6:
					// go-ethereum's SetCode returns (and journals) the cached code only, so
					// load it first, as the EVM does before any SetCode.
					h.m.GetCode(a)
					h.g.GetCode(a)
					code := codes[rng.IntN(len(codes))]
					x := h.m.SetCode(a, code, tracing.CodeChangeUnspecified)
					y := h.g.SetCode(a, code, tracing.CodeChangeUnspecified)
					if string(x) != string(y) {
						t.Fatalf("%s: SetCode returned %x, geth %x", where, x, y)
					}
				case 7, 8, 9:
					k, v := pickSlot(), value()
					x := h.m.SetState(a, k, v)
					y := h.g.SetState(a, k, v)
					if x != y {
						t.Fatalf("%s: SetState returned %s, geth %s", where, x, y)
					}
				case 10:
					k, v := pickSlot(), value()
					h.m.SetTransientState(a, k, v)
					h.g.SetTransientState(a, k, v)
				case 11, 12:
					revs = append(revs, rev{h.m.Snapshot(), h.g.Snapshot()})
					if revs[len(revs)-1].m != revs[len(revs)-1].g {
						t.Fatalf("%s: snapshot ids %v", where, revs[len(revs)-1])
					}
				case 13:
					if len(revs) > 0 {
						i := rng.IntN(len(revs))
						h.m.RevertToSnapshot(revs[i].m)
						h.g.RevertToSnapshot(revs[i].g)
						revs = revs[:i]
					}
				case 14:
					h.m.SelfDestruct(a)
					h.g.SelfDestruct(a)
				case 15:
					g := rng.Uint64N(50000)
					if rng.IntN(2) == 0 {
						h.m.AddRefund(g)
						h.g.AddRefund(g)
					} else if r := h.g.GetRefund(); r > 0 {
						g = rng.Uint64N(r + 1)
						h.m.SubRefund(g)
						h.g.SubRefund(g)
					}
				case 16:
					topics := make([]common.Hash, rng.IntN(4))
					for i := range topics {
						topics[i] = value()
					}
					data := value().Bytes()[:rng.IntN(33)]
					h.m.AddLog(&types.Log{Address: a, Topics: topics, Data: data})
					h.g.AddLog(&types.Log{Address: a, Topics: topics, Data: data})
				case 17:
					h.m.AddAddressToAccessList(a)
					h.g.AddAddressToAccessList(a)
				case 18:
					k := pickSlot()
					h.m.AddSlotToAccessList(a, k)
					h.g.AddSlotToAccessList(a, k)
				case 19:
					h.m.Touch(a)
					h.g.Touch(a)
				case 20: // the EIP-6780 path of the interpreter: move the balance, then destruct
					if h.g.IsNewContract(a) {
						bal := h.g.GetBalance(a)
						h.m.SubBalance(a, bal, tracing.BalanceDecreaseSelfdestruct)
						h.g.SubBalance(a, bal, tracing.BalanceDecreaseSelfdestruct)
						h.m.SelfDestruct(a)
						h.g.SelfDestruct(a)
					}
				case 21: // Copy mid-transaction: the copy must carry on exactly
					h.m = h.m.Copy()
				case 22:
					endTx()
				}
				h.compareAccounts(where, addrs, slots)
			}
			endTx()
			h.compareAccounts(where+" after Finalise", addrs, slots)
		}
		h.endBlock()
		txIndex = 0
		revs = revs[:0]
		beginTx()
		where = fmt.Sprintf("seed %d after block %d", seed, h.block-1)
		h.compareAccounts(where, addrs, slots)
		h.checkStore(where, addrs, slots)
	}
	t.Logf("%d operations over %d blocks", ops, blocks)
}
