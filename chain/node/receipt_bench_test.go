package node

// Issue 13's receipt benchmark: eth_getTransactionReceipt over HTTP for a transaction in a block
// of 1, 100 and 1,428 transfers (1,428 × 21,000 gas fills a 30M-gas block), against Foundry's
// anvil 1.7.1 (from npm, chain/node/testdata/anvil) fed the same workload in the same run. Both
// nodes seal on demand (metis: a 24 h block time and Chain().Seal; anvil: --no-mining and
// evm_mine), so each block holds exactly the transfers sent for it. The latency should not depend
// on the block size. BenchmarkReceiptsOneByOne reads the receipts of 10,000 transfers one call at
// a time, as a script checking its transactions would.

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/chain/core"
)

// receiptBlockSizes are the block sizes of BenchmarkReceipt; 1,428 transfers fill 30M gas.
var receiptBlockSizes = []int{1, 100, 1428}

const (
	receiptSenders = 1428 // one transfer per sender per block, so no pool's per-account limit applies
	receiptChainID = 1337
)

// receiptSender is a funded account of the receipt benchmarks; keys are derived from the index,
// so every run and both chains use the same accounts.
type receiptSender struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

func receiptSenderKeys(b *testing.B) []receiptSender {
	out := make([]receiptSender, receiptSenders)
	for i := range out {
		seed := crypto.Keccak256(binary.BigEndian.AppendUint64([]byte("metis receipt bench"), uint64(i)))
		k, err := crypto.ToECDSA(seed)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = receiptSender{k, crypto.PubkeyToAddress(k.PublicKey)}
	}
	return out
}

// receiptChain is a node under test: its RPC client and how to seal a block of what was sent.
type receiptChain struct {
	node  *Node // metis only
	rpc   *gethrpc.Client
	ec    *ethclient.Client
	mine  func() (*types.Block, error)
	close func()
}

// fillBlocks sends one transfer from each of the first size senders for each size and seals a
// block of exactly those transactions; it returns each block's transaction hashes.
func (c *receiptChain) fillBlocks(b *testing.B, senders []receiptSender, sizes []int) [][]common.Hash {
	ctx := context.Background()
	signer := types.LatestSignerForChainID(big.NewInt(receiptChainID))
	to := common.HexToAddress("0x000000000000000000000000000000000000beef")
	var out [][]common.Hash
	nonces := make([]uint64, len(senders))
	for _, size := range sizes {
		var hashes []common.Hash
		var batch []gethrpc.BatchElem
		for i := range size {
			tx, err := types.SignNewTx(senders[i].key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(receiptChainID),
				Nonce: nonces[i], GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: 21000, To: &to, Value: big.NewInt(1)})
			if err != nil {
				b.Fatal(err)
			}
			nonces[i]++
			raw, _ := tx.MarshalBinary()
			hashes = append(hashes, tx.Hash())
			batch = append(batch, gethrpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{hexutil.Encode(raw)}, Result: new(common.Hash)})
		}
		for len(batch) > 0 {
			n := min(len(batch), 500)
			if err := c.rpc.BatchCallContext(ctx, batch[:n]); err != nil {
				b.Fatal(err)
			}
			for _, e := range batch[:n] {
				if e.Error != nil {
					b.Fatalf("send: %v", e.Error)
				}
			}
			batch = batch[n:]
		}
		blk, err := c.mine()
		if err != nil {
			b.Fatal(err)
		}
		if got := len(blk.Transactions()); got != size {
			b.Fatalf("sealed a block of %d transactions, want %d", got, size)
		}
		out = append(out, hashes)
	}
	return out
}

