// Package examples_test runs every example (issue 8, acceptance 4): each is built with go build
// and run as a process against an in-process dev node (internal/devnet), and what it did is
// checked on the chain.
package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// example builds every example once and returns the path of the named one.
func example(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "metis-examples-"); buildErr != nil {
			return
		}
		if out, err := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./...").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// run runs an example to its end and returns its output; it fails the test if the example does.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, example(t, name), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	t.Logf("%s output:\n%s", name, out.String())
	return out.String()
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMinimalAgent(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	out := run(t, "minimal-agent", "--rpc", net.Node.WSURL(), "--dev-account", "9")
	for _, want := range []string{"tool_call", "tx_sent", "tx_mined", "staked: 0 METIS -> 1 METIS"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	lz := lazai.NewClient(net.Eth, nil)
	st, err := lz.StakeOf(context.Background(), net.Addrs[9])
	ok(t, err)
	if st.Cmp(big.NewInt(params.Ether)) != 0 {
		t.Errorf("stake %s", st)
	}
}

func TestDataProvider(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	file := filepath.Join(t.TempDir(), "rain.csv")
	ok(t, os.WriteFile(file, []byte("city,mm\nLisbon,774\n"), 0o600))
	out := run(t, "data-provider", "--rpc", net.Node.WSURL(), "--file", file)
	if !strings.Contains(out, "token 1 minted") {
		t.Errorf("output lacks the minted token")
	}
	ctx := context.Background()
	dc := dat.NewClient(net.Eth, nil)
	c, err := dc.Class(ctx, big.NewInt(1))
	ok(t, err)
	if dat.Status(c.Status) != dat.StatusActive || dat.Kind(c.Kind) != dat.Dataset || c.Owner != net.Addrs[1] {
		t.Errorf("class %+v", c)
	}
	tok, err := dc.Token(ctx, big.NewInt(1))
	ok(t, err)
	if tok.ClassId.Cmp(big.NewInt(1)) != 0 || tok.Owner != net.Addrs[1] {
		t.Errorf("token %+v", tok)
	}
}

func TestVotingAgent(t *testing.T) {
	// Blocks on an interval, so that the proposal's voting delay passes by itself; a second
	// each, so that its voting period (10 blocks) outlasts starting the example on a loaded
	// machine. The example is built before the proposal opens.
	example(t, "voting-agent")
	net := devnet.Start(t, devnet.Options{BlockTime: time.Second})
	ctx := context.Background()
	for _, i := range []int{6, 7} {
		lz := lazai.NewClient(net.Eth, net.Signer(i))
		_, err := lz.Stake(ctx, new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether)))
		ok(t, err)
	}
	gov := idao.NewClient(net.Eth, net.Signer(6))
	data, err := lazai.ABI.Pack("setSplit", lazai.Split{HoldersBps: 6000, ValidatorsBps: 2000, TreasuryBps: 1000, BurnBps: 1000})
	ok(t, err)
	var id *big.Int
	// The proposal threshold counts the votes of the block before: retry until the stake counts.
	for deadline := time.Now().Add(time.Minute); id == nil; time.Sleep(200 * time.Millisecond) {
		id, _, err = gov.Propose(ctx, big.NewInt(idao.RootDAO), []idao.Call{{Target: lazai.Address, Data: data}}, "60% of fees to holders")
		if err != nil && time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	out := run(t, "voting-agent", "--rpc", net.Node.WSURL(), "--dev-account", "7", "--proposal", id.String(),
		"--reason", "raises the APR")
	if !strings.Contains(out, "castVoteWithReason") || !strings.Contains(out, "voted for on proposal") {
		t.Errorf("output lacks the vote")
	}
	voted, err := gov.HasVoted(ctx, id, net.Addrs[7])
	ok(t, err)
	p, err := gov.Proposal(ctx, id)
	ok(t, err)
	if !voted || p.ForVotes.Sign() == 0 {
		t.Errorf("voted %v, proposal %+v", voted, p)
	}
}

func TestSubscribe(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	ctx := context.Background()
	gov := idao.NewClient(net.Eth, net.Signer(0))
	_, err := gov.RegisterAgent(ctx, net.Addrs[5], "pinger", "", nil)
	ok(t, err)

	var out bytes.Buffer
	var mu sync.Mutex
	cmd := exec.Command(example(t, "subscribe"), "--rpc", net.Node.WSURL(), "--count", "3", "--for", "2m")
	w := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
	cmd.Stdout, cmd.Stderr = w, w
	ok(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Publish an event every 100ms (the subscriber may not be subscribed yet) until the example
	// has seen three.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for seq := uint64(1); ; seq++ {
		select {
		case err := <-done:
			mu.Lock()
			s := out.String()
			mu.Unlock()
			if err != nil {
				t.Fatalf("subscribe: %v\n%s", err, s)
			}
			t.Logf("subscribe output:\n%s", s)
			if !strings.Contains(s, "done: 3 agent events") || !strings.Contains(s, "pinger") {
				t.Errorf("output lacks the events")
			}
			return
		case <-tick.C:
			e := &event.Event{Name: "pinger", Kind: event.Thought, Seq: seq, Time: time.Now().UnixMilli(),
				Data: []byte(fmt.Sprintf(`{"text":"ping %d"}`, seq))}
			ok(t, e.Sign(net.Keys[5]))
			ok(t, net.Node.Agents().PublishLocal(ctx, e))
		case <-time.After(2 * time.Minute):
			t.Fatal("subscribe did not finish")
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
