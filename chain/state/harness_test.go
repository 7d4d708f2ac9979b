package state

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	gstate "github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/metisdb"
)

// testConfig is a merged chain at Prague, the fork this chain runs.
var testConfig = func() *params.ChainConfig {
	c := *params.MergedTestChainConfig
	c.OsakaTime = nil
	return &c
}()

var testRules = testConfig.Rules(big.NewInt(1), true, 0)

// gethCommitRules are the rules geth's side commits with. Under Cancun, geth's Commit refuses to
// wipe the storage of a destroyed pre-existing account ("unexpected storage wiping",
// core/state/statedb.go handleDestruction) because its interpreter never asks for it; the
// StateDB API still allows SelfDestruct of any account, and the random test does it, so geth
// commits with the Cancun flag off (which only affects that check and the storage key scheme
// of its state update).
var gethCommitRules = func() params.Rules {
	r := testRules
	r.IsCancun, r.IsPrague = false, false
	return r
}()

// harness runs this package's StateDB over a real MetisDB side by side with go-ethereum's
// StateDB over its in-memory database.
type harness struct {
	t     testing.TB
	db    *metisdb.DB
	m     *StateDB
	gdb   gstate.Database
	g     *gstate.StateDB
	block uint64

	// txScoped makes compareAccounts compare the access list and transient storage too. Only
	// valid between Prepare and Finalise: go-ethereum keeps both after Finalise (it resets them
	// in Prepare), this package resets them in both.
	txScoped bool
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	db, err := metisdb.Open(t.TempDir(), &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	gdb := gstate.NewDatabaseForTesting()
	g, err := gstate.New(types.EmptyRootHash, gdb)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, gdb: gdb, g: g, block: 1}
	h.m = h.open()
	return h
}

func (h *harness) open() *StateDB {
	h.t.Helper()
	snap, err := h.db.Snapshot(h.db.Version())
	if err != nil {
		h.t.Fatal(err)
	}
	return New(snap)
}

// endBlock finalises both sides, flushes and commits ours, commits geth's, and re-opens both
// on the new state.
func (h *harness) endBlock() {
	h.t.Helper()
	h.m.Finalise(testRules)
	h.g.Finalise(testRules)
	if err := h.m.Flush(h.db); err != nil {
		h.t.Fatalf("flush: %v", err)
	}
	if _, _, err := h.db.Commit(); err != nil {
		h.t.Fatalf("commit: %v", err)
	}
	root, err := h.g.Commit(gethCommitRules, h.block)
	if err != nil {
		h.t.Fatalf("geth commit: %v", err)
	}
	if h.g, err = gstate.New(root, h.gdb); err != nil {
		h.t.Fatal(err)
	}
	h.m = h.open()
	h.block++
}

// compareAccounts checks every getter of addrs and slots on both sides.
func (h *harness) compareAccounts(where string, addrs []common.Address, slots []common.Hash) {
	h.t.Helper()
	m, g := h.m, h.g
	fail := func(what string, a common.Address, got, want any) {
		h.t.Helper()
		h.t.Fatalf("%s: %s(%s): metis %v, geth %v", where, what, a, got, want)
	}
	for _, a := range addrs {
		if x, y := m.Exist(a), g.Exist(a); x != y {
			fail("Exist", a, x, y)
		}
		if x, y := m.Empty(a), g.Empty(a); x != y {
			fail("Empty", a, x, y)
		}
		if x, y := m.GetBalance(a), g.GetBalance(a); !x.Eq(y) {
			fail("GetBalance", a, x, y)
		}
		if x, y := m.GetNonce(a), g.GetNonce(a); x != y {
			fail("GetNonce", a, x, y)
		}
		if x, y := m.GetCodeHash(a), g.GetCodeHash(a); x != y {
			fail("GetCodeHash", a, x, y)
		}
		if x, y := m.GetCode(a), g.GetCode(a); !bytes.Equal(x, y) || (x == nil) != (y == nil) {
			fail("GetCode", a, x, y)
		}
		if x, y := m.GetCodeSize(a), g.GetCodeSize(a); x != y {
			fail("GetCodeSize", a, x, y)
		}
		if x, y := m.HasSelfDestructed(a), g.HasSelfDestructed(a); x != y {
			fail("HasSelfDestructed", a, x, y)
		}
		if x, y := m.IsNewContract(a), g.IsNewContract(a); x != y {
			fail("IsNewContract", a, x, y)
		}
		if x, y := m.AddressInAccessList(a), g.AddressInAccessList(a); h.txScoped && x != y {
			fail("AddressInAccessList", a, x, y)
		}
		for _, k := range slots {
			if x, y := m.GetState(a, k), g.GetState(a, k); x != y {
				fail("GetState/"+k.Hex(), a, x, y)
			}
			x1, x2 := m.GetStateAndCommittedState(a, k)
			y1, y2 := g.GetStateAndCommittedState(a, k)
			if x1 != y1 || x2 != y2 {
				fail("GetStateAndCommittedState/"+k.Hex(), a, [2]common.Hash{x1, x2}, [2]common.Hash{y1, y2})
			}
			if !h.txScoped {
				continue
			}
			if x, y := m.GetTransientState(a, k), g.GetTransientState(a, k); x != y {
				fail("GetTransientState/"+k.Hex(), a, x, y)
			}
			xa, xs := m.SlotInAccessList(a, k)
			ya, ys := g.SlotInAccessList(a, k)
			if xa != ya || xs != ys {
				fail("SlotInAccessList/"+k.Hex(), a, [2]bool{xa, xs}, [2]bool{ya, ys})
			}
		}
	}
	if x, y := m.GetRefund(), g.GetRefund(); x != y {
		h.t.Fatalf("%s: GetRefund: metis %d, geth %d", where, x, y)
	}
	if err := m.Error(); err != nil {
		h.t.Fatalf("%s: metis error: %v", where, err)
	}
	if err := g.Error(); err != nil {
		h.t.Fatalf("%s: geth error: %v", where, err)
	}
}

