package metisdb

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestTreeIncrementalMatchesBulk applies random batches incrementally and checks each root
// against a tree built from scratch over the same set, and that freed nodes are reused.
func TestTreeIncrementalMatchesBulk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	state := map[uint32]uint64{} // key id -> value
	inc := newTree()
	for round := range 300 {
		seen := map[uint32]bool{}
		var cs []change
		for range 1 + rng.IntN(60) {
			id := uint32(rng.IntN(400))
			if seen[id] {
				continue
			}
			seen[id] = true
			c := change{key: idHash(id)}
			if rng.IntN(3) == 0 {
				c.del = true
				delete(state, id)
			} else {
				v := rng.Uint64()
				state[id] = v
				c.val = valHash(v)
			}
			cs = append(cs, c)
		}
		sortChanges(cs)
		got := inc.update(cs)

		var all []change
		for id, v := range state {
			all = append(all, change{key: idHash(id), val: valHash(v)})
		}
		sortChanges(all)
		bulk := newTree()
		if want := bulk.update(all); got != want {
			t.Fatalf("round %d: incremental root %s, bulk %s", round, got, want)
		}
		if in, lv := inc.count(); lv != len(state) {
			t.Fatalf("round %d: %d leaves for %d keys (%d inner)", round, lv, len(state), in)
		}
	}
}

func idHash(id uint32) Hash {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return KeyHash(b[:])
}

func valHash(v uint64) Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return ValueHash(b[:])
}
