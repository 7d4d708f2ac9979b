package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
)

// Key prefixes of the chain store (see the package doc).
const (
	prefixMeta      byte = 0x00 // 0x00 ‖ name
	prefixHeader    byte = 'h'  // 'h' ‖ num → header RLP
	prefixCanonical byte = 'n'  // 'n' ‖ num → block hash
	prefixHashNum   byte = 'H'  // 'H' ‖ hash → num
	prefixTx        byte = 'x'  // 'x' ‖ num ‖ index → sender ‖ transaction (binary encoding)
	prefixReceipt   byte = 'r'  // 'r' ‖ num ‖ index → storedReceipt RLP
	prefixTxLookup  byte = 't'  // 't' ‖ tx hash → num ‖ index
	prefixLogBlock  byte = 'l'  // 'l' ‖ num → empty, for blocks with logs
	prefixLogAddr   byte = 'a'  // 'a' ‖ address ‖ num → empty
	prefixLogTopic  byte = 'p'  // 'p' ‖ position (0..3) ‖ topic ‖ num → empty
)

var (
	keyHead    = []byte{prefixMeta, 'h', 'e', 'a', 'd'}                // → num
	keyPending = []byte{prefixMeta, 'p', 'e', 'n', 'd', 'i', 'n', 'g'} // → pendingBlock RLP
	keyConfig  = []byte{prefixMeta, 'c', 'o', 'n', 'f', 'i', 'g'}      // → chain config JSON
)

// DefaultChainCache is the default of Options.ChainCache: pebble's block cache for the chain
// store.
const DefaultChainCache = 32 << 20

// chainMemTable is the size of one pebble memtable of the chain store; at most
// chainMemTables of them exist at once (pebble's MemTableStopWritesThreshold).
const (
	chainMemTable  = 8 << 20
	chainMemTables = 2
)

func numKey(prefix byte, num uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], num)
	return k
}

// txKey is the key of transaction (or receipt) index of block num: one block's transactions
// are one contiguous key range in order.
func txKey(prefix byte, num uint64, index int) []byte {
	return binary.BigEndian.AppendUint32(numKey(prefix, num), uint32(index))
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

// pendingBlock is a block whose state commit may not have happened: its header without the
// state root and its transactions, enough to execute it again (see the package doc, crash
// recovery).
type pendingBlock struct {
	Header *types.Header // Root is zero
	Txs    []*types.Transaction
}

// storedReceipt is what the chain store keeps of one receipt: its consensus fields and the
// fields go-ethereum derives from the whole block (cumulative gas, effective gas price, contract
// address, the block-wide index of its first log), all computed once when the block is built,
// so that reading one receipt reads nothing else of its block. Its location (block hash,
// number, transaction index, block time) comes from the keys and the header; the bloom is
// recomputed from its own logs. The pool accepts no blob transactions, so there are no blob
// fields.
type storedReceipt struct {
	TxHash            common.Hash
	Type              uint8
	Status            uint64
	CumulativeGasUsed uint64
	GasUsed           uint64
	EffectiveGasPrice *big.Int
	ContractAddress   common.Address // zero when the transaction created no contract
	FirstLog          uint64
	Logs              []*types.Log // address, topics and data (go-ethereum's log RLP)
}

func newStoredReceipt(r *types.Receipt, firstLog uint64) *storedReceipt {
	return &storedReceipt{
		TxHash:            r.TxHash,
		Type:              r.Type,
		Status:            r.Status,
		CumulativeGasUsed: r.CumulativeGasUsed,
		GasUsed:           r.GasUsed,
		EffectiveGasPrice: r.EffectiveGasPrice,
		ContractAddress:   r.ContractAddress,
		FirstLog:          firstLog,
		Logs:              r.Logs,
	}
}

// blockRef is where a block is: what a receipt or log read from the store is given to be
// complete.
type blockRef struct {
	hash   common.Hash
	number uint64
	time   uint64
}

// receipt returns the full receipt of transaction index of block ref.
func (s *storedReceipt) receipt(ref blockRef, index int) *types.Receipt {
	r := &types.Receipt{
		Type:              s.Type,
		Status:            s.Status,
		CumulativeGasUsed: s.CumulativeGasUsed,
		TxHash:            s.TxHash,
		ContractAddress:   s.ContractAddress,
		GasUsed:           s.GasUsed,
		EffectiveGasPrice: s.EffectiveGasPrice,
		BlockHash:         ref.hash,
		BlockNumber:       new(big.Int).SetUint64(ref.number),
		TransactionIndex:  uint(index),
		Logs:              s.logs(ref, index),
	}
	r.Bloom = types.CreateBloom(r)
	return r
}

// logs completes the receipt's logs with their location.
func (s *storedReceipt) logs(ref blockRef, index int) []*types.Log {
	out := make([]*types.Log, len(s.Logs))
	for j, l := range s.Logs {
		l.BlockNumber = ref.number
		l.BlockHash = ref.hash
		l.BlockTimestamp = ref.time
		l.TxHash = s.TxHash
		l.TxIndex = uint(index)
		l.Index = uint(s.FirstLog) + uint(j)
		out[j] = l
	}
	return out
}

// knownSender is a types.Signer whose Sender answers from the chain store. Passing it once to
// types.Sender caches the sender in the transaction (as go-ethereum's ethclient does with the
// sender a server reported); later types.Sender calls with a signer equal to the embedded one
// (the block's types.MakeSigner) find it there and recover no signature.
type knownSender struct {
	types.Signer
	from common.Address
}

func (s knownSender) Sender(*types.Transaction) (common.Address, error) { return s.from, nil }

// chainStore is the chain data, in pebble (dir/chaindata; see the package doc). Every key but
// the meta keys is written once, in the batch that finishes its block, and never changed: there
// are no reorganisations. Readers therefore read the live database; the published head bounds
// what they ask for.
type chainStore struct {
	db     *pebble.DB
	write  *pebble.WriteOptions
	config *params.ChainConfig // set once the configuration is known (init)
}

// pebbleLogger sends pebble's log lines to the chain's logger; its informational lines (flushes,
// compactions) are debug lines here.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("core: pebble: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("core: pebble: " + fmt.Sprintf(format, args...))
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := "core: pebble: " + fmt.Sprintf(format, args...)
	l.log.Error(msg)
	panic(msg)
}