// startMetisForReceipts starts a dev node whose genesis funds the senders and that seals only
// when told.
func startMetisForReceipts(b *testing.B, senders []receiptSender) *receiptChain {
	gen := core.DevGenesis()
	funds, _ := new(big.Int).SetString("1000000000000000000000", 10)
	for _, s := range senders {
		gen.Alloc[s.addr] = types.Account{Balance: funds}
	}
	n, err := New(Config{DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", BlockTime: 24 * time.Hour,
		Chain: core.Options{Genesis: gen}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	n.Start()
	c, err := gethrpc.Dial(n.HTTPURL())
	if err != nil {
		n.Close()
		b.Fatal(err)
	}
	return &receiptChain{
		node:  n,
		rpc:   c,
		ec:    ethclient.NewClient(c),
		mine:  func() (*types.Block, error) { return n.Chain().Seal(context.Background()) },
		close: func() { c.Close(); n.Close() },
	}
}

// anvilBinary is the anvil executable the npm package installs for this platform.
func anvilBinary(b *testing.B) string {
	bin := filepath.Join("testdata", "anvil", "node_modules", "@foundry-rs",
		fmt.Sprintf("anvil-%s-%s", runtime.GOOS, runtime.GOARCH), "bin", "anvil")
	if _, err := os.Stat(bin); err != nil {
		why := "anvil is not installed; install it with `(cd chain/node/testdata/anvil && npm ci)`"
		if os.Getenv("CI") == "true" {
			b.Fatal(why)
		}
		b.Skip(why)
	}
	return bin
}

// startAnvilForReceipts starts anvil (chain id 1337, no automatic mining, quiet) and funds the
// senders with anvil_setBalance.
func startAnvilForReceipts(b *testing.B, senders []receiptSender) *receiptChain {
	bin := anvilBinary(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--chain-id", fmt.Sprint(receiptChainID),
		"--no-mining", "--silent", "--gas-limit", "30000000")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx := context.Background()
	var c *gethrpc.Client
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err = gethrpc.Dial(url); err == nil {
			var id hexutil.Big
			if err = c.CallContext(ctx, &id, "eth_chainId"); err == nil {
				break
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("anvil did not answer on %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var batch []gethrpc.BatchElem
	for _, s := range senders {
		batch = append(batch, gethrpc.BatchElem{Method: "anvil_setBalance", Args: []any{s.addr, "0x3635c9adc5dea00000"}})
	}
	if err := c.BatchCallContext(ctx, batch); err != nil {
		stop()
		b.Fatal(err)
	}
	ec := ethclient.NewClient(c)
	return &receiptChain{
		rpc: c,
		ec:  ec,
		mine: func() (*types.Block, error) {
			if err := c.CallContext(ctx, nil, "evm_mine"); err != nil {
				return nil, err
			}
			return ec.BlockByNumber(ctx, nil)
		},
		close: func() { c.Close(); stop() },
	}
}

var receiptChains = []struct {
	name  string
	start func(*testing.B, []receiptSender) *receiptChain
}{
	{"metis", startMetisForReceipts},
	{"anvil", startAnvilForReceipts},
}

// BenchmarkReceipt measures one eth_getTransactionReceipt over HTTP (ethclient, loopback) for a
// transaction of a block of 1, 100 or 1,428 transfers, cycling over the block's transactions.
// Run with `go test -run '^$' -bench '^BenchmarkReceipt$' -count 6 ./chain/node/`.
func BenchmarkReceipt(b *testing.B) {
	senders := receiptSenderKeys(b)
	ctx := context.Background()
	for _, chain := range receiptChains {
		b.Run("chain="+chain.name, func(b *testing.B) {
			c := chain.start(b, senders)
			defer c.close()
			blocks := c.fillBlocks(b, senders, receiptBlockSizes)
			for i, size := range receiptBlockSizes {
				hashes := blocks[i]
				b.Run(fmt.Sprintf("txs=%d", size), func(b *testing.B) {
					for j := 0; b.Loop(); j++ {
						r, err := c.ec.TransactionReceipt(ctx, hashes[j%len(hashes)])
						if err != nil || r.Status != types.ReceiptStatusSuccessful {
							b.Fatalf("receipt: %v", err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkReceiptCore is BenchmarkReceipt's metis side without JSON-RPC: chain/core's
// TransactionReceipt in process, what the node does for one eth_getTransactionReceipt before
// marshalling it.
func BenchmarkReceiptCore(b *testing.B) {
	senders := receiptSenderKeys(b)
	m := startMetisForReceipts(b, senders)
	defer m.close()
	blocks := m.fillBlocks(b, senders, receiptBlockSizes)
	for i, size := range receiptBlockSizes {
		hashes := blocks[i]
		b.Run(fmt.Sprintf("txs=%d", size), func(b *testing.B) {
			for j := 0; b.Loop(); j++ {
				if _, _, err := m.node.Chain().TransactionReceipt(hashes[j%len(hashes)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReceiptsOneByOne reads the receipts of 10,000 transfers (seven full blocks of 1,428
// and one of 4), one eth_getTransactionReceipt at a time, and reports the seconds it took.
// Run with `go test -run '^$' -bench ReceiptsOneByOne -benchtime 1x -count 3 ./chain/node/`.
func BenchmarkReceiptsOneByOne(b *testing.B) {
	senders := receiptSenderKeys(b)
	sizes := []int{1428, 1428, 1428, 1428, 1428, 1428, 1428, 4}
	ctx := context.Background()
	for _, chain := range receiptChains {
		b.Run("chain="+chain.name, func(b *testing.B) {
			c := chain.start(b, senders)
			defer c.close()
			var hashes []common.Hash
			for _, blk := range c.fillBlocks(b, senders, sizes) {
				hashes = append(hashes, blk...)
			}
			for b.Loop() {
				for _, h := range hashes {
					if _, err := c.ec.TransactionReceipt(ctx, h); err != nil {
						b.Fatalf("receipt %s: %v", h, err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/10k-receipts")
		})
	}
}
