package metisvm

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/holiman/uint256"
)

// Result is the outcome of one message: go-ethereum's execution result
// (UsedGas, Err, ReturnData; Failed, Return and Revert) plus the fee figures
// the block builder needs. Logs are in the StateDB, as in go-ethereum.
type Result struct {
	core.ExecutionResult
	// GasPrice is the effective gas price paid per unit of gas (the
	// receipt's effectiveGasPrice): baseFee + effective tip.
	GasPrice *big.Int
	// Tip is the effective tip per unit of gas: GasPrice − baseFee.
	Tip *big.Int
	// Fees are what the message paid.
	Fees Fees
}

// RevertReason decodes the revert data as Error(string) or Panic(uint256);
// ok is false if the message did not revert or the data is something else
// (a custom error: decode it with the ABI).
func (r *Result) RevertReason() (reason string, ok bool) {
	data := r.Revert()
	if data == nil {
		return "", false
	}
	reason, err := abi.UnpackRevert(data)
	return reason, err == nil
}

// Fees are fee amounts in wei.
type Fees struct {
	// Tips is gasUsed × tip. go-ethereum's state transition credits it to the
	// COINBASE (LazAIAddress) with reason BalanceIncreaseRewardTransactionFee,
	// which the chain StateDB accumulates rather than writes.
	Tips *big.Int
	// BaseFees is gasUsed × baseFee: debited from the sender and credited to
	// no one by go-ethereum (the EIP-1559 burn). The block builder credits it
	// to LazAI.
	BaseFees *big.Int
}

// Total is Tips + BaseFees.
func (f Fees) Total() *big.Int {
	t := new(big.Int)
	if f.Tips != nil {
		t.Add(t, f.Tips)
	}
	if f.BaseFees != nil {
		t.Add(t, f.BaseFees)
	}
	return t
}

// Add adds g to f.
func (f *Fees) Add(g Fees) {
	if f.Tips == nil {
		f.Tips = new(big.Int)
	}
	if f.BaseFees == nil {
		f.BaseFees = new(big.Int)
	}
	if g.Tips != nil {
		f.Tips.Add(f.Tips, g.Tips)
	}
	if g.BaseFees != nil {
		f.BaseFees.Add(f.BaseFees, g.BaseFees)
	}
}

// MessageFees returns the fees of a message that used gasUsed gas at the
// effective gas price gasPrice under baseFee (nil means 0). A price below the
// base fee (possible only in eth_call) yields a zero tip.
func MessageFees(baseFee, gasPrice *big.Int, gasUsed uint64) Fees {
	bf := new(big.Int)
	if baseFee != nil {
		bf.Set(baseFee)
	}
	tip := new(big.Int)
	if gasPrice != nil && gasPrice.Cmp(bf) > 0 {
		tip.Sub(gasPrice, bf)
	}
	g := new(big.Int).SetUint64(gasUsed)
	return Fees{
		Tips:     tip.Mul(tip, g),
		BaseFees: bf.Mul(bf, g),
	}
}

// BlockFees sums the fees of a block's messages: Tips is what the StateDB
// accumulated for the COINBASE, BaseFees what go-ethereum burned; the block
// builder credits Total to LazAI once.
func BlockFees(results ...*Result) Fees {
	f := Fees{Tips: new(big.Int), BaseFees: new(big.Int)}
	for _, r := range results {
		if r != nil {
			f.Add(r.Fees)
		}
	}
	return f
}

// ApplyMessage executes msg on evm (made by [Host.NewEVM]) as part of a block,
// like core.ApplyMessage, whose consensus errors it returns unchanged (the
// message is invalid and must not be included).
func (h *Host) ApplyMessage(evm *vm.EVM, msg *core.Message, gp *core.GasPool) (*Result, error) {
	res, err := core.ApplyMessage(evm, msg, gp)
	if err != nil {
		return nil, err
	}
	return newResult(evm, msg, res), nil
}

func newResult(evm *vm.EVM, msg *core.Message, res *core.ExecutionResult) *Result {
	baseFee := new(big.Int)
	if evm.Context.BaseFee != nil {
		baseFee.Set(evm.Context.BaseFee)
	}
	price := new(big.Int)
	if msg.GasPrice != nil {
		price = msg.GasPrice.ToBig()
	}
	noFee := evm.Config.NoBaseFee && (msg.GasFeeCap == nil || msg.GasFeeCap.IsZero()) && (msg.GasTipCap == nil || msg.GasTipCap.IsZero())
	if noFee {
		// Mirrors the state transition: an eth_call without fee fields pays
		// nothing.
		price.SetUint64(0)
		baseFee.SetUint64(0)
	}
	fees := MessageFees(baseFee, price, res.UsedGas)
	tip := new(big.Int)
	if price.Cmp(baseFee) > 0 {
		tip.Sub(price, baseFee)
	}
	return &Result{ExecutionResult: *res, GasPrice: price, Tip: tip, Fees: fees}
}

// Call executes msg with eth_call semantics and discards its state changes:
// the nonce and EOA checks and the EIP-7825 gas cap are skipped, and a message
// without a gas price runs with a zero base fee and pays nothing (go-ethereum's
// NoBaseFee). It is not a static call: writes run and are then undone, so a
// state-changing method can be simulated and estimated. ctx cancels the
// execution. msg is not modified.
func (h *Host) Call(ctx context.Context, evm *vm.EVM, msg *core.Message) (*Result, error) {
	m := *msg
	m.SkipNonceCheck().SkipEOACheck().SkipGasLimitCapCheck()

	noFee, baseFee := evm.Config.NoBaseFee, evm.Context.BaseFee
	evm.Config.NoBaseFee = true
	if m.GasPrice == nil || m.GasPrice.IsZero() {
		evm.Context.BaseFee = new(big.Int)
	}
	defer func() { evm.Config.NoBaseFee, evm.Context.BaseFee = noFee, baseFee }()

	stop := context.AfterFunc(ctx, evm.Cancel)
	defer stop()

	snap := evm.StateDB.Snapshot()
	defer evm.StateDB.RevertToSnapshot(snap)

	res, err := core.ApplyMessage(evm, &m, core.NewGasPool(m.GasLimit))
	if evm.Cancelled() {
		return nil, fmt.Errorf("metisvm: call aborted: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, err
	}
	return newResult(evm, &m, res), nil
}

// StaticCall calls to from from as a top-level STATICCALL with gas gas: no
// transaction checks, no fees, and any write (in EVM code or in a module)
// fails with vm.ErrWriteProtection. It returns the return data (revert data
// if err is vm.ErrExecutionReverted) and the gas used. Use it for view calls
// from Go; the state is left as it was.
func (h *Host) StaticCall(evm *vm.EVM, from, to common.Address, input []byte, gas uint64) (ret []byte, gasUsed uint64, err error) {
	evm.SetTxContext(vm.TxContext{Origin: from, GasPrice: new(uint256.Int)})
	rules := evm.GetRules()
	evm.StateDB.Prepare(rules, from, evm.Context.Coinbase, &to, vm.ActivePrecompiles(rules), nil)

	snap := evm.StateDB.Snapshot()
	defer evm.StateDB.RevertToSnapshot(snap)

	ret, left, err := evm.StaticCall(from, to, input, vm.NewGasBudget(gas, 0))
	return ret, gas - left.ExecutionGas, err
}
