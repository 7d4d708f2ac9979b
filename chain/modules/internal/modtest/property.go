package modtest

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
)

// CallAs runs one call from from to to as an internal call or a system call does, without a
// transaction: from may be any address (a module's, metisvm.SystemAddress), there is no nonce
// and no intrinsic gas, and a failed call's writes are reverted as the EVM reverts a frame. It
// returns the return or revert data and the EVM's error (vm.ErrExecutionReverted for a revert).
func (e *Env) CallAs(from, to common.Address, value *big.Int, data []byte) ([]byte, error) {
	v := new(uint256.Int)
	if value != nil {
		var overflow bool
		if v, overflow = uint256.FromBig(value); overflow {
			return nil, fmt.Errorf("value %v does not fit 256 bits", value)
		}
	}
	rules := e.rules()
	e.State.Prepare(rules, from, common.Address{}, &to, vm.ActivePrecompiles(rules), nil)
	ret, _, err := e.evm.Call(from, to, data, vm.NewGasBudget(16_000_000, 0), v)
	e.State.Finalise(rules)
	return ret, err
}

// fork returns a copy of the environment: its own state, the same host and block.
func (e *Env) fork() *Env {
	c := &Env{Host: e.Host, State: e.State.Copy(), Block: e.Block}
	c.evm = e.Host.NewEVM(metisvm.NewBlockContext(c.Block), c.State, vm.Config{})
	return c
}

// Whale is the account Setup funds with 2^255 wei, for the overflow paths that take more than
// ordinary balances (genesis allocations are not bounded).
var Whale = common.HexToAddress("0x00000000000000000000000000000000000000aa")

// Setup installs mods for a property test: two funded accounts (Accounts(2)) and the Whale.
func Setup(t testing.TB, mods []metisvm.Module) (env *Env, a, b common.Address) {
	t.Helper()
	accts := Accounts(2)
	env, err := New(mods, accts)
	if err != nil {
		t.Fatal(err)
	}
	env.State.AddBalance(Whale, uint256.MustFromBig(new(big.Int).Lsh(big.NewInt(1), 255)), tracing.BalanceIncreaseGenesisBalance)
	env.State.Finalise(env.rules())
	return env, accts[0], accts[1]
}

// Must makes a call of a test's setup (CallAs), failing the test if it does not succeed.
func (e *Env) Must(t testing.TB, from, to common.Address, a *abi.ABI, value *big.Int, method string, args ...any) {
	t.Helper()
	data, err := a.Pack(method, args...)
	if err != nil {
		t.Fatal(err)
	}
	if ret, err := e.CallAs(from, to, value, data); err != nil {
		t.Fatalf("setup %s: %v (%x)", method, err, ret)
	}
}

// Extremes are the values the modules' property tests drive through every argument and value of
// every method: 0, 1, 2^64−1, 2^192 and 2^256−1, each clipped to the width of what takes it.
var Extremes = []*big.Int{
	big.NewInt(0), big.NewInt(1),
	new(big.Int).SetUint64(^uint64(0)),
	new(big.Int).Lsh(big.NewInt(1), 192),
	new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)),
}

// fullProduct is the most argument lists Args makes by combining every value of every input.
const fullProduct = 256

// Args returns the argument lists a property test calls m with. Each input takes values of its
// type: unsigned integers Extremes and extra (ids a test's setup made, say); addresses addrs;
// booleans both; strings empty, short and longer than any module accepts; byte strings empty and
// short; bytes32 zero and all ones; lists empty, of one and of two values; tuples vary one field
// at a time. When the combinations are few (at most fullProduct), Args returns them all;
// otherwise it varies each input in turn through its values with the others at a base: all
// first values, all second values, and bases (argument lists of m that a test knows to work).
func Args(m abi.Method, addrs []common.Address, extra []*big.Int, bases ...[]any) [][]any {
	vals := make([][]reflect.Value, len(m.Inputs))
	product := 1
	for i, in := range m.Inputs {
		vals[i] = values(in.Type, addrs, extra)
		product = min(product*len(vals[i]), fullProduct+1)
	}
	if product <= fullProduct {
		sets := [][]any{{}}
		for i := range vals {
			var next [][]any
			for _, set := range sets {
				for _, v := range vals[i] {
					next = append(next, append(append([]any{}, set...), v.Interface()))
				}
			}
			sets = next
		}
		return sets
	}
	pick := func(choice int) []any {
		out := make([]any, len(vals))
		for i := range vals {
			out[i] = vals[i][min(choice, len(vals[i])-1)].Interface()
		}
		return out
	}
	bases = append([][]any{pick(0), pick(1)}, bases...)
	var sets [][]any
	for _, base := range bases {
		sets = append(sets, base)
		for i := range vals {
			for _, v := range vals[i] {
				a := append([]any{}, base...)
				a[i] = v.Interface()
				sets = append(sets, a)
			}
		}
	}
	return sets
}

