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
// polling ahead of the chain must not take "no logs" for an answer about blocks not yet sealed). Addresses is an OR-set;
// Topics[i] is the OR-set for position i, empty meaning any; a log matches if it has at least as
// many topics as the filter has positions.
//
// The log index (see the package doc) selects the candidate blocks; each candidate's bloom is
// checked, then its receipts are read and filtered. A query that would read the receipts of
// more than Options.MaxLogBlocks blocks, or return more than Options.MaxLogs logs, fails with
// ErrQueryLimit.
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

	var blocks []uint64
	if q.BlockHash != nil {
		blocks = []uint64{from}
	} else {
		var err error
		if blocks, err = c.candidates(v, q, from, to); err != nil {
			return nil, err
		}
	}
	out := []*types.Log{}
	read := 0
	for _, n := range blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raw, ok, err := v.chain.get(numKey(prefixLogBloom, n))
		if err != nil {
			return nil, err
		}
		if !ok || len(raw) != types.BloomByteLength || !bloomMatches(types.BytesToBloom(raw), q) {
			continue
		}
		if read++; read > c.opts.MaxLogBlocks {
			return nil, fmt.Errorf("%w: more than %d blocks to read; narrow the block range or add address/topic filters", ErrQueryLimit, c.opts.MaxLogBlocks)
		}
		rs, _, err := v.chain.receipts(c.config, n)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			for _, l := range r.Logs {
				if logMatches(l, q) {
					out = append(out, l)
				}
			}
		}
		if len(out) > c.opts.MaxLogs {
			return nil, fmt.Errorf("%w: query returns more than %d logs; narrow the block range", ErrQueryLimit, c.opts.MaxLogs)
		}
	}
	return out, nil
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
func (c *Chain) candidates(v *view, q ethereum.FilterQuery, from, to uint64) ([]uint64, error) {
	var sets [][]uint64
	if len(q.Addresses) > 0 {
		var prefixes [][]byte
		for _, a := range q.Addresses {
			prefixes = append(prefixes, append([]byte{prefixLogAddr}, a[:]...))
		}
		s, err := scanUnion(v, prefixes, from, to)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	for pos, topics := range q.Topics {
		if len(topics) == 0 {
			continue
		}
		var prefixes [][]byte
		for _, t := range topics {
			prefixes = append(prefixes, append([]byte{prefixLogTopic, byte(pos)}, t[:]...))
		}
		s, err := scanUnion(v, prefixes, from, to)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	if len(sets) == 0 {
		return scanUnion(v, [][]byte{{prefixLogBloom}}, from, to)
	}
	out := sets[0]
	for _, s := range sets[1:] {
		out = intersect(out, s)
	}
	return out, nil
}

// scanUnion returns the block numbers of the keys prefix ‖ num with num in [from, to], over
// every prefix, sorted and without duplicates.
func scanUnion(v *view, prefixes [][]byte, from, to uint64) ([]uint64, error) {
	var out []uint64
	for _, p := range prefixes {
		start := binary.BigEndian.AppendUint64(bytes.Clone(p), from)
		end := binary.BigEndian.AppendUint64(bytes.Clone(p), to)
		end = append(end, 0) // just past prefix ‖ to
		it, err := v.chain.s.Iterator(start, end)
		if err != nil {
			return nil, fmt.Errorf("core: log index: %w", err)
		}
		for it.Next() {
			k := it.Key()
			if len(k) != len(p)+8 {
				continue
			}
			out = append(out, binary.BigEndian.Uint64(k[len(p):]))
		}
		err = it.Err()
		it.Close()
		if err != nil {
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

// bloomMatches reports whether a block bloom may hold a log matching q.
func bloomMatches(bloom types.Bloom, q ethereum.FilterQuery) bool {
	if len(q.Addresses) > 0 {
		if !slices.ContainsFunc(q.Addresses, func(a common.Address) bool { return types.BloomLookup(bloom, a) }) {
			return false
		}
	}
	for _, topics := range q.Topics {
		if len(topics) > 0 && !slices.ContainsFunc(topics, func(t common.Hash) bool { return types.BloomLookup(bloom, t) }) {
			return false
		}
	}
	return true
}

// logMatches reports whether l matches the address and topic filters of q.
func logMatches(l *types.Log, q ethereum.FilterQuery) bool {
	if len(q.Addresses) > 0 && !slices.Contains(q.Addresses, l.Address) {
		return false
	}
	if len(q.Topics) > len(l.Topics) {
		return false
	}
	for i, topics := range q.Topics {
		if len(topics) > 0 && !slices.Contains(topics, l.Topics[i]) {
			return false
		}
	}
	return true
}
