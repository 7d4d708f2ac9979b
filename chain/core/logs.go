package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// earliestBlockNumber is go-ethereum's rpc.EarliestBlockNumber (not imported: core does not
// depend on the RPC server).
const earliestBlockNumber = -5

// maxTopics is the number of topic positions a log has (LOG0..LOG4) and a filter may constrain.
const maxTopics = 4

// Errors of GetLogs, worded as go-ethereum's.
var (
	errInvalidBlockRange    = errors.New("invalid block range params")
	errBlockRangeIntoFuture = errors.New("block range extends beyond current head block")
	errExceedMaxTopics      = errors.New("exceed max topics")
	errBlockHashWithRange   = errors.New("cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
)

// GetLogs returns the logs matching q (eth_getLogs), in block and index order, every field
// derived.
//
// q.BlockHash selects one block; otherwise the range is [FromBlock, ToBlock], where a nil
// FromBlock means the genesis block and a nil ToBlock the head (go-ethereum's FilterQuery
// convention; the JSON-RPC default of "latest" for an absent fromBlock is the caller's to
// apply), negative numbers are rpc.BlockNumber tags (earliest is 0, latest, pending, safe and
// finalized are the head); a range past the head is an error, as in go-ethereum (a client
// polling ahead of the chain must not take "no logs" for an answer about blocks not yet
// sealed). Addresses is an OR-set; Topics[i] is the OR-set for position i, empty meaning any; a
// log matches if it has at least as many topics as the filter has positions.
//
// The log index (see the package doc) selects the candidate blocks: one range scan per distinct
// address and per distinct topic, so the cost is the number of addresses and topics plus the
// index entries in the range, never their product with the blocks. Then each candidate's
// receipts are read and their logs matched against the address and topic sets. A query that
// would read the receipts of more than Options.MaxLogBlocks blocks, or return more than
// Options.MaxLogs logs, fails with ErrQueryLimit; ctx bounds its time.
func (c *Chain) GetLogs(ctx context.Context, q ethereum.FilterQuery) ([]*types.Log, error) {
	if len(q.Topics) > maxTopics {
		return nil, errExceedMaxTopics
	}
	v := c.view.Load()
	head := v.block.NumberU64()
	var from, to uint64
	if q.BlockHash != nil {
		if q.FromBlock != nil || q.ToBlock != nil {
			return nil, errBlockHashWithRange
		}
		n, err := v.numberOf(*q.BlockHash)
		if err != nil {
			return nil, err
		}
		from, to = n, n
	} else {
		from, to = resolveNumber(q.FromBlock, 0, head), resolveNumber(q.ToBlock, head, head)
		if from > to {
			return nil, errInvalidBlockRange
		}
		if to > head {
			return nil, errBlockRangeIntoFuture
		}
	}

	f := newLogFilter(q)
	var work int64 // steps, for the tests' count (Chain.logWork)
	defer func() {
		if c.logWork != nil {
			c.logWork.Add(work)
		}
	}()
	var blocks []uint64
	if q.BlockHash != nil {
		blocks = []uint64{from}
	} else {
		var err error
		if blocks, err = f.candidates(ctx, v.chain, from, to, &work); err != nil {
			return nil, err
		}
	}
	if len(blocks) > c.opts.MaxLogBlocks {
		return nil, fmt.Errorf("%w: more than %d blocks to read; narrow the block range or add address/topic filters", ErrQueryLimit, c.opts.MaxLogBlocks)
	}
	out := []*types.Log{}
	for _, n := range blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		work++
		ref, _, err := v.chain.ref(n)
		if err != nil {
			return nil, err
		}
		err = v.chain.storedReceipts(n, func(i int, r *storedReceipt) error {
			for _, l := range r.logs(ref, i) {
				work++
				if f.matches(l) {
					out = append(out, l)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) > c.opts.MaxLogs {
			return nil, fmt.Errorf("%w: query returns more than %d logs; narrow the block range", ErrQueryLimit, c.opts.MaxLogs)
		}
	}
	return out, nil
}

// logFilter is a query's addresses and topics as sets.
type logFilter struct {
	addresses map[common.Address]struct{} // nil: any address
	topics    []map[common.Hash]struct{}  // per position; nil: any topic
}

func newLogFilter(q ethereum.FilterQuery) *logFilter {
	f := &logFilter{topics: make([]map[common.Hash]struct{}, len(q.Topics))}
	if len(q.Addresses) > 0 {
		f.addresses = make(map[common.Address]struct{}, len(q.Addresses))
		for _, a := range q.Addresses {
			f.addresses[a] = struct{}{}
		}
	}
	for i, topics := range q.Topics {
		if len(topics) > 0 {
			f.topics[i] = make(map[common.Hash]struct{}, len(topics))
			for _, t := range topics {
				f.topics[i][t] = struct{}{}
			}
		}
	}
	return f
}

// matches reports whether l matches the filter's addresses and topics.
func (f *logFilter) matches(l *types.Log) bool {
	if f.addresses != nil {
		if _, ok := f.addresses[l.Address]; !ok {
			return false
		}
	}
	if len(f.topics) > len(l.Topics) {
		return false
	}
	for i, set := range f.topics {
		if set == nil {
			continue
		}
		if _, ok := set[l.Topics[i]]; !ok {
			return false
		}
	}
	return true
}

// resolveNumber turns a FilterQuery bound into a block number.
func resolveNumber(n *big.Int, def, head uint64) uint64 {
	switch {
	case n == nil:
		return def
	case n.Sign() >= 0:
		if !n.IsUint64() {
			return head + 1
		}
		return n.Uint64()
	case n.Int64() == earliestBlockNumber:
		return 0
	default: // latest, pending, safe, finalized: a dev chain is final at its head
		return head
	}
}

// candidates returns the blocks in [from, to] that may hold matching logs, ascending: the
// intersection of the address index (union over the addresses) and, for each constrained topic
// position, the topic index (union over the topics); with no constraint, every block with logs.
func (f *logFilter) candidates(ctx context.Context, s *chainStore, from, to uint64, work *int64) ([]uint64, error) {
	var dims [][][]byte // per constrained dimension, the index prefixes to scan
	if f.addresses != nil {
		var prefixes [][]byte
		for a := range f.addresses {
			prefixes = append(prefixes, append([]byte{prefixLogAddr}, a[:]...))
		}
		dims = append(dims, prefixes)
	}
	for pos, set := range f.topics {
		if set == nil {
			continue
		}
		var prefixes [][]byte
		for t := range set {
			prefixes = append(prefixes, append([]byte{prefixLogTopic, byte(pos)}, t[:]...))
		}
		dims = append(dims, prefixes)
	}
	if len(dims) == 0 {
		dims = [][][]byte{{{prefixLogBlock}}}
	}
	var out []uint64
	for i, prefixes := range dims {
		blocks, err := scanUnion(ctx, s, prefixes, from, to, work)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			out = blocks
		} else {
			out = intersect(out, blocks)
		}
		if len(out) == 0 {
			break
		}
	}
	return out, nil
}

// scanUnion returns the block numbers of the keys prefix ‖ num with num in [from, to], over
// every prefix, sorted and without duplicates: one bounded range scan per prefix.
func scanUnion(ctx context.Context, s *chainStore, prefixes [][]byte, from, to uint64, work *int64) ([]uint64, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("core: log index: %w", err)
	}
	defer it.Close()
	var out []uint64
	for _, p := range prefixes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		*work++
		lower := binary.BigEndian.AppendUint64(bytes.Clone(p), from)
		upper := append(binary.BigEndian.AppendUint64(bytes.Clone(p), to), 0) // just past prefix ‖ to
		it.SetBounds(lower, upper)
		for ok := it.First(); ok; ok = it.Next() {
			if *work++; *work%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			if k := it.Key(); len(k) == len(p)+8 {
				out = append(out, binary.BigEndian.Uint64(k[len(p):]))
			}
		}
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("core: log index: %w", err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func intersect(a, b []uint64) []uint64 {
	var out []uint64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
