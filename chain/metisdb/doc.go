// Package metisdb is MetisDB: the versioned, memory-mapped, authenticated key-value store under
// every part of the Hyperion chain core.
//
// # Model
//
// A DB holds byte keys and values. Writes are staged with Set and Delete and become version N+1
// atomically with Commit, which returns the new version and its Merkle root. Version 0 is the
// empty store. Get reads the latest committed version; Snapshot(v) is a read-only view of any
// retained version (MVCC) that many goroutines may use while one writer commits newer versions.
// Prune(v) drops every version below v. Proof(key, v) proves inclusion or non-inclusion of a key
// at version v, and VerifyProof checks such a proof against a root with no database at hand.
//
// # The authenticated structure
//
// The root is that of a binary sparse Merkle tree over SHA-256 key hashes, with leaves lifted to
// the shallowest depth where they are alone (no path compression of inner nodes):
//
//	keyHash   = SHA-256(key)
//	valueHash = SHA-256(value)
//	leaf      = SHA-256(0x00 ‖ keyHash ‖ valueHash)
//	inner     = SHA-256(0x01 ‖ left ‖ right)
//	empty     = 32 zero bytes
//
// A subtree with no key hashes to empty, a subtree with exactly one key hashes to that key's
// leaf, and any larger subtree at depth d is an inner node whose children split its keys by bit
// d of keyHash (most significant bit first). The root therefore depends only on the set of
// key/value pairs, never on the order they were written in. Commit rehashes only the paths of
// changed keys (about log2(n) hashes each, shared near the root), on both cores.
//
// # Storage
//
// One append-only file, data.mdb, read through a read-only shared mmap and written with pwrite.
// It starts with a 4 KiB header holding two alternating head slots; records follow. Every record
// (set, delete, commit) carries a CRC-32C, its version, and the offset of the previous record
// of the same key, so an old version of a key is a walk back a chain of records. A commit record
// ends each version with its root and the number of records in it.
//
// In memory live three indexes, all rebuilt at Open from the file: a lock-free open-addressing
// hash table from key to its newest record (a hot Get is one slot load, one fingerprint compare
// and one key compare in the mapped file: no syscall, no lock, no allocation), a sorted index of
// keys for ordered iteration, and the Merkle tree of the latest version in flat arenas (no Go
// pointers, so the garbage collector never scans it).
//
// # Durability
//
// Commit is durable when it returns. The order is:
//
//  1. pwrite the version's records and its commit record after the last committed byte;
//  2. fdatasync data.mdb;
//  3. pwrite the head slot (version, end offset, root, oldest version, CRC) that the previous
//     commit did not use;
//  4. fdatasync data.mdb again.
//
// Only then are readers shown the new version. Open reads both head slots and takes the valid one
// with the higher version; every byte up to its end offset must then decode with good checksums,
// end in a commit record of that version and root, and rebuild to the same Merkle root, or Open
// fails with a *CorruptionError naming the file and offset. Bytes past the end offset are a
// commit that never returned (torn or not) and are truncated. A crash at any instant therefore
// opens at the last version whose Commit returned (or at the one in flight, if its head slot
// reached the disk), with a matching root.
//
// # Limits and errors
//
// Keys are 1 to MaxKeySize (4 KiB) bytes, values 0 to MaxValueSize (16 MiB) bytes; at most
// MaxBatchRecords writes are staged for one version. Bad input is refused with a typed error
// (ErrEmptyKey, ErrKeyTooLarge, ErrValueTooLarge, ErrBatchTooLarge) at Set/Delete, before
// anything is staged. Reading a pruned
// version gives ErrPruned, a version not yet committed ErrUnknownVersion, any call after Close
// ErrClosed. If writing a commit fails (disk full, I/O error) the DB refuses further writes with
// ErrWriteFailed; everything committed before stays readable and is there on the next Open.
//
// # What MetisDB does not do
//
//   - It has one writer: Set, Delete, Commit and Prune are serialised by a mutex, and the batch
//     is shared, so stage from one goroutine. Reads are safe from any number of goroutines.
//   - Get sees each committed version atomically per key; a Get of several keys racing a Commit
//     may see some of them at the new version. Use a Snapshot for a consistent multi-key view.
//   - Proof at the latest version walks the in-memory tree (O(log n)); at an older retained
//     version it rebuilds that version's tree from the file (O(n)) and caches the last one.
//   - Prune makes old versions unreadable but does not yet give their bytes back: the file is not
//     compacted.
//   - Everything in memory is rebuilt at Open (about 3 s per million keys on two cores) and costs
//     about 210 bytes of Go heap per key (tree, hash index, key index), plus the mapped file's
//     pages; docs/benchmarks.md has the measurements.
//   - Value slices returned by Get, Snapshot.Get and iterators point into the mapping: they are
//     read-only and valid until Close.
//   - The directory is locked (flock) against a second process; it is not a network store.
package metisdb
