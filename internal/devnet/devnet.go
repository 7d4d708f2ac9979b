// Package devnet starts a real in-process dev node (chain/node, default modules) for tests of the
// module clients and the CLI: a loopback port, the dev accounts' keys, and a WebSocket ethclient.
//
// For tests of the other modules' governed setters, Governor can stand at the iDAO address
// (0x…0a02) in place of the iDAO module: its exec(target, data) calls target with the iDAO
// address as msg.sender, which is what the iDAO does when it executes a passed proposal, without
// the proposal, the votes and the blocks of waiting. The iDAO's own tests (chain/modules/idao)
// run the real thing, setters included.
package devnet

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/internal/chaintx"
)

// Net is a running dev node and clients of it.
type Net struct {
	Node  *node.Node
	Eth   *ethclient.Client // over WebSocket
	Keys  []*ecdsa.PrivateKey
	Addrs []common.Address
}

// Signer is dev account i's keyed signer, for the module clients.
func (n *Net) Signer(i int) *bind.TransactOpts {
	return bind.NewKeyedTransactor(n.Keys[i], big.NewInt(metisvm.DevChainID))
}

// Options tune Start.
type Options struct {
	// Modules replaces the default module set (Governor is always added).
	Modules []metisvm.Module
	// Governor installs the stand-in iDAO module (see the package doc).
	Governor bool
	// BlockTime, when nonzero, seals a block every interval, empty or not (node.Config's), so
	// that deadlines counted in blocks pass without transactions.
	BlockTime time.Duration
}

