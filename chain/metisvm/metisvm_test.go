package metisvm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
)

// counterABI is the Solidity interface of the test module.
const counterABI = `[
 {"type":"function","name":"increment","stateMutability":"nonpayable",
  "inputs":[{"name":"by","type":"uint256"}],"outputs":[{"name":"","type":"uint256"}]},
 {"type":"function","name":"get","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"uint256"}]},
 {"type":"function","name":"deposit","stateMutability":"payable","inputs":[],"outputs":[]},
 {"type":"function","name":"withdraw","stateMutability":"nonpayable",
  "inputs":[{"name":"amount","type":"uint256"}],"outputs":[]},
 {"type":"function","name":"depositOf","stateMutability":"view",
  "inputs":[{"name":"who","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},
 {"type":"function","name":"sha256Of","stateMutability":"view",
  "inputs":[{"name":"data","type":"bytes"}],"outputs":[{"name":"","type":"bytes32"}]},
 {"type":"function","name":"writeInView","stateMutability":"view","inputs":[],"outputs":[]},
 {"type":"event","name":"Incremented","anonymous":false,"inputs":[
  {"name":"by","type":"address","indexed":true},{"name":"value","type":"uint256","indexed":false}]},
 {"type":"error","name":"TooLarge","inputs":[{"name":"max","type":"uint256"}]}
]`

var counterAddr = common.HexToAddress("0x0000000000000000000000000000000000000a99")

const (
	incrementGas = 5000
	maxIncrement = 100
)

// counter is a module defined by the test: a counter with an event, a custom
// error, a payable method and a nested call to a precompile.
type counter struct {
	abi    abi.ABI
	router *metisvm.Router
}

func newCounter(t testing.TB) *counter {
	a, err := abi.JSON(strings.NewReader(counterABI))
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{abi: a}
	count := metisvm.Slot("count")
	c.router = metisvm.NewRouter(&c.abi).
		Handle("increment", incrementGas, func(call *metisvm.Call, args []any) ([]any, error) {
			by := args[0].(*big.Int)
			if by.Cmp(big.NewInt(maxIncrement)) > 0 {
				return nil, call.Revert("TooLarge", big.NewInt(maxIncrement))
			}
			v, err := call.LoadBig(count)
			if err != nil {
				return nil, err
			}
			v.Add(v, by)
			if err := call.StoreBig(count, v); err != nil {
				return nil, err
			}
			if err := call.EmitEvent("Incremented", call.Caller, v); err != nil {
				return nil, err
			}
			return []any{v}, nil
		}).
		Handle("get", 200, func(call *metisvm.Call, _ []any) ([]any, error) {
			v, err := call.LoadBig(count)
			return []any{v}, err
		}).
		Handle("deposit", 3000, func(call *metisvm.Call, _ []any) ([]any, error) {
			slot := metisvm.Slot("deposits", metisvm.AddressKey(call.Caller))
			v, err := call.LoadBig(slot)
			if err != nil {
				return nil, err
			}
			return nil, call.StoreBig(slot, v.Add(v, call.Value.ToBig()))
		}).
		Handle("withdraw", 3000, func(call *metisvm.Call, args []any) ([]any, error) {
			amount := args[0].(*big.Int)
			slot := metisvm.Slot("deposits", metisvm.AddressKey(call.Caller))
			v, err := call.LoadBig(slot)
			if err != nil {
				return nil, err
			}
			if v.Cmp(amount) < 0 {
				return nil, metisvm.RevertReason("insufficient deposit")
			}
			if err := call.StoreBig(slot, v.Sub(v, amount)); err != nil {
				return nil, err
			}
			return nil, call.Transfer(call.Caller, uint256.MustFromBig(amount))
		}).
		Handle("depositOf", 200, func(call *metisvm.Call, args []any) ([]any, error) {
			v, err := call.LoadBig(metisvm.Slot("deposits", metisvm.AddressKey(args[0].(common.Address))))
			return []any{v}, err
		}).
		Handle("sha256Of", 700, func(call *metisvm.Call, args []any) ([]any, error) {
			ret, err := call.CallContract(common.BytesToAddress([]byte{2}), args[0].([]byte), nil, call.Gas())
			if err != nil {
				return nil, err
			}
			return []any{[32]byte(ret)}, nil
		}).
		Handle("writeInView", 100, func(call *metisvm.Call, _ []any) ([]any, error) {
			return nil, call.Store(count, common.Hash{1})
		})
	return c
}

func (c *counter) Address() common.Address { return counterAddr }
func (c *counter) ABI() *abi.ABI           { return &c.abi }
func (c *counter) Run(call *metisvm.Call, input []byte) ([]byte, error) {
	return c.router.Run(call, input)
}

var (
	gwei    = big.NewInt(params.GWei)
	ether   = big.NewInt(params.Ether)
	baseFee = new(big.Int).Set(gwei) // 1 gwei
	chainID = big.NewInt(metisvm.DevChainID)
	// Two well-known dev keys (anvil/hardhat accounts 0 and 1).
	testKeys = []string{
		"ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
		"59c6995e998f97a5a0044966f0945389dc9ab5c58e7d3b6e6a2f4e3c9b7c6f0d",
	}
)

