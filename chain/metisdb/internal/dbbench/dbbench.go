// Package dbbench benchmarks MetisDB against a plain Go map (the floor), Pebble and bbolt
// (what Go chains use today) on the same workloads, in the same run. The benchmarks live in
// bench_test.go; this package holds the deterministic workload generator and one adapter per
// store. scripts/bench-metisdb.sh runs them and prints benchstat tables.
//
// Keys are 32 pseudo-random bytes and values 32 bytes, both pure functions of an index (and,
// for values, a generation), so every store sees the same data and no key set has to be kept
// in memory.
package dbbench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

const (
	KeySize   = 32
	ValueSize = 32

	// LoadBatch is the number of keys per commit / batch / transaction when loading a store.
	LoadBatch = 10_000

	gamma    = 0x9e3779b97f4a7c15
	keySeed  = 0x6d657469_73646221 // "metisdb!"
	valSeed  = 0x76616c75_65736565
	newSeed  = 0x6e65776b_65797321 // new keys written by the Commit benchmark
	rngSeed1 = 42
	rngSeed2 = 1337
)

// mix is the SplitMix64 finaliser: a bijection on uint64 with good avalanche.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func fill(dst []byte, seed, i uint64) {
	_ = dst[31]
	for j := uint64(0); j < 4; j++ {
		binary.LittleEndian.PutUint64(dst[8*j:], mix(seed+(4*i+j+1)*gamma))
	}
}

// PutKey writes key number i of the loaded key set into dst[:32].
func PutKey(dst []byte, i uint64) { fill(dst, keySeed, i) }

// PutNewKey writes key number i of the stream of keys that are never loaded (inserted by the
// Commit benchmark) into dst[:32].
func PutNewKey(dst []byte, i uint64) { fill(dst, newSeed, i) }

// PutValue writes the value of key i at generation gen into dst[:32]. Loading uses gen 0.
func PutValue(dst []byte, i, gen uint64) { fill(dst, valSeed^(gen*0x100000001b3), i) }

// Key returns a fresh copy of key i.
func Key(i uint64) []byte { k := make([]byte, KeySize); PutKey(k, i); return k }

// Value returns a fresh copy of the value of key i at generation gen.
func Value(i, gen uint64) []byte { v := make([]byte, ValueSize); PutValue(v, i, gen); return v }

// NewRand returns the benchmark's deterministic PRNG, distinguished by stream.
func NewRand(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(rngSeed1, rngSeed2^stream)) }

// Store is what the harness needs from each store. Adapters are not safe for concurrent use.
type Store interface {
	Kind() string
	// WriteBatch writes keys[i]=vals[i] as one atomic batch (a MetisDB version, a Pebble batch,
	// a bbolt transaction). The slices stay untouched afterwards, so a store may retain them.
	// durable asks for an fsync before returning (MetisDB: decided at Open instead).
	WriteBatch(keys, vals [][]byte, durable bool) error
	// Lookup returns a copy of the value, or ok=false when absent. Verification only: the
	// benchmarks use each store's own read path directly.
	Lookup(key []byte) (val []byte, ok bool, err error)
	Close() error
	// GetLoop does n random Gets at the latest version through the store's own read path,
	// taking keys in turn from probes (packed 32-byte keys, a power of two of them), and reads
	// one byte of each value (a Get whose value is never read is not a Get). It fails if a key
	// is missing.
	GetLoop(probes []byte, n int) error
}

// Versioned is a store that can read an earlier state: Mark remembers the current one,
// OldLookup and OldGetLoop read it after later writes.
type Versioned interface {
	Store
	Mark() error
	OldLookup(key []byte) ([]byte, bool, error)
	OldGetLoop(probes []byte, n int) error
}

// Sink receives a byte of every value read, so the compiler cannot drop the reads.
var Sink byte

func probeMask(probes []byte) int {
	c := len(probes) / KeySize
	if c == 0 || c&(c-1) != 0 {
		panic("dbbench: probe count must be a power of two")
	}
	return c - 1
}

func errMissing(kind string, key []byte) error {
	return fmt.Errorf("%s: probe key %x not found", kind, key)
}

// Kinds lists the stores in report order: MetisDB first, so benchstat -col /store compares
// every baseline with it.
var Kinds = []string{"metisdb", "map", "pebble", "bbolt"}

