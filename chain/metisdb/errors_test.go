package metisdb_test

// Typed errors, and what Open makes of damaged, truncated and torn files.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/metisgo/metis/chain/metisdb"
)

var etCastagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	etHeaderSize = 4096
	etRecHeader  = 32
	etKindSet    = 1
	etKindDelete = 2
	etKindCommit = 3
)

// etFixture is a closed store with three committed versions.
type etFixture struct {
	dir   string
	refs  []map[string]string // refs[v] for v = 0..3
	roots []metisdb.Hash
}

func etPath(dir string) string { return filepath.Join(dir, "data.mdb") }

func etOpen(t *testing.T, dir string) *metisdb.DB {
	t.Helper()
	db, err := metisdb.Open(dir, &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return db
}

type etWrite struct {
	key, val string
	del      bool
}

func etCommit(t *testing.T, db *metisdb.DB, ref map[string]string, writes ...etWrite) (map[string]string, metisdb.Hash) {
	t.Helper()
	next := maps.Clone(ref)
	if next == nil {
		next = map[string]string{}
	}
	for _, w := range writes {
		var err error
		if w.del {
			err = db.Delete([]byte(w.key))
			delete(next, w.key)
		} else {
			err = db.Set([]byte(w.key), []byte(w.val))
			next[w.key] = w.val
		}
		if err != nil {
			t.Fatalf("staging %+v: %v", w, err)
		}
	}
	_, root, err := db.Commit()
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if want := mdlRoot(next); root != want {
		t.Fatalf("Commit root %s, reference %s", root, want)
	}
	return next, root
}

func etMakeFixture(t *testing.T) etFixture {
	t.Helper()
	fx := etFixture{dir: t.TempDir(), refs: []map[string]string{{}}, roots: []metisdb.Hash{metisdb.EmptyRoot}}
	db := etOpen(t, fx.dir)
	for _, batch := range [][]etWrite{
		{{key: "alpha", val: "1"}, {key: "beta", val: "2"}, {key: "gamma", val: "3"}},
		{{key: "delta", val: "4"}, {key: "beta", del: true}},
		{{key: "alpha", val: "one"}, {key: "epsilon", val: ""}, {key: "zeta", val: string(bytes.Repeat([]byte("z"), 5000))}},
	} {
		ref, root := etCommit(t, db, fx.refs[len(fx.refs)-1], batch...)
		fx.refs = append(fx.refs, ref)
		fx.roots = append(fx.roots, root)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return fx
}

// etCheckContents checks that db is at version v with the fixture's root and contents.
func etCheckContents(t *testing.T, db *metisdb.DB, v uint64, ref map[string]string, root metisdb.Hash) {
	t.Helper()
	if db.Version() != v || db.Root() != root {
		t.Fatalf("Version/Root = %d/%s, want %d/%s", db.Version(), db.Root(), v, root)
	}
	snap, err := db.Snapshot(v)
	if err != nil {
		t.Fatalf("Snapshot(%d): %v", v, err)
	}
	if err := mdlCheckRange(snap, ref, nil, nil); err != nil {
		t.Fatal(err)
	}
}

type etRecord struct {
	off, length int64
	kind        byte
	version     uint64
	prev        uint64
	key, value  []byte
}

// etParse walks the records of file from offset 4096 up to the commit record of version last,
// using the documented layout, and returns them with the offset just past that commit record.
func etParse(t *testing.T, file []byte, last uint64) ([]etRecord, int64) {
	t.Helper()
	var recs []etRecord
	off := int64(etHeaderSize)
	for {
		if off+etRecHeader > int64(len(file)) {
			t.Fatalf("layout: file ends at %d inside the record at %d", len(file), off)
		}
		b := file[off:]
		length := int64(binary.LittleEndian.Uint32(b[4:8]))
		if length < etRecHeader || off+length > int64(len(file)) {
			t.Fatalf("layout: record at %d has impossible length %d", off, length)
		}
		if crc := crc32.Checksum(b[4:length], etCastagnoli); crc != binary.LittleEndian.Uint32(b[0:4]) {
			t.Fatalf("layout: record at %d: crc32c %08x, stored %08x", off, crc, binary.LittleEndian.Uint32(b[0:4]))
		}
		klen := int64(binary.LittleEndian.Uint16(b[10:12]))
		vlen := int64(binary.LittleEndian.Uint32(b[12:16]))
		if etRecHeader+klen+vlen > length {
			t.Fatalf("layout: record at %d: key %d + value %d bytes do not fit in %d", off, klen, vlen, length)
		}
		r := etRecord{
			off: off, length: length, kind: b[8],
			version: binary.LittleEndian.Uint64(b[16:24]),
			prev:    binary.LittleEndian.Uint64(b[24:32]),
			key:     b[etRecHeader : etRecHeader+klen],
			value:   b[etRecHeader+klen : etRecHeader+klen+vlen],
		}
		recs = append(recs, r)
		off += length
		if r.kind == etKindCommit && r.version == last {
			return recs, off
		}
	}
}

func etReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// etCopy makes a new store directory holding file as its data.mdb.
func etCopy(t *testing.T, file []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(etPath(dir), file, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// etWantCorruption opens dir and requires a *CorruptionError naming data.mdb at offset (any
// offset if offset < 0).
func etWantCorruption(t *testing.T, dir string, offset int64) {
	t.Helper()
	db, err := metisdb.Open(dir, &metisdb.Options{NoSync: true})
	if err == nil {
		v, root := db.Version(), db.Root()
		db.Close()
		t.Fatalf("Open succeeded (version %d, root %s), want a corruption error", v, root)
	}
	if !errors.Is(err, metisdb.ErrCorrupt) {
		t.Fatalf("Open: %v, want an error wrapping ErrCorrupt", err)
	}
	var ce *metisdb.CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("Open: %v (%T) is not a *CorruptionError", err, err)
	}
	if ce.File != etPath(dir) {
		t.Errorf("CorruptionError.File = %q, want %q", ce.File, etPath(dir))
	}
	if offset >= 0 && ce.Offset != offset {
		t.Errorf("CorruptionError.Offset = %d, want %d (%v)", ce.Offset, offset, err)
	}
}

// ---------------------------------------------------------------------------------------------

// TestCorruptFileLayout checks the documented record layout on a real file, which the other
// corruption tests rely on to aim their damage.
func TestCorruptFileLayout(t *testing.T) {
	fx := etMakeFixture(t)
	file := etReadFile(t, etPath(fx.dir))
	if binary.LittleEndian.Uint64(file[0:8]) == 0 {
		t.Errorf("no magic at offset 0")
	}
	recs, end := etParse(t, file, 3)
	t.Logf("%d records, committed end %d, file size %d", len(recs), end, len(file))
	lastOf := map[string]int64{}
	version, count := uint64(1), uint32(0)
	for _, r := range recs {
		if r.length != etRecHeader+int64(len(r.key))+int64(len(r.value)) {
			t.Errorf("record at %d: length %d, header+key+value = %d", r.off, r.length, etRecHeader+len(r.key)+len(r.value))
		}
		if file[r.off+9] != 0 {
			t.Errorf("record at %d: byte 9 is %d", r.off, file[r.off+9])
		}
		if r.version != version {
			t.Errorf("record at %d: version %d inside version %d", r.off, r.version, version)
		}
		switch r.kind {
		case etKindSet, etKindDelete:
			count++
			if len(r.key) == 0 {
				t.Errorf("record at %d: empty key", r.off)
			}
			if r.kind == etKindDelete && len(r.value) != 0 {
				t.Errorf("delete record at %d has a %d-byte value", r.off, len(r.value))
			}
			if r.prev != uint64(lastOf[string(r.key)]) {
				t.Errorf("record at %d (%q): prev %d, want %d", r.off, r.key, r.prev, lastOf[string(r.key)])
			}
			lastOf[string(r.key)] = r.off
		case etKindCommit:
			if len(r.key) != 0 || len(r.value) != 40 {
				t.Fatalf("commit record at %d: key %d bytes, value %d bytes; want 0 and 40", r.off, len(r.key), len(r.value))
			}
			if got := metisdb.Hash(r.value[:32]); got != fx.roots[version] {
				t.Errorf("commit record of version %d: root %s, want %s", version, got, fx.roots[version])
			}
			if n := binary.LittleEndian.Uint32(r.value[32:36]); n != count {
				t.Errorf("commit record of version %d: count %d, want %d", version, n, count)
			}
			if !bytes.Equal(r.value[36:], make([]byte, 4)) {
				t.Errorf("commit record of version %d: padding %x", version, r.value[36:])
			}
			version, count = version+1, 0
		default:
			t.Errorf("record at %d: kind %d", r.off, r.kind)
		}
	}
}

// TestCorruptRecordByte flips single bytes inside committed records: Open must fail with a
// *CorruptionError naming data.mdb and the start of the damaged record.
func TestCorruptRecordByte(t *testing.T) {
	fx := etMakeFixture(t)
	orig := etReadFile(t, etPath(fx.dir))
	recs, _ := etParse(t, orig, 3)
	type tc struct {
		name string
		rec  etRecord
		pos  int64 // within the record
	}
	var cases []tc
	first := recs[0]
	for _, p := range []struct {
		name string
		pos  int64
	}{
		{"crc", 0}, {"crc-high", 3}, {"length", 4}, {"length-high", 7}, {"kind", 8}, {"reserved", 9},
		{"keylen", 10}, {"valuelen", 12}, {"version", 16}, {"prev", 24}, {"key", 32}, {"last-byte", first.length - 1},
	} {
		cases = append(cases, tc{"first-record/" + p.name, first, p.pos})
	}
	for i, r := range recs[1:] {
		cases = append(cases, tc{fmt.Sprintf("record-%d-kind-%d-v%d/middle", i+1, r.kind, r.version), r, r.length / 2})
		cases = append(cases, tc{fmt.Sprintf("record-%d-kind-%d-v%d/version", i+1, r.kind, r.version), r, 16})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := bytes.Clone(orig)
			file[c.rec.off+c.pos] ^= 0x5a
			etWantCorruption(t, etCopy(t, file), c.rec.off)
		})
	}
	if recs[0].off != etHeaderSize {
		t.Errorf("first record at %d, want %d", recs[0].off, etHeaderSize)
	}
}

// TestCorruptTruncated cuts the file inside committed data: Open must fail with ErrCorrupt.
func TestCorruptTruncated(t *testing.T) {
	fx := etMakeFixture(t)
	orig := etReadFile(t, etPath(fx.dir))
	recs, end := etParse(t, orig, 3)
	for _, size := range []int64{100, etHeaderSize, etHeaderSize + 10, (etHeaderSize + end) / 2, recs[len(recs)-1].off, end - 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			etWantCorruption(t, etCopy(t, orig[:size]), -1)
		})
	}
}

