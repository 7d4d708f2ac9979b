package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// estimateErrorRatio is the overestimation eth_estimateGas accepts to finish early, as
// go-ethereum's.
const estimateErrorRatio = 0.015

// estimateGas binary-searches the lowest gas limit at which args execute without failing,
// with Backend.Call as the executor. It follows go-ethereum v1.17.10
// eth/gasestimator/gasestimator.go (Estimate, execute) and internal/ethapi (DoEstimateGas),
// LGPL-3.0, The go-ethereum Authors, without blob transactions.
func (s *Server) estimateGas(ctx context.Context, args *CallArgs, header *types.Header) (uint64, error) {
	cfg := s.backend.ChainConfig()
	msg, err := args.toMessage(s.opts.GasCap, header.BaseFee, cfg.ChainID)
	if err != nil {
		return 0, err
	}
	// The highest gas limit: the block's, or the caller's when given.
	hi := header.GasLimit
	if args.Gas != nil && uint64(*args.Gas) >= params.TxGas {
		hi = uint64(*args.Gas)
	}
	if hi > params.MaxTxGas && cfg.IsOsaka(header.Number, header.Time) && !cfg.IsAmsterdam(header.Number, header.Time) {
		hi = params.MaxTxGas
	}
	st, err := s.backend.State(header.Number.Uint64())
	if err != nil {
		return 0, err
	}
	// Cap it by what the sender can pay for.
	feeCap := msg.GasFeeCap
	if feeCap == nil {
		feeCap = new(uint256.Int)
	}
	if feeCap.BitLen() != 0 {
		available := new(uint256.Int).Set(st.GetBalance(msg.From))
		if msg.Value != nil {
			if msg.Value.Cmp(available) >= 0 {
				return 0, core.ErrInsufficientFundsForTransfer
			}
			available.Sub(available, msg.Value)
		}
		allowance := new(uint256.Int).Div(available, feeCap)
		if allowance.IsUint64() && hi > allowance.Uint64() {
			hi = allowance.Uint64()
		}
	}
	if s.opts.GasCap != 0 && hi > s.opts.GasCap {
		hi = s.opts.GasCap
	}
	// Estimating at the head means estimating for the next block: run in the pending context
	// (Backend.Call with head+1), where block-number-dependent writes cost what they will.
	target := header.Number.Uint64()
	if head := s.backend.CurrentHeader(); head != nil && head.Number.Uint64() == target {
		target++
	}
	execute := func(gas uint64) (bool, *core.ExecutionResult, error) {
		m := *msg
		m.GasLimit = gas
		res, err := s.callAt(ctx, &m, target)
		if err != nil {
			if errors.Is(err, core.ErrIntrinsicGas) || errors.Is(err, core.ErrGasLimitTooHigh) {
				return true, nil, nil // raise or lower the limit
			}
			return true, nil, err
		}
		return res.Failed(), res, nil
	}
	// A plain transfer runs no code: try it at exactly the intrinsic cost.
	if len(msg.Data) == 0 && msg.To != nil && len(st.GetCode(*msg.To)) == 0 {
		failed, res, err := execute(params.TxGas)
		if !failed && err == nil {
			return res.UsedGas, nil
		}
	}
	failed, res, err := execute(hi)
	if err != nil {
		return 0, err
	}
	if failed {
		if res != nil && errors.Is(res.Err, vm.ErrExecutionReverted) {
			return 0, newRevertError(res.ReturnData)
		}
		if res != nil && !errors.Is(res.Err, vm.ErrOutOfGas) {
			return 0, res.Err
		}
		return 0, fmt.Errorf("gas required exceeds allowance (%d)", hi)
	}
	var lo uint64 // highest known failing limit
	if res.UsedGas > 0 {
		lo = res.UsedGas - 1
	}
	// The first run's peak usage plus the 63/64 rule is usually enough.
	if optimistic := (res.MaxUsedGas + params.CallStipend) * 64 / 63; optimistic < hi {
		failed, _, err := execute(optimistic)
		if err != nil {
			return 0, err
		}
		if failed {
			lo = optimistic
		} else {
			hi = optimistic
		}
	}
	for lo+1 < hi {
		if float64(hi-lo)/float64(hi) < estimateErrorRatio {
			break
		}
		mid := lo + (hi-lo)/2
		if mid > lo*2 {
			mid = lo * 2
		}
		failed, _, err := execute(mid)
		if err != nil {
			return 0, err
		}
		if failed {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}
