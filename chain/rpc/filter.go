package rpc

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

var (
	errExceedLogQueryLimit  = errors.New("exceed max addresses or topics per search position") // go-ethereum's
	errInvalidBlockRange    = invalidParams("invalid block range params")
	errBlockRangeIntoFuture = invalidParams("block range extends beyond current head block")
	errUnknownBlock         = errors.New("unknown block")
)

// blockReceipts returns block's receipts from the backend, checked against its transactions.
func (s *Server) blockReceipts(block *types.Block) (types.Receipts, error) {
	rs := s.backend.Receipts(block.Hash())
	if len(rs) != len(block.Transactions()) {
		return nil, fmt.Errorf("receipts of block %d (%s) unavailable: have %d for %d transactions",
			block.NumberU64(), block.Hash(), len(rs), len(block.Transactions()))
	}
	return rs, nil
}

// blockLogs returns the logs of the block with hash, in order, every field set.
func (s *Server) blockLogs(hash common.Hash) ([]*types.Log, error) {
	header := s.backend.HeaderByHash(hash)
	if header == nil {
		return nil, errUnknownBlock
	}
	if header.TxHash == types.EmptyTxsHash {
		return nil, nil
	}
	rs := s.backend.Receipts(hash)
	if len(rs) == 0 {
		return nil, fmt.Errorf("receipts of block %s unavailable", hash)
	}
	var logs []*types.Log
	for _, r := range rs {
		logs = append(logs, r.Logs...)
	}
	return logs, nil
}

// checkLogQuery applies go-ethereum's bounds on a filter's size: at most maxTopics positions
// and Options.LogQueryLimit addresses and topics per position.
func (s *Server) checkLogQuery(crit *FilterCriteria) error {
	if len(crit.Topics) > maxTopics {
		return invalidParams("exceed max topics: %d > %d", len(crit.Topics), maxTopics)
	}
	if len(crit.Addresses) > s.opts.LogQueryLimit {
		return invalidParams("%v: %d addresses, limit %d", errExceedLogQueryLimit, len(crit.Addresses), s.opts.LogQueryLimit)
	}
	for i, topics := range crit.Topics {
		if len(topics) > s.opts.LogQueryLimit {
			return invalidParams("%v: %d topics in position %d, limit %d", errExceedLogQueryLimit, len(topics), i, s.opts.LogQueryLimit)
		}
	}
	return nil
}

// getLogs runs an eth_getLogs query. The server checks the arguments and its limits
// (go-ethereum's errors; Options.MaxLogBlockRange and MaxLogResults as -32005) and resolves
// tags and the block hash; Backend.GetLogs, with the chain's log index, does the search.
func (s *Server) getLogs(ctx context.Context, crit *FilterCriteria) ([]*types.Log, error) {
	if err := s.checkLogQuery(crit); err != nil {
		return nil, err
	}
	q := ethereum.FilterQuery{Addresses: crit.Addresses, Topics: crit.Topics}
	if crit.BlockHash != nil {
		if crit.FromBlock != nil || crit.ToBlock != nil {
			return nil, invalidParams("can't specify fromBlock/toBlock with blockHash")
		}
		if s.backend.HeaderByHash(*crit.BlockHash) == nil {
			return nil, errUnknownBlock
		}
		q.BlockHash = crit.BlockHash
	} else {
		head := s.backend.CurrentHeader().Number.Uint64()
		from, to := resolveLogBound(crit.FromBlock, head), resolveLogBound(crit.ToBlock, head)
		if from > to {
			return nil, errInvalidBlockRange
		}
		if to > head {
			return nil, errBlockRangeIntoFuture
		}
		if span := to - from + 1; span > s.opts.MaxLogBlockRange {
			return nil, limitExceeded("block range too large: %d blocks, limit %d", span, s.opts.MaxLogBlockRange)
		}
		q.FromBlock, q.ToBlock = new(big.Int).SetUint64(from), new(big.Int).SetUint64(to)
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	logs, err := s.backend.GetLogs(ctx, q)
	if err != nil {
		return nil, timedOut(ctx, err)
	}
	if len(logs) > s.opts.MaxLogResults {
		return nil, limitExceeded("query returned more than %d results", s.opts.MaxLogResults)
	}
	if logs == nil {
		logs = []*types.Log{} // [], not null
	}
	return logs, nil
}

// resolveLogBound turns a filter bound into a block number: absent and every tag but
// "earliest" mean the head.
func resolveLogBound(n *big.Int, head uint64) uint64 {
	switch {
	case n == nil:
		return head
	case n.Sign() >= 0:
		if !n.IsUint64() {
			return ^uint64(0)
		}
		return n.Uint64()
	case n.Int64() == gethrpc.EarliestBlockNumber.Int64():
		return 0
	default:
		return head
	}
}

// filterLogs (for the logs subscription) is from go-ethereum v1.17.10 eth/filters/filter.go, LGPL-3.0,
// The go-ethereum Authors. A negative bound (a tag) does not restrict.
func filterLogs(logs []*types.Log, fromBlock, toBlock *big.Int, addresses []common.Address, topics [][]common.Hash) []*types.Log {
	check := func(log *types.Log) bool {
		if fromBlock != nil && fromBlock.Sign() >= 0 && (!fromBlock.IsUint64() || fromBlock.Uint64() > log.BlockNumber) {
			return false
		}
		if toBlock != nil && toBlock.Sign() >= 0 && toBlock.IsUint64() && toBlock.Uint64() < log.BlockNumber {
			return false
		}
		if len(addresses) > 0 && !slices.Contains(addresses, log.Address) {
			return false
		}
		// A filter with more topic positions than the log has cannot match.
		if len(topics) > len(log.Topics) {
			return false
		}
		for i, sub := range topics {
			if len(sub) == 0 {
				continue // empty rule set == wildcard
			}
			if !slices.Contains(sub, log.Topics[i]) {
				return false
			}
		}
		return true
	}
	var ret []*types.Log
	for _, log := range logs {
		if check(log) {
			ret = append(ret, log)
		}
	}
	return ret
}
