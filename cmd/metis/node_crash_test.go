package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/metisgo/metis/chain/core"
)

// TestNodeSIGKILL is issue 3's crash test: a client streams transactions to a `metis node --dev
// --datadir` process, which is killed with SIGKILL at a random moment; after a restart on the
// same directory every transaction whose receipt the client had received is still there, in the
// same block. Repeated, so kills land while idle, while sealing and while committing.
func TestNodeSIGKILL(t *testing.T) {
	if dir := os.Getenv("METIS_CRASH_NODE_DIR"); dir != "" {
		os.Exit(run([]string{"node", "--dev", "--datadir", dir, "--http.addr", "127.0.0.1:0", "--no-keys", "--log.level", "warn"}, os.Stdout, os.Stderr))
	}
	kills := 6
	if testing.Short() {
		kills = 2
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	type seen struct {
		block  common.Hash
		number uint64
	}
	received := map[common.Hash]seen{}
	from := core.DevAccounts()[0]
	to := core.DevAccounts()[1].Address
	signer := types.LatestSignerForChainID(big.NewInt(1337))

	for kill := 0; kill <= kills; kill++ {
		cmd, url := startNodeProcess(t, dir)
		ec, err := ethclient.Dial(url)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		// Everything received before any earlier kill must still be there, in the same block.
		for h, want := range received {
			r, err := ec.TransactionReceipt(ctx, h)
			if err != nil {
				t.Fatalf("after kill %d: receipt of %s: %v", kill, h, err)
			}
			if r.BlockHash != want.block || r.BlockNumber.Uint64() != want.number {
				t.Fatalf("after kill %d: %s moved from block %d to %d", kill, h, want.number, r.BlockNumber)
			}
		}
		if kill == kills {
			ec.Close()
			cmd.Process.Kill()
			cmd.Wait()
			break
		}
		// Stream bursts of transfers, recording receipts, until the kill lands.
		killAt := time.Now().Add(time.Duration(20+rng.IntN(300)) * time.Millisecond)
		timer := time.AfterFunc(time.Until(killAt), func() { cmd.Process.Kill() })
		stream(ctx, ec, from, to, signer, func(r *types.Receipt) {
			received[r.TxHash] = seen{r.BlockHash, r.BlockNumber.Uint64()}
		})
		timer.Stop()
		cmd.Process.Kill()
		cmd.Wait()
		ec.Close()
	}
	if len(received) == 0 {
		t.Fatal("no transaction was ever confirmed: the test checked nothing")
	}
	t.Logf("%d kills, %d confirmed transactions checked after each restart", kills, len(received))
}

// stream sends bursts of transfers and waits for their receipts until the node goes away.
func stream(ctx context.Context, ec *ethclient.Client, from core.DevAccount, to common.Address, signer types.Signer, got func(*types.Receipt)) {
	for {
		nonce, err := ec.PendingNonceAt(ctx, from.Address)
		if err != nil {
			return
		}
		var hashes []common.Hash
		for i := range 5 {
			tx, _ := types.SignNewTx(from.Key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: nonce + uint64(i),
				GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: 21000, To: &to, Value: big.NewInt(1)})
			if err := ec.SendTransaction(ctx, tx); err != nil {
				return
			}
			hashes = append(hashes, tx.Hash())
		}
		for _, h := range hashes {
			for {
				r, err := ec.TransactionReceipt(ctx, h)
				if err == nil {
					got(r)
					break
				}
				if !errors.Is(err, ethereum.NotFound) {
					return // the node is gone
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
}

func startNodeProcess(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNodeSIGKILL$")
	cmd.Env = append(os.Environ(), "METIS_CRASH_NODE_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`JSON-RPC\s+(http://\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return cmd, m[1]
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("node process printed no JSON-RPC address")
	return nil, ""
}