func values(t abi.Type, addrs []common.Address, extra []*big.Int) []reflect.Value {
	typ := t.GetType()
	var out []reflect.Value
	add := func(v any) { out = append(out, reflect.ValueOf(v).Convert(typ)) }
	switch t.T {
	case abi.UintTy:
		seen := map[string]bool{}
		limit := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(t.Size)), big.NewInt(1))
		for _, x := range append(append([]*big.Int{}, Extremes...), extra...) {
			if x.Cmp(limit) > 0 {
				x = limit
			}
			if seen[x.String()] {
				continue
			}
			seen[x.String()] = true
			if t.Size > 64 {
				out = append(out, reflect.ValueOf(new(big.Int).Set(x)))
			} else {
				v := reflect.New(typ).Elem()
				v.SetUint(x.Uint64())
				out = append(out, v)
			}
		}
	case abi.BoolTy:
		add(false)
		add(true)
	case abi.AddressTy:
		for _, a := range addrs {
			add(a)
		}
	case abi.StringTy:
		add("")
		add("ipfs://x")
		add(strings.Repeat("x", 8193))
	case abi.BytesTy:
		add([]byte{})
		add([]byte{1, 2, 3, 4, 5})
	case abi.FixedBytesTy:
		zero := reflect.New(typ).Elem()
		ones := reflect.New(typ).Elem()
		for i := 0; i < t.Size; i++ {
			ones.Index(i).SetUint(0xff)
		}
		out = append(out, zero, ones)
	case abi.SliceTy:
		elems := values(*t.Elem, addrs, extra)
		out = append(out, reflect.MakeSlice(typ, 0, 0))
		one := reflect.MakeSlice(typ, 1, 1)
		one.Index(0).Set(elems[0])
		out = append(out, one)
		two := reflect.MakeSlice(typ, 2, 2)
		two.Index(0).Set(elems[min(1, len(elems)-1)])
		two.Index(1).Set(elems[len(elems)-1])
		out = append(out, two)
	case abi.ArrayTy:
		for _, ev := range values(*t.Elem, addrs, extra) {
			arr := reflect.New(typ).Elem()
			for i := 0; i < t.Size; i++ {
				arr.Index(i).Set(ev)
			}
			out = append(out, arr)
		}
	case abi.TupleTy:
		fields := make([][]reflect.Value, len(t.TupleElems))
		for i, et := range t.TupleElems {
			fields[i] = values(*et, addrs, extra)
		}
		make1 := func(field, choice int) reflect.Value {
			v := reflect.New(typ).Elem()
			for i := range fields {
				c := 0
				if i == field {
					c = choice
				}
				v.Field(i).Set(fields[i][c])
			}
			return v
		}
		out = append(out, make1(-1, 0))
		for i := range fields {
			for c := 1; c < len(fields[i]); c++ {
				out = append(out, make1(i, c))
			}
		}
	default:
		panic(fmt.Sprintf("modtest: no extreme values for ABI type %s", t))
	}
	return out
}

// Call is one call a property test made.
type Call struct {
	Method *abi.Method
	Args   []any
	From   common.Address
	Value  *big.Int
	Ret    []byte // return data, or revert data
	Err    error  // nil: it succeeded
}

// Name is the method's name ("setup" before a method's first call).
func (c Call) Name() string {
	if c.Method == nil {
		return "setup"
	}
	return c.Method.Name
}

// Property drives every method of a module's ABI with extreme values (Args, Extremes as msg.value
// of payable methods) from each of Callers, and checks after each call: a call that fails is a
// revert with a named error (one of the ABI's, or Error(string) with a reason) and changed no
// state at all (the state root and the logs are as before); no call panics, runs out of gas or
// reaches a store's unnamed overflow; and after a call that succeeds, Invariants hold. Each
// method starts from the state Env has when Run begins (the test's setup), so that the extreme
// values a setup put in state are there for every method.
type Property struct {
	Env     *Env // the setup; Run leaves it as it found it
	To      common.Address
	ABI     *abi.ABI
	Callers []common.Address
	Addrs   []common.Address // address arguments
	// Extra are values given to unsigned arguments besides Extremes: ids the setup made.
	Extra []*big.Int
	// Bases are argument lists known to work, per method, that Args varies from (see Args).
	Bases map[string][][]any
	// Invariants checks the module's state in e after each successful call (and before each
	// method's first, with c zero):
	// totals equal the sums of their parts, held amounts are covered by the balance, and what
	// the test's own model of the last call says.
	Invariants func(t *testing.T, e *Env, c Call)
	// Every, if nonzero, moves to the next block after every Every calls.
	Every int
	// Want are errors some call must reach (the bounds the test is about).
	Want []string
}

// PropertyStats counts what Run did.
type PropertyStats struct {
	Methods, Calls, Succeeded, Reverted, Unaffordable int
	Errors                                            map[string]int // revert names
}

