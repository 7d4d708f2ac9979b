package dbbench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	bolt "go.etcd.io/bbolt"
)

// MapStore is the floor: a Go map[string][]byte, no durability, no versions, no root. It
// copies values, as any store must (callers reuse their buffers).
type MapStore struct{ M map[string][]byte }

func (s *MapStore) Kind() string { return "map" }

func (s *MapStore) WriteBatch(keys, vals [][]byte, _ bool) error {
	for i, k := range keys {
		s.M[string(k)] = bytes.Clone(vals[i])
	}
	return nil
}

func (s *MapStore) Lookup(key []byte) ([]byte, bool, error) {
	v, ok := s.M[string(key)]
	return v, ok, nil
}

func (s *MapStore) Close() error { s.M = nil; return nil }

// PebbleCacheSize is Pebble's block cache.
const PebbleCacheSize = 1 << 30

// PebbleStore is Pebble configured the way go-ethereum does: a 1 GiB block cache, 10-bit
// bloom filters on every level, newest format. Loads are NoSync batches; then the memtable is
// flushed and the harness waits for compactions to finish.
type PebbleStore struct {
	DB   *pebble.DB
	snap *pebble.Snapshot
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Errorf(f string, a ...any) { fmt.Printf("pebble: "+f+"\n", a...) }
func (quietLogger) Fatalf(f string, a ...any) { panic(fmt.Sprintf("pebble: "+f, a...)) }

func openPebble(dir string) (*PebbleStore, error) {
	cache := pebble.NewCache(PebbleCacheSize)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                      cache,
		FormatMajorVersion:         pebble.FormatNewest,
		MemTableSize:               64 << 20,
		CompactionConcurrencyRange: func() (int, int) { return 1, runtime.NumCPU() },
		Logger:                     quietLogger{},
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(filepath.Join(dir, "pebble"), opts)
	if err != nil {
		return nil, err
	}
	return &PebbleStore{DB: db}, nil
}

func (s *PebbleStore) Kind() string { return "pebble" }

func (s *PebbleStore) WriteBatch(keys, vals [][]byte, durable bool) error {
	b := s.DB.NewBatch()
	for i, k := range keys {
		if err := b.Set(k, vals[i], nil); err != nil {
			b.Close()
			return err
		}
	}
	wo := pebble.NoSync
	if durable {
		wo = pebble.Sync
	}
	if err := b.Commit(wo); err != nil {
		b.Close()
		return err
	}
	return b.Close()
}

func (s *PebbleStore) Lookup(key []byte) ([]byte, bool, error) {
	v, c, err := s.DB.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, c.Close()
}

// FlushAndSettle flushes the memtable and waits until no flush or compaction has been running
// for half a second (at most two minutes), so benchmarks do not race background work.
func (s *PebbleStore) FlushAndSettle() error {
	if err := s.DB.Flush(); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	quiet := 0
	for quiet < 5 && time.Now().Before(deadline) {
		m := s.DB.Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func (s *PebbleStore) Close() error {
	if s.snap != nil {
		s.snap.Close()
	}
	return s.DB.Close()
}

// BoltBucket is the single bucket holding the bbolt key set.
var BoltBucket = []byte("kv")

// BoltStore is bbolt with etcd's settings (hashmap freelist, freelist not synced). Loads run
// with DB.NoSync set; durable batches clear it so Commit fsyncs.
type BoltStore struct{ DB *bolt.DB }

func openBolt(dir string) (*BoltStore, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(BoltBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &BoltStore{DB: db}, nil
}

func (s *BoltStore) Kind() string { return "bbolt" }

func (s *BoltStore) WriteBatch(keys, vals [][]byte, durable bool) error {
	s.DB.NoSync = !durable
	return s.DB.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BoltBucket)
		for i, k := range keys {
			if err := b.Put(k, vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *BoltStore) Lookup(key []byte) (out []byte, ok bool, err error) {
	err = s.DB.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(BoltBucket).Get(key); v != nil {
			out, ok = append([]byte(nil), v...), true
		}
		return nil
	})
	return out, ok, err
}

func (s *BoltStore) Close() error { return s.DB.Close() }

func (s *MapStore) GetLoop(probes []byte, n int) error {
	mask, m := probeMask(probes), s.M
	var x byte
	for i := 0; i < n; i++ {
		o := (i & mask) * KeySize
		k := probes[o : o+KeySize]
		v, ok := m[string(k)]
		if !ok {
			return errMissing("map", k)
		}
		x ^= v[0]
	}
	Sink = x
	return nil
}

func (s *PebbleStore) GetLoop(probes []byte, n int) error {
	return pebbleLoop(s.DB.Get, probes, n)
}

func pebbleLoop(get func([]byte) ([]byte, io.Closer, error), probes []byte, n int) error {
	mask := probeMask(probes)
	var x byte
	for i := 0; i < n; i++ {
		o := (i & mask) * KeySize
		k := probes[o : o+KeySize]
		v, c, err := get(k)
		if err != nil {
			return fmt.Errorf("pebble: get %x: %w", k, err)
		}
		x ^= v[0]
		c.Close()
	}
	Sink = x
	return nil
}

// Mark takes a Pebble snapshot; OldGetLoop reads through it.
func (s *PebbleStore) Mark() error {
	if s.snap != nil {
		s.snap.Close()
	}
	s.snap = s.DB.NewSnapshot()
	return nil
}

func (s *PebbleStore) OldLookup(key []byte) ([]byte, bool, error) {
	v, c, err := s.snap.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, c.Close()
}

func (s *PebbleStore) OldGetLoop(probes []byte, n int) error {
	return pebbleLoop(s.snap.Get, probes, n)
}

// GetLoop runs inside one read transaction, which is how bbolt serves hot reads.
func (s *BoltStore) GetLoop(probes []byte, n int) error {
	mask := probeMask(probes)
	return s.DB.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(BoltBucket)
		var x byte
		for i := 0; i < n; i++ {
			o := (i & mask) * KeySize
			k := probes[o : o+KeySize]
			v := b.Get(k)
			if v == nil {
				return errMissing("bbolt", k)
			}
			x ^= v[0]
		}
		Sink = x
		return nil
	})
}
