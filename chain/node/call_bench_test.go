package node

import (
	"context"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/core"
)

// BenchmarkEthCall measures eth_call of a storage read (Store.get(7), one SLOAD) at the latest
// block. Transports differ and are named: metis over its real HTTP endpoint, metis in process
// through chain/core (no JSON-RPC), and go-ethereum's simulated backend through its in-process
// RPC client (JSON encoding, no HTTP) — the same client a Go test against it would use.
func BenchmarkEthCall(b *testing.B) {
	storeABI, code := loadStore(b)
	get, _ := storeABI.Pack("get", big.NewInt(7))
	set, _ := storeABI.Pack("set", big.NewInt(7), big.NewInt(42))
	dev := core.DevAccounts()[0]
	ctx := context.Background()

	type client interface {
		SendTransaction(context.Context, *types.Transaction) error
		PendingNonceAt(context.Context, common.Address) (uint64, error)
		TransactionReceipt(context.Context, common.Hash) (*types.Receipt, error)
	}
	// deploy deploys Store and sets values[7] = 42, committing with commit (a no-op where
	// blocks seal by themselves) and waiting for each receipt, which must succeed.
	deploy := func(b *testing.B, ec client, commit func(), chainID *big.Int) common.Address {
		signer := types.LatestSignerForChainID(chainID)
		nonce, err := ec.PendingNonceAt(ctx, dev.Address)
		if err != nil {
			b.Fatal(err)
		}
		addr := crypto.CreateAddress(dev.Address, nonce)
		for i, tx := range []types.TxData{
			&types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: 5_000_000, Data: code},
			&types.DynamicFeeTx{ChainID: chainID, Nonce: nonce + 1, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: 2_000_000, To: &addr, Data: set},
		} {
			signed, _ := types.SignNewTx(dev.Key, signer, tx)
			if err := ec.SendTransaction(ctx, signed); err != nil {
				b.Fatal(err)
			}
			commit()
			for range 5000 {
				r, err := ec.TransactionReceipt(ctx, signed.Hash())
				if err == nil {
					if r.Status != types.ReceiptStatusSuccessful {
						b.Fatalf("transaction %d failed: gas used %d of %d, contract %s", i, r.GasUsed, signed.Gas(), r.ContractAddress)
					}
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		return addr
	}
	check := func(b *testing.B, out []byte, err error) {
		if err != nil || new(big.Int).SetBytes(out).Int64() != 42 {
			b.Fatalf("get(7) = %x, %v", out, err)
		}
	}

	// metisWithStore starts a node and deploys Store on it, with values[7] = 42.
	metisWithStore := func(b *testing.B) (*Node, *ethclient.Client, common.Address) {
		n, err := New(Config{DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		n.Start()
		ec, err := ethclient.Dial(n.HTTPURL())
		if err != nil {
			n.Close()
			b.Fatal(err)
		}
		return n, ec, deploy(b, ec, func() {}, big.NewInt(1337))
	}

	b.Run("chain=metis/via=http", func(b *testing.B) {
		n, ec, store := metisWithStore(b)
		defer n.Close()
		defer ec.Close()
		msg := ethereum.CallMsg{To: &store, Data: get}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			out, err := ec.CallContract(ctx, msg, nil)
			check(b, out, err)
		}
	})
	b.Run("chain=metis/via=inproc", func(b *testing.B) {
		n, ec, store := metisWithStore(b)
		defer n.Close()
		defer ec.Close()
		chain := n.Chain()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			msg := callMessage(store, get)
			res, err := chain.Call(ctx, msg, chain.CurrentHeader().Number.Uint64())
			if err != nil {
				b.Fatal(err)
			}
			check(b, res.ReturnData, res.Err)
		}
	})
	b.Run("chain=simulated/via=inproc-rpc", func(b *testing.B) {
		funds, _ := new(big.Int).SetString("1000000000000000000000", 10)
		sim := simulated.NewBackend(types.GenesisAlloc{dev.Address: {Balance: funds}})
		defer sim.Close()
		client := sim.Client()
		store := deploy(b, client, func() { sim.Commit() }, params.AllDevChainProtocolChanges.ChainID)
		msg := ethereum.CallMsg{To: &store, Data: get}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			out, err := client.CallContract(ctx, msg, nil)
			check(b, out, err)
		}
	})
}

func callMessage(to common.Address, data []byte) *gethcore.Message {
	// metisvm's Call skips the nonce, EOA and gas-cap checks itself, as eth_call does.
	return &gethcore.Message{To: &to, Data: data, GasLimit: 50_000_000, GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int),
		GasTipCap: new(uint256.Int), Value: new(uint256.Int)}
}
