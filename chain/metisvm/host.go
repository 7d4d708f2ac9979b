package metisvm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// Host holds the chain configuration and the system modules, and makes EVMs
// that dispatch calls to them. A Host is immutable and safe for concurrent
// use; the EVMs it makes are not (one per goroutine, as in go-ethereum).
type Host struct {
	config  *params.ChainConfig
	modules map[common.Address]Module
	addrs   []common.Address // sorted
}

// ErrBadModule reports a module that cannot be registered.
var ErrBadModule = errors.New("metisvm: bad module")

// NewHost returns a host for config with modules. Module addresses must be
// distinct, nonzero and not those of standard precompiles, and every module
// must have an ABI.
func NewHost(config *params.ChainConfig, modules ...Module) (*Host, error) {
	if config == nil || config.ChainID == nil {
		return nil, errors.New("metisvm: nil chain config or chain id")
	}
	if err := config.CheckConfigForkOrder(); err != nil {
		return nil, fmt.Errorf("metisvm: %w", err)
	}
	h := &Host{config: config, modules: make(map[common.Address]Module, len(modules))}
	for _, m := range modules {
		if m == nil {
			return nil, fmt.Errorf("%w: nil", ErrBadModule)
		}
		addr := m.Address()
		switch {
		case addr == (common.Address{}):
			return nil, fmt.Errorf("%w: zero address", ErrBadModule)
		case m.ABI() == nil:
			return nil, fmt.Errorf("%w: %s has no ABI", ErrBadModule, addr)
		case h.modules[addr] != nil:
			return nil, fmt.Errorf("%w: two modules at %s", ErrBadModule, addr)
		}
		if _, ok := vm.PrecompiledContractsOsaka[addr]; ok {
			return nil, fmt.Errorf("%w: %s is a standard precompile", ErrBadModule, addr)
		}
		h.modules[addr] = m
		h.addrs = append(h.addrs, addr)
	}
	slices.SortFunc(h.addrs, func(a, b common.Address) int { return bytes.Compare(a[:], b[:]) })
	return h, nil
}

// ChainConfig returns the host's chain configuration.
func (h *Host) ChainConfig() *params.ChainConfig { return h.config }

// Module returns the module at addr, if any.
func (h *Host) Module(addr common.Address) (Module, bool) {
	m, ok := h.modules[addr]
	return m, ok
}

// Addresses returns the module addresses in ascending order.
func (h *Host) Addresses() []common.Address { return slices.Clone(h.addrs) }

// InstallModules prepares the module accounts in a genesis state: each gets
// code [ModuleCode] and nonce 1 unless it has code or a nonce already, and
// modules that implement [GenesisInitializer] write their initial state.
func (h *Host) InstallModules(state vm.StateDB) error {
	for _, addr := range h.addrs {
		install(state, addr, true)
		init, ok := h.modules[addr].(GenesisInitializer)
		if !ok {
			continue
		}
		m := h.modules[addr]
		call := &Call{
			Address: addr, Caller: SystemAddress, Origin: SystemAddress, Value: new(uint256.Int),
			abi: m.ABI(), state: state, gas: math.MaxUint64, limit: math.MaxUint64,
		}
		if err := init.InitGenesis(call); err != nil {
			return fmt.Errorf("metisvm: genesis of module %s: %w", addr, err)
		}
	}
	return nil
}

// NewEVM returns an EVM for one block (or one eth_call) over statedb, with the
// standard precompiles of the active fork and the host's modules. cfg.Tracer,
// if any, keeps receiving every event; the host chains its frame tracker in
// front of it. The EVM's StateDB is statedb wrapped so that module addresses
// are warm in every transaction; keep using statedb itself for everything
// else (receipts, logs, roots).
func (h *Host) NewEVM(blockCtx vm.BlockContext, statedb vm.StateDB, cfg vm.Config) *vm.EVM {
	s := &session{host: h, user: cfg.Tracer}
	cfg.Tracer = s.hooks()
	evm := vm.NewEVM(blockCtx, &hostState{StateDB: statedb, modules: h.addrs}, h.config, cfg)
	s.evm = evm
	pcs := vm.ActivePrecompiledContracts(evm.GetRules())
	for addr, m := range h.modules {
		pcs[addr] = &adapter{s: s, m: m, addr: addr}
	}
	evm.SetPrecompiles(pcs)
	return evm
}

// hostState adds the module addresses to the access list that Prepare builds,
// so modules are warm like precompiles.
type hostState struct {
	vm.StateDB
	modules []common.Address
}

func (s *hostState) Prepare(rules params.Rules, sender, coinbase common.Address, dest *common.Address, precompiles []common.Address, txAccesses types.AccessList) {
	warm := make([]common.Address, 0, len(precompiles)+len(s.modules))
	warm = append(append(warm, precompiles...), s.modules...)
	s.StateDB.Prepare(rules, sender, coinbase, dest, warm, txAccesses)
}

// frame is one call frame, as reported by the tracer.
type frame struct {
	typ    vm.OpCode
	from   common.Address
	to     common.Address
	value  *big.Int
	gas    uint64 // execution gas at entry
	static bool   // this frame or an ancestor is a STATICCALL
	result *outcome
}

// outcome is a module execution, computed in RequiredGas and handed back by
// Run.
type outcome struct {
	gas uint64
	ret []byte
	err error
}

// session is the per-EVM module state: the frame stack and the EVM.
type session struct {
	host   *Host
	evm    *vm.EVM
	user   *tracing.Hooks
	frames []frame
}

func (s *session) hooks() *tracing.Hooks {
	var h tracing.Hooks
	if s.user != nil {
		h = *s.user
	}
	h.OnEnter, h.OnExit = nil, nil
	h.OnEnterV2 = s.onEnter
	h.OnExitV2 = s.onExit
	return &h
}