// compareLogs checks the logs of one transaction on both sides.
func (h *harness) compareLogs(where string, thash common.Hash) {
	h.t.Helper()
	bhash := common.Hash{0xbb, byte(h.block)}
	x := h.m.GetLogs(thash, h.block, bhash, 1000+h.block)
	y := h.g.GetLogs(thash, h.block, bhash, 1000+h.block)
	if len(x) != len(y) {
		h.t.Fatalf("%s: %d logs, geth %d", where, len(x), len(y))
	}
	for i := range x {
		a, b := x[i], y[i]
		if a.Address != b.Address || !bytes.Equal(a.Data, b.Data) || len(a.Topics) != len(b.Topics) ||
			a.TxHash != b.TxHash || a.TxIndex != b.TxIndex || a.Index != b.Index ||
			a.BlockNumber != b.BlockNumber || a.BlockHash != b.BlockHash || a.BlockTimestamp != b.BlockTimestamp {
			h.t.Fatalf("%s: log %d: metis %+v, geth %+v", where, i, a, b)
		}
		for j := range a.Topics {
			if a.Topics[j] != b.Topics[j] {
				h.t.Fatalf("%s: log %d topic %d differs", where, i, j)
			}
		}
	}
}

// checkStore walks every key of the latest MetisDB version and checks it against geth's state:
// each account and slot stored matches, no zero slot or orphan slot is stored, code is
// content-addressed, and every account and non-zero slot of addrs × slots is stored.
func (h *harness) checkStore(where string, addrs []common.Address, slots []common.Hash) {
	h.t.Helper()
	snap, err := h.db.Snapshot(h.db.Version())
	if err != nil {
		h.t.Fatal(err)
	}
	it, err := snap.Iterator(nil, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	defer it.Close()
	accounts, storage := 0, 0
	for it.Next() {
		k, v := it.Key(), it.Value()
		switch k[0] {
		case PrefixAccount:
			accounts++
			a := common.BytesToAddress(k[1:])
			acct, err := DecodeAccount(v)
			if err != nil {
				h.t.Fatalf("%s: %v", where, err)
			}
			if !h.g.Exist(a) || acct.Nonce != h.g.GetNonce(a) || !acct.Balance.Eq(h.g.GetBalance(a)) || acct.CodeHash != h.g.GetCodeHash(a) {
				h.t.Fatalf("%s: stored account %s %+v differs from geth", where, a, acct)
			}
		case PrefixStorage:
			storage++
			a := common.BytesToAddress(k[1:21])
			slot := common.BytesToHash(k[21:])
			if len(v) != 32 || common.Hash(v) == (common.Hash{}) {
				h.t.Fatalf("%s: stored slot %s/%s has value %x", where, a, slot, v)
			}
			if !h.g.Exist(a) || h.g.GetState(a, slot) != common.Hash(v) {
				h.t.Fatalf("%s: stored slot %s/%s = %x, geth %s (exists %v)", where, a, slot, v, h.g.GetState(a, slot), h.g.Exist(a))
			}
		case PrefixCode:
			if crypto.Keccak256Hash(v) != common.BytesToHash(k[1:]) {
				h.t.Fatalf("%s: code key %x does not match its code", where, k)
			}
		default:
			h.t.Fatalf("%s: unknown key %x", where, k)
		}
	}
	if err := it.Err(); err != nil {
		h.t.Fatal(err)
	}
	wantAccounts, wantStorage := 0, 0
	for _, a := range addrs {
		if !h.g.Exist(a) {
			continue
		}
		wantAccounts++
		for _, s := range slots {
			if h.g.GetState(a, s) != (common.Hash{}) {
				wantStorage++
			}
		}
	}
	if accounts != wantAccounts || storage != wantStorage {
		h.t.Fatalf("%s: store holds %d accounts and %d slots, geth %d and %d", where, accounts, storage, wantAccounts, wantStorage)
	}
}
