package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/core/types"
)

// estimateGas turns eth_estimateGas arguments into a message and has the backend search for
// its gas (Backend.EstimateGas, which follows go-ethereum's eth/gasestimator). What stays
// here is what depends on the request: the argument defaults, Options.GasCap, the pending
// context at the head and the call timeout.
func (s *Server) estimateGas(ctx context.Context, args *CallArgs, header *types.Header) (uint64, error) {
	msg, err := args.toMessage(s.opts.GasCap, header.BaseFee, s.backend.ChainConfig().ChainID)
	if err != nil {
		return 0, err
	}
	// Without a gas argument toMessage gives the cap, but the search's upper bound is then the
	// block gas limit (go-ethereum's), which a limit below params.TxGas asks the backend for;
	// Options.GasCap still bounds it.
	if args.Gas == nil {
		msg.GasLimit = 0
		if s.opts.GasCap != 0 && header.GasLimit > s.opts.GasCap {
			msg.GasLimit = s.opts.GasCap
		}
	}
	// Estimating at the head means estimating for the next block: run in the pending context
	// (head+1), where block-number-dependent writes (a module's per-block checkpoint) cost
	// what they will.
	target := header.Number.Uint64()
	if head := s.backend.CurrentHeader(); head.Number.Uint64() == target {
		target++
	}
	// The timeout bounds the whole search, not each execution: the backend runs them all.
	cctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	gas, err := s.backend.EstimateGas(cctx, msg, target)
	if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return 0, fmt.Errorf("execution aborted (timeout = %v)", s.opts.CallTimeout)
	}
	return gas, err
}