// openChainStore opens (or creates) the chain store in dir/chaindata. Its memory is bounded by
// the block cache (cacheBytes, which also holds the tables' index and filter blocks) and
// chainMemTables memtables of chainMemTable bytes.
func openChainStore(dir string, cacheBytes int64, noSync bool, log *slog.Logger) (*chainStore, error) {
	if _, err := os.Stat(filepath.Join(dir, "chain")); err == nil {
		return nil, fmt.Errorf("core: %s holds a chain store of an older format (dir/chain, a MetisDB); start from a new data directory", dir)
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                       cache,
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                chainMemTable,
		MemTableStopWritesThreshold: chainMemTables,
		Logger:                      pebbleLogger{log},
	}
	for i := range opts.Levels {
		// Transaction lookups are point reads of random hashes: a filter saves the misses.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(filepath.Join(dir, "chaindata"), opts)
	if err != nil {
		return nil, fmt.Errorf("core: open chain store: %w", err)
	}
	s := &chainStore{db: db, write: pebble.Sync}
	if noSync {
		s.write = pebble.NoSync
	}
	return s, nil
}

func (s *chainStore) Close() error { return s.db.Close() }

var errCorruptStore = errors.New("core: corrupt chain store")

// get returns a copy of the value of key, nil with ok false if absent.
func (s *chainStore) get(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("core: read chain store: %w", err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	return out, true, closer.Close()
}

// must returns the value of a key that must exist.
func (s *chainStore) must(key []byte) ([]byte, error) {
	v, ok, err := s.get(key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: missing key %x", errCorruptStore, key)
	}
	return v, nil
}

// scan calls fn with the key and value of every key that starts with prefix, in key order. The
// slices are valid only during the call.
func (s *chainStore) scan(prefix []byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("core: read chain store: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("core: read chain store: %w", err)
	}
	return nil
}

// prefixEnd is the smallest key greater than every key starting with prefix (nil if none).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i]++; end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func (s *chainStore) header(num uint64) (*types.Header, error) {
	v, err := s.must(numKey(prefixHeader, num))
	if err != nil {
		return nil, err
	}
	h := new(types.Header)
	if err := rlp.DecodeBytes(v, h); err != nil {
		return nil, fmt.Errorf("%w: header %d: %v", errCorruptStore, num, err)
	}
	return h, nil
}

func (s *chainStore) canonical(num uint64) (common.Hash, error) {
	v, err := s.must(numKey(prefixCanonical, num))
	if err != nil {
		return common.Hash{}, err
	}
	return common.BytesToHash(v), nil
}

// ref returns where block num is and its header.
func (s *chainStore) ref(num uint64) (blockRef, *types.Header, error) {
	h, err := s.header(num)
	if err != nil {
		return blockRef{}, nil, err
	}
	hash, err := s.canonical(num)
	if err != nil {
		return blockRef{}, nil, err
	}
	return blockRef{hash: hash, number: num, time: h.Time}, h, nil
}

// number returns the number of the block with hash h; ok is false if there is none.
func (s *chainStore) number(h common.Hash) (uint64, bool, error) {
	v, ok, err := s.get(hashKey(prefixHashNum, h))
	if err != nil || !ok {
		return 0, false, err
	}
	n, err := decodeNum(v)
	return n, err == nil, err
}

// decodeTx decodes a transaction record and caches its sender for signer.
func decodeTx(v []byte, signer types.Signer) (*types.Transaction, error) {
	if len(v) < common.AddressLength {
		return nil, fmt.Errorf("%w: transaction record of %d bytes", errCorruptStore, len(v))
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(v[common.AddressLength:]); err != nil {
		return nil, fmt.Errorf("%w: transaction: %v", errCorruptStore, err)
	}
	types.Sender(knownSender{signer, common.BytesToAddress(v[:common.AddressLength])}, tx)
	return tx, nil
}

// signer is the signer of block h, the one the RPC layer asks senders with.
func (s *chainStore) signer(h *types.Header) types.Signer {
	return types.MakeSigner(s.config, h.Number, h.Time)
}

// tx returns transaction index of the block with header h.
func (s *chainStore) tx(h *types.Header, index int) (*types.Transaction, error) {
	v, err := s.must(txKey(prefixTx, h.Number.Uint64(), index))
	if err != nil {
		return nil, err
	}
	return decodeTx(v, s.signer(h))
}

// txs returns the transactions of the block with header h, in order.
func (s *chainStore) txs(h *types.Header) ([]*types.Transaction, error) {
	signer := s.signer(h)
	var out []*types.Transaction
	err := s.scan(numKey(prefixTx, h.Number.Uint64()), func(_, v []byte) error {
		tx, err := decodeTx(v, signer)
		out = append(out, tx)
		return err
	})
	return out, err
}

func (s *chainStore) block(num uint64) (*types.Block, error) {
	h, err := s.header(num)
	if err != nil {
		return nil, err
	}
	txs, err := s.txs(h)
	if err != nil {
		return nil, err
	}
	body := types.Body{Transactions: txs}
	if h.WithdrawalsHash != nil {
		body.Withdrawals = []*types.Withdrawal{}
	}
	return types.NewBlockWithHeader(h).WithBody(body), nil
}

func decodeReceipt(v []byte) (*storedReceipt, error) {
	r := new(storedReceipt)
	if err := rlp.DecodeBytes(v, r); err != nil {
		return nil, fmt.Errorf("%w: receipt: %v", errCorruptStore, err)
	}
	return r, nil
}

// receipt returns the receipt of transaction index of block ref.
func (s *chainStore) receipt(ref blockRef, index int) (*types.Receipt, error) {
	v, err := s.must(txKey(prefixReceipt, ref.number, index))
	if err != nil {
		return nil, err
	}
	r, err := decodeReceipt(v)
	if err != nil {
		return nil, err
	}
	return r.receipt(ref, index), nil
}

// storedReceipts calls fn with each stored receipt of block num, in order.
func (s *chainStore) storedReceipts(num uint64, fn func(index int, r *storedReceipt) error) error {
	i := 0
	return s.scan(numKey(prefixReceipt, num), func(_, v []byte) error {
		r, err := decodeReceipt(v)
		if err != nil {
			return err
		}
		i++
		return fn(i-1, r)
	})
}

// receipts returns the receipts of block ref, in order.
func (s *chainStore) receipts(ref blockRef) (types.Receipts, error) {
	out := types.Receipts{}
	err := s.storedReceipts(ref.number, func(i int, r *storedReceipt) error {
		out = append(out, r.receipt(ref, i))
		return nil
	})
	return out, err
}

// writeBlock stages block with its receipts (every derived field set) and the senders of its
// transactions into w: header, canonical hash, hash index, transaction and receipt records,
// transaction lookups, log index and the head pointer.
func writeBlock(w *pebble.Batch, block *types.Block, receipts types.Receipts, senders []common.Address) error {
	num := block.NumberU64()
	txs := block.Transactions()
	if len(receipts) != len(txs) || len(senders) != len(txs) {
		return fmt.Errorf("core: block %d has %d transactions, %d receipts, %d senders", num, len(txs), len(receipts), len(senders))
	}
	hdr, err := rlp.EncodeToBytes(block.Header())
	if err != nil {
		return err
	}
	hash := block.Hash()
	sets := [][2][]byte{
		{numKey(prefixHeader, num), hdr},
		{numKey(prefixCanonical, num), hash[:]},
		{hashKey(prefixHashNum, hash), encodeNum(num)},
		{keyHead, encodeNum(num)},
	}
	seen := make(map[string]bool)
	index := func(k []byte) {
		if !seen[string(k)] {
			seen[string(k)] = true
			sets = append(sets, [2][]byte{k, {}})
		}
	}
	var logs uint64
	for i, tx := range txs {
		raw, err := tx.MarshalBinary()
		if err != nil {
			return err
		}
		rec, err := rlp.EncodeToBytes(newStoredReceipt(receipts[i], logs))
		if err != nil {
			return err
		}
		sets = append(sets,
			[2][]byte{txKey(prefixTx, num, i), append(senders[i].Bytes(), raw...)},
			[2][]byte{txKey(prefixReceipt, num, i), rec},
			[2][]byte{hashKey(prefixTxLookup, tx.Hash()), binary.BigEndian.AppendUint32(encodeNum(num), uint32(i))},
		)
		for _, l := range receipts[i].Logs {
			logs++
			index(logAddrKey(l.Address, num))
			for pos, topic := range l.Topics {
				if pos >= maxTopics {
					break
				}
				index(logTopicKey(pos, topic, num))
			}
		}
	}
	if logs > 0 {
		sets = append(sets, [2][]byte{numKey(prefixLogBlock, num), {}})
	}
	for _, kv := range sets {
		if err := w.Set(kv[0], kv[1], nil); err != nil {
			return fmt.Errorf("core: stage block %d: %w", num, err)
		}
	}
	return nil
}
