package dbbench

// Benchmarks: MetisDB against a Go map (the floor), Pebble and bbolt, on one workload each.
//
//	BenchmarkGet/store=S/keys=N     random Get of an existing key at the latest version, hot
//	BenchmarkGetOld/store=S/keys=N  the same at the version right after the load, once 10 more
//	                                versions have overwritten 10% of the keys (metisdb, pebble)
//	BenchmarkCommit/store=S/batch=B one durable commit of B updates (half overwrites, half new
//	                                keys) on a store loaded with 1M keys; reports updates/s
//	BenchmarkMemory/store=S/keys=N  resident bytes per key of a freshly loaded store (run it in a
//	                                process of its own: RSS is process-wide)
//
// Fairness: only MetisDB computes a Merkle root on Commit; the map has no durability at all
// (its Commit is map assignment, the floor); Pebble commits with pebble.Sync, bbolt with an
// fsync'd Update transaction, MetisDB with sync on. Every Get reads one byte of the value.
//
// Keys and values are 32 bytes, deterministic. Each (workload, store, size) is loaded once per
// process and kept for every b.N round and -count repetition; TestMain removes the data.
// Sizes: 1M keys; add 10M with METISDB_BENCH_10M=1, or set METISDB_BENCH_KEYS=100k,1M,...
// (the smallest size is used for GetOld and Commit). METISDB_BENCH_DIR sets where stores live.

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	probeCount    = 1 << 20 // keys in each Get probe sequence (32 MiB)
	oldVersions   = 10      // versions written after the marked one in GetOld
	oldPerVersion = 100     // each overwrites 1/oldPerVersion of the keys: 10% in all
)

var commitBatches = []int{1_000, 10_000}

// sizes returns the key counts to benchmark, ascending.
func sizes(tb testing.TB) []int {
	spec := os.Getenv("METISDB_BENCH_KEYS")
	if spec == "" {
		spec = "1M"
		if os.Getenv("METISDB_BENCH_10M") == "1" {
			spec = "1M,10M"
		}
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "M"):
			mult, f = 1_000_000, strings.TrimSuffix(f, "M")
		case strings.HasSuffix(f, "k"):
			mult, f = 1_000, strings.TrimSuffix(f, "k")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			tb.Fatalf("bad METISDB_BENCH_KEYS %q", spec)
		}
		out = append(out, n*mult)
	}
	sort.Ints(out)
	return out
}

// ---- per-process cache of loaded stores -------------------------------------------------

type instKey struct {
	role, kind string
	n          int
}

type instance struct {
	s   Store
	upd *Updater
	err error
}

var (
	instMu sync.Mutex
	insts  = map[instKey]*instance{}
	dirs   []string
	probes = map[int][]byte{}
)

func tempDir(tb testing.TB, name string) string {
	dir, err := os.MkdirTemp(os.Getenv("METISDB_BENCH_DIR"), "metisdb-bench-"+name+"-")
	if err != nil {
		tb.Fatal(err)
	}
	instMu.Lock()
	dirs = append(dirs, dir)
	instMu.Unlock()
	return dir
}

// get returns the store for role ("get", "old" or "commit"), loading it on first use.
func get(tb testing.TB, role, kind string, n int) *instance {
	k := instKey{role, kind, n}
	instMu.Lock()
	in := insts[k]
	instMu.Unlock()
	if in == nil {
		in = &instance{}
		in.s, in.err = build(tb, role, kind, n)
		if in.s != nil && role == "commit" {
			in.upd = NewUpdater(n)
		}
		instMu.Lock()
		insts[k] = in
		instMu.Unlock()
	}
	if in.err != nil {
		tb.Fatal(in.err)
	}
	return in
}

func build(tb testing.TB, role, kind string, n int) (Store, error) {
	dir := tempDir(tb, role+"-"+kind)
	s, err := Open(kind, dir, role == "commit")
	if err != nil {
		return nil, err
	}
	if err := Load(s, n); err != nil {
		return s, err
	}
	switch role {
	case "get":
		return s, Verify(s, n, 0) // also warms every cache
	case "old":
		vs, ok := s.(Versioned)
		if !ok {
			return s, fmt.Errorf("%s has no versions", kind)
		}
		return s, ageVersions(vs, n)
	}
	return s, nil
}

// ageVersions marks the loaded state, then writes oldVersions versions, each overwriting a
// random 1/oldPerVersion of the keys with a new generation, and warms the marked state.
func ageVersions(s Versioned, n int) error {
	if err := s.Mark(); err != nil {
		return err
	}
	r := NewRand(99)
	per := max(1, n/oldPerVersion)
	for v := 1; v <= oldVersions; v++ {
		b := newBatch(per)
		for j := 0; j < per; j++ {
			i := uint64(r.IntN(n))
			PutKey(b.Keys[j], i)
			PutValue(b.Vals[j], i, uint64(v))
		}
		if err := s.WriteBatch(b.Keys, b.Vals, false); err != nil {
			return err
		}
	}
	if p, ok := s.(*PebbleStore); ok {
		if err := p.FlushAndSettle(); err != nil {
			return err
		}
	}
	return verifyOld(s, n)
}

func verifyOld(s Versioned, n int) error {
	k, want := make([]byte, KeySize), make([]byte, ValueSize)
	for i := 0; i < n; i++ {
		PutKey(k, uint64(i))
		PutValue(want, uint64(i), 0)
		v, ok, err := s.OldLookup(k)
		if err != nil || !ok || !bytes.Equal(v, want) {
			return fmt.Errorf("%s: old version, key %d: got %x, %v, %v; want %x", s.Kind(), i, v, ok, err, want)
		}
	}
	return nil
}

