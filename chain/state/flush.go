package state

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// write is one key of Flush's output: a value to set, or a delete when del is set.
type write struct {
	value []byte
	del   bool
}

// Flush stages into w every key the finalised transactions of this block changed, compared
// with the Reader: account records set or deleted, new code, storage slots set or deleted, and
// every storage key of an account deleted in the block. Keys whose final value equals the
// Reader's are not written, and writes are issued in ascending key order, so the same block
// always produces the same batch. Flush does not commit; the caller does (db.Commit), and then
// opens a new StateDB on the new version. Flush leaves the StateDB unchanged.
//
// It fails with ErrNotFinalised if the current transaction changed accounts since the last
// Finalise, with ErrPendingFees if fees accrued and CreditFees was not called, and with the
// memoised read error, if any (see Error).
func (s *StateDB) Flush(w Writer) error {
	if s.dbErr != nil {
		return s.dbErr
	}
	for i := range s.journal.entries {
		if s.journal.entries[i].dirties() {
			return ErrNotFinalised
		}
	}
	if !s.fees.IsZero() {
		return fmt.Errorf("%w: %s", ErrPendingFees, s.fees.Dec())
	}
	writes := make(map[string]write)
	for addr := range s.mutated {
		if err := s.flushAccount(addr, writes); err != nil {
			return err
		}
	}
	if s.dbErr != nil {
		return s.dbErr
	}
	for _, k := range slices.Sorted(maps.Keys(writes)) {
		wr := writes[k]
		var err error
		if wr.del {
			err = w.Delete([]byte(k))
		} else {
			err = w.Set([]byte(k), wr.value)
		}
		if err != nil {
			return fmt.Errorf("state: flush %x: %w", k, err)
		}
	}
	return nil
}

// flushAccount adds the writes of one account changed in the block.
func (s *StateDB) flushAccount(addr common.Address, writes map[string]write) error {
	obj := s.objects[addr] // nil: deleted in the block and not re-created
	_, wiped := s.destructed[addr]

	key := AccountKey(addr)
	cur, exists := s.get(key)
	switch {
	case obj == nil && exists:
		writes[string(key)] = write{del: true}
	case obj != nil:
		if v := EncodeAccount(&obj.data); !exists || !bytes.Equal(cur, v) {
			writes[string(key)] = write{value: v}
		}
		if obj.dirtyCode && obj.data.CodeHash != types.EmptyCodeHash {
			ck := CodeKey(obj.data.CodeHash)
			if _, ok := s.get(ck); !ok {
				writes[string(ck)] = write{value: obj.code}
			}
		}
	}

	// A wiped account keeps only the slots written after its deletion (obj.pending): every
	// other slot the Reader holds goes.
	var inReader map[common.Hash]bool
	if wiped {
		inReader = make(map[common.Hash]bool)
		start, end := storagePrefix(addr)
		it, err := s.reader.Iterator(start, end)
		if err != nil {
			return fmt.Errorf("state: iterate storage of %s: %w", addr, err)
		}
		for it.Next() {
			k := it.Key()
			if len(k) != StorageKeyLen {
				continue
			}
			slot := common.BytesToHash(k[1+common.AddressLength:])
			inReader[slot] = true
			switch v, ok := obj.pendingValue(slot); {
			case !ok || v == (common.Hash{}):
				writes[string(k)] = write{del: true}
			case !bytes.Equal(it.Value(), v[:]):
				writes[string(k)] = write{value: bytes.Clone(v[:])}
			}
		}
		err = it.Err()
		it.Close()
		if err != nil {
			return fmt.Errorf("state: iterate storage of %s: %w", addr, err)
		}
	}
	if obj == nil {
		return nil
	}
	for slot, v := range obj.pending {
		var was common.Hash
		switch {
		case wiped:
			if inReader[slot] {
				continue // handled above
			}
		default:
			if o, ok := obj.origin[slot]; ok {
				was = o
			} else {
				was = s.committedFromReader(addr, slot)
			}
		}
		if v == was {
			continue
		}
		k := string(StorageKey(addr, slot))
		if v == (common.Hash{}) {
			writes[k] = write{del: true}
		} else {
			writes[k] = write{value: bytes.Clone(v[:])}
		}
	}
	return nil
}

// pendingValue returns the block's final value of a slot of a live object, if it was written.
func (o *stateObject) pendingValue(slot common.Hash) (common.Hash, bool) {
	if o == nil {
		return common.Hash{}, false
	}
	v, ok := o.pending[slot]
	return v, ok
}

// committedFromReader reads a slot from the Reader, ignoring any destruction in this block.
func (s *StateDB) committedFromReader(addr common.Address, slot common.Hash) common.Hash {
	raw, ok := s.get(StorageKey(addr, slot))
	if !ok || len(raw) != common.HashLength {
		return common.Hash{}
	}
	return common.Hash(raw)
}
