package metisdb_test

// Model-based randomized test: random Set/Delete/Commit/Discard/Get/Snapshot/Prune/Proof/reopen
// operations are checked against a reference map of every committed version, with Merkle roots
// recomputed by an independent, deliberately simple implementation (mdlRoot) that uses
// crypto/sha256 directly and nothing from the package under test.
//
// Reproduce a failure with METISDB_MODEL_SEED=<seed> go test -run TestModelRandomized ./chain/metisdb/

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metisgo/metis/chain/metisdb"
)

// ---------------------------------------------------------------------------------------------
// The independent reference Merkle root.

type mdlPair struct{ kh, vh [32]byte }

// mdlRoot is the root of the binary sparse Merkle tree over m, computed the slow, obvious way:
// empty set -> 32 zero bytes; one key -> sha256(0x00‖kh‖vh); otherwise
// sha256(0x01‖root(keys whose bit depth is 0)‖root(keys whose bit depth is 1)), MSB first.
func mdlRoot(m map[string]string) metisdb.Hash {
	pairs := make([]mdlPair, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, mdlPair{sha256.Sum256([]byte(k)), sha256.Sum256([]byte(v))})
	}
	sort.Slice(pairs, func(i, j int) bool { return bytes.Compare(pairs[i].kh[:], pairs[j].kh[:]) < 0 })
	return metisdb.Hash(mdlSubtree(pairs, 0))
}

func mdlBit(h [32]byte, depth int) int { return int(h[depth/8]>>(7-depth%8)) & 1 }

func mdlSubtree(pairs []mdlPair, depth int) [32]byte {
	switch len(pairs) {
	case 0:
		return [32]byte{}
	case 1:
		var pre []byte
		pre = append(pre, 0x00)
		pre = append(pre, pairs[0].kh[:]...)
		pre = append(pre, pairs[0].vh[:]...)
		return sha256.Sum256(pre)
	}
	var left, right []mdlPair
	for _, p := range pairs {
		if mdlBit(p.kh, depth) == 0 {
			left = append(left, p)
		} else {
			right = append(right, p)
		}
	}
	l := mdlSubtree(left, depth+1)
	r := mdlSubtree(right, depth+1)
	var pre []byte
	pre = append(pre, 0x01)
	pre = append(pre, l[:]...)
	pre = append(pre, r[:]...)
	return sha256.Sum256(pre)
}

// TestModelRefRoot pins a few properties of the reference root itself, so that a root mismatch in
// the model test can be blamed on the right side.
func TestModelRefRoot(t *testing.T) {
	if got := mdlRoot(nil); got != metisdb.EmptyRoot {
		t.Fatalf("empty root = %x", got)
	}
	kh, vh := sha256.Sum256([]byte("k")), sha256.Sum256([]byte("v"))
	want := sha256.Sum256(append(append([]byte{0}, kh[:]...), vh[:]...))
	if got := mdlRoot(map[string]string{"k": "v"}); got != metisdb.Hash(want) {
		t.Fatalf("single-key root = %x, want %x", got, want)
	}
	// Two keys whose hashes differ in bit 0 hang directly off the root.
	var a, b string
	for i := 0; a == "" || b == ""; i++ {
		k := "two" + strconv.Itoa(i)
		h := sha256.Sum256([]byte(k))
		if mdlBit(h, 0) == 0 && a == "" {
			a = k
		} else if mdlBit(h, 0) == 1 && b == "" {
			b = k
		}
	}
	la, lb := mdlRoot(map[string]string{a: "x"}), mdlRoot(map[string]string{b: "y"})
	want = sha256.Sum256(append(append([]byte{1}, la[:]...), lb[:]...))
	if got := mdlRoot(map[string]string{a: "x", b: "y"}); got != metisdb.Hash(want) {
		t.Fatalf("two-key root = %x, want %x", got, want)
	}
}

// ---------------------------------------------------------------------------------------------
// Shared helpers (also used by the crash, error and concurrency tests).

type mdlKV struct{ k, v string }

// mdlExpect returns the entries of m with start <= key < end (nil bounds are open), sorted.
func mdlExpect(m map[string]string, start, end []byte) []mdlKV {
	var out []mdlKV
	for k, v := range m {
		if start != nil && k < string(start) {
			continue
		}
		if end != nil && k >= string(end) {
			continue
		}
		out = append(out, mdlKV{k, v})
	}
	slices.SortFunc(out, func(a, b mdlKV) int { return bytes.Compare([]byte(a.k), []byte(b.k)) })
	return out
}

// mdlCollect drains an iterator, copying keys and values.
func mdlCollect(it *metisdb.Iterator) ([]mdlKV, error) {
	defer it.Close()
	var out []mdlKV
	for it.Next() {
		out = append(out, mdlKV{string(it.Key()), string(it.Value())})
	}
	if it.Next() {
		return out, errors.New("Next returned true after returning false")
	}
	return out, it.Err()
}

