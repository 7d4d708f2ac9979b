// Package store gives the system modules typed, gas-metered access to their own storage on top
// of metisvm.Call: integers, addresses, flags, byte strings and per-block checkpoints, laid out
// like Solidity's (mapping slots are keccak-derived by metisvm.Slot).
//
// Errors are sticky: the first failure (out of gas, a write in a static context) is kept, later
// operations do nothing and reads return zero, and the handler returns Err() at the end. That keeps
// handler code a readable sequence of reads and writes; a handler must check Err() before acting
// on a read value in a way that cannot be undone (none can: any error reverts the whole call).
package store

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
)

// S is a module's storage during one call.
type S struct {
	c   *metisvm.Call
	err error
}

// New returns the storage of call's module.
func New(call *metisvm.Call) *S { return &S{c: call} }

// Err returns the first error.
func (s *S) Err() error { return s.err }

// Fail records err if no error is recorded yet.
func (s *S) Fail(err error) {
	if s.err == nil && err != nil {
		s.err = err
	}
}

// Word reads a raw slot.
func (s *S) Word(slot common.Hash) common.Hash {
	if s.err != nil {
		return common.Hash{}
	}
	v, err := s.c.Load(slot)
	s.Fail(err)
	return v
}

// SetWord writes a raw slot.
func (s *S) SetWord(slot, v common.Hash) {
	if s.err != nil {
		return
	}
	s.Fail(s.c.Store(slot, v))
}

// U256 reads an unsigned integer.
func (s *S) U256(slot common.Hash) *uint256.Int {
	w := s.Word(slot)
	return new(uint256.Int).SetBytes32(w[:])
}

// SetU256 writes an unsigned integer.
func (s *S) SetU256(slot common.Hash, v *uint256.Int) { s.SetWord(slot, v.Bytes32()) }

// U64 reads a uint64 (the low 8 bytes of the slot).
func (s *S) U64(slot common.Hash) uint64 { return s.U256(slot).Uint64() }

// SetU64 writes a uint64.
func (s *S) SetU64(slot common.Hash, v uint64) { s.SetU256(slot, uint256.NewInt(v)) }

// Addr reads an address.
func (s *S) Addr(slot common.Hash) common.Address { return common.BytesToAddress(s.Word(slot).Bytes()) }

// SetAddr writes an address.
func (s *S) SetAddr(slot common.Hash, a common.Address) { s.SetWord(slot, common.BytesToHash(a[:])) }

// Bool reads a flag.
func (s *S) Bool(slot common.Hash) bool { return s.Word(slot) != (common.Hash{}) }

// SetBool writes a flag.
func (s *S) SetBool(slot common.Hash, b bool) {
	var w common.Hash
	if b {
		w[31] = 1
	}
	s.SetWord(slot, w)
}

// Bytes reads a byte string: its length at slot, its content in 32-byte words from
// keccak256(slot), as Solidity lays out long strings.
func (s *S) Bytes(slot common.Hash) []byte {
	n := s.U64(slot)
	if s.err != nil || n == 0 {
		return nil
	}
	if n > 1<<20 {
		s.Fail(fmt.Errorf("store: corrupt byte string length %d at %s", n, slot))
		return nil
	}
	base := crypto.Keccak256Hash(slot[:])
	out := make([]byte, 0, n)
	for i := uint64(0); uint64(len(out)) < n; i++ {
		w := s.Word(metisvm.SlotAt(base, i))
		out = append(out, w[:min(32, n-uint64(len(out)))]...)
	}
	return out
}

// SetBytes writes a byte string (see Bytes). Words past the new length keep stale bytes; Bytes
// never reads them.
func (s *S) SetBytes(slot common.Hash, b []byte) {
	s.SetU64(slot, uint64(len(b)))
	base := crypto.Keccak256Hash(slot[:])
	for i := 0; i*32 < len(b); i++ {
		var w common.Hash
		copy(w[:], b[i*32:])
		s.SetWord(metisvm.SlotAt(base, uint64(i)), w)
	}
}

