package metisdb

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Limits on what one write may hold. Keys and values are bounded so that a record header's
// lengths can be checked before any byte of the body is trusted; the batch bound keeps one
// commit's buffer and tree update within memory a node has.
const (
	MaxKeySize      = 4096
	MaxValueSize    = 16 << 20
	MaxBatchRecords = 1 << 20
)

// Record layout (little-endian), 32-byte header then body:
//
//	[0:4]   CRC-32C (Castagnoli) of bytes [4:length]
//	[4:8]   length of the whole record
//	[8]     kind: 1 set, 2 delete, 3 commit
//	[9]     reserved, 0
//	[10:12] key length
//	[12:16] value length
//	[16:24] version
//	[24:32] prev: offset of the previous record of the same key (0 if none);
//	        for a commit record, the offset of the previous commit record
//	[32:]   key, then value; a commit record has no key and a 40-byte value:
//	        root (32), number of set/delete records in the version (uint32), 4 zero bytes
const (
	recHeaderSize   = 32
	commitValueSize = 40
)

type recordKind uint8

const (
	kindSet    recordKind = 1
	kindDelete recordKind = 2
	kindCommit recordKind = 3
)

func (k recordKind) String() string {
	switch k {
	case kindSet:
		return "set"
	case kindDelete:
		return "delete"
	case kindCommit:
		return "commit"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is a decoded view of one record; key and value alias the buffer it was decoded from.
type record struct {
	kind    recordKind
	version uint64
	prev    uint64
	key     []byte
	value   []byte
	size    int
}

// commitInfo is the body of a commit record.
type commitInfo struct {
	root  Hash
	count uint32
}

func recordSize(key, value []byte) int { return recHeaderSize + len(key) + len(value) }

// appendRecord appends one encoded record to buf.
func appendRecord(buf []byte, kind recordKind, version, prev uint64, key, value []byte) []byte {
	start := len(buf)
	size := recordSize(key, value)
	buf = append(buf, make([]byte, recHeaderSize)...)
	h := buf[start:]
	binary.LittleEndian.PutUint32(h[4:8], uint32(size))
	h[8] = byte(kind)
	binary.LittleEndian.PutUint16(h[10:12], uint16(len(key)))
	binary.LittleEndian.PutUint32(h[12:16], uint32(len(value)))
	binary.LittleEndian.PutUint64(h[16:24], version)
	binary.LittleEndian.PutUint64(h[24:32], prev)
	buf = append(buf, key...)
	buf = append(buf, value...)
	binary.LittleEndian.PutUint32(buf[start:start+4], crc32.Checksum(buf[start+4:], castagnoli))
	return buf
}

func appendCommitRecord(buf []byte, version, prevCommit uint64, c commitInfo) []byte {
	var body [commitValueSize]byte
	copy(body[:32], c.root[:])
	binary.LittleEndian.PutUint32(body[32:36], c.count)
	return appendRecord(buf, kindCommit, version, prevCommit, nil, body[:])
}

// decodeRecord validates and decodes the record at the start of b. It never trusts a length it
// has not bounded, and it checks the checksum before returning anything. The error text says
// what is wrong; callers add the file and offset.
func decodeRecord(b []byte) (record, error) {
	if len(b) < recHeaderSize {
		return record{}, fmt.Errorf("record header truncated: %d of %d bytes", len(b), recHeaderSize)
	}
	size := int(binary.LittleEndian.Uint32(b[4:8]))
	kind := recordKind(b[8])
	klen := int(binary.LittleEndian.Uint16(b[10:12]))
	vlen := int(binary.LittleEndian.Uint32(b[12:16]))
	if vlen > MaxValueSize {
		return record{}, fmt.Errorf("value length %d exceeds %d", vlen, MaxValueSize)
	}
	if klen > MaxKeySize {
		return record{}, fmt.Errorf("key length %d exceeds %d", klen, MaxKeySize)
	}
	if size != recHeaderSize+klen+vlen {
		return record{}, fmt.Errorf("record length %d does not match key %d and value %d", size, klen, vlen)
	}
	if size > len(b) {
		return record{}, fmt.Errorf("record of %d bytes truncated at %d", size, len(b))
	}
	if got, want := crc32.Checksum(b[4:size], castagnoli), binary.LittleEndian.Uint32(b[0:4]); got != want {
		return record{}, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	if b[9] != 0 {
		return record{}, fmt.Errorf("reserved byte is %d", b[9])
	}
	switch kind {
	case kindSet:
		if klen == 0 {
			return record{}, fmt.Errorf("set record with empty key")
		}
	case kindDelete:
		if klen == 0 || vlen != 0 {
			return record{}, fmt.Errorf("delete record with key %d and value %d bytes", klen, vlen)
		}
	case kindCommit:
		if klen != 0 || vlen != commitValueSize {
			return record{}, fmt.Errorf("commit record with key %d and value %d bytes", klen, vlen)
		}
		if binary.LittleEndian.Uint32(b[recHeaderSize+36:recHeaderSize+40]) != 0 {
			return record{}, fmt.Errorf("commit record padding is not zero")
		}
	default:
		return record{}, fmt.Errorf("unknown record kind %d", kind)
	}
	r := record{
		kind:    kind,
		version: binary.LittleEndian.Uint64(b[16:24]),
		prev:    binary.LittleEndian.Uint64(b[24:32]),
		key:     b[recHeaderSize : recHeaderSize+klen : recHeaderSize+klen],
		value:   b[recHeaderSize+klen : size : size],
		size:    size,
	}
	return r, nil
}

func (r record) commit() commitInfo {
	var c commitInfo
	copy(c.root[:], r.value[:32])
	c.count = binary.LittleEndian.Uint32(r.value[32:36])
	return c
}

// The fast path reads fields of records already validated at Open or written by this process,
// straight from the mapping, without re-checking the checksum.
func recKind(mem []byte, off uint64) recordKind { return recordKind(mem[off+8]) }
func recVersion(mem []byte, off uint64) uint64  { return binary.LittleEndian.Uint64(mem[off+16:]) }
func recPrev(mem []byte, off uint64) uint64     { return binary.LittleEndian.Uint64(mem[off+24:]) }

func recKey(mem []byte, off uint64) []byte {
	klen := uint64(binary.LittleEndian.Uint16(mem[off+10:]))
	return mem[off+recHeaderSize : off+recHeaderSize+klen : off+recHeaderSize+klen]
}

func recValue(mem []byte, off uint64) []byte {
	klen := uint64(binary.LittleEndian.Uint16(mem[off+10:]))
	vlen := uint64(binary.LittleEndian.Uint32(mem[off+12:]))
	start := off + recHeaderSize + klen
	return mem[start : start+vlen : start+vlen]
}

// File header: 4 KiB, of which the first 192 bytes are used.
//
//	[0:8]     magic "METISDB\x00"
//	[8:12]    format version (1)
//	[12:16]   CRC-32C of [0:12]
//	[64:128]  head slot 0
//	[128:192] head slot 1
//
// A head slot names the committed state: a sequence number (the higher valid slot wins), the
// version, the offset one past its commit record, the oldest retained version, and a CRC-32C of
// the slot. Commits and prunes alternate between the slots, so a torn slot write leaves the other
// intact. The root is not repeated here: it is in the commit record that ends at the end offset.
const (
	fileHeaderSize = 4096
	fileFormat     = 1
	headSlotSize   = 64
	headCRCOffset  = 32
)

var fileMagic = [8]byte{'M', 'E', 'T', 'I', 'S', 'D', 'B', 0}

func headSlotOffset(i int) int64 { return int64(64 + i*headSlotSize) }

type head struct {
	seq     uint64
	version uint64
	end     uint64
	oldest  uint64
}

func (h head) encode() []byte {
	b := make([]byte, headSlotSize)
	binary.LittleEndian.PutUint64(b[0:8], h.seq)
	binary.LittleEndian.PutUint64(b[8:16], h.version)
	binary.LittleEndian.PutUint64(b[16:24], h.end)
	binary.LittleEndian.PutUint64(b[24:32], h.oldest)
	binary.LittleEndian.PutUint32(b[headCRCOffset:], crc32.Checksum(b[:headCRCOffset], castagnoli))
	return b
}

// decodeHead returns the slot's head and whether the slot holds one (a never-written slot is
// all zeros and does not).
func decodeHead(b []byte) (head, bool) {
	if len(b) != headSlotSize || crc32.Checksum(b[:headCRCOffset], castagnoli) != binary.LittleEndian.Uint32(b[headCRCOffset:]) {
		return head{}, false
	}
	h := head{
		seq:     binary.LittleEndian.Uint64(b[0:8]),
		version: binary.LittleEndian.Uint64(b[8:16]),
		end:     binary.LittleEndian.Uint64(b[16:24]),
		oldest:  binary.LittleEndian.Uint64(b[24:32]),
	}
	return h, h.seq != 0
}

func encodeFileHeader() []byte {
	b := make([]byte, fileHeaderSize)
	copy(b[0:8], fileMagic[:])
	binary.LittleEndian.PutUint32(b[8:12], fileFormat)
	binary.LittleEndian.PutUint32(b[12:16], crc32.Checksum(b[:12], castagnoli))
	return b
}