// Start runs a node until the test ends.
func Start(tb testing.TB, opts Options) *Net {
	tb.Helper()
	mods := opts.Modules
	if mods == nil {
		mods = node.DefaultModules()
	}
	if opts.Governor {
		mods = withGovernor(mods)
	}
	n, err := node.New(node.Config{
		DataDir:   tb.TempDir(),
		HTTPAddr:  "127.0.0.1:0",
		BlockTime: opts.BlockTime,
		Modules:   mods,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	n.Start()
	tb.Cleanup(func() { n.Close() })
	eth, err := ethclient.DialContext(context.Background(), n.WSURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(eth.Close)
	net := &Net{Node: n, Eth: eth}
	for _, a := range core.DevAccounts() {
		net.Keys = append(net.Keys, a.Key)
		net.Addrs = append(net.Addrs, a.Address)
	}
	return net
}

func hasIDAO(mods []metisvm.Module) bool {
	for _, m := range mods {
		if m.Address() == metisvm.IDAOAddress {
			return true
		}
	}
	return false
}

// withGovernor replaces the module at the iDAO address (the real iDAO) with the Governor.
func withGovernor(mods []metisvm.Module) []metisvm.Module {
	out := []metisvm.Module{Governor{}}
	for _, m := range mods {
		if m.Address() != metisvm.IDAOAddress {
			out = append(out, m)
		}
	}
	return out
}

// GovernorABI is the stand-in iDAO's interface.
var GovernorABI = func() *abi.ABI {
	a, err := abi.JSON(strings.NewReader(`[{"type":"function","name":"exec","stateMutability":"payable",
		"inputs":[{"name":"target","type":"address"},{"name":"data","type":"bytes"}],
		"outputs":[{"name":"","type":"bytes"}]}]`))
	if err != nil {
		panic(err)
	}
	return &a
}()

// Governor is the stand-in iDAO module (see the package doc).
type Governor struct{}

// Address is the iDAO address.
func (Governor) Address() common.Address { return metisvm.IDAOAddress }

// ABI is GovernorABI.
func (Governor) ABI() *abi.ABI { return GovernorABI }

// Run executes exec(target, data), passing the target's revert data through.
func (Governor) Run(call *metisvm.Call, input []byte) ([]byte, error) {
	return metisvm.NewRouter(GovernorABI).Handle("exec", 0, func(call *metisvm.Call, args []any) ([]any, error) {
		ret, err := call.CallContract(args[0].(common.Address), args[1].([]byte), call.Value, call.Gas())
		if err == vm.ErrExecutionReverted {
			return nil, &metisvm.RevertError{Data: ret}
		}
		if err != nil {
			return nil, err
		}
		return []any{ret}, nil
	}).Run(call, input)
}

// Chain is a dev chain without RPC, for tests that run many transactions: each Send signs a
// transaction, seals a block with it and returns its receipt.
type Chain struct {
	tb    testing.TB
	Chain *core.Chain
	Keys  []*ecdsa.PrivateKey
	Addrs []common.Address
	nonce map[common.Address]uint64
}

// OpenChain opens a chain in a temporary directory with the default modules and the Governor in
// place of the iDAO, or with mods: as given if one of them is at the iDAO address, else with the
// Governor added.
func OpenChain(tb testing.TB, mods []metisvm.Module) *Chain {
	tb.Helper()
	switch {
	case mods == nil:
		mods = withGovernor(node.DefaultModules())
	case !hasIDAO(mods):
		mods = withGovernor(mods)
	}
	c, err := core.Open(tb.TempDir(), core.Options{
		Modules: mods,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	ch := &Chain{tb: tb, Chain: c, nonce: make(map[common.Address]uint64)}
	for _, a := range core.DevAccounts() {
		ch.Keys = append(ch.Keys, a.Key)
		ch.Addrs = append(ch.Addrs, a.Address)
	}
	return ch
}

// Send signs and mines one transaction from account i with a fixed gas limit (no estimation, so
// a reverting call is mined and fails) and returns its receipt.
func (c *Chain) Send(i int, to common.Address, value *big.Int, data []byte) *types.Receipt {
	c.tb.Helper()
	from := c.Addrs[i]
	head := c.Chain.CurrentHeader()
	if value == nil {
		value = new(big.Int)
	}
	tx, err := types.SignNewTx(c.Keys[i], c.Chain.Signer(), &types.DynamicFeeTx{
		ChainID:   c.Chain.ChainConfig().ChainID,
		Nonce:     c.nonce[from],
		GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), big.NewInt(params.GWei)),
		Gas:       5_000_000,
		To:        &to,
		Value:     value,
		Data:      data,
	})
	if err != nil {
		c.tb.Fatal(err)
	}
	if err := c.Chain.SendTransaction(tx); err != nil {
		c.tb.Fatalf("send: %v", err)
	}
	c.nonce[from]++
	if _, err := c.Chain.Seal(context.Background()); err != nil {
		c.tb.Fatalf("seal: %v", err)
	}
	r, err := c.Chain.Receipt(tx.Hash())
	if err != nil {
		c.tb.Fatalf("receipt: %v", err)
	}
	return r
}

// Call runs data against to at the head as account i (eth_call), returning the return data or
// the revert data with an error.
func (c *Chain) Call(i int, to common.Address, data []byte) ([]byte, error) {
	c.tb.Helper()
	head := c.Chain.CurrentHeader().Number.Uint64()
	res, err := c.Chain.Call(context.Background(), &gethcore.Message{
		From: c.Addrs[i], To: &to, Data: data, GasLimit: 30_000_000,
	}, head)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return res.Revert(), res.Err
	}
	return res.ReturnData, nil
}

// Balance is an account's balance at the head.
func (c *Chain) Balance(a common.Address) *big.Int {
	c.tb.Helper()
	st, err := c.Chain.StateAt(c.Chain.CurrentHeader().Number.Uint64())
	if err != nil {
		c.tb.Fatal(err)
	}
	return st.GetBalance(a).ToBig()
}

// Govern sends, from dev account i, a transaction that makes the Governor (standing at the iDAO
// address) call target with data, and returns the receipt; a revert comes back as a
// *chaintx.TxError whose reason is decoded with targetABI.
func (n *Net) Govern(ctx context.Context, i int, target common.Address, targetABI *abi.ABI, method string, args ...any) (*types.Receipt, error) {
	data, err := targetABI.Pack(method, args...)
	if err != nil {
		return nil, err
	}
	c := chaintx.New(n.Eth, metisvm.IDAOAddress, GovernorABI, n.Signer(i))
	r, err := c.Send(ctx, chaintx.TxOptions{GasLimit: 2_000_000}, "exec", target, data)
	var te *chaintx.TxError
	if errors.As(err, &te) {
		var re *chaintx.RevertError
		if errors.As(te.Err, &re) {
			te.Err = chaintx.DecodeRevert(targetABI, re.Data)
		}
	}
	return r, err
}
