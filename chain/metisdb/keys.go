package metisdb

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sort"
)

// keyEntry locates one key for ordered iteration: the key's first 8 bytes (big-endian, zero
// padded), which settle almost every comparison without touching the mapping, and the offset of
// a record holding the key.
type keyEntry struct {
	prefix uint64
	off    uint64
}

func keyPrefix(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

func cmpKeyEntry(mem []byte, a, b keyEntry) int {
	switch {
	case a.prefix < b.prefix:
		return -1
	case a.prefix > b.prefix:
		return 1
	}
	return bytes.Compare(recKey(mem, a.off), recKey(mem, b.off))
}

// keyIndex holds every key ever written, sorted, as two immutable runs: a large base and a small
// delta that takes each commit's new keys. A commit merges its keys into the delta (cost follows
// the delta), and the delta is folded into the base once it passes an eighth of it, so the
// amortised cost per new key is a few entry copies. Readers hold a *keyIndex and never see it
// change.
type keyIndex struct {
	base, delta []keyEntry
}

const minDeltaFold = 4096

// with returns the index plus added, which must be sorted and absent from k.
func (k *keyIndex) with(mem []byte, added []keyEntry) *keyIndex {
	if len(added) == 0 {
		return k
	}
	delta := mergeEntries(mem, k.delta, added)
	if len(delta) > minDeltaFold && len(delta) > len(k.base)/8 {
		return &keyIndex{base: mergeEntries(mem, k.base, delta)}
	}
	return &keyIndex{base: k.base, delta: delta}
}

func mergeEntries(mem []byte, a, b []keyEntry) []keyEntry {
	out := make([]keyEntry, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if cmpKeyEntry(mem, a[i], b[j]) <= 0 {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func sortKeyEntries(mem []byte, es []keyEntry) {
	slices.SortFunc(es, func(a, b keyEntry) int { return cmpKeyEntry(mem, a, b) })
}

// seek returns the index of the first entry of run whose key is >= key.
func seek(mem []byte, run []keyEntry, key []byte) int {
	p := keyPrefix(key)
	return sort.Search(len(run), func(i int) bool {
		e := run[i]
		if e.prefix != p {
			return e.prefix > p
		}
		return bytes.Compare(recKey(mem, e.off), key) >= 0
	})
}