func (s *session) onEnter(depth int, typ byte, from, to common.Address, input []byte, gas tracing.Gas, value *big.Int) {
	static := vm.OpCode(typ) == vm.STATICCALL
	if n := len(s.frames); n > 0 && s.frames[n-1].static {
		static = true
	}
	s.frames = append(s.frames, frame{
		typ: vm.OpCode(typ), from: from, to: to, value: value, gas: gas.Execution, static: static,
	})
	if u := s.user; u != nil {
		if u.OnEnterV2 != nil {
			u.OnEnterV2(depth, typ, from, to, input, gas, value)
		} else if u.OnEnter != nil {
			u.OnEnter(depth, typ, from, to, input, gas.Execution, value)
		}
	}
}

func (s *session) onExit(depth int, output []byte, gasLeft tracing.Gas, err error, reverted bool) {
	var start uint64
	if n := len(s.frames); n > 0 {
		start = s.frames[n-1].gas
		s.frames[n-1] = frame{}
		s.frames = s.frames[:n-1]
	}
	if u := s.user; u != nil {
		if u.OnExitV2 != nil {
			u.OnExitV2(depth, output, gasLeft, err, reverted)
		} else if u.OnExit != nil {
			var used uint64
			if start > gasLeft.Execution {
				used = start - gasLeft.Execution
			}
			u.OnExit(depth, output, used, err, reverted)
		}
	}
}

func (s *session) top() *frame {
	if len(s.frames) == 0 {
		return nil
	}
	return &s.frames[len(s.frames)-1]
}

// errNoFrame means a module precompile ran outside a traced frame; it cannot
// happen with an EVM made by Host.NewEVM.
var errNoFrame = errors.New("metisvm: module call without a call frame")

// adapter is a module seen as a precompile.
type adapter struct {
	s    *session
	m    Module
	addr common.Address
}

func (a *adapter) Name() string { return "MODULE_" + a.addr.Hex() }

// RequiredGas runs the module (see the package documentation) and returns
// the gas it charged; more than the frame has if it ran out of gas.
func (a *adapter) RequiredGas(input []byte) uint64 {
	f := a.s.top()
	if f == nil || f.to != a.addr {
		return 0
	}
	// Nested calls made by the module grow the frame stack (and may move it),
	// so address the frame by index afterwards.
	i := len(a.s.frames) - 1
	o := a.s.execute(*f, a, input)
	a.s.frames[i].result = o
	return o.gas
}

// Run returns the outcome computed by RequiredGas.
func (a *adapter) Run(input []byte) ([]byte, error) {
	f := a.s.top()
	if f == nil || f.to != a.addr || f.result == nil {
		return nil, errNoFrame
	}
	o := f.result
	f.result = nil
	return o.ret, o.err
}

func (s *session) execute(f frame, a *adapter, input []byte) *outcome {
	if f.typ == vm.DELEGATECALL || f.typ == vm.CALLCODE {
		return &outcome{
			ret: EncodeRevertReason(fmt.Sprintf("metisvm: %s to system module %s is not allowed", f.typ, a.addr)),
			err: vm.ErrExecutionReverted,
		}
	}
	value := new(uint256.Int)
	if f.value != nil {
		value.SetFromBig(f.value)
	}
	state := s.evm.StateDB
	call := &Call{
		Address:     a.addr,
		Caller:      f.from,
		Origin:      s.evm.Origin,
		Value:       value,
		ReadOnly:    f.static,
		BlockNumber: s.evm.Context.BlockNumber.Uint64(),
		BlockTime:   s.evm.Context.Time,
		abi:         a.m.ABI(),
		evm:         s.evm,
		state:       state,
		sess:        s,
		gas:         f.gas,
		limit:       f.gas,
	}
	if !call.ReadOnly {
		install(state, a.addr, false)
	}
	ret, err := runModule(a.m, call, input)
	return classify(call, f.gas, ret, err)
}

func runModule(m Module, call *Call, input []byte) (ret []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			ret, err = nil, &panicError{addr: call.Address, val: r}
		}
	}()
	return m.Run(call, common.CopyBytes(input))
}

type panicError struct {
	addr common.Address
	val  any
}

func (e *panicError) Error() string {
	return fmt.Sprintf("metisvm: module %s panicked: %v", e.addr, e.val)
}

// classify turns a module's result into the precompile's gas and result.
func classify(call *Call, frameGas uint64, ret []byte, err error) *outcome {
	used := call.GasUsed()
	var rev *RevertError
	var pe *panicError
	switch {
	case call.oog || errors.Is(err, vm.ErrOutOfGas):
		// Charging more than the frame holds makes the EVM fail the frame out of
		// gas, burning it all and reverting the module's writes.
		over := uint64(math.MaxUint64)
		if frameGas < over {
			over = frameGas + 1
		}
		return &outcome{gas: over, err: vm.ErrOutOfGas}
	case err == nil:
		return &outcome{gas: used, ret: ret}
	case errors.As(err, &rev):
		return &outcome{gas: used, ret: rev.Data, err: vm.ErrExecutionReverted}
	case errors.Is(err, vm.ErrExecutionReverted):
		return &outcome{gas: used, ret: ret, err: vm.ErrExecutionReverted}
	case errors.Is(err, vm.ErrWriteProtection):
		return &outcome{gas: used, err: vm.ErrWriteProtection}
	case errors.As(err, &pe):
		return &outcome{gas: used, err: err}
	default:
		return &outcome{gas: used, ret: EncodeRevertReason(err.Error()), err: vm.ErrExecutionReverted}
	}
}
