package metisvm

import (
	"fmt"
	"math"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// SystemAddress is msg.sender of the calls the chain itself makes into modules at the end of a
// block, as for go-ethereum's EIP-4788 and EIP-2935 system calls.
var SystemAddress = params.SystemAddress

// SystemCallGas is the gas of one end-of-block system call, go-ethereum's figure for its own.
const SystemCallGas = 30_000_000

// GenesisInitializer is implemented by modules that write initial state (parameters, defaults)
// into the genesis block. InitGenesis runs once, from [Host.InstallModules], with a Call whose
// Load, Store, LoadBig and StoreBig work and whose gas is unlimited; it must not transfer, call
// other accounts or emit logs (there is no EVM at genesis).
type GenesisInitializer interface {
	InitGenesis(call *Call) error
}

// BlockEnder is implemented by modules the chain calls after every block's transactions
// ([Host.EndBlock]). EndBlockInput returns the calldata of that call given the block's fees;
// the call then runs like any other, with msg.sender [SystemAddress], no value and
// [SystemCallGas] gas, so the module checks the caller as it would for any privileged method.
type BlockEnder interface {
	EndBlockInput(fees Fees) []byte
}

// Burn destroys amount of the module's own balance (the supply shrinks).
func (c *Call) Burn(amount *uint256.Int) error {
	if err := c.writable(); err != nil {
		return err
	}
	if amount == nil || amount.IsZero() {
		return nil
	}
	if c.state.GetBalance(c.Address).Lt(amount) {
		return fmt.Errorf("%w: have %v, want to burn %v", ErrInsufficientModuleBalance, c.state.GetBalance(c.Address), amount)
	}
	c.state.SubBalance(c.Address, amount, tracing.BalanceDecreaseSelfdestructBurn)
	return nil
}

// EndBlock runs the end-of-block system call of every module that implements [BlockEnder], in
// address order, on evm (made by [Host.NewEVM] for the block being built, after its last
// transaction). As with go-ethereum's system calls, the calls are unsigned and not part of any
// transaction: they produce no receipt, their logs are dropped, and a failing call is reverted
// and reported but does not stop the block. It returns the first failure, for logging.
func (h *Host) EndBlock(evm *vm.EVM, fees Fees) error {
	var first error
	for _, addr := range h.addrs {
		ender, ok := h.modules[addr].(BlockEnder)
		if !ok {
			continue
		}
		input := ender.EndBlockInput(fees)
		evm.StateDB.Prepare(evm.GetRules(), common.Address{}, common.Address{}, nil, nil, nil)
		evm.StateDB.SetTxContext(common.Hash{}, math.MaxInt32, 0)
		evm.StateDB.AddAddressToAccessList(addr)
		ret, _, err := evm.Call(SystemAddress, addr, input, vm.NewGasBudget(SystemCallGas, 0), new(uint256.Int))
		evm.StateDB.Finalise(evm.GetRules())
		if err != nil && first == nil {
			first = fmt.Errorf("metisvm: end-of-block call to %s: %w (return data %x)", addr, err, ret)
		}
	}
	return first
}