func probesFor(n int) []byte {
	instMu.Lock()
	defer instMu.Unlock()
	p := probes[n]
	if p == nil {
		p = Probes(n, probeCount, uint64(n))
		probes[n] = p
	}
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	for k, in := range insts {
		if in.s != nil {
			if err := in.s.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "dbbench: close %v: %v\n", k, err)
			}
		}
	}
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// ---- benchmarks ---------------------------------------------------------------------------

func BenchmarkGet(b *testing.B) {
	for _, kind := range Kinds {
		b.Run("store="+kind, func(b *testing.B) {
			for _, n := range sizes(b) {
				b.Run("keys="+SizeName(n), func(b *testing.B) {
					s, p := get(b, "get", kind, n).s, probesFor(n)
					b.ReportAllocs()
					b.ResetTimer()
					if err := s.GetLoop(p, b.N); err != nil {
						b.Fatal(err)
					}
				})
			}
		})
	}
}

func BenchmarkGetOld(b *testing.B) {
	for _, kind := range []string{"metisdb", "pebble"} {
		b.Run("store="+kind, func(b *testing.B) {
			n := sizes(b)[0]
			b.Run("keys="+SizeName(n), func(b *testing.B) {
				s, p := get(b, "old", kind, n).s.(Versioned), probesFor(n)
				b.ReportAllocs()
				b.ResetTimer()
				if err := s.OldGetLoop(p, b.N); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, kind := range Kinds {
		b.Run("store="+kind, func(b *testing.B) {
			for _, batch := range commitBatches {
				b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
					in := get(b, "commit", kind, sizes(b)[0])
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						bt := in.upd.Next(batch)
						if err := in.s.WriteBatch(bt.Keys, bt.Vals, true); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "updates/s")
				})
			}
		})
	}
}

type memResult struct{ rss, heap float64 }

var memResults = map[instKey]memResult{}

// BenchmarkMemory loads a fresh store once per process and reports how much the process's
// resident set (which includes mapped file pages and Pebble's off-heap cache) and the live Go
// heap grew, per key, after reading every key once. ns/op is meaningless and suppressed.
func BenchmarkMemory(b *testing.B) {
	for _, kind := range Kinds {
		b.Run("store="+kind, func(b *testing.B) {
			for _, n := range sizes(b) {
				b.Run("keys="+SizeName(n), func(b *testing.B) {
					k := instKey{"memory", kind, n}
					r, ok := memResults[k]
					if !ok {
						var err error
						if r, err = measureMemory(b, kind, n); err != nil {
							b.Fatal(err)
						}
						memResults[k] = r
					}
					for i := 0; i < b.N; i++ {
					}
					b.ReportMetric(0, "ns/op")
					b.ReportMetric(r.rss, "rss-B/key")
					b.ReportMetric(r.heap, "heap-B/key")
				})
			}
		})
	}
}

func measureMemory(tb testing.TB, kind string, n int) (memResult, error) {
	dir := tempDir(tb, "memory-"+kind)
	defer os.RemoveAll(dir)
	rss0, heap0, err := Resident()
	if err != nil {
		return memResult{}, err
	}
	s, err := Open(kind, dir, false)
	if err != nil {
		return memResult{}, err
	}
	defer s.Close()
	if err := Load(s, n); err != nil {
		return memResult{}, err
	}
	if err := Verify(s, n, -1); err != nil {
		return memResult{}, err
	}
	rss1, heap1, err := Resident()
	if err != nil {
		return memResult{}, err
	}
	runtime.KeepAlive(s)
	return memResult{
		rss:  (float64(rss1) - float64(rss0)) / float64(n),
		heap: (float64(heap1) - float64(heap0)) / float64(n),
	}, nil
}

// ---- smoke test ---------------------------------------------------------------------------

// TestSmoke checks every adapter on 10k keys: load, reads, missing keys, durable update
// batches, the old-version read path, and the benchmark loops themselves.
func TestSmoke(t *testing.T) {
	const n = 10_000
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			s, err := Open(kind, t.TempDir(), true)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}()
			if err := Load(s, n); err != nil {
				t.Fatal(err)
			}
			if err := Verify(s, n, 0); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := s.Lookup(Key(n)); ok || err != nil {
				t.Fatalf("key %d: found=%v err=%v, want absent", n, ok, err)
			}
			if err := s.GetLoop(Probes(n, 1024, 1), 3000); err != nil {
				t.Fatal(err)
			}
			vs, versioned := s.(Versioned)
			if versioned {
				if err := vs.Mark(); err != nil {
					t.Fatal(err)
				}
			}
			u := NewUpdater(n)
			want := map[string][]byte{}
			for i := 0; i < 3; i++ {
				bt := u.Next(100)
				if err := s.WriteBatch(bt.Keys, bt.Vals, true); err != nil {
					t.Fatal(err)
				}
				for j, k := range bt.Keys {
					want[string(k)] = bt.Vals[j]
				}
			}
			for k, w := range want {
				v, ok, err := s.Lookup([]byte(k))
				if err != nil || !ok || !bytes.Equal(v, w) {
					t.Fatalf("after commit, key %x: got %x, %v, %v; want %x", k, v, ok, err, w)
				}
			}
			if !versioned {
				return
			}
			if err := verifyOld(vs, n); err != nil {
				t.Fatal(err)
			}
			if err := vs.OldGetLoop(Probes(n, 1024, 2), 3000); err != nil {
				t.Fatal(err)
			}
			k := make([]byte, KeySize)
			PutNewKey(k, 0)
			if _, ok, err := vs.OldLookup(k); ok || err != nil {
				t.Fatalf("new key in old version: found=%v err=%v", ok, err)
			}
		})
	}
}
