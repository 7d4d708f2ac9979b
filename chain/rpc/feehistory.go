package rpc

import (
	"context"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Fee history limits, as go-ethereum's defaults.
const (
	maxFeeHistoryBlocks      = 1024
	maxFeeHistoryPercentiles = 100
)

// feeHistoryResult is go-ethereum's eth_feeHistory answer (internal/ethapi/api.go) without
// the blob fields.
type feeHistoryResult struct {
	OldestBlock  *hexutil.Big     `json:"oldestBlock"`
	Reward       [][]*hexutil.Big `json:"reward,omitempty"`
	BaseFee      []*hexutil.Big   `json:"baseFeePerGas,omitempty"`
	GasUsedRatio []float64        `json:"gasUsedRatio"`
}

// feeHistory follows go-ethereum v1.17.10 eth/gasprice/feehistory.go (Oracle.FeeHistory,
// processBlock), LGPL-3.0, The go-ethereum Authors: blockCount blocks ending at lastBlock
// (truncated to what exists and to 1024), base fees including the next block's, gas used
// ratios and, per block, the requested percentiles of effective tips weighted by gas used.
func (s *Server) feeHistory(ctx context.Context, blockCount uint64, lastBlock gethrpc.BlockNumber, percentiles []float64) (*feeHistoryResult, error) {
	if blockCount < 1 {
		return &feeHistoryResult{OldestBlock: (*hexutil.Big)(new(big.Int))}, nil
	}
	if len(percentiles) > maxFeeHistoryPercentiles {
		return nil, invalidParams("invalid reward percentile: over the query limit %d", maxFeeHistoryPercentiles)
	}
	for i, p := range percentiles {
		if p < 0 || p > 100 {
			return nil, invalidParams("invalid reward percentile: %f", p)
		}
		if i > 0 && p <= percentiles[i-1] {
			return nil, invalidParams("invalid reward percentile: #%d:%f >= #%d:%f", i-1, percentiles[i-1], i, p)
		}
	}
	blockCount = min(blockCount, maxFeeHistoryBlocks)
	last := s.headerByNumber(lastBlock)
	if last == nil {
		return nil, invalidParams("request beyond head block: %d", lastBlock)
	}
	lastNum := last.Number.Uint64()
	blockCount = min(blockCount, lastNum+1)
	oldest := lastNum + 1 - blockCount
	cfg := s.backend.ChainConfig()
	res := &feeHistoryResult{
		OldestBlock:  (*hexutil.Big)(new(big.Int).SetUint64(oldest)),
		BaseFee:      make([]*hexutil.Big, blockCount+1),
		GasUsedRatio: make([]float64, blockCount),
	}
	if len(percentiles) > 0 {
		res.Reward = make([][]*hexutil.Big, blockCount)
	}
	for i := uint64(0); i < blockCount; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := oldest + i
		h := s.backend.HeaderByNumber(n)
		if h == nil {
			return nil, ErrHeaderNotFound
		}
		bf := new(big.Int)
		if h.BaseFee != nil {
			bf.Set(h.BaseFee)
		}
		res.BaseFee[i] = (*hexutil.Big)(bf)
		if h.GasLimit > 0 {
			res.GasUsedRatio[i] = float64(h.GasUsed) / float64(h.GasLimit)
		}
		if i == blockCount-1 {
			next := new(big.Int)
			if h.BaseFee != nil && cfg.IsLondon(new(big.Int).SetUint64(n+1)) {
				next = eip1559.CalcBaseFee(cfg, h)
			}
			res.BaseFee[blockCount] = (*hexutil.Big)(next)
		}
		if len(percentiles) > 0 {
			reward, err := s.blockRewards(h.Hash(), percentiles)
			if err != nil {
				return nil, err
			}
			res.Reward[i] = reward
		}
	}
	return res, nil
}

// blockRewards returns the percentiles of the block's effective tips, weighted by gas used.
func (s *Server) blockRewards(hash [32]byte, percentiles []float64) ([]*hexutil.Big, error) {
	out := make([]*hexutil.Big, len(percentiles))
	block := s.backend.BlockByHash(hash)
	if block == nil {
		return nil, ErrHeaderNotFound
	}
	txs := block.Transactions()
	if len(txs) == 0 {
		for i := range out {
			out[i] = (*hexutil.Big)(new(big.Int))
		}
		return out, nil
	}
	rs, err := s.blockReceipts(block)
	if err != nil {
		return nil, err
	}
	type gasAndReward struct {
		gasUsed uint64
		reward  *big.Int
	}
	sorter := make([]gasAndReward, len(txs))
	for i, tx := range txs {
		reward, _ := tx.EffectiveGasTip(block.BaseFee())
		if reward == nil || reward.Sign() < 0 {
			reward = new(big.Int)
		}
		sorter[i] = gasAndReward{gasUsed: rs[i].GasUsed, reward: reward}
	}
	slices.SortStableFunc(sorter, func(a, b gasAndReward) int { return a.reward.Cmp(b.reward) })
	txIndex := 0
	sumGasUsed := sorter[0].gasUsed
	for i, p := range percentiles {
		threshold := uint64(float64(block.GasUsed()) * p / 100)
		for sumGasUsed < threshold && txIndex < len(txs)-1 {
			txIndex++
			sumGasUsed += sorter[txIndex].gasUsed
		}
		out[i] = (*hexutil.Big)(sorter[txIndex].reward)
	}
	return out, nil
}
