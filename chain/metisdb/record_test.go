package metisdb

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		kind       recordKind
		key, value []byte
	}{
		{"set", kindSet, []byte("k"), []byte("value")},
		{"empty value", kindSet, []byte("k"), []byte{}},
		{"delete", kindDelete, []byte("gone"), nil},
		{"max key", kindSet, bytes.Repeat([]byte{7}, MaxKeySize), []byte{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendRecord(nil, tt.kind, 42, 4096, tt.key, tt.value)
			r, err := decodeRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if r.kind != tt.kind || r.version != 42 || r.prev != 4096 || !bytes.Equal(r.key, tt.key) ||
				!bytes.Equal(r.value, tt.value) || r.size != len(b) {
				t.Fatalf("decoded %+v", r)
			}
		})
	}
	c := commitInfo{root: KeyHash([]byte("root")), count: 9}
	r, err := decodeRecord(appendCommitRecord(nil, 3, 5000, c))
	if err != nil || r.kind != kindCommit || r.commit() != c || r.prev != 5000 {
		t.Fatalf("commit record: %+v %v", r, err)
	}
}

func TestRecordRejects(t *testing.T) {
	good := appendRecord(nil, kindSet, 1, 0, []byte("key"), []byte("value"))
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	resum := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[0:4], crc32c(b[4:]))
		return b
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:20]},
		{"truncated body", good[:len(good)-1]},
		{"flipped value bit", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b })},
		{"length mismatch", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:8], 99); return resum(b) })},
		{"unknown kind", mutate(func(b []byte) []byte { b[8] = 9; return resum(b) })},
		{"reserved byte", mutate(func(b []byte) []byte { b[9] = 1; return resum(b) })},
		{"huge value length", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:16], 1<<31); return resum(b) })},
		{"set without key", resum(appendRecord(nil, kindSet, 1, 0, nil, []byte("v")))},
		{"delete with value", resum(appendRecord(nil, kindDelete, 1, 0, []byte("k"), []byte("v")))},
		{"short commit", resum(appendRecord(nil, kindCommit, 1, 0, nil, make([]byte, 39)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := decodeRecord(tt.b); err == nil {
				t.Fatalf("decoded %+v, want an error", r)
			}
		})
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder: it must never panic, never
// return slices outside its input, and anything it accepts must re-encode to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, kindSet, 1, 0, []byte("key"), []byte("value")))
	f.Add(appendRecord(nil, kindDelete, 7, 4096, []byte("key"), nil))
	f.Add(appendCommitRecord(nil, 2, 4096, commitInfo{count: 3}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if r.size < recHeaderSize || r.size > len(b) {
			t.Fatalf("size %d outside input of %d", r.size, len(b))
		}
		again := appendRecord(nil, r.kind, r.version, r.prev, r.key, r.value)
		if !bytes.Equal(again, b[:r.size]) {
			t.Fatalf("accepted bytes do not re-encode:\n got %x\nwant %x", again, b[:r.size])
		}
	})
}