// mdlCheckRange iterates snap over [start,end) and compares with m.
func mdlCheckRange(snap *metisdb.Snapshot, m map[string]string, start, end []byte) error {
	it, err := snap.Iterator(start, end)
	if err != nil {
		return fmt.Errorf("Iterator(%s, %s) at version %d: %w", mdlBound(start), mdlBound(end), snap.Version(), err)
	}
	got, err := mdlCollect(it)
	if err != nil {
		return fmt.Errorf("iterating [%s, %s) at version %d: %w", mdlBound(start), mdlBound(end), snap.Version(), err)
	}
	return mdlDiff(got, mdlExpect(m, start, end), fmt.Sprintf("iterator [%s, %s) at version %d", mdlBound(start), mdlBound(end), snap.Version()))
}

func mdlBound(b []byte) string {
	if b == nil {
		return "nil"
	}
	return strconv.Quote(string(b))
}

func mdlDiff(got, want []mdlKV, what string) error {
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			return fmt.Errorf("%s: ends after %d entries, want %d; next wanted key %q", what, len(got), len(want), want[i].k)
		case i >= len(want):
			return fmt.Errorf("%s: %d entries, want %d; extra key %q", what, len(got), len(want), got[i].k)
		case got[i].k != want[i].k:
			return fmt.Errorf("%s: entry %d key %q, want %q", what, i, got[i].k, want[i].k)
		case got[i].v != want[i].v:
			return fmt.Errorf("%s: key %q value %s, want %s", what, got[i].k, mdlShort(got[i].v), mdlShort(want[i].v))
		}
	}
	return nil
}

// mdlCheckGet compares a Get-style result with the reference.
func mdlCheckGet(what string, got []byte, err error, m map[string]string, key string) error {
	want, ok := m[key]
	switch {
	case !ok && !errors.Is(err, metisdb.ErrNotFound):
		return fmt.Errorf("%s(%q): got (%s, %v), want ErrNotFound", what, key, mdlShort(string(got)), err)
	case ok && err != nil:
		return fmt.Errorf("%s(%q): error %v, want %s", what, key, err, mdlShort(want))
	case ok && string(got) != want:
		return fmt.Errorf("%s(%q) = %s, want %s", what, key, mdlShort(string(got)), mdlShort(want))
	}
	return nil
}

func mdlShort(s string) string {
	if len(s) <= 24 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q...(%d bytes)", s[:24], len(s))
}

// mdlCheckProof fetches nothing: it verifies p for key at root against the reference map m and
// checks that the wrong claims are refused.
func mdlCheckProof(p *metisdb.Proof, root metisdb.Hash, m map[string]string, key string) error {
	val, present := m[key]
	var claim []byte // nil claims absence
	if present {
		claim = append([]byte{}, val...) // non-nil even when empty
	}
	if err := metisdb.VerifyProof(root, []byte(key), claim, p); err != nil {
		return fmt.Errorf("proof for %q (present=%v) does not verify: %v", key, present, err)
	}
	enc, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("MarshalBinary: %v", err)
	}
	var q metisdb.Proof
	if err := q.UnmarshalBinary(enc); err != nil {
		return fmt.Errorf("UnmarshalBinary of own encoding: %v", err)
	}
	if err := metisdb.VerifyProof(root, []byte(key), claim, &q); err != nil {
		return fmt.Errorf("decoded proof for %q does not verify: %v", key, err)
	}
	if present {
		if err := metisdb.VerifyProof(root, []byte(key), nil, p); err == nil {
			return fmt.Errorf("proof for present key %q verifies as absence", key)
		}
		if err := metisdb.VerifyProof(root, []byte(key), append([]byte(val), 'x'), p); err == nil {
			return fmt.Errorf("proof for %q verifies with a wrong value", key)
		}
	} else {
		if err := metisdb.VerifyProof(root, []byte(key), []byte{}, p); err == nil {
			return fmt.Errorf("absence proof for %q verifies as presence of an empty value", key)
		}
		if err := metisdb.VerifyProof(root, []byte(key), []byte("v"), p); err == nil {
			return fmt.Errorf("absence proof for %q verifies as presence", key)
		}
	}
	if err := metisdb.VerifyProof(root, []byte(key+"\x00other"), claim, p); err == nil && claim != nil {
		return fmt.Errorf("proof for %q verifies for another key", key)
	}
	wrongRoot := root
	wrongRoot[31] ^= 1
	if err := metisdb.VerifyProof(wrongRoot, []byte(key), claim, p); err == nil {
		return fmt.Errorf("proof for %q verifies under a wrong root", key)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// The model.

type mdlOp struct {
	key, val string
	del      bool
}

type mdlHeld struct {
	snap    *metisdb.Snapshot
	version uint64
}

type mdl struct {
	t       *testing.T
	seed    uint64
	step    int
	r       *rand.Rand
	dir     string
	opts    *metisdb.Options
	db      *metisdb.DB
	keys    []string
	refs    map[uint64]map[string]string // every retained committed version
	roots   map[uint64]metisdb.Hash
	latest  uint64
	oldest  uint64
	pending []mdlOp
	held    []mdlHeld
	live    []mdlLive // uncopied slices returned by reads: valid until Close, through remaps
	counts  map[string]int
}

type mdlLive struct {
	b    []byte
	want string
	what string
}

func (m *mdl) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("seed %d (rerun with METISDB_MODEL_SEED=%d), step %d, latest version %d: %s",
		m.seed, m.seed, m.step, m.latest, fmt.Sprintf(format, args...))
}

// keepLive remembers an uncopied value slice; checkLive verifies that all still hold their
// value (Get's result must stay valid until Close, even after the file grew and was remapped).
func (m *mdl) keepLive(b []byte, what string) {
	m.live = append(m.live, mdlLive{b, string(b), what})
	if len(m.live) > 16 {
		m.live = m.live[1:]
	}
}

func (m *mdl) checkLive() {
	m.t.Helper()
	for _, l := range m.live {
		if string(l.b) != l.want {
			m.fatalf("value slice from %s changed to %s before Close (was %s)", l.what, mdlShort(string(l.b)), mdlShort(l.want))
		}
	}
}

func (m *mdl) check(err error) {
	m.t.Helper()
	if err != nil {
		m.fatalf("%v", err)
	}
}

// mdlKeySpace builds ~200 keys: decimal names with prefix relations ("k1" < "k10" < "k100" <
// "k11"), random binary keys (0x00 and 0xff bytes included), and a few edge keys.
func mdlKeySpace(r *rand.Rand) []string {
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i := 0; i < 150; i++ {
		add("k" + strconv.Itoa(i))
	}
	add("\x00")
	add("\x00\x00")
	add("\xff")
	add("\xff\xff\xff")
	add("k")
	add(string(bytes.Repeat([]byte{'L'}, metisdb.MaxKeySize)))
	add(string(bytes.Repeat([]byte{'m'}, 300)))
	for len(keys) < 200 {
		b := make([]byte, 1+r.IntN(16))
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = 0
			case 1:
				b[i] = 0xff
			default:
				b[i] = byte(r.Uint32())
			}
		}
		add(string(b))
	}
	return keys
}

func (m *mdl) pickKey() string { return m.keys[m.r.IntN(len(m.keys))] }

// pickAny returns a key of the key space or one that is never written.
func (m *mdl) pickAny() string {
	if m.r.IntN(4) == 0 {
		return "never-" + strconv.Itoa(m.r.IntN(1000000))
	}
	return m.pickKey()
}

