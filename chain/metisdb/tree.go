package metisdb

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ref names a tree node: 0 is the empty subtree, refs with leafBit set are leaves, the rest
// inner nodes. Nodes live in chunked arenas with no Go pointers, so the garbage collector never
// walks a tree of millions of nodes.
type ref uint32

const leafBit ref = 1 << 31

func (r ref) isLeaf() bool { return r&leafBit != 0 }
func (r ref) idx() uint32  { return uint32(r &^ leafBit) }

// inner holds its children's hashes, not its own: an update then reads a sibling's hash from
// the parent it already has in cache instead of loading the sibling, and hashing happens on the
// way back up the same walk that applied the change.
type inner struct {
	kids [2]ref
	hash [2]Hash
}

type leaf struct {
	key  Hash   // key hash
	hash Hash   // leaf hash
	rec  uint64 // offset of the key's newest record, to find its value for non-inclusion proofs
}

// arena is a growable array of T whose elements never move: a table of fixed-size chunks. The
// table is replaced (copied, then published atomically) when it fills, so goroutines may use
// elements they were handed while another goroutine allocates.
type arena[T any] struct {
	mu    sync.Mutex // guards n, free and growth
	n     uint32     // elements handed out, including index 0, which is reserved
	free  []uint32
	table atomic.Pointer[[]*[chunkSize]T]
}

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	maxNodes  = 1 << 31
)

func (a *arena[T]) at(i uint32) *T { return &(*a.table.Load())[i>>chunkBits][i&(chunkSize-1)] }

func (a *arena[T]) alloc(v T) uint32 {
	a.mu.Lock()
	var i uint32
	if k := len(a.free); k > 0 {
		i = a.free[k-1]
		a.free = a.free[:k-1]
	} else {
		if a.n == 0 {
			a.n = 1
		}
		if a.n == maxNodes-1 {
			panic("metisdb: tree arena full")
		}
		i = a.n
		a.n++
		a.ensure(int(i>>chunkBits) + 1)
	}
	a.mu.Unlock()
	*a.at(i) = v
	return i
}

// ensure makes the table hold at least n chunks. Called with mu held.
func (a *arena[T]) ensure(n int) {
	var cur []*[chunkSize]T
	if p := a.table.Load(); p != nil {
		cur = *p
	}
	if len(cur) >= n {
		return
	}
	next := cur
	if cap(next) < n {
		next = make([]*[chunkSize]T, len(cur), max(n, 2*cap(cur)))
		copy(next, cur)
	}
	// Appending past len(cur) in place is safe: readers of the published table never index
	// beyond its length.
	for len(next) < n {
		next = append(next, new([chunkSize]T))
	}
	a.table.Store(&next)
}

func (a *arena[T]) release(i uint32) {
	a.mu.Lock()
	a.free = append(a.free, i)
	a.mu.Unlock()
}

func (a *arena[T]) live() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		return 0
	}
	return int(a.n) - 1 - len(a.free)
}

// bytes is the memory the arena holds.
func (a *arena[T]) bytes() int64 {
	p := a.table.Load()
	if p == nil {
		return 0
	}
	var zero T
	return int64(len(*p)) * (chunkSize*int64(unsafe.Sizeof(zero)) + 8)
}

// tree is a mutable binary sparse Merkle tree (see the package doc for its shape).
type tree struct {
	inners   arena[inner]
	leaves   arena[leaf]
	root     ref
	rootHash Hash
}

func newTree() *tree { return &tree{} }

// change is one key's update: a set (with its value hash and record offset) or a delete. While
// a subtree is rebuilt, a change may instead carry an existing leaf to keep (keep, with its leaf
// hash in val). Changes are sorted by the thousand, so the struct stays small.
type change struct {
	key  Hash
	val  Hash
	rec  uint64
	keep ref
	del  bool
}

func (t *tree) free(r ref) {
	switch {
	case r == 0:
	case r.isLeaf():
		t.leaves.release(r.idx())
	default:
		t.inners.release(r.idx())
	}
}

// splitAt returns the index of the first change whose key has bit depth set. The changes share
// their first depth bits and are sorted, so that bit is monotonic over them.
func splitAt(cs []change, depth int) int {
	return sort.Search(len(cs), func(i int) bool { return bit(&cs[i].key, depth) == 1 })
}

// forkDepth is how many levels below the root an update forks goroutines at: 2^3 tasks keep
// two cores busy even when the key hashes fall unevenly.
const (
	forkDepth   = 3
	forkChanges = 64
)

// fork reports whether a node's two subtrees should be updated in parallel. The goroutine's
// closure is allocated only on this path: on the sequential path (every node below forkDepth)
// an update walks the tree with no allocation.
func fork(depth, changes int) bool { return depth < forkDepth && changes >= forkChanges }

