package dbbench

import (
	"errors"
	"fmt"

	"github.com/metisgo/metis/chain/metisdb"
)

// MetisStore is MetisDB. Instances for the Commit benchmark are opened with sync on (the real
// contract); the others with NoSync, which only changes Commit.
type MetisStore struct {
	DB  *metisdb.DB
	old uint64 // version remembered by Mark
}

func openMetis(dir string, durable bool) (*MetisStore, error) {
	db, err := metisdb.Open(dir, &metisdb.Options{NoSync: !durable})
	if err != nil {
		return nil, err
	}
	return &MetisStore{DB: db}, nil
}

func (s *MetisStore) Kind() string { return "metisdb" }

func (s *MetisStore) WriteBatch(keys, vals [][]byte, _ bool) error {
	for i, k := range keys {
		if err := s.DB.Set(k, vals[i]); err != nil {
			return err
		}
	}
	_, _, err := s.DB.Commit()
	return err
}

func (s *MetisStore) Lookup(key []byte) ([]byte, bool, error) {
	v, err := s.DB.Get(key)
	if errors.Is(err, metisdb.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return append([]byte(nil), v...), true, nil
}

func (s *MetisStore) Close() error { return s.DB.Close() }

func (s *MetisStore) GetLoop(probes []byte, n int) error {
	mask, db := probeMask(probes), s.DB
	var x byte
	for i := 0; i < n; i++ {
		o := (i & mask) * KeySize
		k := probes[o : o+KeySize]
		v, err := db.Get(k)
		if err != nil {
			return fmt.Errorf("metisdb: get %x: %w", k, err)
		}
		x ^= v[0]
	}
	Sink = x
	return nil
}

// Mark remembers the current version; OldGetLoop reads it through a Snapshot.
func (s *MetisStore) Mark() error { s.old = s.DB.Version(); return nil }

func (s *MetisStore) OldLookup(key []byte) ([]byte, bool, error) {
	snap, err := s.DB.Snapshot(s.old)
	if err != nil {
		return nil, false, err
	}
	v, err := snap.Get(key)
	if errors.Is(err, metisdb.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return append([]byte(nil), v...), true, nil
}

func (s *MetisStore) OldGetLoop(probes []byte, n int) error {
	snap, err := s.DB.Snapshot(s.old)
	if err != nil {
		return err
	}
	mask := probeMask(probes)
	var x byte
	for i := 0; i < n; i++ {
		o := (i & mask) * KeySize
		k := probes[o : o+KeySize]
		v, err := snap.Get(k)
		if err != nil {
			return fmt.Errorf("metisdb: snapshot %d get %x: %w", s.old, k, err)
		}
		x ^= v[0]
	}
	Sink = x
	return nil
}
