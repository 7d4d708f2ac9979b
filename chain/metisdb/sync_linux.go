package metisdb

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData flushes file data and the metadata needed to read it back (the size), not mtime.
func syncData(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
