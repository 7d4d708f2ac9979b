package state

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisdb"
)

func TestKeys(t *testing.T) {
	addr := common.HexToAddress("0x00112233445566778899aabbccddeeff00112233")
	slot := common.HexToHash("0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20")
	code := crypto.Keccak256Hash([]byte("code"))
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"account", AccountKey(addr), "01" + "00112233445566778899aabbccddeeff00112233"},
		{"storage", StorageKey(addr, slot), "02" + "00112233445566778899aabbccddeeff00112233" + "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"},
		{"code", CodeKey(code), "03" + code.Hex()[2:]},
		{"account value", EncodeAccount(&Account{Nonce: 0x0102, Balance: *uint256.NewInt(0x0a0b), CodeHash: types.EmptyCodeHash}),
			"0000000000000102" + "0000000000000000000000000000000000000000000000000000000000000a0b" + types.EmptyCodeHash.Hex()[2:]},
	}
	for _, tc := range tests {
		if got := fmt.Sprintf("%x", tc.got); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	a := Account{Nonce: 7, CodeHash: code}
	a.Balance.Lsh(uint256.NewInt(3), 200)
	b, err := DecodeAccount(EncodeAccount(&a))
	if err != nil || b != a {
		t.Fatalf("round trip: %+v, %v", b, err)
	}
	if _, err := DecodeAccount(make([]byte, AccountValueLen-1)); err == nil {
		t.Fatal("short account value decoded")
	}
	start, end := storagePrefix(common.Address{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if fmt.Sprintf("%x", end) != "03"+fmt.Sprintf("%040x", 0) || !bytes.HasPrefix(StorageKey(common.MaxAddress, slot), start) {
		t.Fatalf("storage prefix of the last address: %x %x", start, end)
	}
	if s, e := storagePrefix(addr); !(bytes.Compare(s, StorageKey(addr, common.MaxHash)) < 0 && bytes.Compare(StorageKey(addr, common.MaxHash), e) < 0) {
		t.Fatalf("storage prefix %x %x", s, e)
	}
}

// recorder is a Writer that logs each call and passes it on to the real DB.
type recorder struct {
	db  *metisdb.DB
	ops []string
}

func (r *recorder) Set(k, v []byte) error {
	r.ops = append(r.ops, fmt.Sprintf("set %x", k))
	return r.db.Set(k, v)
}

func (r *recorder) Delete(k []byte) error {
	r.ops = append(r.ops, fmt.Sprintf("del %x", k))
	return r.db.Delete(k)
}

// TestFlushWritesChangedKeys runs blocks over a real MetisDB and checks that Flush writes exactly
// the keys whose value changed, in key order, and wipes a destroyed account's storage.
func TestFlushWritesChangedKeys(t *testing.T) {
	db, err := metisdb.Open(t.TempDir(), &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	a := common.HexToAddress("0xa1")
	b := common.HexToAddress("0xb1")
	c := common.HexToAddress("0xc1")
	code := []byte{0x60, 0x01, 0x60, 0x00, 0x55}
	codeHash := crypto.Keccak256Hash(code)
	h := func(n byte) common.Hash { return common.BytesToHash([]byte{n}) }
	acct := func(addr common.Address) string { return fmt.Sprintf("%x", AccountKey(addr)) }
	stor := func(addr common.Address, n byte) string { return fmt.Sprintf("%x", StorageKey(addr, h(n))) }
	set := func(k string) string { return "set " + k }
	del := func(k string) string { return "del " + k }

	type step func(s *StateDB)
	tx := func(steps ...step) step { // one transaction: the steps, then Finalise
		return func(s *StateDB) {
			for _, f := range steps {
				f(s)
			}
			s.Finalise(testRules)
		}
	}
	blocks := []struct {
		name string
		txs  []step
		want []string
	}{
		{"genesis", []step{tx(func(s *StateDB) {
			s.SetNonce(a, 1, tracing.NonceChangeGenesis)
			s.SetCode(a, code, tracing.CodeChangeGenesis)
			s.SetState(a, h(1), h(1))
			s.SetState(a, h(2), h(2))
			s.SetState(a, h(3), h(0)) // zero on a fresh slot: nothing
			s.AddBalance(b, uint256.NewInt(5), tracing.BalanceIncreaseGenesisBalance)
			s.AddBalance(c, uint256.NewInt(0), tracing.BalanceChangeTouchAccount) // touched empty: removed
		})}, []string{
			set(acct(a)), set(acct(b)), set(stor(a, 1)), set(stor(a, 2)), set(fmt.Sprintf("%x", CodeKey(codeHash))),
		}},
		{"slot changes", []step{
			tx(func(s *StateDB) {
				s.SetState(a, h(1), h(0)) // delete
				s.SetState(a, h(3), h(3)) // new
				s.SetState(a, h(4), h(4)) // set here, reset in the next tx
				s.GetState(b, h(1))       // reads write nothing
			}),
			tx(func(s *StateDB) {
				s.SetState(a, h(4), h(0))
				s.SetState(a, h(2), h(9))
				s.SetState(a, h(2), h(2)) // back to the stored value
				s.AddBalance(b, uint256.NewInt(3), tracing.BalanceChangeTransfer)
				s.SubBalance(b, uint256.NewInt(3), tracing.BalanceChangeTransfer) // net zero
			}),
		}, []string{del(stor(a, 1)), set(stor(a, 3))}},
		{"destroy", []step{tx(func(s *StateDB) {
			s.SelfDestruct(a)
			s.SetNonce(c, 1, tracing.NonceChangeUnspecified) // created...
		}), tx(func(s *StateDB) {
			s.CreateContract(c)
			s.SelfDestruct(c) // ...and destroyed in the block: nothing
		})}, []string{del(acct(a)), del(stor(a, 2)), del(stor(a, 3))}},
		{"re-create", []step{tx(func(s *StateDB) {
			s.SetNonce(a, 1, tracing.NonceChangeUnspecified)
			s.SetState(a, h(1), h(1))
			s.SetState(a, h(2), h(2))
		})}, []string{set(acct(a)), set(stor(a, 1)), set(stor(a, 2))}},
		{"destroy and resurrect", []step{
			tx(func(s *StateDB) { s.SelfDestruct(a) }),
			tx(func(s *StateDB) {
				if s.Exist(a) || s.GetState(a, h(1)) != (common.Hash{}) {
					t.Fatal("destroyed account still visible")
				}
				s.SetNonce(a, 1, tracing.NonceChangeUnspecified) // same record as stored
				s.SetState(a, h(2), h(2))                        // same value as stored
				s.SetState(a, h(5), h(5))
			}),
		}, []string{del(stor(a, 1)), set(stor(a, 5))}},
	}
	for _, blk := range blocks {
		snap, err := db.Snapshot(db.Version())
		if err != nil {
			t.Fatal(err)
		}
		s := New(snap)
		for _, f := range blk.txs {
			f(s)
		}
		r := &recorder{db: db}
		if err := s.Flush(r); err != nil {
			t.Fatalf("%s: %v", blk.name, err)
		}
		want := slices.Clone(blk.want)
		slices.SortFunc(want, func(x, y string) int { return bytes.Compare(key(x), key(y)) })
		if !slices.Equal(r.ops, want) {
			t.Fatalf("%s: wrote\n%v\nwant\n%v", blk.name, r.ops, want)
		}
		if _, _, err := db.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// The code outlives its account.
	if v, err := db.Get(CodeKey(codeHash)); err != nil || !bytes.Equal(v, code) {
		t.Fatalf("code: %x %v", v, err)
	}
}

func key(op string) []byte {
	var k []byte
	fmt.Sscanf(op[4:], "%x", &k)
	return k
}

func TestFlushRefusals(t *testing.T) {
	db, err := metisdb.Open(t.TempDir(), &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, _ := db.Snapshot(0)
	s := New(snap)
	s.SetNonce(common.Address{1}, 1, tracing.NonceChangeUnspecified)
	if err := s.Flush(db); !errors.Is(err, ErrNotFinalised) {
		t.Fatalf("unfinalised flush: %v", err)
	}
	s.Finalise(testRules)
	s.AddBalance(common.Address{2}, uint256.NewInt(1), tracing.BalanceIncreaseRewardTransactionFee)
	s.Finalise(testRules)
	if err := s.Flush(db); !errors.Is(err, ErrPendingFees) {
		t.Fatalf("flush with fees: %v", err)
	}
	if db.Pending() != 0 {
		t.Fatalf("refused flush staged %d writes", db.Pending())
	}
}

// TestLazyFees checks that the fee reason touches no account and that the accumulator is
// journalled and credited once.
func TestLazyFees(t *testing.T) {
	db, err := metisdb.Open(t.TempDir(), &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, _ := db.Snapshot(0)
	s := New(snap)
	coinbase := common.HexToAddress("0xc0")
	lazai := common.HexToAddress("0x0000000000000000000000000000000000000a04")

	if prev := s.AddBalance(coinbase, uint256.NewInt(100), tracing.BalanceIncreaseRewardTransactionFee); !prev.IsZero() {
		t.Fatalf("fee AddBalance returned %v", &prev)
	}
	id := s.Snapshot()
	s.AddBalance(coinbase, uint256.NewInt(50), tracing.BalanceIncreaseRewardTransactionFee)
	if got := s.PendingFees(); got.Uint64() != 150 {
		t.Fatalf("pending %v", got)
	}
	s.RevertToSnapshot(id)
	s.AddBalance(coinbase, uint256.NewInt(0), tracing.BalanceIncreaseRewardTransactionFee)
	s.Finalise(testRules)
	if s.Exist(coinbase) || s.PendingFees().Uint64() != 100 {
		t.Fatalf("coinbase exists %v, pending %v", s.Exist(coinbase), s.PendingFees())
	}
	if got := s.CreditFees(lazai); got.Uint64() != 100 {
		t.Fatalf("credited %v", got)
	}
	s.Finalise(testRules)
	if !s.PendingFees().IsZero() || s.GetBalance(lazai).Uint64() != 100 {
		t.Fatalf("after credit: pending %v, lazai %v", s.PendingFees(), s.GetBalance(lazai))
	}
	if err := s.Flush(db); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(AccountKey(coinbase)); !errors.Is(err, metisdb.ErrNotFound) {
		t.Fatalf("coinbase stored: %v", err)
	}
}

func TestCopyIsIndependent(t *testing.T) {
	db, err := metisdb.Open(t.TempDir(), &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, _ := db.Snapshot(0)
	s := New(snap)
	a := common.Address{0xa}
	s.SetState(a, common.Hash{1}, common.Hash{1})
	s.AddBalance(a, uint256.NewInt(1), tracing.BalanceChangeTransfer)
	id := s.Snapshot()
	s.SetState(a, common.Hash{1}, common.Hash{2})

	cp := s.Copy()
	cp.SetState(a, common.Hash{1}, common.Hash{3})
	cp.AddBalance(a, uint256.NewInt(1), tracing.BalanceChangeTransfer)
	if s.GetState(a, common.Hash{1}) != (common.Hash{2}) || s.GetBalance(a).Uint64() != 1 {
		t.Fatal("the copy's writes reached the original")
	}
	cp.RevertToSnapshot(id)
	if cp.GetState(a, common.Hash{1}) != (common.Hash{1}) || cp.GetBalance(a).Uint64() != 1 {
		t.Fatal("revert on the copy")
	}
	if s.GetState(a, common.Hash{1}) != (common.Hash{2}) {
		t.Fatal("the copy's revert reached the original")
	}
}

// FuzzDecodeAccount: any input either fails or round-trips exactly.
func FuzzDecodeAccount(f *testing.F) {
	f.Add(EncodeAccount(&Account{Nonce: 1, CodeHash: types.EmptyCodeHash}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		a, err := DecodeAccount(v)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeAccount(&a), v) {
			t.Fatalf("%x does not round-trip", v)
		}
	})
}
