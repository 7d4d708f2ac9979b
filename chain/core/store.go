package core

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/metisgo/metis/chain/metisdb"
)

// Key prefixes of the chain store (see the package doc).
const (
	prefixMeta      byte = 0x00 // 0x00 ‖ name
	prefixHeader    byte = 'h'  // 'h' ‖ num → header RLP
	prefixBody      byte = 'b'  // 'b' ‖ num → body RLP
	prefixReceipts  byte = 'r'  // 'r' ‖ num → []*types.ReceiptForStorage RLP
	prefixCanonical byte = 'n'  // 'n' ‖ num → block hash
	prefixHashNum   byte = 'H'  // 'H' ‖ hash → num
	prefixTxLookup  byte = 't'  // 't' ‖ tx hash → num ‖ index (uint32)
	prefixLogBloom  byte = 'l'  // 'l' ‖ num → bloom, for blocks with logs
	prefixLogAddr   byte = 'a'  // 'a' ‖ address ‖ num → empty
	prefixLogTopic  byte = 'p'  // 'p' ‖ position (0..3) ‖ topic ‖ num → empty
)

var (
	keyHead    = []byte{prefixMeta, 'h', 'e', 'a', 'd'}                // → num
	keyPending = []byte{prefixMeta, 'p', 'e', 'n', 'd', 'i', 'n', 'g'} // → pendingBlock RLP
	keyConfig  = []byte{prefixMeta, 'c', 'o', 'n', 'f', 'i', 'g'}      // → chain config JSON
)

func numKey(prefix byte, num uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], num)
	return k
}

func hashKey(prefix byte, h common.Hash) []byte {
	k := make([]byte, 33)
	k[0] = prefix
	copy(k[1:], h[:])
	return k
}

func encodeNum(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func decodeNum(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: number of %d bytes", errCorruptStore, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// logAddrKey and logTopicKey are the log index keys; the block number comes last so that one
// address (or topic) is a contiguous, block-ordered key range.
func logAddrKey(addr common.Address, num uint64) []byte {
	k := make([]byte, 0, 1+common.AddressLength+8)
	k = append(append(k, prefixLogAddr), addr[:]...)
	return binary.BigEndian.AppendUint64(k, num)
}

func logTopicKey(pos int, topic common.Hash, num uint64) []byte {
	k := make([]byte, 0, 2+common.HashLength+8)
	k = append(append(k, prefixLogTopic, byte(pos)), topic[:]...)
	return binary.BigEndian.AppendUint64(k, num)
}

// pendingBlock is a block whose state commit may not have happened: everything but the state
// root (see the package doc, crash recovery).
type pendingBlock struct {
	Header   *types.Header // Root is zero
	Txs      []*types.Transaction
	Receipts []*types.ReceiptForStorage
}

var errCorruptStore = errors.New("core: corrupt chain store")

// reader reads the chain store at one version.
type reader struct {
	s *metisdb.Snapshot
}

// get returns the value of key, nil with ok false if absent.
func (r reader) get(key []byte) ([]byte, bool, error) {
	v, err := r.s.Get(key)
	if errors.Is(err, metisdb.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("core: read chain store: %w", err)
	}
	return v, true, nil
}

// must returns the value of a key that must exist.
func (r reader) must(key []byte) ([]byte, error) {
	v, ok, err := r.get(key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: missing key %x", errCorruptStore, key)
	}
	return v, nil
}

func (r reader) header(num uint64) (*types.Header, error) {
	v, err := r.must(numKey(prefixHeader, num))
	if err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(v, h); err != nil {
		return nil, fmt.Errorf("%w: header %d: %v", errCorruptStore, num, err)
	}
	return h, nil
}

func (r reader) body(num uint64) (*types.Body, error) {
	v, err := r.must(numKey(prefixBody, num))
	if err != nil {
		return nil, err
	}
	b := new(types.Body)
	if err := rlp.DecodeBytes(v, b); err != nil {
		return nil, fmt.Errorf("%w: body %d: %v", errCorruptStore, num, err)
	}
	return b, nil
}

func (r reader) canonical(num uint64) (common.Hash, error) {
	v, err := r.must(numKey(prefixCanonical, num))
	if err != nil {
		return common.Hash{}, err
	}
	return common.BytesToHash(v), nil
}

// number returns the number of the block with hash h; ok is false if there is none.
func (r reader) number(h common.Hash) (uint64, bool, error) {
	v, ok, err := r.get(hashKey(prefixHashNum, h))
	if err != nil || !ok {
		return 0, false, err
	}
	n, err := decodeNum(v)
	return n, err == nil, err
}

// rawReceipts returns the stored receipts of block num (consensus fields only).
func (r reader) rawReceipts(num uint64) (types.Receipts, error) {
	v, err := r.must(numKey(prefixReceipts, num))
	if err != nil {
		return nil, err
	}
	var stored []*types.ReceiptForStorage
	if err := rlp.DecodeBytes(v, &stored); err != nil {
		return nil, fmt.Errorf("%w: receipts %d: %v", errCorruptStore, num, err)
	}
	out := make(types.Receipts, len(stored))
	for i, s := range stored {
		out[i] = (*types.Receipt)(s)
	}
	return out, nil
}

func encodeReceipts(receipts types.Receipts) ([]byte, error) {
	stored := make([]*types.ReceiptForStorage, len(receipts))
	for i, r := range receipts {
		stored[i] = (*types.ReceiptForStorage)(r)
	}
	return rlp.EncodeToBytes(stored)
}

// writeBlock stages block number num with its receipts (every derived field set) into w: header,
// body, receipts, canonical hash, hash index, transaction lookups, log index and the head
// pointer.
func writeBlock(w interface{ Set(k, v []byte) error }, block *types.Block, receipts types.Receipts) error {
	num := block.NumberU64()
	hdr, err := rlp.EncodeToBytes(block.Header())
	if err != nil {
		return err
	}
	body, err := rlp.EncodeToBytes(block.Body())
	if err != nil {
		return err
	}
	rcpts, err := encodeReceipts(receipts)
	if err != nil {
		return err
	}
	hash := block.Hash()
	sets := [][2][]byte{
		{numKey(prefixHeader, num), hdr},
		{numKey(prefixBody, num), body},
		{numKey(prefixReceipts, num), rcpts},
		{numKey(prefixCanonical, num), hash[:]},
		{hashKey(prefixHashNum, hash), encodeNum(num)},
		{keyHead, encodeNum(num)},
	}
	for i, tx := range block.Transactions() {
		v := binary.BigEndian.AppendUint32(encodeNum(num), uint32(i))
		sets = append(sets, [2][]byte{hashKey(prefixTxLookup, tx.Hash()), v})
	}
	seen := make(map[string]bool)
	index := func(k []byte) {
		if !seen[string(k)] {
			seen[string(k)] = true
			sets = append(sets, [2][]byte{k, {}})
		}
	}
	logs := 0
	for _, r := range receipts {
		for _, l := range r.Logs {
			logs++
			index(logAddrKey(l.Address, num))
			for pos, topic := range l.Topics {
				if pos > 3 {
					break
				}
				index(logTopicKey(pos, topic, num))
			}
		}
	}
	if logs > 0 {
		bloom := block.Bloom()
		sets = append(sets, [2][]byte{numKey(prefixLogBloom, num), bloom[:]})
	}
	for _, kv := range sets {
		if err := w.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("core: stage block %d: %w", num, err)
		}
	}
	return nil
}