// Run runs the property test, logs what it did, and fails unless every method ran, some call
// succeeded and every error of Want was reached.
func (p *Property) Run(t *testing.T) PropertyStats {
	t.Helper()
	st := p.run(t)
	t.Logf("%d methods, %d calls: %d succeeded, %d reverted (%v), %d unaffordable",
		st.Methods, st.Calls, st.Succeeded, st.Reverted, st.Errors, st.Unaffordable)
	if st.Methods != len(p.ABI.Methods) || st.Succeeded == 0 {
		t.Fatalf("ran %d of %d methods, %d successes", st.Methods, len(p.ABI.Methods), st.Succeeded)
	}
	for _, want := range p.Want {
		if st.Errors[want] == 0 {
			t.Errorf("no call reached %s", want)
		}
	}
	return st
}

func (p *Property) run(t *testing.T) PropertyStats {
	t.Helper()
	st := PropertyStats{Errors: map[string]int{}}
	names := make([]string, 0, len(p.ABI.Methods))
	for n := range p.ABI.Methods {
		names = append(names, n)
	}
	sort.Strings(names)
	setup := p.Env
	defer func() { p.Env = setup }()
	for _, name := range names {
		m := p.ABI.Methods[name]
		st.Methods++
		p.Env = setup.fork()
		if p.Invariants != nil {
			p.Invariants(t, p.Env, Call{})
		}
		valueSet := []*big.Int{big.NewInt(0)}
		if m.IsPayable() {
			valueSet = Extremes
		}
		for _, args := range Args(m, p.Addrs, p.Extra, p.Bases[name]...) {
			data, err := p.ABI.Pack(name, args...)
			if err != nil {
				t.Fatalf("%s%v: packing: %v", name, args, err)
			}
			for _, from := range p.Callers {
				for _, value := range valueSet {
					c := p.call(t, &m, args, from, value, data, &st)
					if c.Err == nil && p.Invariants != nil {
						p.Invariants(t, p.Env, c)
					}
					if p.Every > 0 && st.Calls%p.Every == 0 {
						p.Env.NextBlock()
					}
				}
			}
		}
	}
	return st
}

func (p *Property) call(t *testing.T, m *abi.Method, args []any, from common.Address, value *big.Int, data []byte, st *PropertyStats) Call {
	t.Helper()
	c := Call{Method: m, Args: args, From: from, Value: value}
	what := func() string { return fmt.Sprintf("%s(%v) from %s with value %v", m.Name, args, from, value) }
	if p.Env.State.GetBalance(from).ToBig().Cmp(value) < 0 {
		st.Unaffordable++
		return Call{Err: errors.New("unaffordable")}
	}
	root := p.Env.State.IntermediateRoot(p.Env.rules())
	logs := len(p.Env.State.Logs())
	st.Calls++
	c.Ret, c.Err = p.Env.CallAs(from, p.To, value, data)
	if c.Err == nil {
		st.Succeeded++
		return c
	}
	st.Reverted++
	if !errors.Is(c.Err, vm.ErrExecutionReverted) {
		t.Fatalf("%s: failed without a revert (a panic, out of gas, a host error): %v", what(), c.Err)
	}
	name, reason := p.decode(c.Ret)
	switch {
	case name == "":
		t.Fatalf("%s: reverted without a named error (data %x)", what(), c.Ret)
	case name == "Error" && (reason == "" || strings.Contains(reason, "checkpoint value exceeds")):
		t.Fatalf("%s: reverted with an unnamed overflow or an empty reason: %q", what(), reason)
	}
	if name == "Error" {
		name = fmt.Sprintf("Error(%.48s)", reason)
	}
	st.Errors[name]++
	if got := p.Env.State.IntermediateRoot(p.Env.rules()); got != root {
		t.Fatalf("%s: reverted %s but changed the state (root %s, was %s)", what(), name, got, root)
	}
	if got := len(p.Env.State.Logs()); got != logs {
		t.Fatalf("%s: reverted %s but left %d logs", what(), name, got-logs)
	}
	return c
}

// decode names revert data: an error of the ABI, or "Error" with its reason.
func (p *Property) decode(data []byte) (name, reason string) {
	if len(data) < 4 {
		return "", ""
	}
	if r, err := abi.UnpackRevert(data); err == nil {
		return "Error", r
	}
	for n, e := range p.ABI.Errors {
		if [4]byte(e.ID[:4]) == [4]byte(data[:4]) {
			if _, err := e.Inputs.Unpack(data[4:]); err == nil {
				return n, ""
			}
		}
	}
	return "", ""
}

// View calls a view of the module at to and returns its outputs (failing the test on a revert).
func (e *Env) View(t testing.TB, to common.Address, a *abi.ABI, method string, args ...any) []any {
	t.Helper()
	data, err := a.Pack(method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	ret, err := e.CallAs(common.Address{}, to, nil, data)
	if err != nil {
		t.Fatalf("%s%v: %v (%x)", method, args, err, ret)
	}
	out, err := a.Unpack(method, ret)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return out
}
