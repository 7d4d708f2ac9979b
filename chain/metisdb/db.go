package metisdb

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Options tune a DB. The zero value is what a node wants.
type Options struct {
	// NoSync skips fdatasync. A commit then survives the process being killed (the page cache
	// keeps it) but not the machine losing power. For tests and bulk loads.
	NoSync bool
	// Logger receives notices such as a discarded unfinished commit. Default: discard.
	Logger *slog.Logger
}

// DataFile is the name of the store's file inside its directory.
const DataFile = "data.mdb"

const lockFileName = "LOCK"

// DB is a MetisDB store. Reads may come from any goroutine; writes (Set, Delete, Commit,
// Prune) are serialised and stage into one shared batch.
type DB struct {
	path string
	f    *os.File
	lock *os.File
	opts Options
	log  *slog.Logger
	seed maphash.Seed

	// read is everything a reader needs, published whole; nil once closed.
	read atomic.Pointer[readState]

	wmu        sync.Mutex // the writer: batch, commit, prune, close
	batch      batch
	end        uint64 // one past the last committed byte
	head       head   // the head most recently written
	lastCommit uint64 // offset of the newest commit record
	live       int    // keys present at the latest version
	failed     error
	mappings   [][]byte // every mapping made; unmapped at Close
	buf        []byte   // reused commit buffer

	treeMu sync.RWMutex // the latest tree: Commit writes, Proof reads
	tree   *tree

	oldMu   sync.Mutex // cache of the last tree rebuilt for an older version
	oldVer  uint64
	oldTree *tree
}

// readState is immutable once published, except table slots, which the writer updates
// atomically after the records they point to are durable and mapped.
type readState struct {
	mem      []byte // the mapping; covers every record any slot or chain points to
	tab      *table
	keys     *keyIndex
	version  uint64
	oldest   uint64
	roots    []Hash // roots[i] is the root of version oldest+i
	liveKeys int
}

func (s *readState) rootAt(v uint64) Hash { return s.roots[v-s.oldest] }

func (s *readState) checkVersion(v uint64) error {
	switch {
	case v < s.oldest:
		return fmt.Errorf("%w: version %d, oldest retained is %d", ErrPruned, v, s.oldest)
	case v > s.version:
		return fmt.Errorf("%w: version %d, latest is %d", ErrUnknownVersion, v, s.version)
	}
	return nil
}

// batch is the staged writes of the next version, in the order they were made. Keys and values
// are copied into a slab (one allocation per 64 KiB, not per write); a key written twice is
// settled at Commit, where the last write wins.
type batch struct {
	ents []batchEntry
	slab []byte
}

type batchEntry struct {
	key, value []byte
	seq        int // order staged, so the last write of a key wins
	del        bool
}

const slabSize = 64 << 10

func (b *batch) put(key, value []byte, del bool) {
	n := len(key) + len(value)
	if cap(b.slab)-len(b.slab) < n {
		b.slab = make([]byte, 0, max(n, slabSize))
	}
	start := len(b.slab)
	b.slab = append(b.slab, key...)
	b.slab = append(b.slab, value...)
	kv := b.slab[start:]
	b.ents = append(b.ents, batchEntry{key: kv[:len(key):len(key)], value: kv[len(key):n:n], seq: len(b.ents), del: del})
}

// reset empties the batch. Nothing refers to the staged bytes after a commit or discard, so the
// current slab is reused.
func (b *batch) reset() {
	clear(b.ents)
	b.ents = b.ents[:0]
	b.slab = b.slab[:0]
}

// settle sorts the staged writes by key and keeps the last write of each key.
func (b *batch) settle() []batchEntry {
	ents := b.ents
	slices.SortFunc(ents, func(x, y batchEntry) int {
		if c := bytes.Compare(x.key, y.key); c != 0 {
			return c
		}
		return x.seq - y.seq
	})
	out := ents[:0]
	for i := range ents {
		if i+1 < len(ents) && bytes.Equal(ents[i].key, ents[i+1].key) {
			continue
		}
		out = append(out, ents[i])
	}
	return out
}

// Open opens the store in dir, creating it if needed. It validates every record's checksum and
// rebuilds the latest Merkle root, so a corrupt file fails here with a *CorruptionError and is
// never read silently. Bytes after the last committed version (an unfinished commit) are cut.
func Open(dir string, opts *Options) (*DB, error) {
	db := &DB{seed: maphash.MakeSeed(), path: filepath.Join(dir, DataFile)}
	if opts != nil {
		db.opts = *opts
	}
	db.log = db.opts.Logger
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metisdb: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metisdb: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w: %s", err, dir)
	}
	db.lock = lock
	if err := db.open(dir); err != nil {
		db.release()
		return nil, err
	}
	return db, nil
}

