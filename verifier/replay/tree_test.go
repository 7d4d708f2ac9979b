package replay

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/metisgo/metis/inference/gguf"
)

func someLeaves(n int) [][32]byte {
	out := make([][32]byte, n)
	for i := range out {
		out[i] = sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(i)))
	}
	return out
}

// The tree agrees with gguf's RFC 6962 implementation on roots, every node and every audit path.
func TestTreeMatchesGGUF(t *testing.T) {
	sizes := []int{}
	for n := 0; n <= 70; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 127, 128, 129, 255, 256, 257, 1000, 1023, 1025, 4097)
	for _, n := range sizes {
		leaves := someLeaves(n)
		tree := NewTree(leaves)
		if tree.Len() != n || tree.Root() != gguf.MerkleRoot(leaves) {
			t.Fatalf("n %d: root differs", n)
		}
		if n == 0 {
			continue
		}
		if h, err := NodeHash(leaves, 0, n); err != nil || h != gguf.MerkleRoot(leaves) {
			t.Fatalf("n %d: NodeHash of the whole", n)
		}
		for i := 0; i < n; i += 1 + n/50 {
			p := tree.Path(i)
			if !slices.Equal(p, gguf.MerkleProof(leaves, i)) {
				t.Fatalf("n %d: path %d differs", n, i)
			}
			if !gguf.VerifyMerkleProof(tree.Root(), leaves[i], i, n, p) {
				t.Fatalf("n %d: path %d does not verify", n, i)
			}
			if h, _ := tree.NodeHash(i, i+1); h != LeafHash(leaves[i]) {
				t.Fatalf("n %d: leaf %d", n, i)
			}
		}
		if n <= 24 {
			for lo := 0; lo < n; lo++ {
				for hi := lo + 1; hi <= n; hi++ {
					want := gguf.MerkleRoot(leaves[lo:hi])
					a, err1 := NodeHash(leaves, lo, hi)
					b, err2 := tree.NodeHash(lo, hi)
					if err1 != nil || err2 != nil || a != want || b != want {
						t.Fatalf("n %d: node [%d, %d)", n, lo, hi)
					}
				}
			}
		}
		// Walking the bisection from the root: the children of every node hash to it.
		var walk func(lo, hi int)
		walk = func(lo, hi int) {
			if hi-lo < 2 {
				return
			}
			mid, l, r, err := tree.Children(lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			if k := 1; true {
				for k*2 < hi-lo {
					k *= 2
				}
				if mid != lo+k {
					t.Fatalf("[%d, %d) splits at %d, want %d", lo, hi, mid, lo+k)
				}
			}
			if h, _ := tree.NodeHash(lo, hi); NodeOf(l, r) != h {
				t.Fatalf("n %d: children of [%d, %d) do not hash to it", n, lo, hi)
			}
			if n < 300 {
				walk(lo, mid)
				walk(mid, hi)
			}
		}
		walk(0, n)
	}
}

func TestTreeBadRanges(t *testing.T) {
	leaves := someLeaves(5)
	tree := NewTree(leaves)
	for _, r := range [][2]int{{-1, 2}, {2, 2}, {3, 2}, {0, 6}, {5, 6}} {
		if _, err := NodeHash(leaves, r[0], r[1]); err == nil {
			t.Errorf("NodeHash %v accepted", r)
		}
		if _, err := tree.NodeHash(r[0], r[1]); err == nil {
			t.Errorf("Tree.NodeHash %v accepted", r)
		}
	}
	if _, _, _, err := tree.Children(4, 5); err == nil {
		t.Error("a leaf has children")
	}
	if tree.Path(5) != nil || tree.Path(-1) != nil || NewTree(someLeaves(1)).Path(0) != nil {
		t.Error("paths out of range")
	}
	if Split(3, 3) != 3 || Split(5, 3) != 5 || Split(0, 2) != 1 || Split(10, 17) != 14 || Split(0, 1<<63+1) != 1<<63 {
		t.Error("Split")
	}
}
