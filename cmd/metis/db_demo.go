package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/metisdb"
)

type demoConfig struct {
	dir   string
	keys  int
	batch int
	seed  uint64
}

func newDBDemoCmd() *cobra.Command {
	var cfg demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Write, read, prove, prune and reopen a million keys, timing each step",
		Long: `Demo runs MetisDB end to end and times each step:

  write    --keys random 32-byte keys with random 32-byte values, --batch per version;
           each version is one Commit, durable when it returns (two fdatasyncs)
  read     random Gets at the latest version, then Gets at the first version through
           a Snapshot, which still sees the store as it was (MVCC)
  prove    a Merkle proof that one key holds its value and one that another key is
           absent, each checked with VerifyProof against the root alone
  prune    drops every version below the latest; the first version is gone
  reopen   closes and opens the store again: Open checks every record's checksum and
           recomputes the root, which must equal the one before

The database lives in a temporary directory removed at exit, or in --dir, which is kept
(run 'metis db info', 'get' or 'proof' on it afterwards). Keys come from --seed, so the
same flags give the same roots on every machine. Ctrl-C stops between versions.`,
		Example: `  metis db demo
  metis db demo --keys 100000 --batch 1000
  metis db demo --dir ./demo.db && metis db info ./demo.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.keys < 1 || cfg.batch < 1 {
				return fmt.Errorf("--keys and --batch must be at least 1")
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.dir, "dir", "", "keep the database in this directory (default: a temporary one, removed at exit)")
	f.IntVar(&cfg.keys, "keys", 1_000_000, "number of keys to write")
	f.IntVar(&cfg.batch, "batch", 10_000, "keys per version (per Commit)")
	f.Uint64Var(&cfg.seed, "seed", 1, "seed for the random keys and values")
	return cmd
}

const demoKV = 32 // bytes per key and per value

func runDemo(ctx context.Context, w io.Writer, cfg demoConfig) (err error) {
	total := time.Now()
	dir, where := cfg.dir, cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "metis-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		where = dir + " (removed at exit; keep it with --dir)"
	}
	fmt.Fprintf(w, "MetisDB demo: %s random %d-byte keys and values, %s per version\n",
		commas(int64(cfg.keys)), demoKV, commas(int64(cfg.batch)))
	fmt.Fprintf(w, "directory   %s\n", where)

	// Keys and values, generated before any timing: slab[i*64:] is key i, then its value.
	slab := make([]byte, cfg.keys*2*demoKV)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], cfg.seed)
	chacha := rand.NewChaCha8(seed)
	_, _ = chacha.Read(slab)
	key := func(i int) []byte { return slab[i*2*demoKV : i*2*demoKV+demoKV] }
	val := func(i int) []byte { return slab[i*2*demoKV+demoKV : (i+1)*2*demoKV] }
	rng := rand.New(chacha)

	db, err := metisdb.Open(dir, &metisdb.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	if v := db.Version(); v > 0 {
		fmt.Fprintf(w, "existing    version %d, root %s: writing on top of it\n", v, db.Root())
	}

	// 1. Write: one durable Commit per batch.
	fmt.Fprintf(w, "\nwrite: each version is one Commit, durable when it returns\n")
	batches := (cfg.keys + cfg.batch - 1) / cfg.batch
	every := max(1, batches/10)
	first := db.Version() + 1
	writeStart := time.Now()
	stretch, stretchKeys := writeStart, 0
	for b := range batches {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after version %d", db.Version())
		}
		lo, hi := b*cfg.batch, min(cfg.keys, (b+1)*cfg.batch)
		for i := lo; i < hi; i++ {
			if err := db.Set(key(i), val(i)); err != nil {
				return err
			}
		}
		v, root, err := db.Commit()
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		stretchKeys += hi - lo
		if (b+1)%every == 0 || b == batches-1 {
			now := time.Now()
			fmt.Fprintf(w, "  %3d%%  version %*d  %*s keys  root %s…  %9s updates/s\n",
				100*hi/cfg.keys, digits(first+uint64(batches)-1), v, len(commas(int64(cfg.keys))),
				commas(int64(hi)), root.String()[:12], commas(int64(perSec(stretchKeys, now.Sub(stretch)))))
			stretch, stretchKeys = now, 0
		}
	}
	writeTime := time.Since(writeStart)
	last := db.Version()
	root := db.Root()
	writeRate := perSec(cfg.keys, writeTime)
	fmt.Fprintf(w, "  %s keys in %d versions in %s: %s updates/s\n",
		commas(int64(cfg.keys)), batches, round(writeTime), commas(int64(writeRate)))

	// 2. Read: random Gets at the latest version, then at the first through a Snapshot.
	fmt.Fprintf(w, "\nread\n")
	const gets = 1_000_000
	idx := make([]int32, gets)
	for i := range idx {
		idx[i] = int32(rng.IntN(cfg.keys))
	}
	t := time.Now()
	for n, i := range idx {
		if n%(1<<16) == 0 && ctx.Err() != nil {
			return errors.New("interrupted")
		}
		got, err := db.Get(key(int(i)))
		if err != nil {
			return fmt.Errorf("get key %d: %w", i, err)
		}
		if !bytes.Equal(got, val(int(i))) {
			return fmt.Errorf("get key %d: wrong value %x", i, got)
		}
	}
	getNs := nsPerOp(time.Since(t), gets)
	fmt.Fprintf(w, "  %-28s %9s gets  %5.0f ns/op  every value as written\n",
		"Get, latest version", commas(gets), getNs)

	snap, err := db.Snapshot(first)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", first, err)
	}
	snapGets := min(gets, 100_000)
	firstBatch := min(cfg.batch, cfg.keys)
	present := 0
	t = time.Now()
	for _, i := range idx[:snapGets] {
		got, err := snap.Get(key(int(i)))
		switch {
		case int(i) < firstBatch && err == nil && bytes.Equal(got, val(int(i))):
			present++
		case int(i) >= firstBatch && errors.Is(err, metisdb.ErrNotFound):
		default:
			return fmt.Errorf("version %d: key %d: got %x, %v", first, i, got, err)
		}
	}
	snapNs := nsPerOp(time.Since(t), snapGets)
	fmt.Fprintf(w, "  %-28s %9s gets  %5.0f ns/op  %s present, %s absent, as at version %d\n",
		fmt.Sprintf("Get, version %d via Snapshot", first), commas(int64(snapGets)), snapNs, commas(int64(present)), commas(int64(snapGets-present)), first)

	// 3. Prove: inclusion of a present key, absence of a new one, both checked against the root.
	fmt.Fprintf(w, "\nprove at version %d, root %s\n", last, root)
	in := key(rng.IntN(cfg.keys))
	inValue, err := db.Get(in)
	if err != nil {
		return err
	}
	out := make([]byte, demoKV)
	_, _ = chacha.Read(out)
	inSize, err := demoProof(w, db, root, "present", in, inValue)
	if err != nil {
		return err
	}
	if _, err := demoProof(w, db, root, "absent", out, nil); err != nil {
		return err
	}

	// 4. Prune every version below the latest.
	fmt.Fprintf(w, "\nprune\n")
	if err := db.Prune(last); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	_, err = db.Snapshot(first)
	if first < last && !errors.Is(err, metisdb.ErrPruned) {
		return fmt.Errorf("snapshot %d after pruning: got %v, want %v", first, err, metisdb.ErrPruned)
	}
	fmt.Fprintf(w, "  Prune(%d): oldest version now %d", last, db.Oldest())
	if first < last {
		fmt.Fprintf(w, "; Snapshot(%d) now fails: %v", first, err)
	}
	fmt.Fprintln(w)

	// 5. Reopen: Open validates the whole file and recomputes the root.
	fmt.Fprintf(w, "\nreopen\n")
	err = db.Close()
	db = nil
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	t = time.Now()
	if db, err = metisdb.Open(dir, &metisdb.Options{}); err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	openTime := time.Since(t)
	if db.Version() != last || db.Root() != root || db.Oldest() != last {
		return fmt.Errorf("reopened at version %d (oldest %d), root %s; want %d (oldest %d), %s",
			db.Version(), db.Oldest(), db.Root(), last, last, root)
	}
	st := db.Stats()
	fmt.Fprintf(w, "  Open took %s (every checksum checked, root recomputed): version %d, oldest %d, root as before\n",
		round(openTime), db.Version(), db.Oldest())
	fmt.Fprintf(w, "  %s: %s for %s keys\n", filepath.Join(dir, metisdb.DataFile), size(st.FileBytes), commas(int64(st.Keys)))

	fmt.Fprintf(w, "\nOK: %s keys in %d durable versions at %s updates/s; Get %.0f ns; %d-byte proof verified; reopened in %s; total %s\n",
		commas(int64(cfg.keys)), batches, commas(int64(writeRate)), getNs, inSize, round(openTime), round(time.Since(total)))
	return nil
}

// demoProof builds the proof of key at the latest version, prints it and checks it with
// VerifyProof. For a present key it also checks that a changed value is rejected.
func demoProof(w io.Writer, db *metisdb.DB, root metisdb.Hash, label string, key, value []byte) (int, error) {
	t := time.Now()
	p, err := db.Proof(key, db.Version())
	if err != nil {
		return 0, fmt.Errorf("proof: %w", err)
	}
	enc, err := p.MarshalBinary()
	if err != nil {
		return 0, err
	}
	built := time.Since(t)
	if err := metisdb.VerifyProof(root, key, value, p); err != nil {
		return 0, fmt.Errorf("%s key: %w", label, err)
	}
	kind, extra := "absence  ", ""
	if value != nil {
		kind = "inclusion"
		changed := append([]byte{}, value...)
		changed[0] ^= 1
		if metisdb.VerifyProof(root, key, changed, p) == nil {
			return 0, errors.New("proof verified a changed value")
		}
		extra = "; with a changed value: rejected"
	}
	fmt.Fprintf(w, "  %-7s key 0x%x…  %s  depth %3d  %5s bytes  built in %-7s verified%s\n",
		label, key[:6], kind, len(p.Siblings), commas(int64(len(enc))), round(built), extra)
	return len(enc), nil
}

func perSec(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func nsPerOp(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }

// round shortens a duration for display: 3 significant digits or so.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(100 * time.Nanosecond)
	}
}

func digits(v uint64) int { return len(fmt.Sprint(v)) }
