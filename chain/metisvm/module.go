package metisvm

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// Module is a native system module: Go code at a fixed address with a Solidity
// interface.
type Module interface {
	// Address is the module's fixed address. Its storage lives in this
	// account's slots.
	Address() common.Address
	// ABI is the module's Solidity interface: methods, events and errors.
	ABI() *abi.ABI
	// Run executes one call. input is the calldata (4-byte selector and
	// ABI-encoded arguments); the result is the ABI-encoded return data.
	//
	// To revert, return an error: [Revert] or [Call.Revert] for a custom
	// Solidity error, [RevertReason] for Error(string), ret together with
	// vm.ErrExecutionReverted for raw revert data, or any other error, which
	// reverts with Error(err.Error()). Reverting undoes the module's writes and
	// logs and keeps the remaining gas. vm.ErrOutOfGas (from [Call.UseGas])
	// and vm.ErrWriteProtection burn all the frame's gas.
	Run(call *Call, input []byte) ([]byte, error)
}

// Call is one invocation of a module: who called it, with what value and gas,
// in which block, and the module's access to state and logs. All accessors
// charge gas the way the equivalent EVM opcode would at the Osaka fork. A Call
// is valid only during Module.Run.
type Call struct {
	Address     common.Address // the module's own address
	Caller      common.Address // msg.sender of this frame
	Origin      common.Address // tx.origin
	Value       *uint256.Int   // msg.value; never nil
	ReadOnly    bool           // static context: no writes, logs or transfers
	BlockNumber uint64
	BlockTime   uint64

	abi   *abi.ABI
	evm   *vm.EVM
	state vm.StateDB
	sess  *session
	gas   uint64 // remaining
	limit uint64
	oog   bool
}

// ErrInsufficientModuleBalance is returned by [Call.Transfer] when the module
// account cannot cover the amount.
var ErrInsufficientModuleBalance = errors.New("metisvm: insufficient module balance")

// Gas returns the gas left.
func (c *Call) Gas() uint64 { return c.gas }

// GasUsed returns the gas charged so far.
func (c *Call) GasUsed() uint64 {
	if c.gas > c.limit {
		return 0
	}
	return c.limit - c.gas
}

// UseGas charges n gas. If less than n is left, it consumes everything and
// returns vm.ErrOutOfGas; the call then fails out of gas whatever Run returns.
func (c *Call) UseGas(n uint64) error {
	if c.gas < n {
		c.gas = 0
		c.oog = true
		return vm.ErrOutOfGas
	}
	c.gas -= n
	return nil
}

func (c *Call) writable() error {
	if c.ReadOnly {
		return vm.ErrWriteProtection
	}
	return nil
}

// Load reads one slot of the module's storage, charging as SLOAD (EIP-2929:
// 2100 cold, 100 warm).
func (c *Call) Load(slot common.Hash) (common.Hash, error) {
	cost := params.WarmStorageReadCostEIP2929
	if _, ok := c.state.SlotInAccessList(c.Address, slot); !ok {
		cost = params.ColdSloadCostEIP2929
	}
	if err := c.UseGas(cost); err != nil {
		return common.Hash{}, err
	}
	c.state.AddSlotToAccessList(c.Address, slot)
	return c.state.GetState(c.Address, slot), nil
}

// LoadBig reads a slot as an unsigned integer.
func (c *Call) LoadBig(slot common.Hash) (*big.Int, error) {
	v, err := c.Load(slot)
	if err != nil {
		return nil, err
	}
	return v.Big(), nil
}

// Store writes one slot of the module's storage, charging and refunding as
// SSTORE (EIP-2200, EIP-2929, EIP-3529).
func (c *Call) Store(slot, value common.Hash) error {
	if err := c.writable(); err != nil {
		return err
	}
	var cost uint64
	if _, ok := c.state.SlotInAccessList(c.Address, slot); !ok {
		cost = params.ColdSloadCostEIP2929
	}
	current, original := c.state.GetStateAndCommittedState(c.Address, slot)
	var refund func()
	switch {
	case current == value:
		cost += params.WarmStorageReadCostEIP2929
	case original == current:
		if original == (common.Hash{}) {
			cost += params.SstoreSetGasEIP2200
		} else {
			cost += params.SstoreResetGasEIP2200 - params.ColdSloadCostEIP2929
			if value == (common.Hash{}) {
				refund = func() { c.state.AddRefund(params.SstoreClearsScheduleRefundEIP3529) }
			}
		}
	default:
		cost += params.WarmStorageReadCostEIP2929
		refund = func() {
			if original != (common.Hash{}) {
				if current == (common.Hash{}) {
					c.state.SubRefund(params.SstoreClearsScheduleRefundEIP3529)
				} else if value == (common.Hash{}) {
					c.state.AddRefund(params.SstoreClearsScheduleRefundEIP3529)
				}
			}
			if original == value {
				if original == (common.Hash{}) {
					c.state.AddRefund(params.SstoreSetGasEIP2200 - params.WarmStorageReadCostEIP2929)
				} else {
					c.state.AddRefund(params.SstoreResetGasEIP2200 - params.ColdSloadCostEIP2929 - params.WarmStorageReadCostEIP2929)
				}
			}
		}
	}
	if err := c.UseGas(cost); err != nil {
		return err
	}
	c.state.AddSlotToAccessList(c.Address, slot)
	if refund != nil {
		refund()
	}
	c.state.SetState(c.Address, slot, value)
	return nil
}