// build makes a subtree at depth from sorted changes, all of them sets (or leaves to keep).
func (t *tree) build(depth int, cs []change) (ref, Hash) {
	switch len(cs) {
	case 0:
		return 0, Hash{}
	case 1:
		c := &cs[0]
		if c.keep != 0 {
			return c.keep, c.val
		}
		h := LeafHash(c.key, c.val)
		return ref(t.leaves.alloc(leaf{key: c.key, hash: h, rec: c.rec})) | leafBit, h
	}
	if depth >= 256 {
		panic("metisdb: two distinct keys with equal SHA-256")
	}
	m := splitAt(cs, depth)
	var n inner
	if fork(depth, len(cs)) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.kids[0], n.hash[0] = t.build(depth+1, cs[:m])
		}()
		n.kids[1], n.hash[1] = t.build(depth+1, cs[m:])
		wg.Wait()
	} else {
		n.kids[0], n.hash[0] = t.build(depth+1, cs[:m])
		n.kids[1], n.hash[1] = t.build(depth+1, cs[m:])
	}
	return ref(t.inners.alloc(n)), InnerHash(n.hash[0], n.hash[1])
}

// apply merges sorted changes (unique keys) into the subtree r, whose hash is h, at depth, and
// returns the new subtree and its hash.
func (t *tree) apply(r ref, h Hash, depth int, cs []change) (ref, Hash) {
	if len(cs) == 0 {
		return r, h
	}
	switch {
	case r == 0:
		sets := make([]change, 0, len(cs))
		for _, c := range cs {
			if !c.del {
				sets = append(sets, c)
			}
		}
		return t.build(depth, sets)
	case r.isLeaf():
		return t.applyAtLeaf(r, h, depth, cs)
	}
	n := t.inners.at(r.idx())
	m := splitAt(cs, depth)
	if fork(depth, len(cs)) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.kids[0], n.hash[0] = t.apply(n.kids[0], n.hash[0], depth+1, cs[:m])
		}()
		n.kids[1], n.hash[1] = t.apply(n.kids[1], n.hash[1], depth+1, cs[m:])
		wg.Wait()
	} else {
		n.kids[0], n.hash[0] = t.apply(n.kids[0], n.hash[0], depth+1, cs[:m])
		n.kids[1], n.hash[1] = t.apply(n.kids[1], n.hash[1], depth+1, cs[m:])
	}
	l, rr := n.kids[0], n.kids[1]
	switch {
	case l == 0 && rr == 0:
		t.free(r)
		return 0, Hash{}
	case l == 0 && rr.isLeaf():
		h := n.hash[1]
		t.free(r)
		return rr, h
	case rr == 0 && l.isLeaf():
		h := n.hash[0]
		t.free(r)
		return l, h
	}
	return r, InnerHash(n.hash[0], n.hash[1])
}

// applyAtLeaf rebuilds the subtree holding one leaf with the changes that fall into it.
func (t *tree) applyAtLeaf(r ref, h Hash, depth int, cs []change) (ref, Hash) {
	old := t.leaves.at(r.idx())
	oldKey := old.key
	i, found := slices.BinarySearchFunc(cs, oldKey, func(c change, k Hash) int { return bytes.Compare(c.key[:], k[:]) })
	if found && len(cs) == 1 {
		c := &cs[0]
		if c.del {
			t.free(r)
			return 0, Hash{}
		}
		*old = leaf{key: c.key, hash: LeafHash(c.key, c.val), rec: c.rec}
		return r, old.hash
	}
	// Most inserts put one or two keys beside one leaf: keep those items on the stack.
	var small [4]change
	items := small[:0]
	if len(cs)+1 > len(small) {
		items = make([]change, 0, len(cs)+1)
	}
	for j, c := range cs {
		if j == i && !found {
			items = append(items, change{key: oldKey, keep: r, val: h})
		}
		if !c.del {
			items = append(items, c)
		}
	}
	if i == len(cs) {
		items = append(items, change{key: oldKey, keep: r, val: h})
	}
	if found {
		t.free(r) // replaced or deleted; a replacement gets a fresh leaf in build
	}
	return t.build(depth, items)
}

// update applies sorted changes with unique keys and returns the new root hash.
func (t *tree) update(cs []change) Hash {
	t.root, t.rootHash = t.apply(t.root, t.rootHash, 0, cs)
	return t.rootHash
}

// path walks from the root along kh and returns the sibling hashes and the node the walk ends
// at: 0 (empty) or a leaf, which may hold kh or another key.
func (t *tree) path(kh Hash) ([]Hash, ref) {
	var sibs []Hash
	r := t.root
	for d := 0; r != 0 && !r.isLeaf(); d++ {
		n := t.inners.at(r.idx())
		b := bit(&kh, d)
		sibs = append(sibs, n.hash[1-b])
		r = n.kids[b]
	}
	return sibs, r
}

func (t *tree) count() (inners, leaves int) { return t.inners.live(), t.leaves.live() }

func sortChanges(cs []change) {
	slices.SortFunc(cs, func(a, b change) int { return bytes.Compare(a.key[:], b.key[:]) })
}
