package metisdb

import (
	"errors"
	"fmt"
)

// Errors callers branch on. Errors returned by the DB wrap these, so test with errors.Is.
var (
	ErrNotFound       = errors.New("metisdb: key not found")
	ErrClosed         = errors.New("metisdb: database is closed")
	ErrEmptyKey       = errors.New("metisdb: empty key")
	ErrKeyTooLarge    = fmt.Errorf("metisdb: key larger than %d bytes", MaxKeySize)
	ErrValueTooLarge  = fmt.Errorf("metisdb: value larger than %d bytes", MaxValueSize)
	ErrBatchTooLarge  = fmt.Errorf("metisdb: more than %d writes staged for one version", MaxBatchRecords)
	ErrPruned         = errors.New("metisdb: version has been pruned")
	ErrUnknownVersion = errors.New("metisdb: version not committed")
	ErrInvalidProof   = errors.New("metisdb: invalid proof")
	ErrWriteFailed    = errors.New("metisdb: an earlier commit failed to write; reopen the database")
	ErrLocked         = errors.New("metisdb: database directory is locked by another process")
	ErrCorrupt        = errors.New("metisdb: corrupt database")
)

// CorruptionError reports bytes on disk that fail validation: a bad checksum, an impossible
// length, a record out of place, or a root that does not match its commit record. It names the
// file and the byte offset where validation failed. errors.Is(err, ErrCorrupt) holds.
type CorruptionError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("metisdb: corrupt database: %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true for every *CorruptionError.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }
