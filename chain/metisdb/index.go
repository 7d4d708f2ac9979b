package metisdb

import (
	"bytes"
	"hash/maphash"
	"sync/atomic"
)

// table is the hash index from a key to the offset of its newest record. It is open-addressed
// with linear probing; each slot is one 64-bit word packing a 16-bit fingerprint of the key's
// hash above a 48-bit record offset, so a lookup costs one slot load (usually one cache line),
// a fingerprint compare, and one key compare in the mapping.
//
// One writer, many readers, no locks: the writer publishes slots with atomic stores, and a
// reader sees either the old or the new offset of a key, both committed. Growing builds a new
// table that is published whole (see readState); the old one stays valid for readers holding it.
// Deleted keys keep their slot (pointing at the delete record), so probe chains never break.
type table struct {
	slots []atomic.Uint64
	mask  uint64
	used  int
}

const (
	offsetBits = 48
	offsetMask = 1<<offsetBits - 1
	// maxLoadNum/maxLoadDen is the fill at which the table doubles.
	maxLoadNum = 5
	maxLoadDen = 8
)

func newTable(capacity int) *table {
	n := 1024
	for n*maxLoadNum/maxLoadDen < capacity {
		n *= 2
	}
	return &table{slots: make([]atomic.Uint64, n), mask: uint64(n - 1)}
}

func fingerprint(h uint64) uint64 { return h >> offsetBits }

// staleMapping is what lookup returns when a slot points past the caller's mapping: the writer
// remapped the grown file after the caller loaded its readState, and the caller must reload it.
const staleMapping = ^uint64(0)

// lookup returns the offset of key's newest record, 0 if the key was never written, or
// staleMapping.
func (t *table) lookup(mem []byte, seed *maphash.Seed, key []byte) uint64 {
	h := maphash.Bytes(*seed, key)
	fp := fingerprint(h)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i].Load()
		if s == 0 {
			return 0
		}
		if s>>offsetBits == fp {
			off := s & offsetMask
			if off >= uint64(len(mem)) {
				return staleMapping
			}
			if bytes.Equal(recKey(mem, off), key) {
				return off
			}
		}
	}
}

// put points key at off, inserting it if new, and reports whether it was new. Only the writer
// calls put, and only with offsets already visible in mem.
func (t *table) put(mem []byte, seed *maphash.Seed, key []byte, off uint64) bool {
	h := maphash.Bytes(*seed, key)
	fp := fingerprint(h)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i].Load()
		if s == 0 {
			t.slots[i].Store(fp<<offsetBits | off)
			t.used++
			return true
		}
		if s>>offsetBits == fp && bytes.Equal(recKey(mem, s&offsetMask), key) {
			t.slots[i].Store(fp<<offsetBits | off)
			return false
		}
	}
}

// needsGrow reports whether adding n keys would pass the load limit.
func (t *table) needsGrow(n int) bool {
	return (t.used+n)*maxLoadDen > len(t.slots)*maxLoadNum
}

// grown returns a private copy of t sized for extra more keys.
func (t *table) grown(mem []byte, seed *maphash.Seed, extra int) *table {
	nt := newTable(2 * (t.used + extra))
	for i := range t.slots {
		s := t.slots[i].Load()
		if s == 0 {
			continue
		}
		off := s & offsetMask
		nt.insertNew(seed, recKey(mem, off), off)
	}
	return nt
}

// insertNew adds a key known to be absent (used while building a table nobody reads yet).
func (t *table) insertNew(seed *maphash.Seed, key []byte, off uint64) {
	h := maphash.Bytes(*seed, key)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == 0 {
			t.slots[i].Store(fingerprint(h)<<offsetBits | off)
			t.used++
			return
		}
	}
}

// each calls fn with every key's newest record offset.
func (t *table) each(fn func(off uint64)) {
	for i := range t.slots {
		if s := t.slots[i].Load(); s != 0 {
			fn(s & offsetMask)
		}
	}
}

func (t *table) bytes() int64 { return int64(len(t.slots)) * 8 }
