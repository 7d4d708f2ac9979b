package metisvm

import (
	"encoding/binary"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

// RevertError reverts a module call with ABI-encoded revert data. It wraps
// vm.ErrExecutionReverted, so errors.Is(err, vm.ErrExecutionReverted) holds.
type RevertError struct {
	Data []byte // selector and ABI-encoded arguments
	msg  string
}

func (e *RevertError) Error() string { return "execution reverted: " + e.msg }

// Unwrap returns vm.ErrExecutionReverted.
func (e *RevertError) Unwrap() error { return vm.ErrExecutionReverted }

// Revert returns the error that reverts a module call with the Solidity
// custom error e and its arguments: the 4-byte selector followed by the
// ABI-encoded arguments, which ethers, viem and abi.Error.Unpack decode.
func Revert(e abi.Error, args ...any) error {
	packed, err := e.Inputs.Pack(args...)
	if err != nil {
		return fmt.Errorf("metisvm: encoding error %s: %w", e.Name, err)
	}
	data := make([]byte, 0, 4+len(packed))
	data = append(data, e.ID[:4]...)
	data = append(data, packed...)
	return &RevertError{Data: data, msg: fmt.Sprintf("%s%v", e.Name, args)}
}

var (
	errorStringSelector = crypto.Keccak256([]byte("Error(string)"))[:4]
	stringArgs          = abi.Arguments{{Type: mustType("string")}}
)

func mustType(t string) abi.Type {
	typ, err := abi.NewType(t, "", nil)
	if err != nil {
		panic(err)
	}
	return typ
}

// EncodeRevertReason returns the Solidity Error(string) encoding of reason.
func EncodeRevertReason(reason string) []byte {
	packed, _ := stringArgs.Pack(reason) // a string always packs
	return append(append([]byte{}, errorStringSelector...), packed...)
}

// RevertReason returns the error that reverts a module call with
// Error(reason), as Solidity's require(cond, reason) does.
func RevertReason(reason string) error {
	return &RevertError{Data: EncodeRevertReason(reason), msg: reason}
}

// Handler implements one module method. args are the decoded arguments in
// declaration order (Go types as go-ethereum's abi package decodes them:
// *big.Int for uint256, common.Address, []byte, ...); the returned values are
// ABI-encoded as the method's outputs.
type Handler func(call *Call, args []any) ([]any, error)

type route struct {
	method *abi.Method
	gas    uint64
	fn     Handler
}

// Router dispatches module calls by 4-byte selector to handlers, enforcing the
// ABI: unknown selectors, value sent to non-payable methods and undecodable
// arguments revert with an Error(string) reason; view and pure methods run in
// a static context (writes fail); each method's fixed gas is charged before
// its handler runs. A Module can implement Run by returning Router.Run.
type Router struct {
	abi     *abi.ABI
	routes  map[[4]byte]route
	receive Handler
}

// NewRouter returns an empty router for a.
func NewRouter(a *abi.ABI) *Router {
	return &Router{abi: a, routes: make(map[[4]byte]route)}
}

// NewRouterFor returns a router for a with every method routed: handlers[name] charging
// gas[name] first. It panics unless handlers, gas and the ABI's methods name exactly the same
// methods, so a module cannot leave a method unrouted (it would revert "unknown selector") or
// charge a forgotten method nothing.
func NewRouterFor(a *abi.ABI, gas map[string]uint64, handlers map[string]Handler) *Router {
	for name := range a.Methods {
		if handlers[name] == nil {
			panic(fmt.Sprintf("metisvm: ABI method %q has no handler", name))
		}
	}
	r := NewRouter(a)
	for name, fn := range handlers {
		g, ok := gas[name]
		if !ok {
			panic(fmt.Sprintf("metisvm: method %q has no gas in the schedule", name))
		}
		r.Handle(name, g, fn)
	}
	for name := range gas {
		if handlers[name] == nil {
			panic(fmt.Sprintf("metisvm: gas schedule names %q, which has no handler", name))
		}
	}
	return r
}

// Handle routes the ABI method name to fn, charging gas first. It panics if
// the ABI has no such method: routes are wired at start-up, and a typo must
// not become a chain that silently reverts.
func (r *Router) Handle(name string, gas uint64, fn Handler) *Router {
	m, ok := r.abi.Methods[name]
	if !ok {
		panic(fmt.Sprintf("metisvm: ABI has no method %q", name))
	}
	var sel [4]byte
	copy(sel[:], m.ID)
	r.routes[sel] = route{method: &m, gas: gas, fn: fn}
	return r
}

// Receive sets the handler for calls with empty calldata (plain value
// transfers). Without one, such calls revert.
func (r *Router) Receive(fn Handler) *Router {
	r.receive = fn
	return r
}

// Run dispatches input to its handler and ABI-encodes the result.
func (r *Router) Run(call *Call, input []byte) ([]byte, error) {
	if len(input) == 0 && r.receive != nil {
		_, err := r.receive(call, nil)
		return nil, err
	}
	if len(input) < 4 {
		return nil, RevertReason("metisvm: missing function selector")
	}
	var sel [4]byte
	copy(sel[:], input)
	rt, ok := r.routes[sel]
	if !ok {
		return nil, RevertReason(fmt.Sprintf("metisvm: unknown function selector 0x%x", sel))
	}
	m := rt.method
	if !m.IsPayable() && call.Value != nil && !call.Value.IsZero() {
		return nil, RevertReason(fmt.Sprintf("metisvm: %s is not payable", m.Name))
	}
	if err := call.UseGas(rt.gas); err != nil {
		return nil, err
	}
	args, err := m.Inputs.Unpack(input[4:])
	if err != nil {
		return nil, RevertReason(fmt.Sprintf("metisvm: bad arguments for %s: %v", m.Name, err))
	}
	if m.StateMutability == "view" || m.StateMutability == "pure" {
		ro := call.ReadOnly
		call.ReadOnly = true
		defer func() { call.ReadOnly = ro }()
	}
	out, err := rt.fn(call, args)
	if err != nil {
		return nil, err
	}
	ret, err := m.Outputs.Pack(out...)
	if err != nil {
		return nil, fmt.Errorf("metisvm: encoding the result of %s: %w", m.Name, err)
	}
	return ret, nil
}

// Slot derives a storage slot of a module: keccak256(name) is the root of the
// named variable, and each key k descends like a Solidity mapping,
// slot = keccak256(k ‖ slot). Use [AddressKey], [Uint64Key] or
// common.BigToHash for keys.
func Slot(name string, keys ...common.Hash) common.Hash {
	slot := crypto.Keccak256Hash([]byte(name))
	for _, k := range keys {
		slot = crypto.Keccak256Hash(k[:], slot[:])
	}
	return slot
}

// SlotAt returns slot + i, the i-th word of a struct or fixed array stored
// at slot.
func SlotAt(slot common.Hash, i uint64) common.Hash {
	var s uint256.Int
	s.SetBytes32(slot[:])
	s.AddUint64(&s, i)
	return s.Bytes32()
}

// AddressKey is a mapping key for an address (left-padded to 32 bytes).
func AddressKey(a common.Address) common.Hash { return common.BytesToHash(a[:]) }

// Uint64Key is a mapping key for an integer (big-endian, 32 bytes).
func Uint64Key(n uint64) common.Hash {
	var h common.Hash
	binary.BigEndian.PutUint64(h[24:], n)
	return h
}