// StoreBig writes an unsigned integer (at most 256 bits) to a slot.
func (c *Call) StoreBig(slot common.Hash, v *big.Int) error {
	u, overflow := uint256.FromBig(v)
	if overflow || v.Sign() < 0 {
		return fmt.Errorf("metisvm: value %v does not fit a storage slot", v)
	}
	return c.Store(slot, u.Bytes32())
}

// Emit appends an ordinary EVM log from the module's address, charging as
// LOGn (375 + 375 per topic + 8 per data byte). At most four topics.
func (c *Call) Emit(topics []common.Hash, data []byte) error {
	if err := c.writable(); err != nil {
		return err
	}
	if len(topics) > 4 {
		return fmt.Errorf("metisvm: %d log topics, at most 4", len(topics))
	}
	cost := params.LogGas + uint64(len(topics))*params.LogTopicGas
	n := uint64(len(data))
	if n > (^uint64(0)-cost)/params.LogDataGas {
		return c.UseGas(^uint64(0))
	}
	cost += n * params.LogDataGas
	if err := c.UseGas(cost); err != nil {
		return err
	}
	c.state.AddLog(&types.Log{
		Address: c.Address,
		Topics:  append([]common.Hash(nil), topics...),
		Data:    common.CopyBytes(data),
	})
	return nil
}

// EmitEvent emits the module ABI's event name with args in the event's
// declaration order (indexed and non-indexed together), encoded the way
// Solidity does: topic 0 is the event id (unless anonymous), indexed
// arguments are topics (strings and bytes hashed), the rest is ABI-encoded
// data.
func (c *Call) EmitEvent(name string, args ...any) error {
	ev, ok := c.abi.Events[name]
	if !ok {
		return fmt.Errorf("metisvm: module %s has no event %q", c.Address, name)
	}
	if len(args) != len(ev.Inputs) {
		return fmt.Errorf("metisvm: event %s takes %d arguments, got %d", name, len(ev.Inputs), len(args))
	}
	var topics []common.Hash
	if !ev.Anonymous {
		topics = append(topics, ev.ID)
	}
	var data []any
	for i, in := range ev.Inputs {
		if !in.Indexed {
			data = append(data, args[i])
			continue
		}
		t, err := abi.MakeTopics([]any{args[i]})
		if err != nil {
			return fmt.Errorf("metisvm: event %s argument %s: %w", name, in.Name, err)
		}
		topics = append(topics, t[0][0])
	}
	packed, err := ev.Inputs.NonIndexed().Pack(data...)
	if err != nil {
		return fmt.Errorf("metisvm: event %s: %w", name, err)
	}
	return c.Emit(topics, packed)
}

// Revert returns the error that reverts this call with the module ABI's
// custom error name and its arguments, encoded as Solidity does.
func (c *Call) Revert(name string, args ...any) error {
	e, ok := c.abi.Errors[name]
	if !ok {
		return fmt.Errorf("metisvm: module %s has no error %q", c.Address, name)
	}
	return Revert(e, args...)
}

func (c *Call) accessAccount(addr common.Address) uint64 {
	if c.state.AddressInAccessList(addr) {
		return params.WarmStorageReadCostEIP2929
	}
	c.state.AddAddressToAccessList(addr)
	return params.ColdAccountAccessCostEIP2929
}

// Balance returns addr's balance, charging as BALANCE (2600 cold, 100 warm).
func (c *Call) Balance(addr common.Address) (*uint256.Int, error) {
	cost := params.WarmStorageReadCostEIP2929
	if !c.state.AddressInAccessList(addr) {
		cost = params.ColdAccountAccessCostEIP2929
	}
	if err := c.UseGas(cost); err != nil {
		return nil, err
	}
	c.state.AddAddressToAccessList(addr)
	return new(uint256.Int).Set(c.state.GetBalance(addr)), nil
}