func (db *DB) release() {
	for _, m := range db.mappings {
		munmap(m)
	}
	db.mappings = nil
	if db.f != nil {
		db.f.Close()
	}
	if db.lock != nil {
		db.lock.Close()
	}
}

func (db *DB) corrupt(off uint64, format string, args ...any) error {
	return &CorruptionError{File: db.path, Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
}

func (db *DB) open(dir string) error {
	f, err := os.OpenFile(db.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("metisdb: %w", err)
	}
	db.f = f
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("metisdb: %w", err)
	}
	size := uint64(fi.Size())
	if size == 0 {
		if err := db.create(dir); err != nil {
			return err
		}
		size = fileHeaderSize
	}
	h, err := db.readHeader(size)
	if err != nil {
		return err
	}
	if h.end > size {
		return db.corrupt(size, "file ends before the committed end %d", h.end)
	}
	if size > h.end {
		db.log.Warn("metisdb: discarding an unfinished commit", "file", db.path, "offset", h.end, "bytes", size-h.end)
		if err := f.Truncate(int64(h.end)); err != nil {
			return fmt.Errorf("metisdb: truncate unfinished commit: %w", err)
		}
		if err := db.sync(); err != nil {
			return err
		}
	}
	mem, err := db.mapAtLeast(h.end)
	if err != nil {
		return err
	}
	db.head, db.end = h, h.end
	return db.load(mem, h)
}

// create writes the header of a new store and makes the new file's name durable.
func (db *DB) create(dir string) error {
	if _, err := db.f.WriteAt(encodeFileHeader(), 0); err != nil {
		return fmt.Errorf("metisdb: write header: %w", err)
	}
	if err := db.sync(); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil && !db.opts.NoSync {
			return fmt.Errorf("metisdb: sync %s: %w", dir, err)
		}
	}
	return nil
}

