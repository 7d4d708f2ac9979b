//go:build !linux

package metisdb

import "os"

// syncData is fsync where fdatasync is not available (on macOS, F_FULLFSYNC is what os.File.Sync
// issues).
func syncData(f *os.File) error { return f.Sync() }