func (m *mdl) randValue() string {
	switch x := m.r.IntN(100); {
	case x < 4:
		return ""
	case x < 5:
		n := 64<<10 + m.r.IntN(512)
		b := make([]byte, n)
		for i := 0; i < n; i += 8 {
			v := m.r.Uint64()
			for j := 0; j < 8 && i+j < n; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return string(b)
	default:
		b := make([]byte, 1+m.r.IntN(64))
		for i := range b {
			b[i] = byte(m.r.Uint32())
		}
		return string(b)
	}
}

func (m *mdl) pickVersion() uint64 { return m.oldest + uint64(m.r.IntN(int(m.latest-m.oldest+1))) }

func (m *mdl) open() {
	db, err := metisdb.Open(m.dir, m.opts)
	if err != nil {
		m.fatalf("Open: %v", err)
	}
	m.db = db
}

func runModel(t *testing.T, seed uint64, steps int, opts *metisdb.Options) {
	t.Logf("seed %d (override with METISDB_MODEL_SEED), %d steps", seed, steps)
	m := &mdl{
		t:      t,
		seed:   seed,
		r:      rand.New(rand.NewPCG(seed, 0x6d6f64656c)),
		dir:    t.TempDir(),
		opts:   opts,
		refs:   map[uint64]map[string]string{0: {}},
		roots:  map[uint64]metisdb.Hash{0: metisdb.EmptyRoot},
		counts: map[string]int{},
	}
	m.keys = mdlKeySpace(m.r)
	m.open()
	defer func() {
		if m.db != nil {
			m.db.Close()
		}
	}()
	if v, o, root := m.db.Version(), m.db.Oldest(), m.db.Root(); v != 0 || o != 0 || root != metisdb.EmptyRoot {
		m.fatalf("fresh store: Version %d, Oldest %d, Root %s; want 0, 0, EmptyRoot", v, o, root)
	}
	type op struct {
		name   string
		weight int
		fn     func()
	}
	ops := []op{
		{"set", 34, m.opSet},
		{"delete", 10, m.opDelete},
		{"commit", 12, m.opCommit},
		{"discard", 2, m.opDiscard},
		{"get", 10, m.opGet},
		{"snapshot", 7, m.opSnapshot},
		{"held", 4, m.opHeld},
		{"prune", 2, m.opPrune},
		{"proof", 10, m.opProof},
		{"reopen", 1, m.opReopen},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	for m.step = 0; m.step < steps; m.step++ {
		x := m.r.IntN(total)
		for _, o := range ops {
			if x < o.weight {
				m.counts[o.name]++
				o.fn()
				break
			}
			x -= o.weight
		}
	}
	// Finish: commit what is staged, reopen, and check every retained version in full.
	m.opCommit()
	m.opReopen()
	for v := m.oldest; v <= m.latest; v++ {
		m.checkSnapshotFull(v)
	}
	t.Logf("ops %v; final version %d, oldest %d, %d keys", m.counts, m.latest, m.oldest, len(m.refs[m.latest]))
}

func (m *mdl) opSet() {
	key, val := m.pickKey(), m.randValue()
	kb, vb := []byte(key), []byte(val)
	if val == "" && m.r.IntN(2) == 0 {
		vb = nil // a nil value is an empty value, not a delete
	}
	if err := m.db.Set(kb, vb); err != nil {
		m.fatalf("Set(%q): %v", key, err)
	}
	// Set must have copied: scribbling on the caller's buffers must not change what is stored.
	for i := range kb {
		kb[i] ^= 0xa5
	}
	for i := range vb {
		vb[i] ^= 0xa5
	}
	m.pending = append(m.pending, mdlOp{key: key, val: val})
}

func (m *mdl) opDelete() {
	var key string
	if cur := m.refs[m.latest]; len(cur) > 0 && m.r.IntN(3) != 0 {
		// A key present at the latest version (map order is random; pick deterministically).
		ks := slices.Sorted(maps.Keys(cur))
		key = ks[m.r.IntN(len(ks))]
	} else {
		key = m.pickAny()
	}
	if err := m.db.Delete([]byte(key)); err != nil {
		m.fatalf("Delete(%q): %v", key, err)
	}
	m.pending = append(m.pending, mdlOp{key: key, del: true})
}

func (m *mdl) opDiscard() {
	m.db.Discard()
	m.pending = nil
}

func (m *mdl) opCommit() {
	next := maps.Clone(m.refs[m.latest])
	for _, o := range m.pending {
		if o.del {
			delete(next, o.key)
		} else {
			next[o.key] = o.val
		}
	}
	v, root, err := m.db.Commit()
	if err != nil {
		m.fatalf("Commit: %v", err)
	}
	if v != m.latest+1 {
		m.fatalf("Commit returned version %d, want %d", v, m.latest+1)
	}
	want := mdlRoot(next)
	if root != want {
		m.fatalf("Commit of version %d (%d staged ops, %d keys) returned root %s, reference root %s",
			v, len(m.pending), len(next), root, want)
	}
	m.latest = v
	m.refs[v] = next
	m.roots[v] = root
	if dv, dr := m.db.Version(), m.db.Root(); dv != v || dr != root {
		m.fatalf("after Commit: Version %d Root %s, want %d %s", dv, dr, v, root)
	}
	// The writes of the batch are visible now.
	for i, o := range m.pending {
		if i >= 5 {
			break
		}
		got, err := m.db.Get([]byte(o.key))
		m.check(mdlCheckGet("Get after Commit", got, err, next, o.key))
	}
	m.pending = nil
	m.checkLive()
}

func (m *mdl) opGet() {
	key := m.pickAny()
	if len(m.pending) > 0 && m.r.IntN(2) == 0 {
		key = m.pending[m.r.IntN(len(m.pending))].key // staged writes must stay invisible
	}
	got, err := m.db.Get([]byte(key))
	m.check(mdlCheckGet("Get", got, err, m.refs[m.latest], key))
	if err == nil && len(got) > 0 {
		m.keepLive(got, fmt.Sprintf("Get(%q) at version %d", key, m.latest))
	}
	if m.r.IntN(4) == 0 {
		if v, root, o := m.db.Version(), m.db.Root(), m.db.Oldest(); v != m.latest || root != m.roots[m.latest] || o != m.oldest {
			m.fatalf("Version/Root/Oldest = %d/%s/%d, want %d/%s/%d", v, root, o, m.latest, m.roots[m.latest], m.oldest)
		}
	}
}

func (m *mdl) randBound() []byte {
	switch m.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return []byte{byte(m.r.Uint32())}
	case 2:
		return []byte(m.pickKey() + "\x00")
	default:
		return []byte(m.pickKey())
	}
}

// checkSnapshot checks a snapshot of version v: sampled Gets, a full iteration and a random range.
func (m *mdl) checkSnapshot(s *metisdb.Snapshot, v uint64, full bool) {
	ref := m.refs[v]
	if s.Version() != v || s.Root() != m.roots[v] {
		m.fatalf("snapshot Version/Root = %d/%s, want %d/%s", s.Version(), s.Root(), v, m.roots[v])
	}
	for i := 0; i < 12; i++ {
		key := m.pickAny()
		got, err := s.Get([]byte(key))
		m.check(mdlCheckGet(fmt.Sprintf("Snapshot(%d).Get", v), got, err, ref, key))
		if i == 0 && err == nil && len(got) > 0 {
			m.keepLive(got, fmt.Sprintf("Snapshot(%d).Get(%q)", v, key))
		}
	}
	if full {
		m.check(mdlCheckRange(s, ref, nil, nil))
	}
	start, end := m.randBound(), m.randBound()
	if start != nil && end != nil && bytes.Compare(start, end) > 0 {
		start, end = end, start
	}
	m.check(mdlCheckRange(s, ref, start, end))
	// An iterator abandoned half way must be closable.
	if it, err := s.Iterator(nil, nil); err == nil {
		it.Next()
		it.Close()
	} else {
		m.fatalf("Iterator: %v", err)
	}
}

func (m *mdl) checkSnapshotFull(v uint64) {
	s, err := m.db.Snapshot(v)
	if err != nil {
		m.fatalf("Snapshot(%d) with oldest %d: %v", v, m.oldest, err)
	}
	m.checkSnapshot(s, v, true)
}

func (m *mdl) opSnapshot() {
	v := m.pickVersion()
	s, err := m.db.Snapshot(v)
	if err != nil {
		m.fatalf("Snapshot(%d) with oldest %d: %v", v, m.oldest, err)
	}
	m.checkSnapshot(s, v, true)
	if m.r.IntN(3) == 0 {
		m.held = append(m.held, mdlHeld{s, v})
		if len(m.held) > 8 {
			m.held = m.held[1:]
		}
	}
}

// checkPrunedSnapshot checks that every read through s gives ErrPruned.
func (m *mdl) checkPrunedSnapshot(s *metisdb.Snapshot, want error) {
	key := m.pickKey()
	if _, err := s.Get([]byte(key)); !errors.Is(err, want) {
		m.fatalf("Snapshot(%d).Get after pruning below %d (or closing): %v, want %v", s.Version(), m.oldest, err, want)
	}
	it, err := s.Iterator(nil, nil)
	if err == nil {
		for it.Next() {
		}
		err = it.Err()
		it.Close()
	}
	if !errors.Is(err, want) {
		m.fatalf("Snapshot(%d).Iterator after pruning below %d (or closing): %v, want %v", s.Version(), m.oldest, err, want)
	}
	if _, err := s.Proof([]byte(key)); !errors.Is(err, want) {
		m.fatalf("Snapshot(%d).Proof after pruning below %d (or closing): %v, want %v", s.Version(), m.oldest, err, want)
	}
}

func (m *mdl) opHeld() {
	if len(m.held) == 0 {
		return
	}
	h := m.held[m.r.IntN(len(m.held))]
	if h.version < m.oldest {
		m.checkPrunedSnapshot(h.snap, metisdb.ErrPruned)
		return
	}
	m.checkSnapshot(h.snap, h.version, m.r.IntN(2) == 0)
}

func (m *mdl) opPrune() {
	if m.r.IntN(8) == 0 {
		if err := m.db.Prune(m.latest + 1 + uint64(m.r.IntN(3))); !errors.Is(err, metisdb.ErrUnknownVersion) {
			m.fatalf("Prune above the latest version: %v, want ErrUnknownVersion", err)
		}
		return
	}
	// Prune into the older half of the retained window, so that many old versions stay readable.
	below := m.oldest + uint64(m.r.IntN(int((m.latest-m.oldest)/2+1)))
	// Keep a snapshot taken before the prune, of a version the prune will drop.
	var before *mdlHeld
	if below > m.oldest {
		v := m.oldest + uint64(m.r.IntN(int(below-m.oldest)))
		s, err := m.db.Snapshot(v)
		if err != nil {
			m.fatalf("Snapshot(%d): %v", v, err)
		}
		before = &mdlHeld{s, v}
	}
	if err := m.db.Prune(below); err != nil {
		m.fatalf("Prune(%d) with oldest %d: %v", below, m.oldest, err)
	}
	if below > m.oldest {
		for v := m.oldest; v < below; v++ {
			delete(m.refs, v)
			delete(m.roots, v)
		}
		m.oldest = below
	}
	if o := m.db.Oldest(); o != m.oldest {
		m.fatalf("Oldest after Prune(%d) = %d, want %d", below, o, m.oldest)
	}
	if m.oldest > 0 {
		v := uint64(m.r.IntN(int(m.oldest)))
		if _, err := m.db.Snapshot(v); !errors.Is(err, metisdb.ErrPruned) {
			m.fatalf("Snapshot(%d) below oldest %d: %v, want ErrPruned", v, m.oldest, err)
		}
		if _, err := m.db.Proof([]byte(m.pickKey()), v); !errors.Is(err, metisdb.ErrPruned) {
			m.fatalf("Proof at %d below oldest %d: %v, want ErrPruned", v, m.oldest, err)
		}
	}
	if before != nil {
		m.checkPrunedSnapshot(before.snap, metisdb.ErrPruned)
	}
	// The retained boundary version is still readable.
	m.checkSnapshotFull(m.oldest)
}

func (m *mdl) opProof() {
	v := m.pickVersion()
	ref := m.refs[v]
	var key string
	if len(ref) > 0 && m.r.IntN(2) == 0 {
		ks := slices.Sorted(maps.Keys(ref))
		key = ks[m.r.IntN(len(ks))]
	} else {
		key = m.pickAny()
	}
	var p *metisdb.Proof
	var err error
	if m.r.IntN(3) == 0 {
		var s *metisdb.Snapshot
		if s, err = m.db.Snapshot(v); err == nil {
			p, err = s.Proof([]byte(key))
		}
	} else {
		p, err = m.db.Proof([]byte(key), v)
	}
	if err != nil {
		m.fatalf("Proof(%q, %d): %v", key, v, err)
	}
	if err := mdlCheckProof(p, m.roots[v], ref, key); err != nil {
		m.fatalf("version %d: %v", v, err)
	}
}

func (m *mdl) opReopen() {
	m.checkLive()
	m.live = nil
	if err := m.db.Close(); err != nil {
		m.fatalf("Close: %v", err)
	}
	for _, h := range m.held {
		m.checkPrunedSnapshot(h.snap, metisdb.ErrClosed)
	}
	m.held = nil
	m.pending = nil // uncommitted writes die with the handle
	m.db = nil
	m.open()
	if v, o, root := m.db.Version(), m.db.Oldest(), m.db.Root(); v != m.latest || o != m.oldest || root != m.roots[m.latest] {
		m.fatalf("after reopen: Version/Oldest/Root = %d/%d/%s, want %d/%d/%s", v, o, root, m.latest, m.oldest, m.roots[m.latest])
	}
	m.checkSnapshotFull(m.latest)
	if m.oldest > 0 {
		if _, err := m.db.Snapshot(m.oldest - 1); !errors.Is(err, metisdb.ErrPruned) {
			m.fatalf("after reopen: Snapshot(%d) below oldest %d: %v, want ErrPruned", m.oldest-1, m.oldest, err)
		}
	}
	if m.r.IntN(2) == 0 {
		// Nothing staged before the reopen may reappear: an empty commit keeps the root.
		m.opCommit()
	}
}

// mdlRace reports whether the test binary was built with -race; the slowest tests do less then,
// to keep the package's race run well under two minutes.
func mdlRace() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return true
			}
		}
	}
	return false
}

func mdlSeeds(t *testing.T, fixed []uint64) []uint64 {
	if s := os.Getenv("METISDB_MODEL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("METISDB_MODEL_SEED=%q: %v", s, err)
		}
		return []uint64{n}
	}
	// The fixed seeds make runs reproducible; one fresh seed per run widens coverage over time
	// (it is logged, and failures name it).
	return append(fixed, uint64(time.Now().UnixNano()))
}

func TestModelRandomized(t *testing.T) {
	steps := 5000
	if mdlRace() {
		steps = 2500
	}
	if testing.Short() {
		steps = 1000
	}
	for _, seed := range mdlSeeds(t, []uint64{1, 2, 3}) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runModel(t, seed, steps, &metisdb.Options{NoSync: true})
		})
	}
}

// TestModelRandomizedSync is a smaller run with fdatasync on, the configuration nodes use.
func TestModelRandomizedSync(t *testing.T) {
	steps := 600
	if testing.Short() {
		steps = 200
	}
	seed := uint64(77)
	if s := os.Getenv("METISDB_MODEL_SEED"); s != "" {
		seed = mdlSeeds(t, nil)[0]
	}
	runModel(t, seed, steps, nil)
}

// ---------------------------------------------------------------------------------------------
// Concurrency: readers of fixed old versions and of the latest version race a committing writer.