// Transfer moves amount from the module account to to, charging as a CALL
// with value (access cost, 9000, plus 25000 if to is empty) without running
// any code at to.
func (c *Call) Transfer(to common.Address, amount *uint256.Int) error {
	if err := c.writable(); err != nil {
		return err
	}
	if amount == nil || amount.IsZero() {
		return nil
	}
	cost := params.CallValueTransferGas
	if !c.state.AddressInAccessList(to) {
		cost += params.ColdAccountAccessCostEIP2929
	} else {
		cost += params.WarmStorageReadCostEIP2929
	}
	if c.state.Empty(to) {
		cost += params.CallNewAccountGas
	}
	if err := c.UseGas(cost); err != nil {
		return err
	}
	c.state.AddAddressToAccessList(to)
	if !c.evm.Context.CanTransfer(c.state, c.Address, amount) {
		return fmt.Errorf("%w: have %v, want %v", ErrInsufficientModuleBalance, c.state.GetBalance(c.Address), amount)
	}
	rules := c.evm.GetRules()
	if !c.state.Exist(to) {
		c.state.CreateAccount(to)
	}
	c.evm.Context.Transfer(c.state, c.Address, to, amount, &rules)
	return nil
}

// CallContract calls another account (a contract, a precompile or another
// module) from the module, as the CALL opcode would: msg.sender is the
// module, the access and value-transfer costs are charged, at most gas (and
// at most all but one 64th of the gas left) is forwarded, plus the 2300
// stipend if value is nonzero, and unused gas comes back. In a static context
// it is a STATICCALL and value must be zero. It returns the callee's return
// data and its error: vm.ErrExecutionReverted with revert data in ret, or
// another vm error. A failed callee does not fail the module; returning its
// error from Run does.
func (c *Call) CallContract(to common.Address, input []byte, value *uint256.Int, gas uint64) ([]byte, error) {
	if value == nil {
		value = new(uint256.Int)
	}
	if c.ReadOnly && !value.IsZero() {
		return nil, vm.ErrWriteProtection
	}
	if len(c.sess.frames) > int(params.CallCreateDepth) {
		return nil, vm.ErrDepth
	}
	cost := c.accessAccount(to)
	if !value.IsZero() {
		cost += params.CallValueTransferGas
		if c.state.Empty(to) {
			cost += params.CallNewAccountGas
		}
	}
	if err := c.UseGas(cost); err != nil {
		return nil, err
	}
	forward := min(gas, c.gas-c.gas/64)
	c.gas -= forward
	budget := forward
	if !value.IsZero() {
		budget += params.CallStipend
	}
	var (
		ret  []byte
		left vm.GasBudget
		err  error
	)
	if c.ReadOnly {
		ret, left, err = c.evm.StaticCall(c.Address, to, input, vm.NewGasBudget(budget, 0))
	} else {
		ret, left, err = c.evm.Call(c.Address, to, input, vm.NewGasBudget(budget, 0), value)
	}
	c.gas += left.ExecutionGas
	return ret, err
}

// CallError is a CallMethod whose callee failed (reverted, or another EVM error). Data is the
// callee's return data: for a revert, its ABI-encoded error, which a module can pass on as its
// own revert with &RevertError{Data: e.Data}.
type CallError struct {
	Method string
	Err    error
	Data   []byte
}

func (e *CallError) Error() string {
	return fmt.Sprintf("metisvm: call of %s failed: %v (return data %x)", e.Method, e.Err, e.Data)
}

// Unwrap returns the callee's error.
func (e *CallError) Unwrap() error { return e.Err }

// CallMethod calls method of another account (usually another module) through a's ABI with
// CallContract, forwarding all the gas left and value (nil: none), and returns the decoded
// outputs. A failed callee comes back as a *CallError, except running out of gas, which comes
// back as vm.ErrOutOfGas so that it fails this call too.
func (c *Call) CallMethod(to common.Address, a *abi.ABI, value *uint256.Int, method string, args ...any) ([]any, error) {
	input, err := a.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("metisvm: encoding %s: %w", method, err)
	}
	ret, err := c.CallContract(to, input, value, c.Gas())
	if err != nil {
		if errors.Is(err, vm.ErrOutOfGas) {
			return nil, err
		}
		return nil, &CallError{Method: method, Err: err, Data: ret}
	}
	out, err := a.Unpack(method, ret)
	if err != nil {
		return nil, fmt.Errorf("metisvm: decoding the result of %s: %w", method, err)
	}
	return out, nil
}

// install makes the module account non-empty (code 0xfe, nonce 1) so that
// EIP-161 never deletes it with its storage.
func install(state vm.StateDB, addr common.Address, genesis bool) {
	codeReason, nonceReason := tracing.CodeChangeUnspecified, tracing.NonceChangeUnspecified
	if genesis {
		codeReason, nonceReason = tracing.CodeChangeGenesis, tracing.NonceChangeGenesis
	}
	if !state.Exist(addr) {
		state.CreateAccount(addr)
	}
	if state.GetCodeSize(addr) == 0 {
		state.SetCode(addr, ModuleCode, codeReason)
	}
	if state.GetNonce(addr) == 0 {
		state.SetNonce(addr, 1, nonceReason)
	}
}

// ModuleCode is the code of every module account: one INVALID opcode. It is
// never executed (the module's Go code runs instead); it makes the account
// non-empty and lets Solidity's extcodesize check pass.
var ModuleCode = []byte{byte(vm.INVALID)}