func (db *DB) readHeader(size uint64) (head, error) {
	if size < fileHeaderSize {
		return head{}, db.corrupt(size, "file of %d bytes is shorter than its %d-byte header", size, fileHeaderSize)
	}
	hdr := make([]byte, fileHeaderSize)
	if _, err := db.f.ReadAt(hdr, 0); err != nil {
		return head{}, fmt.Errorf("metisdb: read header: %w", err)
	}
	if !bytes.Equal(hdr[:8], fileMagic[:]) {
		return head{}, db.corrupt(0, "not a MetisDB file (bad magic %q)", hdr[:8])
	}
	want := encodeFileHeader()
	if !bytes.Equal(hdr[8:16], want[8:16]) {
		return head{}, db.corrupt(8, "unsupported format or damaged header")
	}
	var best head
	var bestOK, damaged bool
	for i := range 2 {
		off := headSlotOffset(i)
		slot := hdr[off : off+headSlotSize]
		h, ok := decodeHead(slot)
		switch {
		case ok && (!bestOK || h.seq > best.seq):
			best, bestOK = h, true
		case !ok && !allZero(slot):
			damaged = true
			db.log.Warn("metisdb: damaged head slot; using the other", "file", db.path, "offset", off)
		}
	}
	switch {
	case bestOK:
		if best.end < fileHeaderSize || best.oldest > best.version {
			return head{}, db.corrupt(64, "head slot names end %d, oldest %d, version %d", best.end, best.oldest, best.version)
		}
		return best, nil
	case damaged:
		return head{}, db.corrupt(uint64(headSlotOffset(0)), "both head slots are damaged")
	}
	return head{end: fileHeaderSize}, nil // created, never committed
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// load scans every committed record, checking checksums, versions and key chains, and builds the
// hash index, the key index and the tree; the rebuilt root must match the last commit record.
func (db *DB) load(mem []byte, h head) error {
	tab := newTable(0)
	roots := []Hash{EmptyRoot}
	var count uint32
	var lastCommit uint64
	version := uint64(1)
	for off := uint64(fileHeaderSize); off < h.end; {
		r, err := decodeRecord(mem[off:h.end])
		if err != nil {
			return db.corrupt(off, "%v", err)
		}
		if r.version != version {
			return db.corrupt(off, "%s record of version %d inside version %d", r.kind, r.version, version)
		}
		switch r.kind {
		case kindSet, kindDelete:
			if prev := tab.lookup(mem, &db.seed, r.key); r.prev != prev {
				return db.corrupt(off, "link to the key's previous record is %d, want %d", r.prev, prev)
			}
			if tab.needsGrow(1) {
				tab = tab.grown(mem, &db.seed, 1)
			}
			tab.put(mem, &db.seed, r.key, off)
			count++
		case kindCommit:
			c := r.commit()
			if c.count != count || r.prev != lastCommit {
				return db.corrupt(off, "commit of version %d claims %d records (found %d) and previous commit %d (found %d)",
					version, c.count, count, r.prev, lastCommit)
			}
			roots = append(roots, c.root)
			lastCommit, count = off, 0
			version++
		}
		off += uint64(r.size)
	}
	if count != 0 || version-1 != h.version {
		return db.corrupt(h.end, "committed data ends at version %d with %d records after it; the head says version %d", version-1, count, h.version)
	}
	db.lastCommit = lastCommit

	// Rebuild the tree of the latest version and the ordered key index.
	var offs []uint64
	keys := make([]keyEntry, 0, tab.used)
	tab.each(func(off uint64) {
		keys = append(keys, keyEntry{prefix: keyPrefix(recKey(mem, off)), off: off})
		if recKind(mem, off) == kindSet {
			offs = append(offs, off)
		}
	})
	sortKeyEntries(mem, keys)
	changes := make([]change, len(offs))
	parallelFor(len(offs), func(i int) {
		off := offs[i]
		changes[i] = change{key: KeyHash(recKey(mem, off)), val: ValueHash(recValue(mem, off)), rec: off}
	})
	sortChanges(changes)
	db.tree = newTree()
	root := db.tree.update(changes)
	if want := roots[h.version]; root != want {
		return db.corrupt(lastCommit, "rebuilt root %s does not match committed root %s of version %d", root, want, h.version)
	}
	db.live = len(offs)
	db.read.Store(&readState{
		mem:      mem,
		tab:      tab,
		keys:     &keyIndex{base: keys},
		version:  h.version,
		oldest:   h.oldest,
		roots:    roots[h.oldest:],
		liveKeys: len(offs),
	})
	return nil
}

// parallelFor runs fn(0..n-1) split over the available cores.
func parallelFor(n int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 512 || workers == 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

const minMapping = 64 << 20

// mapAtLeast returns a mapping covering n bytes of the file, making a larger one if needed.
// Mappings may extend past the end of the file; only written bytes are ever read. Old mappings
// stay mapped (readers may hold them) until Close.
func (db *DB) mapAtLeast(n uint64) ([]byte, error) {
	if k := len(db.mappings); k > 0 && uint64(len(db.mappings[k-1])) >= n {
		return db.mappings[k-1], nil
	}
	size := uint64(minMapping)
	if n > size {
		size = 1 << bits.Len64(n) // at least double n's highest bit: remaps stay rare
	}
	mem, err := mmapFile(db.f, int(size))
	if err != nil {
		return nil, err
	}
	db.mappings = append(db.mappings, mem)
	return mem, nil
}

func (db *DB) sync() error {
	if db.opts.NoSync {
		return nil
	}
	if err := syncData(db.f); err != nil {
		return fmt.Errorf("metisdb: sync %s: %w", db.path, err)
	}
	return nil
}

// Close releases the store. Values returned by reads become invalid. Close must not race with
// reads still in flight on other goroutines.
func (db *DB) Close() error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if db.read.Swap(nil) == nil {
		return ErrClosed
	}
	db.treeMu.Lock()
	db.tree = nil
	db.treeMu.Unlock()
	db.release()
	return nil
}

func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return ErrEmptyKey
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: %d bytes", ErrKeyTooLarge, len(key))
	}
	return nil
}

// Set stages key = value for the next version. Both are copied.
func (db *DB) Set(key, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes", ErrValueTooLarge, len(value))
	}
	if value == nil {
		value = []byte{}
	}
	return db.stage(key, value, false)
}

// Delete stages the removal of key for the next version. Deleting an absent key is a no-op.
func (db *DB) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return db.stage(key, nil, true)
}

func (db *DB) stage(key, value []byte, del bool) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if db.read.Load() == nil {
		return ErrClosed
	}
	if len(db.batch.ents) >= MaxBatchRecords {
		return ErrBatchTooLarge
	}
	db.batch.put(key, value, del)
	return nil
}