// etRecordBytes encodes a record by the documented layout, with a valid checksum.
func etRecordBytes(kind byte, version, prev uint64, key, value []byte) []byte {
	b := make([]byte, etRecHeader+len(key)+len(value))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	b[8] = kind
	binary.LittleEndian.PutUint16(b[10:], uint16(len(key)))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(value)))
	binary.LittleEndian.PutUint64(b[16:], version)
	binary.LittleEndian.PutUint64(b[24:], prev)
	copy(b[etRecHeader:], key)
	copy(b[etRecHeader+len(key):], value)
	binary.LittleEndian.PutUint32(b[0:], crc32.Checksum(b[4:], etCastagnoli))
	return b
}

// TestCorruptTornTail puts bytes after the last commit (a commit that never returned, torn or
// whole): Open must drop them silently and keep working.
func TestCorruptTornTail(t *testing.T) {
	fx := etMakeFixture(t)
	orig := etReadFile(t, etPath(fx.dir))
	recs, end := etParse(t, orig, 3)
	lastCommit := recs[len(recs)-1]
	set := etRecordBytes(etKindSet, 4, 0, []byte("torn"), []byte("value"))
	bogusRoot := bytes.Repeat([]byte{0xee}, 32)
	commitVal := append(append(bogusRoot, 1, 0, 0, 0), 0, 0, 0, 0)
	goodRoot := mdlRoot(map[string]string{"torn": "value"}) // not the v4 root, but well-formed
	commitGood := etRecordBytes(etKindCommit, 4, uint64(lastCommit.off), nil, append(append(goodRoot[:], 1, 0, 0, 0), 0, 0, 0, 0))
	garbage := make([]byte, 1000)
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	for _, c := range []struct {
		name string
		tail []byte
	}{
		{"garbage", garbage},
		{"zeros", make([]byte, 10)},
		{"ones", bytes.Repeat([]byte{0xff}, 40)},
		{"partial-header", set[:12]},
		{"partial-record", set[:len(set)-2]},
		{"whole-set-record", set},
		{"set-and-commit-records", append(bytes.Clone(set), etRecordBytes(etKindCommit, 4, uint64(lastCommit.off), nil, commitVal)...)},
		{"set-and-plausible-commit", append(bytes.Clone(set), commitGood...)},
		{"large", bytes.Repeat(garbage, 300)},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := append(bytes.Clone(orig[:end]), c.tail...)
			dir := etCopy(t, file)
			db := etOpen(t, dir)
			etCheckContents(t, db, 3, fx.refs[3], fx.roots[3])
			if _, err := db.Get([]byte("torn")); !errors.Is(err, metisdb.ErrNotFound) {
				t.Fatalf("Get of a key only in the torn tail: %v, want ErrNotFound", err)
			}
			ref4, root4 := etCommit(t, db, fx.refs[3], etWrite{key: "after", val: "torn tail"})
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = etOpen(t, dir)
			defer db.Close()
			etCheckContents(t, db, 4, ref4, root4)
			snap, err := db.Snapshot(3)
			if err != nil {
				t.Fatal(err)
			}
			if err := mdlCheckRange(snap, fx.refs[3], nil, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCorruptHeadSlots damages the head slots: one damaged slot falls back to the other (the
// version before, or the latest), both damaged fail with ErrCorrupt, as does a damaged magic.
func TestCorruptHeadSlots(t *testing.T) {
	fx := etMakeFixture(t)
	orig := etReadFile(t, etPath(fx.dir))
	damage := func(file []byte, off int) {
		for i := off; i < off+64; i++ {
			file[i] ^= 0xff
		}
	}
	opened := map[uint64]bool{}
	for _, slot := range []int{64, 128} {
		t.Run(fmt.Sprintf("slot-at-%d", slot), func(t *testing.T) {
			file := bytes.Clone(orig)
			damage(file, slot)
			db := etOpen(t, etCopy(t, file))
			defer db.Close()
			v := db.Version()
			if v != 2 && v != 3 {
				t.Fatalf("opened at version %d with one head slot damaged, want 2 or 3", v)
			}
			opened[v] = true
			etCheckContents(t, db, v, fx.refs[v], fx.roots[v])
		})
	}
	if !opened[2] || !opened[3] {
		t.Errorf("damaging each slot in turn opened versions %v, want 2 and 3", opened)
	}
	t.Run("both", func(t *testing.T) {
		file := bytes.Clone(orig)
		damage(file, 64)
		damage(file, 128)
		etWantCorruption(t, etCopy(t, file), -1)
	})
	t.Run("one-byte-each", func(t *testing.T) {
		file := bytes.Clone(orig)
		file[64+20] ^= 1
		file[128+20] ^= 1
		etWantCorruption(t, etCopy(t, file), -1)
	})
	t.Run("magic", func(t *testing.T) {
		file := bytes.Clone(orig)
		file[0] ^= 0xff
		etWantCorruption(t, etCopy(t, file), -1)
	})
}

// ---------------------------------------------------------------------------------------------

// TestErrorsInvalidInput: bad keys and values are refused with typed errors, and neither the
// staged batch nor committed data is touched.
func TestErrorsInvalidInput(t *testing.T) {
	bigKey := bytes.Repeat([]byte{'k'}, metisdb.MaxKeySize+1)
	bigValue := make([]byte, metisdb.MaxValueSize+1)
	for _, c := range []struct {
		name string
		op   func(db *metisdb.DB) error
		want error
	}{
		{"Set/nil-key", func(db *metisdb.DB) error { return db.Set(nil, []byte("v")) }, metisdb.ErrEmptyKey},
		{"Set/empty-key", func(db *metisdb.DB) error { return db.Set([]byte{}, []byte("v")) }, metisdb.ErrEmptyKey},
		{"Set/key-too-large", func(db *metisdb.DB) error { return db.Set(bigKey, []byte("v")) }, metisdb.ErrKeyTooLarge},
		{"Set/value-too-large", func(db *metisdb.DB) error { return db.Set([]byte("alpha"), bigValue) }, metisdb.ErrValueTooLarge},
		{"Set/value-too-large-new-key", func(db *metisdb.DB) error { return db.Set([]byte("new"), bigValue) }, metisdb.ErrValueTooLarge},
		{"Delete/nil-key", func(db *metisdb.DB) error { return db.Delete(nil) }, metisdb.ErrEmptyKey},
		{"Delete/empty-key", func(db *metisdb.DB) error { return db.Delete([]byte{}) }, metisdb.ErrEmptyKey},
		{"Delete/key-too-large", func(db *metisdb.DB) error { return db.Delete(bigKey) }, metisdb.ErrKeyTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			db := etOpen(t, dir)
			defer db.Close()
			ref1, _ := etCommit(t, db, nil, etWrite{key: "alpha", val: "1"}, etWrite{key: "beta", val: "2"})
			if err := db.Set([]byte("staged"), []byte("yes")); err != nil {
				t.Fatal(err)
			}
			if err := c.op(db); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			got, err := db.Get([]byte("alpha"))
			if err := mdlCheckGet("Get", got, err, ref1, "alpha"); err != nil {
				t.Fatal(err)
			}
			// The earlier staged write survives; the refused one was not staged.
			ref2 := maps.Clone(ref1)
			ref2["staged"] = "yes"
			v, root, err := db.Commit()
			if err != nil || v != 2 || root != mdlRoot(ref2) {
				t.Fatalf("Commit = %d %s %v, want 2 %s", v, root, err, mdlRoot(ref2))
			}
			etCheckContents(t, db, 2, ref2, root)
		})
	}
	t.Run("limits-are-inclusive", func(t *testing.T) {
		db := etOpen(t, t.TempDir())
		defer db.Close()
		maxKey := bytes.Repeat([]byte{'K'}, metisdb.MaxKeySize)
		maxValue := bytes.Repeat([]byte{'V'}, metisdb.MaxValueSize)
		ref, root := etCommit(t, db, nil, etWrite{key: string(maxKey), val: "x"}, etWrite{key: "big", val: string(maxValue)})
		etCheckContents(t, db, 1, ref, root)
		p, err := db.Proof(maxKey, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := mdlCheckProof(p, root, ref, string(maxKey)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestErrorsBatchTooLarge: a version holds at most MaxBatchRecords writes.
func TestErrorsBatchTooLarge(t *testing.T) {
	if testing.Short() || mdlRace() {
		t.Skip("stages a million writes")
	}
	db := etOpen(t, t.TempDir())
	defer db.Close()
	ref, root := etCommit(t, db, nil, etWrite{key: "kept", val: "yes"})
	key := make([]byte, 8)
	var err error
	for i := 0; i <= metisdb.MaxBatchRecords && err == nil; i++ {
		binary.BigEndian.PutUint64(key, uint64(i))
		err = db.Set(key, nil)
	}
	if err == nil {
		// Refusing at Commit is acceptable too; accepting is not.
		_, _, err = db.Commit()
	}
	if !errors.Is(err, metisdb.ErrBatchTooLarge) {
		t.Fatalf("%d+1 staged writes: %v, want ErrBatchTooLarge", metisdb.MaxBatchRecords, err)
	}
	db.Discard()
	etCheckContents(t, db, 1, ref, root)
	ref2, root2 := etCommit(t, db, ref, etWrite{key: "after", val: "ok"})
	etCheckContents(t, db, 2, ref2, root2)
}

// TestErrorsVersions: pruned and future versions.
func TestErrorsVersions(t *testing.T) {
	fx := etMakeFixture(t)
	db := etOpen(t, fx.dir)
	defer func() { db.Close() }()
	early, err := db.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Prune(2); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		key := []byte("alpha")
		for _, c := range []struct {
			name string
			op   func() error
			want error
		}{
			{"Snapshot(0)", func() error { _, err := db.Snapshot(0); return err }, metisdb.ErrPruned},
			{"Snapshot(1)", func() error { _, err := db.Snapshot(1); return err }, metisdb.ErrPruned},
			{"Snapshot(4)", func() error { _, err := db.Snapshot(4); return err }, metisdb.ErrUnknownVersion},
			{"Snapshot(1000)", func() error { _, err := db.Snapshot(1000); return err }, metisdb.ErrUnknownVersion},
			{"Proof@1", func() error { _, err := db.Proof(key, 1); return err }, metisdb.ErrPruned},
			{"Proof@4", func() error { _, err := db.Proof(key, 4); return err }, metisdb.ErrUnknownVersion},
			{"Prune(4)", func() error { return db.Prune(4) }, metisdb.ErrUnknownVersion},
			{"Get(absent)", func() error { _, err := db.Get([]byte("nope")); return err }, metisdb.ErrNotFound},
			{"Get(deleted)", func() error { _, err := db.Get([]byte("beta")); return err }, metisdb.ErrNotFound},
			{"Snapshot(2).Get(deleted)", func() error {
				s, err := db.Snapshot(2)
				if err != nil {
					return err
				}
				_, err = s.Get([]byte("beta"))
				return err
			}, metisdb.ErrNotFound},
		} {
			if err := c.op(); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		if db.Oldest() != 2 || db.Version() != 3 {
			t.Errorf("Oldest/Version = %d/%d, want 2/3", db.Oldest(), db.Version())
		}
		for v := uint64(2); v <= 3; v++ {
			s, err := db.Snapshot(v)
			if err != nil {
				t.Fatalf("Snapshot(%d): %v", v, err)
			}
			if err := mdlCheckRange(s, fx.refs[v], nil, nil); err != nil {
				t.Error(err)
			}
		}
	}
	t.Run("after-prune", check)
	t.Run("snapshot-taken-before-prune", func(t *testing.T) {
		if _, err := early.Get([]byte("alpha")); !errors.Is(err, metisdb.ErrPruned) {
			t.Errorf("Get: %v, want ErrPruned", err)
		}
		it, err := early.Iterator(nil, nil)
		if err == nil {
			for it.Next() {
			}
			err = it.Err()
			it.Close()
		}
		if !errors.Is(err, metisdb.ErrPruned) {
			t.Errorf("Iterator: %v, want ErrPruned", err)
		}
		if _, err := early.Proof([]byte("alpha")); !errors.Is(err, metisdb.ErrPruned) {
			t.Errorf("Proof: %v, want ErrPruned", err)
		}
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = etOpen(t, fx.dir)
	t.Run("after-reopen", check)
}

// TestErrorsAfterClose: every method of a closed store, its snapshots and iterators gives ErrClosed.
func TestErrorsAfterClose(t *testing.T) {
	fx := etMakeFixture(t)
	db := etOpen(t, fx.dir)
	snap, err := db.Snapshot(2)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := snap.Iterator(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	started, err := snap.Iterator(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !started.Next() {
		t.Fatal("empty iterator")
	}
	if err := db.Set([]byte("pending"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	key := []byte("alpha")
	for _, c := range []struct {
		name string
		op   func() error
	}{
		{"Close", db.Close},
		{"Set", func() error { return db.Set(key, []byte("v")) }},
		{"Delete", func() error { return db.Delete(key) }},
		{"Commit", func() error { _, _, err := db.Commit(); return err }},
		{"Get", func() error { _, err := db.Get(key); return err }},
		{"Snapshot", func() error { _, err := db.Snapshot(2); return err }},
		{"Prune", func() error { return db.Prune(2) }},
		{"Proof", func() error { _, err := db.Proof(key, 3); return err }},
		{"Snapshot.Get", func() error { _, err := snap.Get(key); return err }},
		{"Snapshot.Iterator", func() error { _, err := snap.Iterator(nil, nil); return err }},
		{"Snapshot.Proof", func() error { _, err := snap.Proof(key); return err }},
		{"Iterator.Next(fresh)", func() error {
			if fresh.Next() {
				return errors.New("Next returned true")
			}
			return fresh.Err()
		}},
		{"Iterator.Next(started)", func() error {
			if started.Next() {
				return errors.New("Next returned true")
			}
			return started.Err()
		}},
	} {
		if err := c.op(); !errors.Is(err, metisdb.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", c.name, err)
		}
	}
	// These return no error; they must simply not crash.
	db.Discard()
	_, _, _ = db.Version(), db.Root(), db.Oldest()
	fresh.Close()
	started.Close()

	// Nothing was lost, and the pending write was dropped.
	db = etOpen(t, fx.dir)
	defer db.Close()
	etCheckContents(t, db, 3, fx.refs[3], fx.roots[3])
}

// TestErrorsLocked: a directory is opened by one handle at a time.
func TestErrorsLocked(t *testing.T) {
	fx := etMakeFixture(t)
	db := etOpen(t, fx.dir)
	if second, err := metisdb.Open(fx.dir, nil); !errors.Is(err, metisdb.ErrLocked) {
		if second != nil {
			second.Close()
		}
		db.Close()
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	// The failed Open did not disturb the first handle.
	etCheckContents(t, db, 3, fx.refs[3], fx.roots[3])
	ref4, root4 := etCommit(t, db, fx.refs[3], etWrite{key: "more", val: "data"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = etOpen(t, fx.dir)
	defer db.Close()
	etCheckContents(t, db, 4, ref4, root4)
}
