// Package modtest runs system modules on a bare metisvm.Host over go-ethereum's in-memory
// StateDB, without blocks, signatures or a database: the harness for the modules' gas tests and
// benchmarks, which measure the module code itself. Messages are unsigned core.Messages from
// funded addresses, applied exactly as a block applies a transaction (metisvm.Host.ApplyMessage).
package modtest

import (
	"math/big"

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

// Env is a host, a state and a block.
type Env struct {
	Host  *metisvm.Host
	State *state.StateDB
	Block metisvm.BlockInfo
	evm   *vm.EVM
}

// Accounts returns n deterministic funded test addresses.
func Accounts(n int) []common.Address {
	out := make([]common.Address, n)
	for i := range out {
		out[i] = common.BigToAddress(big.NewInt(int64(0x10000 + i)))
	}
	return out
}

// New installs mods in a fresh state and funds accounts with 1e9 METIS each.
func New(mods []metisvm.Module, accounts []common.Address) (*Env, error) {
	host, err := metisvm.NewHost(metisvm.DevChainConfig(big.NewInt(metisvm.DevChainID)), mods...)
	if err != nil {
		return nil, err
	}
	sdb, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		return nil, err
	}
	fund := new(uint256.Int).Mul(uint256.NewInt(1e9), uint256.NewInt(params.Ether))
	for _, a := range accounts {
		sdb.AddBalance(a, fund, tracing.BalanceIncreaseGenesisBalance)
	}
	if err := host.InstallModules(sdb); err != nil {
		return nil, err
	}
	e := &Env{Host: host, State: sdb, Block: metisvm.BlockInfo{Number: 1, Time: 1_000_000, GasLimit: 1 << 40, BaseFee: big.NewInt(0)}}
	sdb.Finalise(e.rules())
	e.evm = host.NewEVM(metisvm.NewBlockContext(e.Block), sdb, vm.Config{})
	return e, nil
}

func (e *Env) rules() params.Rules {
	return e.Host.ChainConfig().Rules(new(big.Int).SetUint64(e.Block.Number), true, e.Block.Time)
}

// Apply runs one message from from to to and returns its result (Failed() on a revert).
func (e *Env) Apply(from common.Address, to common.Address, value *big.Int, data []byte) (*metisvm.Result, error) {
	v := new(uint256.Int)
	if value != nil {
		v = uint256.MustFromBig(value)
	}
	msg := &core.Message{
		From: from, To: &to, Nonce: e.State.GetNonce(from), Value: v, GasLimit: 16_000_000,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: data,
	}
	res, err := e.Host.ApplyMessage(e.evm, msg, core.NewGasPool(msg.GasLimit))
	if err != nil {
		return nil, err
	}
	e.State.Finalise(e.rules())
	return res, nil
}

// Deploy creates a contract from init code and returns its address.
func (e *Env) Deploy(from common.Address, code []byte) (common.Address, error) {
	v := new(uint256.Int)
	msg := &core.Message{
		From: from, Nonce: e.State.GetNonce(from), Value: v, GasLimit: 16_000_000,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: code,
	}
	addr := crypto.CreateAddress(from, msg.Nonce)
	res, err := e.Host.ApplyMessage(e.evm, msg, core.NewGasPool(msg.GasLimit))
	if err != nil {
		return common.Address{}, err
	}
	if res.Failed() {
		return common.Address{}, res.Err
	}
	e.State.Finalise(e.rules())
	return addr, nil
}

// NextBlock moves to the next block (number and time + 1); state carries over.
func (e *Env) NextBlock() {
	e.Block.Number++
	e.Block.Time++
	e.evm = e.Host.NewEVM(metisvm.NewBlockContext(e.Block), e.State, vm.Config{})
}
