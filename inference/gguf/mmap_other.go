//go:build !unix

package gguf

import "os"

// mapFile reads the file at path into memory (no memory mapping on this platform).
func mapFile(path string) (*mappedFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &mappedFile{data: b}, nil
}