func TestConcurrentSnapshotReaders(t *testing.T) {
	seed := mdlSeeds(t, nil)[0]
	t.Logf("seed %d (override with METISDB_MODEL_SEED)", seed)
	r := rand.New(rand.NewPCG(seed, 0x636f6e63))
	db, err := metisdb.Open(t.TempDir(), &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("c%04d", i)
	}
	var (
		mu    sync.RWMutex
		refs  = map[uint64]map[string]string{0: {}}
		roots = map[uint64]metisdb.Hash{0: metisdb.EmptyRoot}
	)
	refAt := func(v uint64) (map[string]string, bool) {
		mu.RLock()
		defer mu.RUnlock()
		m, ok := refs[v]
		return m, ok
	}
	// commit stages a random batch, publishes its reference (before Commit, so a reader that
	// sees the version can always find it) and commits it. Only the writer goroutine calls it.
	latest := uint64(0)
	commit := func(r *rand.Rand) error {
		next := maps.Clone(refs[latest]) // only the writer mutates refs, so reading unlocked is fine
		for n := 1 + r.IntN(30); n > 0; n-- {
			k := keys[r.IntN(len(keys))]
			if r.IntN(4) == 0 {
				if err := db.Delete([]byte(k)); err != nil {
					return err
				}
				delete(next, k)
				continue
			}
			v := fmt.Sprintf("%s@%d#%d", k, latest+1, r.IntN(1000))
			if r.IntN(20) == 0 {
				v = ""
			}
			if err := db.Set([]byte(k), []byte(v)); err != nil {
				return err
			}
			next[k] = v
		}
		want := mdlRoot(next)
		mu.Lock()
		refs[latest+1] = next
		roots[latest+1] = want
		mu.Unlock()
		v, root, err := db.Commit()
		if err != nil {
			return err
		}
		if v != latest+1 || root != want {
			return fmt.Errorf("Commit = %d %s, want %d %s", v, root, latest+1, want)
		}
		latest = v
		return nil
	}
	for i := 0; i < 20; i++ {
		if err := commit(r); err != nil {
			t.Fatal(err)
		}
	}
	fixed := []uint64{1, 5, 10, 15, 20}
	shared := make([]*metisdb.Snapshot, len(fixed)) // one Snapshot object used by all readers
	for i, v := range fixed {
		if shared[i], err = db.Snapshot(v); err != nil {
			t.Fatal(err)
		}
	}

	writerVersions := 300
	readers := 4
	if testing.Short() {
		writerVersions = 80
	}
	var done atomic.Bool
	var failures atomic.Int32
	var wg sync.WaitGroup
	var reads atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf("seed %d: "+format, append([]any{seed}, args...)...)
		}
		done.Store(true)
	}
	for g := 0; g < readers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for !done.Load() {
				reads.Add(1)
				i := r.IntN(len(fixed))
				v, ref := fixed[i], func() map[string]string { m, _ := refAt(fixed[i]); return m }()
				switch r.IntN(7) {
				case 0, 1: // Get through the shared snapshot of a fixed old version
					k := keys[r.IntN(len(keys))]
					got, err := shared[i].Get([]byte(k))
					if err := mdlCheckGet(fmt.Sprintf("Snapshot(%d).Get", v), got, err, ref, k); err != nil {
						fail("reader %d: %v", g, err)
					}
				case 2: // full iteration of a fixed old version through a fresh Snapshot
					s, err := db.Snapshot(v)
					if err != nil {
						fail("reader %d: Snapshot(%d): %v", g, v, err)
						continue
					}
					if err := mdlCheckRange(s, ref, nil, nil); err != nil {
						fail("reader %d: %v", g, err)
					}
				case 3: // range over the shared snapshot
					a, b := keys[r.IntN(len(keys))], keys[r.IntN(len(keys))]
					if a > b {
						a, b = b, a
					}
					if err := mdlCheckRange(shared[i], ref, []byte(a), []byte(b)); err != nil {
						fail("reader %d: %v", g, err)
					}
				case 4: // Get at the latest version: the value must be that of a version the
					// store showed during the call (or of the commit in flight right then).
					k := keys[r.IntN(len(keys))]
					v1 := db.Version()
					got, err := db.Get([]byte(k))
					v2 := db.Version()
					ok := false
					var seen []string
					for v := v1; v <= v2+1; v++ {
						ref, exists := refAt(v)
						if !exists {
							break
						}
						if mdlCheckGet("Get", got, err, ref, k) == nil {
							ok = true
							break
						}
						seen = append(seen, mdlShort(ref[k]))
					}
					if !ok {
						fail("reader %d: Get(%q) = (%s, %v) between versions %d and %d; reference values %v",
							g, k, mdlShort(string(got)), err, v1, v2, seen)
					}
				case 5: // a consistent multi-key view of the latest version
					lv := db.Version()
					s, err := db.Snapshot(lv)
					if err != nil {
						fail("reader %d: Snapshot(latest %d): %v", g, lv, err)
						continue
					}
					lref, _ := refAt(lv)
					a := keys[r.IntN(len(keys))]
					if err := mdlCheckRange(s, lref, []byte(a), nil); err != nil {
						fail("reader %d: %v", g, err)
					}
					mu.RLock()
					want := roots[lv]
					mu.RUnlock()
					if s.Root() != want {
						fail("reader %d: Snapshot(%d).Root = %s, want %s", g, lv, s.Root(), want)
					}
				case 6: // proofs at a fixed old version and at the latest
					k := keys[r.IntN(len(keys))]
					p, err := shared[i].Proof([]byte(k))
					if err != nil {
						fail("reader %d: Proof(%q, %d): %v", g, k, v, err)
						continue
					}
					if err := mdlCheckProof(p, shared[i].Root(), ref, k); err != nil {
						fail("reader %d: version %d: %v", g, v, err)
					}
					lv := db.Version()
					s, err := db.Snapshot(lv)
					if err != nil {
						fail("reader %d: Snapshot(%d): %v", g, lv, err)
						continue
					}
					if p, err = s.Proof([]byte(k)); err != nil {
						// The latest may have been pruned? Never in this test.
						fail("reader %d: Proof(%q, %d): %v", g, k, lv, err)
						continue
					}
					lref, _ := refAt(lv)
					if err := mdlCheckProof(p, s.Root(), lref, k); err != nil {
						fail("reader %d: version %d: %v", g, lv, err)
					}
				}
			}
		}(g)
	}
	start := time.Now()
	for i := 0; i < writerVersions && !done.Load(); i++ {
		if err := commit(r); err != nil {
			fail("writer: %v", err)
		}
	}
	done.Store(true)
	wg.Wait()
	t.Logf("%d commits and %d reader operations in %v", latest, reads.Load(), time.Since(start).Round(time.Millisecond))
}

