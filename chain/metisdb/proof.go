package metisdb

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Proof proves that a key holds a value (inclusion) or holds nothing (non-inclusion) under a
// root. Siblings[d] is the hash of the sibling subtree at depth d on the key's path, from the root
// down (the empty hash where that subtree is empty). The path ends at the key's own leaf
// (inclusion), at an empty subtree, or at the leaf of another key whose hash shares the path's
// prefix (non-inclusion; that leaf is in Leaf).
type Proof struct {
	Siblings []Hash
	Leaf     *ProofLeaf
}

// ProofLeaf is the preimage of a leaf found where an absent key would be.
type ProofLeaf struct {
	KeyHash   Hash
	ValueHash Hash
}

// Encoding limits and layout: version byte, flags byte, depth (uint16 big-endian), a bitmap of
// non-empty siblings (one bit per level, most significant first), the non-empty siblings, then the
// leaf if flag 1 is set. Encodings are canonical: one proof, one byte string.
const (
	proofFormat   = 1
	proofHasLeaf  = 1
	maxProofDepth = 256
)

// MarshalBinary encodes the proof compactly: empty siblings cost one bit.
func (p *Proof) MarshalBinary() ([]byte, error) {
	depth := len(p.Siblings)
	if depth > maxProofDepth {
		return nil, fmt.Errorf("%w: depth %d exceeds %d", ErrInvalidProof, depth, maxProofDepth)
	}
	bitmap := make([]byte, (depth+7)/8)
	n := 0
	for i, s := range p.Siblings {
		if !s.IsZero() {
			bitmap[i/8] |= 0x80 >> (i % 8)
			n++
		}
	}
	out := make([]byte, 0, 4+len(bitmap)+32*n+64)
	flags := byte(0)
	if p.Leaf != nil {
		flags |= proofHasLeaf
	}
	out = append(out, proofFormat, flags)
	out = binary.BigEndian.AppendUint16(out, uint16(depth))
	out = append(out, bitmap...)
	for _, s := range p.Siblings {
		if !s.IsZero() {
			out = append(out, s[:]...)
		}
	}
	if p.Leaf != nil {
		out = append(out, p.Leaf.KeyHash[:]...)
		out = append(out, p.Leaf.ValueHash[:]...)
	}
	return out, nil
}

// UnmarshalBinary decodes a proof, rejecting anything that is not the canonical encoding of one.
func (p *Proof) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidProof, fmt.Sprintf(format, args...))
	}
	if len(b) < 4 {
		return bad("%d bytes, need at least 4", len(b))
	}
	if b[0] != proofFormat {
		return bad("unknown format %d", b[0])
	}
	flags := b[1]
	if flags&^proofHasLeaf != 0 {
		return bad("unknown flags %#x", flags)
	}
	depth := int(binary.BigEndian.Uint16(b[2:4]))
	if depth > maxProofDepth {
		return bad("depth %d exceeds %d", depth, maxProofDepth)
	}
	rest := b[4:]
	nb := (depth + 7) / 8
	if len(rest) < nb {
		return bad("bitmap truncated")
	}
	bitmap := rest[:nb]
	rest = rest[nb:]
	n := 0
	for i, x := range bitmap {
		if i == nb-1 && depth%8 != 0 && x&(0xff>>(depth%8)) != 0 {
			return bad("bitmap has bits past depth %d", depth)
		}
		n += bits.OnesCount8(x)
	}
	want := 32 * n
	if flags&proofHasLeaf != 0 {
		want += 64
	}
	if len(rest) != want {
		return bad("%d bytes of hashes, want %d", len(rest), want)
	}
	sibs := make([]Hash, depth)
	for i := range sibs {
		if bitmap[i/8]&(0x80>>(i%8)) == 0 {
			continue
		}
		copy(sibs[i][:], rest[:32])
		rest = rest[32:]
		if sibs[i].IsZero() {
			return bad("sibling %d is marked present but empty", i)
		}
	}
	p.Siblings = sibs
	p.Leaf = nil
	if flags&proofHasLeaf != 0 {
		p.Leaf = &ProofLeaf{}
		copy(p.Leaf.KeyHash[:], rest[:32])
		copy(p.Leaf.ValueHash[:], rest[32:64])
	}
	return nil
}

// VerifyProof checks that proof shows key holding value under root. A nil value claims the key
// is absent; a present empty value is []byte{}. It needs no database and returns nil only for a
// proof that hashes to root; otherwise an error wrapping ErrInvalidProof.
func VerifyProof(root Hash, key, value []byte, proof *Proof) error {
	if proof == nil {
		return fmt.Errorf("%w: nil proof", ErrInvalidProof)
	}
	depth := len(proof.Siblings)
	if depth > maxProofDepth {
		return fmt.Errorf("%w: depth %d exceeds %d", ErrInvalidProof, depth, maxProofDepth)
	}
	kh := KeyHash(key)
	var h Hash
	switch {
	case value != nil:
		if proof.Leaf != nil {
			return fmt.Errorf("%w: inclusion proof ends at another key's leaf", ErrInvalidProof)
		}
		h = LeafHash(kh, ValueHash(value))
	case proof.Leaf != nil:
		other := proof.Leaf.KeyHash
		if other == kh {
			return fmt.Errorf("%w: the key is present, not absent", ErrInvalidProof)
		}
		for d := 0; d < depth; d++ {
			if bit(&other, d) != bit(&kh, d) {
				return fmt.Errorf("%w: leaf is off the key's path at depth %d", ErrInvalidProof, d)
			}
		}
		h = LeafHash(other, proof.Leaf.ValueHash)
	default:
		// The path ends in an empty subtree: h stays the empty hash.
	}
	for d := depth - 1; d >= 0; d-- {
		if bit(&kh, d) == 0 {
			h = InnerHash(h, proof.Siblings[d])
		} else {
			h = InnerHash(proof.Siblings[d], h)
		}
	}
	if h != root {
		return fmt.Errorf("%w: computed root %s, want %s", ErrInvalidProof, h, root)
	}
	return nil
}
