package core

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// Limits of FeeHistory, as go-ethereum's.
const (
	maxFeeHistoryBlocks      = 1024
	maxFeeHistoryPercentiles = 100
)

// Errors of FeeHistory, worded as go-ethereum's.
var (
	errInvalidPercentile = errors.New("invalid reward percentile")
	errRequestBeyondHead = errors.New("request beyond head block")
)

// FeeHistory is what eth_feeHistory reports.
type FeeHistory struct {
	OldestBlock uint64
	// BaseFees has one entry per block plus the base fee of the block after the last.
	BaseFees      []*big.Int
	GasUsedRatios []float64
	// Rewards[i][j] is the effective tip at percentile j (weighted by gas used) of block i; nil
	// when no percentiles were asked.
	Rewards [][]*big.Int
	// BlobBaseFees (one more than blocks) and BlobGasUsedRatios: this chain carries no blobs,
	// so the ratios are 0 and the fee stays the minimum.
	BlobBaseFees      []*big.Int
	BlobGasUsedRatios []float64
}

// FeeHistory returns the fee history of up to blocks blocks ending at block last (which must
// not be beyond the head; at most 1024 blocks, none for blocks = 0), with the effective tips at
// the given percentiles, which must be in [0, 100] and strictly ascending.
func (c *Chain) FeeHistory(ctx context.Context, blocks uint64, last uint64, percentiles []float64) (*FeeHistory, error) {
	// Checks and messages are go-ethereum's (eth/gasprice.Oracle.FeeHistory), which clients see.
	if len(percentiles) > maxFeeHistoryPercentiles {
		return nil, fmt.Errorf("%w: over the query limit %d", errInvalidPercentile, maxFeeHistoryPercentiles)
	}
	for i, p := range percentiles {
		if p < 0 || p > 100 {
			return nil, fmt.Errorf("%w: %f", errInvalidPercentile, p)
		}
		if i > 0 && p <= percentiles[i-1] {
			return nil, fmt.Errorf("%w: #%d:%f >= #%d:%f", errInvalidPercentile, i-1, percentiles[i-1], i, p)
		}
	}
	if blocks == 0 {
		return &FeeHistory{}, nil // no blocks asked, none reported (not an error in go-ethereum)
	}
	v := c.view.Load()
	if head := v.block.NumberU64(); last > head {
		return nil, fmt.Errorf("%w: requested %d, head %d", errRequestBeyondHead, last, head)
	}
	blocks = min(blocks, maxFeeHistoryBlocks, last+1)
	oldest := last + 1 - blocks
	fh := &FeeHistory{OldestBlock: oldest}
	for n := oldest; n <= last; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h := v.block.Header()
		if n != h.Number.Uint64() {
			var err error
			if h, err = v.chain.header(n); err != nil {
				return nil, err
			}
		}
		if len(percentiles) > 0 {
			rewards, err := c.blockRewards(v, h, percentiles)
			if err != nil {
				return nil, err
			}
			fh.Rewards = append(fh.Rewards, rewards)
		}
		fh.BaseFees = append(fh.BaseFees, new(big.Int).Set(h.BaseFee))
		fh.GasUsedRatios = append(fh.GasUsedRatios, float64(h.GasUsed)/float64(h.GasLimit))
		fh.BlobBaseFees = append(fh.BlobBaseFees, c.blobBaseFee(h))
		fh.BlobGasUsedRatios = append(fh.BlobGasUsedRatios, 0)
		if n == last {
			fh.BaseFees = append(fh.BaseFees, eip1559.CalcBaseFee(c.config, h))
			fh.BlobBaseFees = append(fh.BlobBaseFees, c.blobBaseFee(h))
		}
	}
	return fh, nil
}

// blobBaseFee is the blob base fee of a block (0 before Cancun).
func (c *Chain) blobBaseFee(h *types.Header) *big.Int {
	if h.ExcessBlobGas == nil || !c.config.IsCancun(h.Number, h.Time) {
		return new(big.Int)
	}
	return eip4844.CalcBlobFee(c.config, h)
}

// blockRewards returns the effective tips of the block with header h at the percentiles, weighted by gas used
// (go-ethereum's eth/gasprice algorithm). A transaction's effective tip is its effective gas
// price, stored with its receipt, less the block's base fee.
func (c *Chain) blockRewards(v *view, h *types.Header, percentiles []float64) ([]*big.Int, error) {
	type txReward struct {
		gasUsed uint64
		reward  *big.Int
	}
	var sorted []txReward
	err := v.chain.storedReceipts(h.Number.Uint64(), func(_ int, r *storedReceipt) error {
		sorted = append(sorted, txReward{gasUsed: r.GasUsed, reward: new(big.Int).Sub(r.EffectiveGasPrice, h.BaseFee)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*big.Int, len(percentiles))
	if len(sorted) == 0 {
		for i := range out {
			out[i] = new(big.Int)
		}
		return out, nil
	}
	slices.SortStableFunc(sorted, func(a, b txReward) int { return a.reward.Cmp(b.reward) })
	i, sum := 0, sorted[0].gasUsed
	for j, p := range percentiles {
		threshold := uint64(float64(h.GasUsed) * p / 100)
		for sum < threshold && i < len(sorted)-1 {
			i++
			sum += sorted[i].gasUsed
		}
		out[j] = sorted[i].reward
	}
	return out, nil
}

// Tip oracle parameters, as go-ethereum's gas price oracle (eth/gasprice) defaults.
const (
	tipBlocks     = 20 // blocks sampled
	tipPerBlock   = 3  // lowest tips taken from each block
	tipPercentile = 60
)

// DefaultTip is what SuggestTip answers when the recent blocks carry no transactions: 1 gwei,
// as Hardhat and Anvil suggest.
var DefaultTip = big.NewInt(params.GWei)

// tipCache is the last SuggestTip answer and the head it was computed at.
type tipCache struct {
	head common.Hash
	tip  *big.Int
}

// SuggestTip returns a priority fee (wei) likely to be included soon
// (eth_maxPriorityFeePerGas): go-ethereum's rule, the 60th percentile of the three lowest
// effective tips of each of the last 20 blocks, or DefaultTip if they carry no transaction.
func (c *Chain) SuggestTip() *big.Int {
	v := c.view.Load()
	head := v.block.Hash()
	if tc := c.tip.Load(); tc != nil && tc.head == head {
		return new(big.Int).Set(tc.tip)
	}
	var tips []*big.Int
	last := v.block.NumberU64()
	for n := last; n+tipBlocks > last; n-- {
		b := v.block
		if n != last {
			var err error
			if b, err = v.chain.block(n); err != nil {
				break
			}
		}
		var bt []*big.Int
		for _, tx := range b.Transactions() {
			if tip, err := tx.EffectiveGasTip(b.BaseFee()); err == nil {
				bt = append(bt, tip)
			}
		}
		slices.SortFunc(bt, func(a, b *big.Int) int { return a.Cmp(b) })
		tips = append(tips, bt[:min(len(bt), tipPerBlock)]...)
		if n == 0 {
			break
		}
	}
	tip := new(big.Int).Set(DefaultTip)
	if len(tips) > 0 {
		slices.SortFunc(tips, func(a, b *big.Int) int { return a.Cmp(b) })
		tip.Set(tips[(len(tips)-1)*tipPercentile/100])
	}
	c.tip.Store(&tipCache{head: head, tip: tip})
	return new(big.Int).Set(tip)
}
