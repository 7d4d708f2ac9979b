//go:build unix

package core

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

const crashDirEnv = "METIS_CORE_SIGKILL_DIR"

// TestSIGKILLChild is the process TestSIGKILL kills: it streams transfers, seals a block for
// each, and prints "tx block number" once Seal has returned (what a client receiving the receipt
// would know). It runs only under TestSIGKILL.
func TestSIGKILLChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestSIGKILL")
	}
	c, err := Open(dir, Options{}) // with fsync, as a node runs
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	accts := DevAccounts()
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	for i := 0; ; i++ {
		a := accts[i%len(accts)]
		inner := &types.DynamicFeeTx{
			ChainID: c.ChainConfig().ChainID, Nonce: c.Pool().PendingNonce(a.Address),
			GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1e11), Gas: 21000, To: &to, Value: big.NewInt(1),
		}
		tx, err := types.SignNewTx(a.Key, c.Signer(), inner)
		if err == nil {
			err = c.SendTransaction(tx)
		}
		if err != nil {
			fmt.Println("send:", err)
			os.Exit(2)
		}
		b, err := c.Seal(context.Background())
		if err != nil {
			fmt.Println("seal:", err)
			os.Exit(2)
		}
		fmt.Printf("%s %s %d\n", tx.Hash().Hex(), b.Hash().Hex(), b.NumberU64())
	}
}

// TestSIGKILL kills a process streaming transactions with SIGKILL, three times, and checks after
// each restart that every transaction whose block the process had reported is there, in the same
// block.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	seen := make(map[common.Hash]common.Hash) // tx → block
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		lines := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || !strings.HasPrefix(f[0], "0x") {
				t.Logf("child: %s", sc.Text())
				continue
			}
			seen[common.HexToHash(f[0])] = common.HexToHash(f[1])
			if lines++; lines == 25+10*round {
				// Kill at a random point of the next block (about a millisecond each); keep
				// reading what the child printed before dying.
				time.AfterFunc(time.Duration(rand.Int64N(int64(2*time.Millisecond))), func() {
					cmd.Process.Signal(syscall.SIGKILL)
				})
			}
		}
		cmd.Wait()
		if lines < 25+10*round {
			t.Fatalf("round %d: child printed %d lines", round, lines)
		}

		c, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		for tx, block := range seen {
			r, err := c.Receipt(tx)
			if err != nil {
				t.Fatalf("round %d: tx %s lost: %v", round, tx, err)
			}
			if r.BlockHash != block || r.Status != types.ReceiptStatusSuccessful {
				t.Fatalf("round %d: tx %s in block %s, was %s", round, tx, r.BlockHash, block)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d transactions survived 3 SIGKILLs", len(seen))
}