// Discard drops every staged write.
func (db *DB) Discard() {
	db.wmu.Lock()
	db.batch.reset()
	db.wmu.Unlock()
}

// Pending returns the number of writes staged for the next version (a key written twice counts
// twice).
func (db *DB) Pending() int {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	return len(db.batch.ents)
}

// write is one staged entry resolved against the store: where its record goes and what it
// replaces.
type write struct {
	key, value []byte
	del        bool
	off, prev  uint64
}

// Commit makes the staged writes version Version()+1 and returns it with its root. It is
// durable when it returns (see the package doc for the order of writes and syncs). A commit with
// nothing staged still makes a version, with the same root.
func (db *DB) Commit() (uint64, Hash, error) {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	st := db.read.Load()
	if st == nil {
		return 0, Hash{}, ErrClosed
	}
	if db.failed != nil {
		return 0, Hash{}, fmt.Errorf("%w: %v", ErrWriteFailed, db.failed)
	}
	version := st.version + 1

	// Resolve each write against the index, in key order, and encode its record.
	ents := db.batch.settle()
	ws := make([]write, 0, len(ents))
	buf := db.buf[:0]
	liveDelta := 0
	for _, e := range ents {
		prev := st.tab.lookup(st.mem, &db.seed, e.key)
		present := prev != 0 && recKind(st.mem, prev) == kindSet
		if e.del && !present {
			continue // deleting an absent key changes nothing
		}
		kind := kindSet
		switch {
		case e.del:
			kind = kindDelete
			liveDelta--
		case !present:
			liveDelta++
		}
		off := db.end + uint64(len(buf))
		buf = appendRecord(buf, kind, version, prev, e.key, e.value)
		ws = append(ws, write{key: e.key, value: e.value, del: e.del, off: off, prev: prev})
	}

	changes := make([]change, len(ws))
	parallelFor(len(ws), func(i int) {
		w := &ws[i]
		changes[i] = change{key: KeyHash(w.key), rec: w.off, del: w.del}
		if !w.del {
			changes[i].val = ValueHash(w.value)
		}
	})
	sortChanges(changes)

	db.treeMu.Lock()
	defer db.treeMu.Unlock()
	root := db.tree.update(changes)
	commitOff := db.end + uint64(len(buf))
	buf = appendCommitRecord(buf, version, db.lastCommit, commitInfo{root: root, count: uint32(len(ws))})
	db.buf = buf[:0]
	end := db.end + uint64(len(buf))
	h := head{seq: db.head.seq + 1, version: version, end: end, oldest: st.oldest}
	if err := db.writeVersion(buf, h); err != nil {
		// The tree already holds this version: refuse further writes rather than build on it.
		db.failed = err
		db.f.Truncate(int64(db.end))
		return 0, Hash{}, err
	}

	// Durable. Publish: mapping first, so every offset a reader can find is mapped.
	mem, err := db.mapAtLeast(end)
	if err != nil {
		db.failed = err
		return 0, Hash{}, err
	}
	if len(mem) != len(st.mem) {
		next := *st
		next.mem = mem
		db.read.Store(&next)
	}
	tab := st.tab
	if tab.needsGrow(len(ws)) {
		tab = tab.grown(mem, &db.seed, len(ws))
	}
	var added []keyEntry
	for _, w := range ws {
		if tab.put(mem, &db.seed, w.key, w.off) {
			added = append(added, keyEntry{prefix: keyPrefix(w.key), off: w.off})
		}
	}
	db.live += liveDelta
	db.read.Store(&readState{
		mem:      mem,
		tab:      tab,
		keys:     st.keys.with(mem, added),
		version:  version,
		oldest:   st.oldest,
		roots:    append(st.roots, root),
		liveKeys: db.live,
	})
	db.end, db.head, db.lastCommit = end, h, commitOff
	db.batch.reset()
	return version, root, nil
}

// writeVersion appends a version's records, syncs, then writes and syncs the head slot.
func (db *DB) writeVersion(buf []byte, h head) error {
	if _, err := db.f.WriteAt(buf, int64(db.end)); err != nil {
		return fmt.Errorf("metisdb: write %s at %d: %w", db.path, db.end, err)
	}
	if err := db.sync(); err != nil {
		return err
	}
	return db.writeHead(h)
}

