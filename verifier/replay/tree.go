package replay

import (
	"crypto/sha256"
	"fmt"
	"math/bits"

	"github.com/metisgo/metis/inference/gguf"
)

// Leaves returns the trace's step hashes in order: the leaves gguf.MerkleRoot and the dispute's
// tree are built over (each is hashed once more as an RFC 6962 leaf, see LeafHash).
func Leaves(tr *gguf.Trace) [][32]byte {
	out := make([][32]byte, len(tr.Steps))
	for i, s := range tr.Steps {
		out[i] = s.Hash
	}
	return out
}

// LeafHash is the RFC 6962 leaf hash of a step hash, SHA-256(0x00 | stepHash): the tree node of a
// single leaf, what the dispute compares a replayed step against.
func LeafHash(stepHash [32]byte) [32]byte {
	var b [33]byte
	copy(b[1:], stepHash[:])
	return sha256.Sum256(b[:])
}

// NodeOf is the RFC 6962 hash of an inner node with children l and r, SHA-256(0x01 | l | r):
// what a bisection move's two children must hash to.
func NodeOf(l, r [32]byte) [32]byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// Split is where the node covering leaves [lo, hi) (hi-lo >= 2) divides: lo plus the largest power
// of two strictly below hi-lo, the RFC 6962 rule. Its children are [lo, Split) and [Split, hi).
func Split(lo, hi uint64) uint64 {
	if hi < lo || hi-lo < 2 {
		return lo
	}
	return lo + 1<<(bits.Len64(hi-lo-1)-1)
}

// NodeHash is the RFC 6962 hash of leaves[lo:hi], the node of the bisection covering [lo, hi):
// gguf.MerkleRoot of that slice. It costs hi-lo hashes; a Tree answers in O(log² n).
func NodeHash(leaves [][32]byte, lo, hi int) ([32]byte, error) {
	if lo < 0 || lo >= hi || hi > len(leaves) {
		return [32]byte{}, fmt.Errorf("replay: range [%d, %d) outside %d leaves", lo, hi, len(leaves))
	}
	return gguf.MerkleRoot(leaves[lo:hi]), nil
}

// Tree is an RFC 6962 tree over step hashes with every complete aligned subtree kept, so that the
// bisection's nodes and audit paths cost O(log² n) hashes instead of O(n). It is immutable once
// built and safe for concurrent use.
type Tree struct {
	n      int
	levels [][][32]byte // levels[h][j]: the hash of leaves [j·2^h, (j+1)·2^h)
}

// NewTree builds the tree over the step hashes (n hashes for the leaves, about n for the rest).
func NewTree(leaves [][32]byte) *Tree {
	t := &Tree{n: len(leaves)}
	lv := make([][32]byte, len(leaves))
	for i, h := range leaves {
		lv[i] = LeafHash(h)
	}
	for len(lv) > 0 {
		t.levels = append(t.levels, lv)
		up := make([][32]byte, len(lv)/2)
		for j := range up {
			up[j] = NodeOf(lv[2*j], lv[2*j+1])
		}
		lv = up
	}
	return t
}

// Len is the number of leaves.
func (t *Tree) Len() int { return t.n }

// Root is the tree hash, equal to gguf.MerkleRoot of the leaves (SHA-256("") when empty).
func (t *Tree) Root() [32]byte {
	if t.n == 0 {
		return sha256.Sum256(nil)
	}
	h, _ := t.NodeHash(0, t.n)
	return h
}

// NodeHash is the RFC 6962 hash of leaves [lo, hi), equal to NodeHash(leaves, lo, hi).
func (t *Tree) NodeHash(lo, hi int) ([32]byte, error) {
	if lo < 0 || lo >= hi || hi > t.n {
		return [32]byte{}, fmt.Errorf("replay: range [%d, %d) outside %d leaves", lo, hi, t.n)
	}
	return t.node(lo, hi), nil
}

func (t *Tree) node(lo, hi int) [32]byte {
	size := hi - lo
	if size&(size-1) == 0 && lo%size == 0 {
		h := bits.TrailingZeros(uint(size))
		return t.levels[h][lo>>h]
	}
	k := int(Split(uint64(lo), uint64(hi)))
	return NodeOf(t.node(lo, k), t.node(k, hi))
}

// Children returns the split point and the hashes of the two children of the node [lo, hi) (the
// prover's bisect move); hi-lo must be at least 2.
func (t *Tree) Children(lo, hi int) (mid int, left, right [32]byte, err error) {
	if lo < 0 || hi > t.n || hi-lo < 2 {
		return 0, left, right, fmt.Errorf("replay: [%d, %d) of %d leaves has no children", lo, hi, t.n)
	}
	mid = int(Split(uint64(lo), uint64(hi)))
	return mid, t.node(lo, mid), t.node(mid, hi), nil
}

// Path is leaf i's RFC 6962 audit path (sibling hashes from the leaf up), equal to
// gguf.MerkleProof of the leaves; nil when i is out of range or the tree has one leaf.
func (t *Tree) Path(i int) [][32]byte {
	if i < 0 || i >= t.n {
		return nil
	}
	var rev [][32]byte // root first
	lo, hi := 0, t.n
	for hi-lo > 1 {
		k := int(Split(uint64(lo), uint64(hi)))
		if i < k {
			rev = append(rev, t.node(k, hi))
			hi = k
		} else {
			rev = append(rev, t.node(lo, k))
			lo = k
		}
	}
	out := make([][32]byte, len(rev))
	for j, h := range rev {
		out[len(rev)-1-j] = h
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