// env is a chain state with funded accounts, a host and a block.
type env struct {
	t      *testing.T
	host   *metisvm.Host
	mod    *counter
	state  *state.StateDB
	signer types.Signer
	keys   []*ecdsa.PrivateKey
	addrs  []common.Address
	block  metisvm.BlockInfo
	txs    int
	tracer *tracing.Hooks
}

func newEnv(t *testing.T) *env {
	t.Helper()
	mod := newCounter(t)
	host, err := metisvm.NewHost(metisvm.DevChainConfig(chainID), mod)
	if err != nil {
		t.Fatal(err)
	}
	sdb, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t: t, host: host, mod: mod, state: sdb,
		signer: types.LatestSignerForChainID(chainID),
		block:  metisvm.BlockInfo{Number: 1, Time: 1000, GasLimit: 30_000_000, BaseFee: baseFee, Random: common.Hash{0x42}},
	}
	for _, hexKey := range testKeys {
		k, err := crypto.HexToECDSA(hexKey)
		if err != nil {
			t.Fatal(err)
		}
		addr := crypto.PubkeyToAddress(k.PublicKey)
		e.keys = append(e.keys, k)
		e.addrs = append(e.addrs, addr)
		sdb.AddBalance(addr, uint256.MustFromBig(new(big.Int).Mul(big.NewInt(10_000), ether)), tracing.BalanceIncreaseGenesisBalance)
	}
	if err := host.InstallModules(sdb); err != nil {
		t.Fatal(err)
	}
	sdb.Finalise(e.rules())
	return e
}

func (e *env) rules() params.Rules {
	return e.host.ChainConfig().Rules(new(big.Int).SetUint64(e.block.Number), true, e.block.Time)
}

func (e *env) evm() *vm.EVM {
	return e.host.NewEVM(metisvm.NewBlockContext(e.block), e.state, vm.Config{Tracer: e.tracer})
}

// dynTx returns an EIP-1559 transaction from account i with tip 1 gwei and
// fee cap 3 gwei.
func (e *env) dynTx(i int, to *common.Address, value *big.Int, data []byte, gas uint64) *types.Transaction {
	return types.MustSignNewTx(e.keys[i], e.signer, &types.DynamicFeeTx{
		ChainID: chainID, Nonce: e.state.GetNonce(e.addrs[i]),
		GasTipCap: gwei, GasFeeCap: new(big.Int).Mul(gwei, big.NewInt(3)),
		Gas: gas, To: to, Value: value, Data: data,
	})
}

// apply executes a signed transaction as a block would and returns its result
// and logs.
func (e *env) apply(tx *types.Transaction) (*metisvm.Result, []*types.Log) {
	e.t.Helper()
	msg, err := core.TransactionToMessage(tx, e.signer, e.block.BaseFee)
	if err != nil {
		e.t.Fatal(err)
	}
	e.state.SetTxContext(tx.Hash(), e.txs, uint32(e.txs+1))
	e.txs++
	res, err := e.host.ApplyMessage(e.evm(), msg, core.NewGasPool(e.block.GasLimit))
	if err != nil {
		e.t.Fatalf("consensus error: %v", err)
	}
	e.state.Finalise(e.rules())
	return res, e.state.GetLogs(tx.Hash(), e.block.Number, common.Hash{}, e.block.Time)
}

