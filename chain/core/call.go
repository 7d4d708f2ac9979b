package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisdb"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/state"
)

// RevertError is a call that reverted: EstimateGas returns it when the call reverts even with
// the most gas allowed. Data is the revert data as returned (ABI-encoded Error(string),
// Panic(uint256) or a custom error); Reason is the decoded Error/Panic message, if any.
type RevertError struct {
	Data   []byte
	Reason string
}

func (e *RevertError) Error() string {
	if e.Reason != "" {
		return "execution reverted: " + e.Reason
	}
	return "execution reverted"
}

// Unwrap makes errors.Is(err, vm.ErrExecutionReverted) hold.
func (e *RevertError) Unwrap() error { return vm.ErrExecutionReverted }

func newRevertError(data []byte) *RevertError {
	e := &RevertError{Data: data}
	if reason, err := abi.UnpackRevert(data); err == nil {
		e.Reason = reason
	}
	return e
}

// callEnv is the header and state a call runs on: those of block num.
func (c *Chain) callEnv(num uint64) (*view, *types.Header, *metisdb.Snapshot, error) {
	v := c.view.Load()
	if head := v.block.NumberU64(); num == head+1 {
		// Pending: the head's state in the context of the block that will be built next, so
		// that code depending on the block number or time (a module's per-block checkpoint is
		// a new slot in the next block, an overwrite in the head's) is estimated as it will run.
		snap, err := c.stateDB.Snapshot(head + 1)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("core: state of block %d: %w", head, err)
		}
		return v, c.nextHeader(v.block.Header()), snap, nil
	}
	if err := v.has(num); err != nil {
		return nil, nil, nil, err
	}
	h, err := v.chain.header(num)
	if err != nil {
		return nil, nil, nil, err
	}
	snap, err := c.stateDB.Snapshot(num + 1)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("core: state of block %d: %w", num, err)
	}
	return v, h, snap, nil
}

// Call executes msg on the state after block num, in that block's context (num = head+1 means
// pending: the head's state in the next block's context, which gas estimation uses), with eth_call
// semantics (metisvm.Host.Call: no nonce or balance-for-gas checks without a gas price, writes
// discarded). A message without gas gets Options.RPCGasCap, and no message gets more. The
// result carries the return or revert data (res.Err is vm.ErrExecutionReverted on a revert);
// an error means the message could not run at all. msg is not modified.
func (c *Chain) Call(ctx context.Context, msg *gethcore.Message, num uint64) (*metisvm.Result, error) {
	v, h, snap, err := c.callEnv(num)
	if err != nil {
		return nil, err
	}
	m := *msg
	if m.GasLimit == 0 || m.GasLimit > c.opts.RPCGasCap {
		m.GasLimit = c.opts.RPCGasCap
	}
	return c.call(ctx, v, h, state.New(snap), &m)
}

func (c *Chain) call(ctx context.Context, v *view, h *types.Header, st *state.StateDB, m *gethcore.Message) (*metisvm.Result, error) {
	// The state transition dereferences these; an RPC message may leave them out.
	for _, p := range []**uint256.Int{&m.GasPrice, &m.GasFeeCap, &m.GasTipCap, &m.Value} {
		if *p == nil {
			*p = new(uint256.Int)
		}
	}
	evm := c.host.NewEVM(c.blockContext(v, h), st, vm.Config{NoBaseFee: true})
	res, err := c.host.Call(ctx, evm, m)
	if err == nil {
		err = st.Error()
	}
	return res, err
}

// estimateErrorRatio is go-ethereum's: stop the search within 1.5% of the optimum.
const estimateErrorRatio = 0.015

