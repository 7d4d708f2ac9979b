package node

// Issue 3's throughput benchmark: pre-signed EIP-1559 transfers through txpool → block →
// commit, in process, against go-ethereum's ethclient/simulated backend fed the same workload
// in the same run (20,000 transfers from 200 senders, blocks of 2,000, pool limits raised,
// tip 2 gwei). Both sides recover every sender's signature in their pool. MetisDB commits are
// durable (fdatasync); the simulated backend keeps its state in memory.

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"runtime"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	gethnode "github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/core/txpool"
)

const (
	benchSenders   = 200
	benchPerSender = 100
	benchPerBlock  = 2000
)

type workload struct {
	alloc types.GenesisAlloc
	txs   []*types.Transaction // nonce-major order: every sender's nonce 0, then nonce 1, ...
}

func makeWorkload(b *testing.B, config *params.ChainConfig) workload {
	b.Helper()
	w := workload{alloc: types.GenesisAlloc{}}
	keys := make([]*ecdsa.PrivateKey, benchSenders)
	funds, _ := new(big.Int).SetString("1000000000000000000000", 10)
	for i := range keys {
		keys[i], _ = crypto.GenerateKey()
		w.alloc[crypto.PubkeyToAddress(keys[i].PublicKey)] = types.Account{Balance: funds}
	}
	signer := types.LatestSigner(config)
	to := common.HexToAddress("0x000000000000000000000000000000000000beef")
	for n := range benchPerSender {
		for _, k := range keys {
			tx, err := types.SignNewTx(k, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: uint64(n),
				GasTipCap: big.NewInt(2e9), GasFeeCap: big.NewInt(100e9), Gas: 21000, To: &to, Value: big.NewInt(1)})
			if err != nil {
				b.Fatal(err)
			}
			// Round-trip through the wire encoding, so no side starts with a cached sender.
			raw, _ := tx.MarshalBinary()
			fresh := new(types.Transaction)
			if err := fresh.UnmarshalBinary(raw); err != nil {
				b.Fatal(err)
			}
			w.txs = append(w.txs, fresh)
		}
	}
	return w
}

func BenchmarkTransfers(b *testing.B) {
	b.Run("chain=metis", func(b *testing.B) {
		gen := core.DevGenesis()
		gen.GasLimit = benchPerBlock * 21000
		w := makeWorkload(b, gen.Config)
		for addr, acct := range w.alloc {
			gen.Alloc[addr] = acct
		}
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			chain, err := core.Open(b.TempDir(), core.Options{Genesis: gen,
				TxPool: txpool.Config{AccountSlots: benchPerSender, GlobalSlots: len(w.txs)}})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			for _, tx := range w.txs {
				if err := chain.SendTransaction(tx); err != nil {
					b.Fatal(err)
				}
			}
			mined := 0
			for mined < len(w.txs) {
				blk, err := chain.Seal(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if len(blk.Transactions()) == 0 {
					b.Fatalf("empty block with %d of %d mined", mined, len(w.txs))
				}
				mined += len(blk.Transactions())
			}
			b.StopTimer()
			chain.Close()
		}
		b.ReportMetric(float64(len(w.txs)*b.N)/b.Elapsed().Seconds(), "transfers/s")
	})
	b.Run("chain=simulated", func(b *testing.B) {
		w := makeWorkload(b, params.AllDevChainProtocolChanges)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			sim := simulated.NewBackend(w.alloc, simulated.WithBlockGasLimit(benchPerBlock*21000),
				func(_ *gethnode.Config, ec *ethconfig.Config) {
					ec.TxPool.AccountSlots = benchPerSender
					ec.TxPool.AccountQueue = benchPerSender
					ec.TxPool.GlobalSlots = uint64(len(w.txs))
					ec.TxPool.GlobalQueue = uint64(len(w.txs))
				})
			client := sim.Client()
			b.StartTimer()
			for j, tx := range w.txs {
				if err := client.SendTransaction(context.Background(), tx); err != nil {
					b.Fatal(err)
				}
				if (j+1)%benchPerBlock == 0 {
					sim.Commit()
				}
			}
			b.StopTimer()
			blk, err := client.BlockNumber(context.Background())
			if err != nil || blk == 0 {
				b.Fatalf("simulated backend mined nothing: %v", err)
			}
			sim.Close()
		}
		b.ReportMetric(float64(len(w.txs)*b.N)/b.Elapsed().Seconds(), "transfers/s")
	})
}

// submitParallel sends w's transactions from GOMAXPROCS goroutines, as concurrent RPC clients
// would: each goroutine owns a share of the senders and sends their transactions in nonce order.
func submitParallel(b *testing.B, w workload, send func(*types.Transaction) error) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, tx := range w.txs {
				if (j%benchSenders)%workers != g {
					continue
				}
				if err := send(tx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkTransfersParallel is BenchmarkTransfers with the transactions submitted concurrently
// (submitParallel) on both sides, then mined: what many clients sending at once see, where
// sender recovery can use every core.
func BenchmarkTransfersParallel(b *testing.B) {
	b.Run("chain=metis", func(b *testing.B) {
		gen := core.DevGenesis()
		w := makeWorkload(b, gen.Config)
		for a, acct := range w.alloc {
			gen.Alloc[a] = acct
		}
		gen.GasLimit = benchPerBlock * 21000
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			chain, err := core.Open(b.TempDir(), core.Options{Genesis: gen,
				TxPool: txpool.Config{AccountSlots: benchPerSender, GlobalSlots: len(w.txs)}})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			submitParallel(b, w, chain.SendTransaction)
			for mined := 0; mined < len(w.txs); {
				blk, err := chain.Seal(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if len(blk.Transactions()) == 0 {
					b.Fatalf("empty block with %d of %d mined", mined, len(w.txs))
				}
				mined += len(blk.Transactions())
			}
			b.StopTimer()
			chain.Close()
		}
		b.ReportMetric(float64(len(w.txs)*b.N)/b.Elapsed().Seconds(), "transfers/s")
	})
	b.Run("chain=simulated", func(b *testing.B) {
		w := makeWorkload(b, params.AllDevChainProtocolChanges)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			sim := simulated.NewBackend(w.alloc, simulated.WithBlockGasLimit(benchPerBlock*21000),
				func(_ *gethnode.Config, ec *ethconfig.Config) {
					ec.TxPool.AccountSlots = benchPerSender
					ec.TxPool.AccountQueue = benchPerSender
					ec.TxPool.GlobalSlots = uint64(len(w.txs))
					ec.TxPool.GlobalQueue = uint64(len(w.txs))
				})
			client := sim.Client()
			b.StartTimer()
			submitParallel(b, w, func(tx *types.Transaction) error {
				return client.SendTransaction(context.Background(), tx)
			})
			for range len(w.txs) / benchPerBlock {
				sim.Commit()
			}
			b.StopTimer()
			blk, err := client.BlockByNumber(context.Background(), nil)
			if err != nil || blk.NumberU64() == 0 {
				b.Fatalf("simulated backend mined nothing: %v", err)
			}
			sim.Close()
		}
		b.ReportMetric(float64(len(w.txs)*b.N)/b.Elapsed().Seconds(), "transfers/s")
	})
}