func (db *DB) writeHead(h head) error {
	if _, err := db.f.WriteAt(h.encode(), headSlotOffset(int(h.seq%2))); err != nil {
		return fmt.Errorf("metisdb: write head of %s: %w", db.path, err)
	}
	return db.sync()
}

// Prune drops every version below below: reading them gives ErrPruned from now on, also
// through snapshots taken earlier. It is durable when it returns. Pruning at or below the
// oldest retained version does nothing.
func (db *DB) Prune(below uint64) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	st := db.read.Load()
	if st == nil {
		return ErrClosed
	}
	if db.failed != nil {
		return fmt.Errorf("%w: %v", ErrWriteFailed, db.failed)
	}
	if below > st.version {
		return fmt.Errorf("%w: cannot prune below %d, latest is %d", ErrUnknownVersion, below, st.version)
	}
	if below <= st.oldest {
		return nil
	}
	h := db.head
	h.seq++
	h.oldest = below
	if err := db.writeHead(h); err != nil {
		db.failed = err
		return err
	}
	db.head = h
	db.oldMu.Lock()
	if db.oldTree != nil && db.oldVer < below {
		db.oldTree = nil
	}
	db.oldMu.Unlock()
	next := *st
	next.oldest = below
	next.roots = slices.Clone(st.roots[below-st.oldest:])
	db.read.Store(&next)
	return nil
}

// Version returns the latest committed version (0 for an empty store, or after Close).
func (db *DB) Version() uint64 {
	if st := db.read.Load(); st != nil {
		return st.version
	}
	return 0
}

// Oldest returns the oldest retained version.
func (db *DB) Oldest() uint64 {
	if st := db.read.Load(); st != nil {
		return st.oldest
	}
	return 0
}

// Root returns the Merkle root of the latest version.
func (db *DB) Root() Hash {
	if st := db.read.Load(); st != nil {
		return st.rootAt(st.version)
	}
	return Hash{}
}

// RootAt returns the root of a retained version.
func (db *DB) RootAt(version uint64) (Hash, error) {
	st := db.read.Load()
	if st == nil {
		return Hash{}, ErrClosed
	}
	if err := st.checkVersion(version); err != nil {
		return Hash{}, err
	}
	return st.rootAt(version), nil
}

// Get returns the value of key at the latest version, or ErrNotFound. The slice points into the
// mapping: do not modify it; it is valid until Close. Get takes no lock, makes no system call
// and allocates nothing.
func (db *DB) Get(key []byte) ([]byte, error) {
	st := db.read.Load()
	if st == nil {
		return nil, ErrClosed
	}
	st, off := db.find(st, key)
	if st == nil {
		return nil, ErrClosed
	}
	if off == 0 || recKind(st.mem, off) != kindSet {
		if off == 0 && len(key) == 0 {
			return nil, ErrEmptyKey
		}
		return nil, ErrNotFound
	}
	return recValue(st.mem, off), nil
}

// find looks key up, reloading the read state if the writer remapped under it. It returns the
// state the offset belongs to (nil if the store closed meanwhile).
func (db *DB) find(st *readState, key []byte) (*readState, uint64) {
	for {
		off := st.tab.lookup(st.mem, &db.seed, key)
		if off != staleMapping {
			return st, off
		}
		if st = db.read.Load(); st == nil {
			return nil, 0
		}
	}
}

// Stats describes the store.
type Stats struct {
	Version, Oldest uint64
	Keys            int   // keys present at the latest version
	IndexedKeys     int   // keys ever written (deleted ones keep an index slot)
	FileBytes       int64 // size of data.mdb
	IndexBytes      int64 // hash index and ordered key index
	InnerNodes      int
	Leaves          int
	TreeBytes       int64 // arenas holding the latest version's Merkle tree
}

// Stats returns figures about the store.
func (db *DB) Stats() Stats {
	st := db.read.Load()
	if st == nil {
		return Stats{}
	}
	s := Stats{
		Version:     st.version,
		Oldest:      st.oldest,
		Keys:        st.liveKeys,
		IndexedKeys: st.tab.used,
		IndexBytes:  st.tab.bytes() + int64(len(st.keys.base)+len(st.keys.delta))*16,
	}
	db.wmu.Lock()
	s.FileBytes = int64(db.end)
	db.wmu.Unlock()
	db.treeMu.RLock()
	if db.tree != nil {
		s.InnerNodes, s.Leaves = db.tree.count()
		s.TreeBytes = db.tree.inners.bytes() + db.tree.leaves.bytes()
	}
	db.treeMu.RUnlock()
	return s
}