// MaxCheckpointValue is the largest value a checkpoint holds: 2^192 − 1 (the other 64 bits hold
// the block number). A module bounds the totals it checkpoints by it, with a named error, so
// that no part of such a total reaches ErrCheckpointOverflow.
var MaxCheckpointValue = new(uint256.Int).Sub(new(uint256.Int).Lsh(uint256.NewInt(1), 192), uint256.NewInt(1))

// AddCheckpointable is a + b, and whether it exceeds MaxCheckpointValue (or 2^256 − 1).
func AddCheckpointable(a, b *uint256.Int) (*uint256.Int, bool) {
	sum, overflow := new(uint256.Int).AddOverflow(a, b)
	return sum, overflow || sum.Gt(MaxCheckpointValue)
}

// ErrCheckpointOverflow reports a value too large for a checkpoint.
var ErrCheckpointOverflow = errors.New("store: checkpoint value exceeds 192 bits")

// Checkpoints is a history of one value by block number, as OpenZeppelin's Checkpoints.Trace208:
// entries (block, value) in ascending block order, one word each (block in the top 64 bits),
// the count at Slot(name, key) and entry i at Slot(name, key, i).
type Checkpoints struct {
	s    *S
	name string
	key  common.Hash
}

// Checkpoints returns the history stored under name and key.
func (s *S) Checkpoints(name string, key common.Hash) Checkpoints {
	return Checkpoints{s: s, name: name, key: key}
}

func (cp Checkpoints) lenSlot() common.Hash { return metisvm.Slot(cp.name, cp.key) }

func (cp Checkpoints) entrySlot(i uint64) common.Hash {
	return metisvm.Slot(cp.name, cp.key, metisvm.Uint64Key(i))
}

func (cp Checkpoints) entry(i uint64) (block uint64, value *uint256.Int) {
	w := cp.s.Word(cp.entrySlot(i))
	v := new(uint256.Int).SetBytes32(w[:])
	block = new(uint256.Int).Rsh(v, 192).Uint64()
	return block, v.And(v, MaxCheckpointValue)
}

// Len is the number of entries.
func (cp Checkpoints) Len() uint64 { return cp.s.U64(cp.lenSlot()) }

// Push records value as of block, which must not be before the latest entry's block; an entry
// of the same block is overwritten.
func (cp Checkpoints) Push(block uint64, value *uint256.Int) {
	if value.Gt(MaxCheckpointValue) {
		cp.s.Fail(ErrCheckpointOverflow)
		return
	}
	n := cp.Len()
	if n > 0 {
		last, _ := cp.entry(n - 1)
		if last > block {
			cp.s.Fail(fmt.Errorf("store: checkpoint at block %d after one at %d", block, last))
			return
		}
		if last == block {
			n--
		}
	}
	w := new(uint256.Int).Lsh(uint256.NewInt(block), 192)
	w.Or(w, value)
	cp.s.SetWord(cp.entrySlot(n), w.Bytes32())
	cp.s.SetU64(cp.lenSlot(), n+1)
}

// Latest returns the newest value (zero if none).
func (cp Checkpoints) Latest() *uint256.Int {
	n := cp.Len()
	if n == 0 {
		return new(uint256.Int)
	}
	_, v := cp.entry(n - 1)
	return v
}

// At returns the value as of the end of block (the newest entry at or before it; zero if none),
// by binary search: O(log n) slot reads.
func (cp Checkpoints) At(block uint64) *uint256.Int {
	lo, hi := uint64(0), cp.Len()
	for lo < hi && cp.s.err == nil {
		mid := lo + (hi-lo)/2
		if b, _ := cp.entry(mid); b <= block {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return new(uint256.Int)
	}
	_, v := cp.entry(lo - 1)
	return v
}
