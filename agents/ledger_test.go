package agents

import (
	"bufio"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

var ledgerAccount = common.HexToAddress("0x00000000000000000000000000000000000000a9")

// TestLedgerKill9 (issue 12, item 10): a process appends records to a ledger as fast as it can,
// printing the count each time an append returns (the record is durable then), and is killed
// with SIGKILL at a varying moment, twenty times over the same file (five with -short). Each
// time the ledger opens, with every acknowledged record and at most the one in flight — none
// lost, none counted twice — and the next process appends after them.
func TestLedgerKill9(t *testing.T) {
	dir := t.TempDir()
	acked, rounds := 0, 20
	if testing.Short() {
		rounds = 5 // the race pass: each kill is a race-instrumented process
	}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLedgerWriter$")
		cmd.Env = append(os.Environ(), "METIS_LEDGER_HELPER=1", "METIS_LEDGER_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		last := acked
		killAfter := 3 + round*7%23 // acknowledged appends before the kill
		for sc.Scan() {
			n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "acked "))
			if err != nil {
				continue
			}
			last = n
			if n-acked >= killAfter {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		for sc.Scan() { // what it printed before it died
			if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "acked ")); err == nil {
				last = n
			}
		}
		_ = cmd.Wait()
		l, err := openLedger(dir, ledgerAccount, 24*time.Hour, time.Now())
		if err != nil {
			t.Fatalf("round %d: the ledger does not open after a kill -9: %v", round, err)
		}
		got := len(l.entries)
		l.close()
		if got < last || got > last+1 {
			t.Fatalf("round %d: %d records after %d acknowledged appends (at most one more may have been in flight)", round, got, last)
		}
		entries, err := readLedger(filepath.Join(dir, LedgerFile))
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			if e.nonce != uint64(i) {
				t.Fatalf("round %d: record %d has nonce %d: a record was lost or repeated", round, i, e.nonce)
			}
		}
		acked = got
	}
	t.Logf("%d records survived %d kills", acked, rounds)
}

// TestHelperLedgerWriter is the process TestLedgerKill9 kills.
func TestHelperLedgerWriter(t *testing.T) {
	if os.Getenv("METIS_LEDGER_HELPER") != "1" {
		t.Skip("the writer process of TestLedgerKill9")
	}
	l, err := openLedger(os.Getenv("METIS_LEDGER_DIR"), ledgerAccount, 24*time.Hour, time.Now())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for n := len(l.entries); ; n++ {
		if err := l.add(ledgerEntry{at: time.Now(), amount: big.NewInt(1e15), nonce: uint64(n), method: "lazai.stake"}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("acked %d\n", n+1)
	}
}

// TestLedgerTornAndDamaged: a partial last record (what a kill during a write leaves) is cut off
// and the ledger goes on; damage anywhere else refuses to open; old records expire.
func TestLedgerTornAndDamaged(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	l, err := openLedger(dir, ledgerAccount, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := l.add(ledgerEntry{at: now.Add(time.Duration(i-2) * 40 * time.Minute), amount: big.NewInt(int64(10 + i)), nonce: uint64(i), method: "dat.mint"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.total(now, time.Hour); got.Int64() != 11+12 {
		t.Fatalf("total of the last hour %v, want 23 (the first record is 80 minutes old)", got)
	}
	l.close()
	path := filepath.Join(dir, LedgerFile)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, torn := range []string{"17", "1749000000000000000 5 3 dat.m", "1749000000000000000 5 3 dat.mint 00000000\n"} {
		if err := os.WriteFile(path, append(append([]byte{}, whole...), torn...), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := openLedger(dir, ledgerAccount, time.Hour, now)
		if err != nil {
			t.Fatalf("torn tail %q: %v", torn, err)
		}
		if err := l.add(ledgerEntry{at: now, amount: big.NewInt(1), nonce: 3, method: "x"}); err != nil {
			t.Fatal(err)
		}
		l.close()
		entries, err := readLedger(path)
		if err != nil || len(entries) != 4 || entries[3].nonce != 3 {
			t.Fatalf("after cutting %q and appending: %+v %v", torn, entries, err)
		}
	}
	// A bad record followed by good ones is damage, not a torn write.
	bad := strings.Replace(string(whole), " 11 1 dat.mint", " 99 1 dat.mint", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openLedger(dir, ledgerAccount, time.Hour, now); err == nil || !strings.Contains(err.Error(), "damaged at line 3") {
		t.Fatalf("a damaged record: %v", err)
	}
}

// TestLedgerCompacts: once many records are older than the period, opening rewrites the file
// with the live ones only (temporary file, fsync, rename).
func TestLedgerCompacts(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-48 * time.Hour)
	l, err := openLedger(dir, ledgerAccount, time.Hour, old)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ledgerCompactAt + 1 {
		if err := l.add(ledgerEntry{at: old, amount: big.NewInt(1), nonce: uint64(i), method: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := l.add(ledgerEntry{at: now, amount: big.NewInt(7), nonce: 9999, method: "m"}); err != nil {
		t.Fatal(err)
	}
	l.close()
	l, err = openLedger(dir, ledgerAccount, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	entries, err := readLedger(filepath.Join(dir, LedgerFile))
	if err != nil || len(entries) != 1 || entries[0].nonce != 9999 || l.total(now, time.Hour).Int64() != 7 {
		t.Fatalf("after compaction: %d entries %v", len(entries), err)
	}
	if _, err := os.Stat(filepath.Join(dir, LedgerFile+".tmp")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
}
