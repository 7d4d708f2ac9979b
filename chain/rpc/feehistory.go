package rpc

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common/hexutil"
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

// feeHistory checks the arguments as go-ethereum v1.17.10 eth/gasprice/feehistory.go
// (Oracle.FeeHistory) does, so that a bad request is -32602 with geth's message, resolves the
// last block and has the backend compute the history.
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
	last := s.headerByNumber(lastBlock)
	if last == nil {
		return nil, invalidParams("request beyond head block: %d", lastBlock)
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	fh, err := s.backend.FeeHistory(ctx, min(blockCount, maxFeeHistoryBlocks), last.Number.Uint64(), percentiles)
	err = timedOut(ctx, err)
	if err != nil {
		return nil, err
	}
	hb := func(v *big.Int) *hexutil.Big {
		if v == nil {
			return (*hexutil.Big)(new(big.Int))
		}
		return (*hexutil.Big)(new(big.Int).Set(v))
	}
	res := &feeHistoryResult{
		OldestBlock:  hb(new(big.Int).SetUint64(fh.OldestBlock)),
		BaseFee:      make([]*hexutil.Big, len(fh.BaseFees)),
		GasUsedRatio: fh.GasUsedRatios,
	}
	for i, bf := range fh.BaseFees {
		res.BaseFee[i] = hb(bf)
	}
	if len(percentiles) > 0 {
		res.Reward = make([][]*hexutil.Big, len(fh.Rewards))
		for i, rs := range fh.Rewards {
			res.Reward[i] = make([]*hexutil.Big, len(rs))
			for j, r := range rs {
				res.Reward[i][j] = hb(r)
			}
		}
	}
	return res, nil
}