// TestConcurrentRemap grows the file past the initial mapping (and past twice that) while
// readers hammer Get, Snapshot.Get and iterators: values returned before a remap must stay
// valid until Close, and readers must never fault or see wrong data across remaps.
func TestConcurrentRemap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~80 MiB")
	}
	db, err := metisdb.Open(t.TempDir(), &metisdb.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ref := map[string]string{}
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("s%03d", i)
		ref[k] = "small-" + k
		if err := db.Set([]byte(k), []byte(ref[k])); err != nil {
			t.Fatal(err)
		}
	}
	big := func(v int) []byte {
		tag := []byte(fmt.Sprintf("big value of version %d;", v))
		return bytes.Repeat(tag, (8<<20)/len(tag))
	}
	ref["big"] = string(big(1))
	if err := db.Set([]byte("big"), big(1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	v1 := maps.Clone(ref)
	snap1, err := db.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	heldSmall, err := db.Get([]byte("s042"))
	if err != nil {
		t.Fatal(err)
	}
	heldBig, err := snap1.Get([]byte("big"))
	if err != nil {
		t.Fatal(err)
	}

	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for !done.Load() {
				k := fmt.Sprintf("s%03d", r.IntN(100))
				got, err := db.Get([]byte(k))
				if err := mdlCheckGet("Get", got, err, v1, k); err != nil {
					errc <- err
					return
				}
				if err := mdlCheckRange(snap1, v1, []byte(k), []byte("s050")); err != nil {
					errc <- err
					return
				}
				b, err := snap1.Get([]byte("big"))
				if err != nil || !bytes.Equal(b[:64], []byte(v1["big"][:64])) || len(b) != len(v1["big"]) {
					errc <- fmt.Errorf("Snapshot(1).Get(big): %d bytes, %v", len(b), err)
					return
				}
			}
		}(g)
	}
	for v := 2; v <= 10 && len(errc) == 0; v++ { // 10 x 8 MiB in all: past the first 64 MiB mapping
		ref["big"] = string(big(v))
		if err := db.Set([]byte("big"), big(v)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Commit(); err != nil {
			t.Fatal(err)
		}
		if string(heldSmall) != v1["s042"] || string(heldBig) != v1["big"] {
			t.Fatalf("a value slice read at version 1 changed after committing version %d", v)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if root := db.Root(); root != mdlRoot(ref) {
		t.Fatalf("root %s, reference %s", root, mdlRoot(ref))
	}
	snap, err := db.Snapshot(db.Version())
	if err != nil {
		t.Fatal(err)
	}
	if err := mdlCheckRange(snap, ref, nil, nil); err != nil {
		t.Fatal(err)
	}
	if string(heldSmall) != v1["s042"] || string(heldBig) != v1["big"] {
		t.Fatal("a value slice read at version 1 changed")
	}
}