// Open opens an empty store of the given kind in dir (created; ignored by the map). Stores
// meant for durable commits (the Commit benchmark) pass durable=true.
func Open(kind, dir string, durable bool) (Store, error) {
	switch kind {
	case "metisdb":
		return openMetis(dir, durable)
	case "map":
		return &MapStore{M: make(map[string][]byte)}, nil
	case "pebble":
		return openPebble(dir)
	case "bbolt":
		return openBolt(dir)
	}
	return nil, fmt.Errorf("dbbench: unknown store %q", kind)
}

// Batch holds one batch of keys and values carved from a fresh arena, so that stores that
// keep references (the map) never see the bytes change.
type Batch struct {
	Keys, Vals [][]byte
}

func newBatch(n int) *Batch {
	arena := make([]byte, n*(KeySize+ValueSize))
	b := &Batch{Keys: make([][]byte, n), Vals: make([][]byte, n)}
	for i := 0; i < n; i++ {
		o := i * (KeySize + ValueSize)
		b.Keys[i] = arena[o : o+KeySize : o+KeySize]
		b.Vals[i] = arena[o+KeySize : o+KeySize+ValueSize : o+KeySize+ValueSize]
	}
	return b
}

// Load writes keys [0,n) with generation-0 values in batches of LoadBatch, without fsync.
func Load(s Store, n int) error {
	for start := 0; start < n; start += LoadBatch {
		m := min(LoadBatch, n-start)
		b := newBatch(m)
		for j := 0; j < m; j++ {
			PutKey(b.Keys[j], uint64(start+j))
			PutValue(b.Vals[j], uint64(start+j), 0)
		}
		if err := s.WriteBatch(b.Keys, b.Vals, false); err != nil {
			return fmt.Errorf("%s: load batch at %d: %w", s.Kind(), start, err)
		}
	}
	if p, ok := s.(*PebbleStore); ok {
		return p.FlushAndSettle()
	}
	return nil
}

// Verify reads keys [0,n) once (which also warms page caches, mmaps and block caches) and
// checks them against generation gen (gen < 0: only check presence).
func Verify(s Store, n int, gen int64) error {
	k := make([]byte, KeySize)
	want := make([]byte, ValueSize)
	for i := 0; i < n; i++ {
		PutKey(k, uint64(i))
		v, ok, err := s.Lookup(k)
		if err != nil {
			return fmt.Errorf("%s: get key %d: %w", s.Kind(), i, err)
		}
		if !ok {
			return fmt.Errorf("%s: key %d not found", s.Kind(), i)
		}
		if gen >= 0 {
			PutValue(want, uint64(i), uint64(gen))
			if !bytes.Equal(v, want) {
				return fmt.Errorf("%s: key %d: got %x want %x", s.Kind(), i, v, want)
			}
		}
	}
	return nil
}

// Probes returns count keys of [0,n) in a random order, packed 32 bytes apiece in one slice:
// the Get benchmarks walk it sequentially, so fetching the next key to look up costs the
// same for every store and is not a cache miss of its own.
func Probes(n, count int, stream uint64) []byte {
	r := NewRand(stream)
	p := make([]byte, count*KeySize)
	for i := 0; i < count; i++ {
		PutKey(p[i*KeySize:], uint64(r.IntN(n)))
	}
	return p
}

// Updater produces the Commit benchmark's batches: even slots overwrite a random loaded key
// (new generation), odd slots insert a key never written before.
type Updater struct {
	N    int // loaded keys
	next uint64
	gen  uint64
	rng  *rand.Rand
}

func NewUpdater(n int) *Updater { return &Updater{N: n, rng: NewRand(7)} }

// Next returns the next batch of size updates in a fresh arena.
func (u *Updater) Next(size int) *Batch {
	u.gen++
	b := newBatch(size)
	for j := 0; j < size; j++ {
		if j&1 == 0 {
			i := uint64(u.rng.IntN(u.N))
			PutKey(b.Keys[j], i)
			PutValue(b.Vals[j], i, u.gen)
		} else {
			PutNewKey(b.Keys[j], u.next)
			PutValue(b.Vals[j], u.next, u.gen)
			u.next++
		}
	}
	return b
}

// SizeName formats a key count as 10k / 1M / 10M.
func SizeName(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n%1_000 == 0:
		return strconv.Itoa(n/1_000) + "k"
	}
	return strconv.Itoa(n)
}

// Resident returns the process's resident set size in bytes (/proc/self/statm), after
// returning freed Go heap to the OS so that garbage does not count.
func Resident() (rss, heapInuse uint64, err error) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("dbbench: bad /proc/self/statm %q", b)
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, 0, err
	}
	return pages * uint64(os.Getpagesize()), ms.HeapInuse, nil
}