// EstimateGas returns the gas limit msg needs to succeed on the state after block num: a
// binary search over executions, as go-ethereum's eth/gasestimator does (which needs
// go-ethereum's concrete StateDB, so it is rewritten here). The upper bound is msg.GasLimit if
// set, else the block gas limit, capped by EIP-7825 (Osaka), by what the sender can pay at the
// message's fee cap, and by Options.RPCGasCap. A call that reverts at the upper bound returns a
// *RevertError with the revert data.
func (c *Chain) EstimateGas(ctx context.Context, msg *gethcore.Message, num uint64) (uint64, error) {
	v, h, snap, err := c.callEnv(num)
	if err != nil {
		return 0, err
	}
	call := *msg
	hi := h.GasLimit
	if call.GasLimit >= params.TxGas {
		hi = call.GasLimit
	}
	if c.config.IsOsaka(h.Number, h.Time) && !c.config.IsAmsterdam(h.Number, h.Time) && hi > params.MaxTxGas {
		hi = params.MaxTxGas
	}
	feeCap := call.GasFeeCap
	if feeCap == nil {
		feeCap = call.GasPrice
	}
	if feeCap != nil && !feeCap.IsZero() {
		available := state.New(snap).GetBalance(call.From)
		if call.Value != nil {
			if call.Value.Cmp(available) >= 0 {
				return 0, gethcore.ErrInsufficientFundsForTransfer
			}
			available.Sub(available, call.Value)
		}
		allowance := new(uint256.Int).Div(available, feeCap)
		if allowance.IsUint64() && hi > allowance.Uint64() {
			hi = allowance.Uint64()
		}
	}
	if hi > c.opts.RPCGasCap {
		hi = c.opts.RPCGasCap
	}

	// run executes the call with gas; failed means it did not succeed for a reason more gas
	// might fix.
	run := func(gas uint64) (failed bool, res *metisvm.Result, err error) {
		m := call
		m.GasLimit = gas
		// A cancelled search must stop, not read the aborted runs as "needs more gas".
		if err := ctx.Err(); err != nil {
			return true, nil, err
		}
		res, err = c.call(ctx, v, h, state.New(snap), &m)
		if err != nil {
			// Too little gas for the intrinsic cost or the EIP-7623 floor, or more than the
			// EIP-7825 cap: the search moves past it. Other errors are go-ethereum's
			// "failed with N gas" (eth/gasestimator.run).
			if errors.Is(err, gethcore.ErrIntrinsicGas) || errors.Is(err, gethcore.ErrFloorDataGas) || errors.Is(err, gethcore.ErrGasLimitTooHigh) {
				return true, nil, nil
			}
			return true, nil, fmt.Errorf("failed with %d gas: %w", gas, err)
		}
		return res.Failed(), res, nil
	}

	// A plain transfer to an account without code runs no code and gets no refund: run it once
	// at 21000 and take what it used.
	if len(call.Data) == 0 && call.To != nil && state.New(snap).GetCodeSize(*call.To) == 0 {
		if failed, res, err := run(params.TxGas); err == nil && !failed {
			return res.UsedGas, nil
		}
	}
	failed, res, err := run(hi)
	if err != nil {
		return 0, err
	}
	if failed {
		if res != nil && errors.Is(res.Err, vm.ErrExecutionReverted) {
			return 0, newRevertError(res.Revert())
		}
		if res != nil && !errors.Is(res.Err, vm.ErrOutOfGas) {
			return 0, res.Err
		}
		return 0, fmt.Errorf("gas required exceeds allowance (%d)", hi)
	}
	var lo uint64 // the highest limit known to fail
	if res.UsedGas > 0 {
		lo = res.UsedGas - 1
	}
	// The gas used plus refund, with the 63/64 rule's reserve, usually suffices.
	if opt := (res.MaxUsedGas + params.CallStipend) * 64 / 63; opt < hi {
		failed, _, err := run(opt)
		if err != nil {
			return 0, err
		}
		if failed {
			lo = opt
		} else {
			hi = opt
		}
	}
	for lo+1 < hi {
		if float64(hi-lo)/float64(hi) < estimateErrorRatio {
			break
		}
		mid := lo + (hi-lo)/2
		if mid > lo*2 {
			mid = lo * 2 // most transactions need little more than they use
		}
		failed, _, err := run(mid)
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
