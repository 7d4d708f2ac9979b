//go:build unix

package metisdb

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func mmapFile(f *os.File, length int) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, length, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("metisdb: mmap %s (%d bytes): %w", f.Name(), length, err)
	}
	return b, nil
}

func munmap(b []byte) error { return unix.Munmap(b) }

// lockFile takes an exclusive advisory lock, failing at once if another process holds it.
func lockFile(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if err == unix.EWOULDBLOCK {
			return ErrLocked
		}
		return fmt.Errorf("metisdb: lock %s: %w", f.Name(), err)
	}
	return nil
}
