package metisdb

import (
	"crypto/sha256"
	"encoding/hex"
)

// Hash is a SHA-256 digest: a key hash, a value hash, or a node of the Merkle tree.
type Hash [32]byte

// EmptyRoot is the root of a store with no keys.
var EmptyRoot Hash

// String returns the hash as 0x-prefixed hex.
func (h Hash) String() string { return "0x" + hex.EncodeToString(h[:]) }

// IsZero reports whether h is the empty hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// Domain separators: a leaf and an inner node preimage are both 65 bytes, told apart by the first.
const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
)

// KeyHash is the position of key in the tree: SHA-256(key).
func KeyHash(key []byte) Hash { return sha256.Sum256(key) }

// ValueHash is SHA-256(value).
func ValueHash(value []byte) Hash { return sha256.Sum256(value) }

// LeafHash is the hash of the leaf that holds a key: SHA-256(0x00 ‖ keyHash ‖ valueHash).
func LeafHash(keyHash, valueHash Hash) Hash {
	var buf [65]byte
	buf[0] = leafPrefix
	copy(buf[1:33], keyHash[:])
	copy(buf[33:], valueHash[:])
	return sha256.Sum256(buf[:])
}

// InnerHash is the hash of an inner node: SHA-256(0x01 ‖ left ‖ right).
func InnerHash(left, right Hash) Hash {
	var buf [65]byte
	buf[0] = innerPrefix
	copy(buf[1:33], left[:])
	copy(buf[33:], right[:])
	return sha256.Sum256(buf[:])
}

// bit returns bit i (0 = most significant bit of byte 0) of h.
func bit(h *Hash, i int) int { return int(h[i>>3]>>(7-uint(i&7))) & 1 }