func (e *env) pack(method string, args ...any) []byte {
	e.t.Helper()
	data, err := e.mod.abi.Pack(method, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return data
}

// ethCall runs an eth_call from account 0 without fee fields.
func (e *env) ethCall(to common.Address, data []byte) *metisvm.Result {
	e.t.Helper()
	msg := &core.Message{
		From: e.addrs[0], To: &to, Value: new(uint256.Int), GasLimit: 50_000_000,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: data,
	}
	res, err := e.host.Call(context.Background(), e.evm(), msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// gasFor returns the gas a transaction that spends exec gas after its
// intrinsic cost is charged: intrinsic + exec, or the EIP-7623 calldata floor
// if that is higher.
func (e *env) gasFor(tx *types.Transaction, exec uint64) uint64 {
	e.t.Helper()
	from, _ := types.Sender(e.signer, tx)
	value := uint256.MustFromBig(tx.Value())
	g, err := core.IntrinsicGas(tx.Data(), tx.AccessList(), nil, from, tx.To(), value, e.rules())
	if err != nil {
		e.t.Fatal(err)
	}
	floor, err := core.FloorDataGas(e.rules(), from, tx.To(), value, tx.Data(), tx.AccessList())
	if err != nil {
		e.t.Fatal(err)
	}
	return max(g+exec, floor)
}

func (e *env) balance(a common.Address) *big.Int { return e.state.GetBalance(a).ToBig() }

func (e *env) supply() *big.Int {
	s := new(big.Int)
	for _, a := range append([]common.Address{metisvm.LazAIAddress, counterAddr}, e.addrs...) {
		s.Add(s, e.balance(a))
	}
	return s
}

func mul(a *big.Int, b uint64) *big.Int { return new(big.Int).Mul(a, new(big.Int).SetUint64(b)) }

func TestModuleTransaction(t *testing.T) {
	e := newEnv(t)
	to := counterAddr
	count := metisvm.Slot("count")

	if code := e.state.GetCode(counterAddr); len(code) != 1 || code[0] != 0xfe || e.state.GetNonce(counterAddr) != 1 {
		t.Fatalf("module account: code %x nonce %d", code, e.state.GetNonce(counterAddr))
	}

	tx := e.dynTx(0, &to, nil, e.pack("increment", big.NewInt(5)), 200_000)
	res, logs := e.apply(tx)
	if res.Failed() {
		t.Fatalf("increment failed: %v", res.Err)
	}
	if got := new(big.Int).SetBytes(res.Return()); got.Int64() != 5 {
		t.Fatalf("return %v, want 5", got)
	}
	if got := e.state.GetState(counterAddr, count); got != common.BigToHash(big.NewInt(5)) {
		t.Fatalf("slot %x = %x, want 5", count, got)
	}
	// Hand computation: route 5000, cold SLOAD 2100, SSTORE 0→nonzero 20000,
	// LOG2 with 32 bytes 375+2×375+8×32.
	wantExec := uint64(incrementGas + 2100 + 20000 + 375 + 2*375 + 8*32)
	if want := e.gasFor(tx, wantExec); res.UsedGas != want {
		t.Fatalf("gas used %d, want %d", res.UsedGas, want)
	}

	// An ordinary EVM log with the ABI's encoding.
	if len(logs) != 1 {
		t.Fatalf("%d logs, want 1", len(logs))
	}
	ev := e.mod.abi.Events["Incremented"]
	l := logs[0]
	if l.Address != counterAddr || len(l.Topics) != 2 || l.Topics[0] != ev.ID ||
		l.Topics[1] != common.BytesToHash(e.addrs[0][:]) || l.TxHash != tx.Hash() {
		t.Fatalf("log %+v", l)
	}
	vals, err := ev.Inputs.NonIndexed().Unpack(l.Data)
	if err != nil || vals[0].(*big.Int).Int64() != 5 {
		t.Fatalf("log data %x: %v %v", l.Data, vals, err)
	}

	// Second increment: SSTORE nonzero→nonzero costs 2900.
	tx2 := e.dynTx(0, &to, nil, e.pack("increment", big.NewInt(7)), 200_000)
	res2, _ := e.apply(tx2)
	if want := e.gasFor(tx2, incrementGas+2100+2900+375+2*375+8*32); res2.Failed() || res2.UsedGas != want {
		t.Fatalf("second increment: err %v gas %d, want %d", res2.Err, res2.UsedGas, want)
	}

	// The storage survives finalisation and is in the state root.
	root := e.state.IntermediateRoot(e.rules())
	if got := e.state.GetState(counterAddr, count); got != common.BigToHash(big.NewInt(12)) {
		t.Fatalf("after finalise: %x", got)
	}
	if root == types.EmptyRootHash {
		t.Fatal("empty root")
	}
}

func TestModuleGasDeterministic(t *testing.T) {
	var gas []uint64
	for range 2 {
		e := newEnv(t)
		to := counterAddr
		for _, by := range []int64{1, 2, 200} {
			res, _ := e.apply(e.dynTx(1, &to, nil, e.pack("increment", big.NewInt(by)), 100_000))
			gas = append(gas, res.UsedGas)
		}
	}
	for i := range 3 {
		if gas[i] != gas[i+3] {
			t.Fatalf("run 1 %v, run 2 %v", gas[:3], gas[3:])
		}
	}
}

func TestModuleRevertCustomError(t *testing.T) {
	e := newEnv(t)
	to := counterAddr
	before := e.state.GetState(counterAddr, metisvm.Slot("count"))
	tx := e.dynTx(0, &to, nil, e.pack("increment", big.NewInt(1000)), 100_000)
	res, logs := e.apply(tx)
	if !errors.Is(res.Err, vm.ErrExecutionReverted) {
		t.Fatalf("err %v, want revert", res.Err)
	}
	if len(logs) != 0 {
		t.Fatalf("reverted call left %d logs", len(logs))
	}
	if after := e.state.GetState(counterAddr, metisvm.Slot("count")); after != before {
		t.Fatal("reverted call changed storage")
	}
	// The revert keeps the remaining gas: only the route's gas was charged.
	if want := e.gasFor(tx, incrementGas); res.UsedGas != want {
		t.Fatalf("gas used %d, want %d", res.UsedGas, want)
	}
	tooLarge := e.mod.abi.Errors["TooLarge"]
	vals, err := tooLarge.Unpack(res.Revert())
	if err != nil {
		t.Fatalf("unpack %x: %v", res.Revert(), err)
	}
	if got := vals.([]any)[0].(*big.Int); got.Int64() != maxIncrement {
		t.Fatalf("TooLarge(%v)", got)
	}
	var sel [4]byte
	copy(sel[:], res.Revert())
	if byID, err := e.mod.abi.ErrorByID(sel); err != nil || byID.Name != "TooLarge" {
		t.Fatalf("ErrorByID: %v %v", byID, err)
	}
	if _, ok := res.RevertReason(); ok {
		t.Fatal("custom error decoded as Error(string)")
	}

	// A plain Error(string) revert from the router decodes with UnpackRevert.
	res, _ = e.apply(e.dynTx(0, &to, big.NewInt(1), e.pack("increment", big.NewInt(1)), 100_000))
	if reason, ok := res.RevertReason(); !ok || !strings.Contains(reason, "not payable") {
		t.Fatalf("non-payable: %q %v (%v)", reason, ok, res.Err)
	}
	res, _ = e.apply(e.dynTx(0, &to, nil, []byte{1, 2, 3, 4}, 100_000))
	if reason, ok := res.RevertReason(); !ok || !strings.Contains(reason, "unknown function selector") {
		t.Fatalf("unknown selector: %q %v", reason, ok)
	}
}

func TestModuleValueTransfer(t *testing.T) {
	e := newEnv(t)
	to := counterAddr
	value := new(big.Int).Mul(big.NewInt(3), ether)
	senderBefore := e.balance(e.addrs[1])
	res, _ := e.apply(e.dynTx(1, &to, value, e.pack("deposit"), 100_000))
	if res.Failed() {
		t.Fatalf("deposit: %v", res.Err)
	}
	if got := e.balance(counterAddr); got.Cmp(value) != 0 {
		t.Fatalf("module balance %v, want %v", got, value)
	}
	paid := new(big.Int).Add(value, mul(res.GasPrice, res.UsedGas))
	if got := new(big.Int).Sub(senderBefore, e.balance(e.addrs[1])); got.Cmp(paid) != 0 {
		t.Fatalf("sender paid %v, want %v", got, paid)
	}
	out := e.ethCall(counterAddr, e.pack("depositOf", e.addrs[1]))
	if got := new(big.Int).SetBytes(out.Return()); got.Cmp(value) != 0 {
		t.Fatalf("depositOf %v", got)
	}

	// The module pays out of its own balance.
	senderBefore = e.balance(e.addrs[1])
	res, _ = e.apply(e.dynTx(1, &to, nil, e.pack("withdraw", ether), 100_000))
	if res.Failed() {
		t.Fatalf("withdraw: %v", res.Err)
	}
	if got, want := e.balance(counterAddr), new(big.Int).Sub(value, ether); got.Cmp(want) != 0 {
		t.Fatalf("module balance %v, want %v", got, want)
	}
	gain := new(big.Int).Sub(ether, mul(res.GasPrice, res.UsedGas))
	if got := new(big.Int).Sub(e.balance(e.addrs[1]), senderBefore); got.Cmp(gain) != 0 {
		t.Fatalf("sender gained %v, want %v", got, gain)
	}
	res, _ = e.apply(e.dynTx(1, &to, nil, e.pack("withdraw", value), 100_000))
	if reason, _ := res.RevertReason(); reason != "insufficient deposit" {
		t.Fatalf("over-withdraw: %q %v", reason, res.Err)
	}
}

func TestModuleEthCallAndStatic(t *testing.T) {
	e := newEnv(t)
	to := counterAddr
	e.apply(e.dynTx(0, &to, nil, e.pack("increment", big.NewInt(4)), 100_000))
	count := metisvm.Slot("count")
	nonce := e.state.GetNonce(e.addrs[0])
	bal := e.balance(e.addrs[0])

	res := e.ethCall(counterAddr, e.pack("get"))
	out, err := e.mod.abi.Unpack("get", res.Return())
	if err != nil || out[0].(*big.Int).Int64() != 4 {
		t.Fatalf("get: %v %v (%v)", out, err, res.Err)
	}
	// eth_call of a state-changing method simulates it and discards it.
	res = e.ethCall(counterAddr, e.pack("increment", big.NewInt(10)))
	if res.Failed() || new(big.Int).SetBytes(res.Return()).Int64() != 14 {
		t.Fatalf("simulated increment: %x %v", res.ReturnData, res.Err)
	}
	if e.state.GetState(counterAddr, count) != common.BigToHash(big.NewInt(4)) ||
		e.state.GetNonce(e.addrs[0]) != nonce || e.balance(e.addrs[0]).Cmp(bal) != 0 {
		t.Fatal("eth_call changed state")
	}
	if res.Fees.Total().Sign() != 0 {
		t.Fatalf("eth_call fees %v", res.Fees.Total())
	}
	// A nested call from the module to the sha256 precompile.
	res = e.ethCall(counterAddr, e.pack("sha256Of", []byte("abc")))
	if want := sha256.Sum256([]byte("abc")); res.Failed() || common.BytesToHash(res.Return()) != want {
		t.Fatalf("sha256Of: %x %v", res.ReturnData, res.Err)
	}

	// Static calls read but cannot write.
	ret, _, err := e.host.StaticCall(e.evm(), e.addrs[0], counterAddr, e.pack("get"), 100_000)
	if err != nil || new(big.Int).SetBytes(ret).Int64() != 4 {
		t.Fatalf("static get: %x %v", ret, err)
	}
	_, used, err := e.host.StaticCall(e.evm(), e.addrs[0], counterAddr, e.pack("increment", big.NewInt(1)), 100_000)
	if !errors.Is(err, vm.ErrWriteProtection) || used != 100_000 {
		t.Fatalf("static increment: err %v, gas used %d", err, used)
	}
	// A view method that writes fails even in a transaction.
	tx := e.dynTx(0, &to, nil, e.pack("writeInView"), 100_000)
	if r, _ := e.apply(tx); !errors.Is(r.Err, vm.ErrWriteProtection) || r.UsedGas != 100_000 {
		t.Fatalf("writeInView: %v, gas %d", r.Err, r.UsedGas)
	}
	if e.state.GetState(counterAddr, count) != common.BigToHash(big.NewInt(4)) {
		t.Fatal("static write landed")
	}
}

func TestModuleOutOfGas(t *testing.T) {
	e := newEnv(t)
	to := counterAddr
	tx := e.dynTx(0, &to, nil, e.pack("increment", big.NewInt(1)), 0)
	gas := e.gasFor(tx, incrementGas+2100+100) // not enough for the SSTORE
	tx = e.dynTx(0, &to, nil, e.pack("increment", big.NewInt(1)), gas)
	res, logs := e.apply(tx)
	if !errors.Is(res.Err, vm.ErrOutOfGas) || res.UsedGas != gas || len(logs) != 0 {
		t.Fatalf("err %v, used %d of %d, %d logs", res.Err, res.UsedGas, gas, len(logs))
	}
	if e.state.GetState(counterAddr, metisvm.Slot("count")) != (common.Hash{}) {
		t.Fatal("out-of-gas call changed storage")
	}
}

// asm is a minimal EVM assembler: ops and push data, with labels patched in.
type asm struct {
	code   []byte
	labels map[string]int
	fixups map[int]string // offset of a PUSH1 operand -> label
}

func newAsm() *asm { return &asm{labels: map[string]int{}, fixups: map[int]string{}} }

func (a *asm) op(ops ...vm.OpCode) *asm {
	for _, o := range ops {
		a.code = append(a.code, byte(o))
	}
	return a
}

func (a *asm) push(b ...byte) *asm {
	a.code = append(a.code, byte(vm.PUSH1)+byte(len(b)-1))
	a.code = append(a.code, b...)
	return a
}

func (a *asm) pushLabel(l string) *asm {
	a.code = append(a.code, byte(vm.PUSH1), 0)
	a.fixups[len(a.code)-1] = l
	return a
}

func (a *asm) label(l string) *asm {
	a.labels[l] = len(a.code)
	return a.op(vm.JUMPDEST)
}

func (a *asm) bytes() []byte {
	for off, l := range a.fixups {
		a.code[off] = byte(a.labels[l])
	}
	return a.code
}

// initcode returns creation code that deploys runtime.
func initcode(runtime []byte) []byte {
	n := len(runtime)
	head := newAsm().push(byte(n>>8), byte(n)).op(vm.DUP1).push(12).push(0).op(vm.CODECOPY).push(0).op(vm.RETURN).bytes()
	return append(head, runtime...)
}

// forwarder returns runtime code that forwards its calldata (and, for CALL,
// its value) to target with op and returns or reverts with the callee's
// return data.
func forwarder(op vm.OpCode, target common.Address) []byte {
	a := newAsm()
	a.op(vm.CALLDATASIZE).push(0).push(0).op(vm.CALLDATACOPY)
	a.push(0).push(0).op(vm.CALLDATASIZE).push(0)
	if op == vm.CALL || op == vm.CALLCODE {
		a.op(vm.CALLVALUE)
	}
	a.push(target[:]...).op(vm.GAS, op)
	a.op(vm.RETURNDATASIZE).push(0).push(0).op(vm.RETURNDATACOPY)
	a.pushLabel("ok").op(vm.JUMPI)
	a.op(vm.RETURNDATASIZE).push(0).op(vm.REVERT)
	a.label("ok").op(vm.RETURNDATASIZE).push(0).op(vm.RETURN)
	return a.bytes()
}

// deploy deploys runtime from account 0 and returns its address.
func (e *env) deploy(runtime []byte) common.Address {
	e.t.Helper()
	addr := crypto.CreateAddress(e.addrs[0], e.state.GetNonce(e.addrs[0]))
	res, _ := e.apply(e.dynTx(0, nil, nil, initcode(runtime), 1_000_000))
	if res.Failed() {
		e.t.Fatalf("deploy: %v", res.Err)
	}
	if got := e.state.GetCode(addr); string(got) != string(runtime) {
		e.t.Fatalf("deployed code %x, want %x", got, runtime)
	}
	return addr
}

func TestContractCallsModule(t *testing.T) {
	e := newEnv(t)
	var frames int
	e.tracer = &tracing.Hooks{OnEnter: func(int, byte, common.Address, common.Address, []byte, uint64, *big.Int) { frames++ }}
	fwd := e.deploy(forwarder(vm.CALL, counterAddr))

	// The module sees the contract as its caller; the log says so.
	res, logs := e.apply(e.dynTx(1, &fwd, nil, e.pack("increment", big.NewInt(3)), 200_000))
	if res.Failed() || new(big.Int).SetBytes(res.Return()).Int64() != 3 {
		t.Fatalf("forwarded increment: %x %v", res.ReturnData, res.Err)
	}
	if len(logs) != 1 || logs[0].Address != counterAddr || logs[0].Topics[1] != common.BytesToHash(fwd[:]) {
		t.Fatalf("logs %+v", logs)
	}
	if frames == 0 {
		t.Fatal("the caller's tracer saw no frames")
	}

	// Value forwarded by the contract lands on the module, credited to it.
	res, _ = e.apply(e.dynTx(1, &fwd, ether, e.pack("deposit"), 200_000))
	if res.Failed() || e.balance(counterAddr).Cmp(ether) != 0 || e.balance(fwd).Sign() != 0 {
		t.Fatalf("forwarded deposit: %v, module %v, contract %v", res.Err, e.balance(counterAddr), e.balance(fwd))
	}
	out := e.ethCall(counterAddr, e.pack("depositOf", fwd))
	if new(big.Int).SetBytes(out.Return()).Cmp(ether) != 0 {
		t.Fatalf("depositOf(contract) = %x", out.ReturnData)
	}

	// A custom error bubbles up through the contract unchanged.
	res, _ = e.apply(e.dynTx(1, &fwd, nil, e.pack("increment", big.NewInt(101)), 200_000))
	tooLarge := e.mod.abi.Errors["TooLarge"]
	if _, err := tooLarge.Unpack(res.Revert()); err != nil {
		t.Fatalf("bubbled revert %x: %v", res.ReturnData, err)
	}

	// STATICCALL into a writing method fails; reading works.
	st := e.deploy(forwarder(vm.STATICCALL, counterAddr))
	res = e.ethCall(st, e.pack("get"))
	if res.Failed() || new(big.Int).SetBytes(res.Return()).Int64() != 3 {
		t.Fatalf("static get via contract: %x %v", res.ReturnData, res.Err)
	}
	res, _ = e.apply(e.dynTx(1, &st, nil, e.pack("increment", big.NewInt(1)), 200_000))
	if !res.Failed() {
		t.Fatal("static increment via contract succeeded")
	}

	// DELEGATECALL to a module reverts with a named reason.
	dl := e.deploy(forwarder(vm.DELEGATECALL, counterAddr))
	res, _ = e.apply(e.dynTx(1, &dl, nil, e.pack("increment", big.NewInt(1)), 200_000))
	if reason, ok := res.RevertReason(); !ok || !strings.Contains(reason, "DELEGATECALL to system module") {
		t.Fatalf("delegatecall: %q %v", reason, res.Err)
	}
	if got := e.state.GetState(counterAddr, metisvm.Slot("count")); got != common.BigToHash(big.NewInt(3)) {
		t.Fatalf("count %x, want 3", got)
	}
}

// reverter returns runtime code that returns 42 for empty calldata and
// reverts with Error("nope") otherwise.
func reverter() []byte {
	data := metisvm.EncodeRevertReason("nope")
	a := newAsm()
	a.op(vm.CALLDATASIZE).pushLabel("revert").op(vm.JUMPI)
	a.push(42).push(0).op(vm.MSTORE).push(32).push(0).op(vm.RETURN)
	a.label("revert").push(byte(len(data))).pushLabel("data").push(0).op(vm.CODECOPY)
	a.push(byte(len(data))).push(0).op(vm.REVERT)
	a.labels["data"] = len(a.code)
	return append(a.bytes(), data...)
}

// checkFees verifies the fee accounting of one plain transaction by hand.
func checkFees(t *testing.T, e *env, res *metisvm.Result, value, senderBefore, lazaiBefore, supplyBefore *big.Int, wantPrice *big.Int) {
	t.Helper()
	if res.GasPrice.Cmp(wantPrice) != 0 {
		t.Fatalf("gas price %v, want %v", res.GasPrice, wantPrice)
	}
	tip := new(big.Int).Sub(wantPrice, baseFee)
	wantTips, wantBase := mul(tip, res.UsedGas), mul(baseFee, res.UsedGas)
	if res.Fees.Tips.Cmp(wantTips) != 0 || res.Fees.BaseFees.Cmp(wantBase) != 0 {
		t.Fatalf("fees %v/%v, want %v/%v", res.Fees.Tips, res.Fees.BaseFees, wantTips, wantBase)
	}
	// The tip went to the COINBASE, the LazAI module.
	if got := new(big.Int).Sub(e.balance(metisvm.LazAIAddress), lazaiBefore); got.Cmp(wantTips) != 0 {
		t.Fatalf("LazAI got %v, want %v", got, wantTips)
	}
	// The sender paid value + gasUsed × price.
	paid := new(big.Int).Add(value, mul(wantPrice, res.UsedGas))
	if got := new(big.Int).Sub(senderBefore, e.balance(e.addrs[0])); got.Cmp(paid) != 0 {
		t.Fatalf("sender paid %v, want %v", got, paid)
	}
	// go-ethereum burned the base fee: the supply shrank by exactly that.
	if got := new(big.Int).Sub(supplyBefore, e.supply()); got.Cmp(wantBase) != 0 {
		t.Fatalf("burned %v, want %v", got, wantBase)
	}
}

func TestPlainEVM(t *testing.T) {
	e := newEnv(t)
	bob := e.addrs[1]
	var all []*metisvm.Result

	snapshot := func() (*big.Int, *big.Int, *big.Int) {
		return e.balance(e.addrs[0]), e.balance(metisvm.LazAIAddress), e.supply()
	}

	// Legacy transfer at 2 gwei.
	value := big.NewInt(1234)
	s, l, sup := snapshot()
	price := new(big.Int).Mul(gwei, big.NewInt(2))
	tx := types.MustSignNewTx(e.keys[0], e.signer, &types.LegacyTx{
		Nonce: e.state.GetNonce(e.addrs[0]), GasPrice: price, Gas: 21000, To: &bob, Value: value,
	})
	bobBefore := e.balance(bob)
	res, _ := e.apply(tx)
	if res.Failed() || res.UsedGas != params.TxGas {
		t.Fatalf("legacy transfer: %v, gas %d", res.Err, res.UsedGas)
	}
	if got := new(big.Int).Sub(e.balance(bob), bobBefore); got.Cmp(value) != 0 {
		t.Fatalf("bob got %v", got)
	}
	checkFees(t, e, res, value, s, l, sup, price)
	all = append(all, res)

	// EIP-1559 transfer: fee cap 3 gwei, tip 0.5 gwei → price 1.5 gwei.
	s, l, sup = snapshot()
	tx = types.MustSignNewTx(e.keys[0], e.signer, &types.DynamicFeeTx{
		ChainID: chainID, Nonce: e.state.GetNonce(e.addrs[0]),
		GasTipCap: big.NewInt(params.GWei / 2), GasFeeCap: new(big.Int).Mul(gwei, big.NewInt(3)),
		Gas: 30000, To: &bob, Value: value,
	})
	res, _ = e.apply(tx)
	if res.Failed() || res.UsedGas != params.TxGas {
		t.Fatalf("1559 transfer: %v, gas %d", res.Err, res.UsedGas)
	}
	checkFees(t, e, res, value, s, l, sup, big.NewInt(params.GWei*3/2))
	all = append(all, res)

	// Deploy, call, revert with reason.
	s, l, sup = snapshot()
	addr := crypto.CreateAddress(e.addrs[0], e.state.GetNonce(e.addrs[0]))
	tx = e.dynTx(0, nil, nil, initcode(reverter()), 500_000)
	res, _ = e.apply(tx)
	if res.Failed() || len(e.state.GetCode(addr)) == 0 {
		t.Fatalf("deploy: %v", res.Err)
	}
	checkFees(t, e, res, new(big.Int), s, l, sup, new(big.Int).Add(baseFee, gwei))
	all = append(all, res)

	if out := e.ethCall(addr, nil); out.Failed() || new(big.Int).SetBytes(out.Return()).Int64() != 42 {
		t.Fatalf("call: %x %v", out.ReturnData, out.Err)
	}
	s, l, sup = snapshot()
	tx = e.dynTx(0, &addr, nil, []byte{1}, 100_000)
	res, _ = e.apply(tx)
	if reason, ok := res.RevertReason(); !ok || reason != "nope" {
		t.Fatalf("revert reason %q %v (%v)", reason, ok, res.Err)
	}
	checkFees(t, e, res, new(big.Int), s, l, sup, new(big.Int).Add(baseFee, gwei))
	all = append(all, res)

	// Standard precompiles: sha256 at 0x02.
	sha := common.BytesToAddress([]byte{2})
	tx = e.dynTx(0, &sha, nil, []byte("abc"), 100_000)
	res, _ = e.apply(tx)
	if want := sha256.Sum256([]byte("abc")); res.Failed() || common.BytesToHash(res.Return()) != want {
		t.Fatalf("sha256: %x %v", res.ReturnData, res.Err)
	}
	all = append(all, res)

	// The block's fee total is the sum of the parts.
	block := metisvm.BlockFees(all...)
	var tips, base uint64
	for _, r := range all {
		tips += r.Fees.Tips.Uint64()
		base += r.Fees.BaseFees.Uint64()
	}
	if block.Tips.Uint64() != tips || block.BaseFees.Uint64() != base || block.Total().Uint64() != tips+base {
		t.Fatalf("block fees %v/%v, want %d/%d", block.Tips, block.BaseFees, tips, base)
	}
}

func TestNewHostRejects(t *testing.T) {
	cfg := metisvm.DevChainConfig(nil)
	if err := cfg.CheckConfigForkOrder(); err != nil {
		t.Fatal(err)
	}
	if r := cfg.Rules(big.NewInt(0), true, 0); !r.IsOsaka || r.IsAmsterdam {
		t.Fatalf("rules %+v", r)
	}
	m := newCounter(t)
	if _, err := metisvm.NewHost(cfg, m, m); !errors.Is(err, metisvm.ErrBadModule) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := metisvm.NewHost(cfg, atAddr{m, common.BytesToAddress([]byte{2})}); !errors.Is(err, metisvm.ErrBadModule) {
		t.Fatalf("precompile address: %v", err)
	}
}

type atAddr struct {
	*counter
	addr common.Address
}

func (a atAddr) Address() common.Address { return a.addr }

func TestSlot(t *testing.T) {
	// A Solidity mapping at slot p: keccak256(pad32(key) ‖ p).
	root := crypto.Keccak256Hash([]byte("balances"))
	key := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	want := crypto.Keccak256Hash(common.LeftPadBytes(key[:], 32), root[:])
	if got := metisvm.Slot("balances", metisvm.AddressKey(key)); got != want {
		t.Fatalf("Slot = %x, want %x", got, want)
	}
	if got := metisvm.SlotAt(common.Hash{31: 0xff}, 1); got != (common.Hash{30: 1}) {
		t.Fatalf("SlotAt = %x", got)
	}
	if got := metisvm.Uint64Key(258); got != (common.Hash{30: 1, 31: 2}) {
		t.Fatalf("Uint64Key = %x", got)
	}
}

func TestModulesAreWarm(t *testing.T) {
	e := newEnv(t)
	evm := e.evm()
	rules := e.rules()
	evm.StateDB.Prepare(rules, e.addrs[0], metisvm.LazAIAddress, nil, vm.ActivePrecompiles(rules), nil)
	if !evm.StateDB.AddressInAccessList(counterAddr) || !evm.StateDB.AddressInAccessList(common.BytesToAddress([]byte{2})) {
		t.Fatal("module or precompile not warm after Prepare")
	}
}

// FuzzModuleCall sends arbitrary calldata to the test module: it must never
// panic, and the same input on the same state must give the same outcome and
// gas.
func FuzzModuleCall(f *testing.F) {
	c := newCounter(f)
	for _, seed := range [][]byte{nil, {1}, {1, 2, 3, 4}} {
		f.Add(seed)
	}
	for _, m := range c.abi.Methods {
		f.Add(m.ID)
		f.Add(append(append([]byte{}, m.ID...), make([]byte, 32)...))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		var out [2]*metisvm.Result
		for i := range out {
			e := newEnv(t)
			msg := &core.Message{
				From: e.addrs[0], To: &counterAddr, Value: new(uint256.Int), GasLimit: 1_000_000,
				GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: input,
			}
			res, err := e.host.Call(context.Background(), e.evm(), msg)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = res
		}
		if out[0].UsedGas != out[1].UsedGas || string(out[0].ReturnData) != string(out[1].ReturnData) ||
			(out[0].Err == nil) != (out[1].Err == nil) {
			t.Fatalf("nondeterministic: %+v vs %+v", out[0], out[1])
		}
	})
}

// TestNewRouterFor: a router built from a schedule refuses, at construction, an ABI method
// without a handler, a handler without gas, and gas for no handler.
func TestNewRouterFor(t *testing.T) {
	a, err := abi.JSON(strings.NewReader(`[
		{"type":"function","name":"one","inputs":[],"outputs":[],"stateMutability":"nonpayable"},
		{"type":"function","name":"two","inputs":[],"outputs":[],"stateMutability":"nonpayable"}]`))
	if err != nil {
		t.Fatal(err)
	}
	h := func(*metisvm.Call, []any) ([]any, error) { return nil, nil }
	for name, tc := range map[string]struct {
		gas      map[string]uint64
		handlers map[string]metisvm.Handler
		panics   bool
	}{
		"complete":        {map[string]uint64{"one": 1, "two": 2}, map[string]metisvm.Handler{"one": h, "two": h}, false},
		"unrouted method": {map[string]uint64{"one": 1}, map[string]metisvm.Handler{"one": h}, true},
		"no gas":          {map[string]uint64{"one": 1}, map[string]metisvm.Handler{"one": h, "two": h}, true},
		"stray gas":       {map[string]uint64{"one": 1, "two": 2, "three": 3}, map[string]metisvm.Handler{"one": h, "two": h}, true},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); (r != nil) != tc.panics {
					t.Fatalf("panic %v, want a panic: %v", r, tc.panics)
				}
			}()
			metisvm.NewRouterFor(&a, tc.gas, tc.handlers)
		})
	}
}
