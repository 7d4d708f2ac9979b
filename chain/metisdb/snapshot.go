package metisdb

import (
	"bytes"
)

// Snapshot is a read-only view of one retained version. It is cheap (no copy is made), safe for
// concurrent use, and stays valid while newer versions are committed, until its version is
// pruned (reads then return ErrPruned) or the store is closed (ErrClosed).
type Snapshot struct {
	db      *DB
	version uint64
	root    Hash
}

// Snapshot returns a view of version, which must be retained: ErrPruned below Oldest, and
// ErrUnknownVersion above Version.
func (db *DB) Snapshot(version uint64) (*Snapshot, error) {
	st := db.read.Load()
	if st == nil {
		return nil, ErrClosed
	}
	if err := st.checkVersion(version); err != nil {
		return nil, err
	}
	return &Snapshot{db: db, version: version, root: st.rootAt(version)}, nil
}

// Version returns the snapshot's version.
func (s *Snapshot) Version() uint64 { return s.version }

// Root returns the snapshot's Merkle root.
func (s *Snapshot) Root() Hash { return s.root }

func (s *Snapshot) state() (*readState, error) {
	st := s.db.read.Load()
	if st == nil {
		return nil, ErrClosed
	}
	if s.version < st.oldest {
		return nil, st.checkVersion(s.version)
	}
	return st, nil
}

// Get returns key's value at the snapshot's version, or ErrNotFound. Like DB.Get, the slice is
// read-only and valid until Close.
func (s *Snapshot) Get(key []byte) ([]byte, error) {
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	st, off := s.db.find(st, key)
	if st == nil {
		return nil, ErrClosed
	}
	off = resolve(st.mem, off, s.version)
	if off == 0 {
		return nil, ErrNotFound
	}
	return recValue(st.mem, off), nil
}

// resolve walks a key's records back from off to the newest one at or below version and returns
// it if it is a set, or 0.
func resolve(mem []byte, off, version uint64) uint64 {
	for off != 0 && recVersion(mem, off) > version {
		off = recPrev(mem, off)
	}
	if off == 0 || recKind(mem, off) != kindSet {
		return 0
	}
	return off
}

// Iterator walks the keys of a snapshot in ascending byte order. It is not safe for concurrent
// use; make one per goroutine.
type Iterator struct {
	snap       *Snapshot
	st         *readState
	end        []byte
	i, j       int // positions in the key index's base and delta runs
	key, value []byte
	off        uint64 // the current record
	err        error
}

// Iterator returns an iterator over keys in [start, end); a nil bound is open.
func (s *Snapshot) Iterator(start, end []byte) (*Iterator, error) {
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	it := &Iterator{snap: s, st: st, end: end}
	if start != nil {
		it.i = seek(st.mem, st.keys.base, start)
		it.j = seek(st.mem, st.keys.delta, start)
	}
	return it, nil
}

// Next advances to the next key and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.err != nil || it.st == nil {
		return false
	}
	if _, err := it.snap.state(); err != nil {
		it.err = err
		it.key, it.value = nil, nil
		return false
	}
	mem, base, delta := it.st.mem, it.st.keys.base, it.st.keys.delta
	for it.i < len(base) || it.j < len(delta) {
		var e keyEntry
		switch {
		case it.j >= len(delta) || (it.i < len(base) && cmpKeyEntry(mem, base[it.i], delta[it.j]) < 0):
			e = base[it.i]
			it.i++
		default:
			e = delta[it.j]
			it.j++
		}
		key := recKey(mem, e.off)
		if it.end != nil && bytes.Compare(key, it.end) >= 0 {
			break
		}
		st, off := it.snap.db.find(it.st, key)
		if st == nil {
			it.err = ErrClosed
			return false
		}
		if off = resolve(st.mem, off, it.snap.version); off != 0 {
			it.key, it.value, it.off = key, recValue(st.mem, off), off
			return true
		}
	}
	it.key, it.value, it.st = nil, nil, nil
	return false
}

// Key returns the current key (read-only, valid until Close).
func (it *Iterator) Key() []byte { return it.key }

// Value returns the current value (read-only, valid until Close).
func (it *Iterator) Value() []byte { return it.value }

// Err returns the error that stopped the iteration, if any.
func (it *Iterator) Err() error { return it.err }

// Close releases the iterator.
func (it *Iterator) Close() { it.st, it.key, it.value = nil, nil, nil }

// Proof returns a proof of key's value, or of its absence, at the snapshot's version.
func (s *Snapshot) Proof(key []byte) (*Proof, error) { return s.db.Proof(key, s.version) }

// Proof proves key's value, or its absence, at a retained version. At the latest version it walks
// the in-memory tree; at an older one it first rebuilds that version's tree from the file, which
// costs time in proportion to the number of keys (the last one rebuilt is cached).
func (db *DB) Proof(key []byte, version uint64) (*Proof, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	st := db.read.Load()
	if st == nil {
		return nil, ErrClosed
	}
	if err := st.checkVersion(version); err != nil {
		return nil, err
	}
	kh := KeyHash(key)
	db.treeMu.RLock()
	if db.tree != nil && db.read.Load().version == version {
		p := db.proofFrom(db.tree, db.read.Load().mem, kh)
		db.treeMu.RUnlock()
		return p, nil
	}
	db.treeMu.RUnlock()

	db.oldMu.Lock()
	defer db.oldMu.Unlock()
	if db.oldTree == nil || db.oldVer != version {
		t, err := db.treeAt(version)
		if err != nil {
			return nil, err
		}
		db.oldTree, db.oldVer = t, version
	}
	st = db.read.Load()
	if st == nil {
		return nil, ErrClosed
	}
	return db.proofFrom(db.oldTree, st.mem, kh), nil
}

func (db *DB) proofFrom(t *tree, mem []byte, kh Hash) *Proof {
	sibs, end := t.path(kh)
	p := &Proof{Siblings: sibs}
	if end.isLeaf() {
		if l := t.leaves.at(end.idx()); l.key != kh {
			p.Leaf = &ProofLeaf{KeyHash: l.key, ValueHash: ValueHash(recValue(mem, l.rec))}
		}
	}
	return p
}

// treeAt rebuilds the tree of a retained version from the records.
func (db *DB) treeAt(version uint64) (*tree, error) {
	snap, err := db.Snapshot(version)
	if err != nil {
		return nil, err
	}
	it, err := snap.Iterator(nil, nil)
	if err != nil {
		return nil, err
	}
	var offs []uint64
	for it.Next() {
		offs = append(offs, it.off)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	st := db.read.Load()
	if st == nil {
		return nil, ErrClosed
	}
	mem := st.mem
	changes := make([]change, len(offs))
	parallelFor(len(offs), func(i int) {
		off := offs[i]
		changes[i] = change{key: KeyHash(recKey(mem, off)), val: ValueHash(recValue(mem, off)), rec: off}
	})
	sortChanges(changes)
	t := newTree()
	if root := t.update(changes); root != snap.root {
		return nil, db.corrupt(0, "rebuilt root %s of version %d does not match committed root %s", root, version, snap.root)
	}
	return t, nil
}
