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
	errInvalidBlockRange    = invalidParams("invalid block range params")
	errBlockRangeIntoFuture = invalidParams("block range extends beyond current head block")
	errUnknownBlock         = errors.New("unknown block")
)

// blockReceipts returns copies of block's receipts with every derived field filled
// (transaction hash and index, block location, gas used, effective gas price, contract
// address, log positions), so the backend's receipts are never mutated.
func (s *Server) blockReceipts(block *types.Block) (types.Receipts, error) {
	txs := block.Transactions()
	orig := s.backend.Receipts(block.Hash())
	if len(orig) != len(txs) {
		return nil, fmt.Errorf("receipts of block %d (%s) unavailable: have %d for %d transactions",
			block.NumberU64(), block.Hash(), len(orig), len(txs))
	}
	rs := make(types.Receipts, len(orig))
	for i, r := range orig {
		cp := *r
		cp.Logs = make([]*types.Log, len(r.Logs))
		for j, l := range r.Logs {
			lc := *l
			cp.Logs[j] = &lc
		}
		rs[i] = &cp
	}
	if err := rs.DeriveFields(s.backend.ChainConfig(), block.Hash(), block.NumberU64(), block.Time(), block.BaseFee(), nil, txs); err != nil {
		return nil, err
	}
	return rs, nil
}

// blockLogs returns the logs of the block with hash, in order, with derived fields.
func (s *Server) blockLogs(hash common.Hash) ([]*types.Log, error) {
	block := s.backend.BlockByHash(hash)
	if block == nil {
		return nil, errUnknownBlock
	}
	if len(block.Transactions()) == 0 {
		return nil, nil
	}
	rs, err := s.blockReceipts(block)
	if err != nil {
		return nil, err
	}
	var logs []*types.Log
	for _, r := range rs {
		logs = append(logs, r.Logs...)
	}
	return logs, nil
}

// getLogs runs an eth_getLogs query. The server checks the arguments and its limits
// (go-ethereum's errors; Options.MaxLogBlockRange and MaxLogResults as -32005) and resolves
// tags and the block hash; Backend.GetLogs, with the chain's log index, does the search.
func (s *Server) getLogs(ctx context.Context, crit *FilterCriteria) ([]*types.Log, error) {
	if len(crit.Topics) > maxTopics {
		return nil, invalidParams("exceed max topics: %d > %d", len(crit.Topics), maxTopics)
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
	logs, err := s.backend.GetLogs(ctx, q)
	if err != nil {
		return nil, err
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
