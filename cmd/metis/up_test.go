package main

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/agents/event"
	agentstream "github.com/metisgo/metis/agents/stream"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
)

// Issue 8, acceptance 1: 'metis up --for 60s' runs as a process; through JSON-RPC only (typed
// clients over ethclient, agents/stream over WebSocket) the test finds a dataset DAT verified
// and active, a proposal executed by votes that include agents, an optimistic compute task
// finalized with a trace root, Holders Mining rewards accrued, and agent events received over
// WebSocket for every registered agent.
func TestUpProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 'metis up' for up to a minute")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := startProc(t, "metis up", "up", "--for", "60s", "--http.addr", addr)
	exited := make(chan struct{})
	go func() {
		// It says so when it stops, and main prints "metis: …" when it fails.
		for out := p.out.String(); !strings.Contains(out, "metis up: stopped") && !strings.HasPrefix(out, "metis: ") && !strings.Contains(out, "\nmetis: "); out = p.out.String() {
			time.Sleep(100 * time.Millisecond)
		}
		close(exited)
	}()

	// Dial as soon as the node listens, and subscribe to the agents' events before they start
	// (registration takes a block first).
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var rc *rpc.Client
	for rc == nil {
		if c, err := rpc.DialContext(ctx, "ws://"+addr); err == nil {
			rc = c
			break
		}
		select {
		case <-exited:
			t.Fatalf("metis up exited before serving RPC")
		case <-ctx.Done():
			t.Fatal("metis up never served RPC")
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer rc.Close()
	events := make(chan *event.Event, 4096)
	sub, err := agentstream.Subscribe(ctx, rc, event.Filter{}, events)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var mu sync.Mutex
	seen := map[common.Address]map[event.Kind]int{}
	go func() {
		for e := range events {
			if err := e.Verify(); err != nil {
				t.Errorf("event over WebSocket does not verify: %v", err)
			}
			mu.Lock()
			if seen[e.Agent] == nil {
				seen[e.Agent] = map[event.Kind]int{}
			}
			seen[e.Agent][e.Kind]++
			mu.Unlock()
		}
	}()

	eth := ethclient.NewClient(rc)
	dc := dat.NewClient(eth, nil)
	gc := idao.NewClient(eth, nil)
	lc := lazai.NewClient(eth, nil)
	vc := verifier.NewClient(eth, nil)

	checks := []struct {
		name string
		ok   func() (string, bool)
	}{
		{"a dataset DAT verified and active", func() (string, bool) {
			n, err := dc.ClassCount(ctx)
			if err != nil {
				return err.Error(), false
			}
			for id := uint64(1); id <= n; id++ {
				c, err := dc.Class(ctx, new(big.Int).SetUint64(id))
				if err == nil && dat.Kind(c.Kind) == dat.Dataset && dat.Status(c.Status) == dat.StatusActive && c.Approvals > 0 {
					return fmt.Sprintf("class %d: %d approvals, active", id, c.Approvals), true
				}
			}
			return fmt.Sprintf("%d classes, no active dataset", n), false
		}},
		{"a proposal executed by votes that include agents", func() (string, bool) {
			n, err := gc.ProposalCount(ctx)
			if err != nil {
				return err.Error(), false
			}
			agents, err := gc.Agents(ctx)
			if err != nil {
				return err.Error(), false
			}
			for id := uint64(1); id <= n; id++ {
				pid := new(big.Int).SetUint64(id)
				if st, err := gc.State(ctx, pid); err != nil || st != idao.Executed {
					continue
				}
				var voters []string
				for _, a := range agents {
					info, err := gc.Agent(ctx, a)
					if voted, _ := gc.HasVoted(ctx, pid, a); voted && err == nil && info.Active {
						voters = append(voters, info.Name)
					}
				}
				if len(voters) > 0 {
					return fmt.Sprintf("proposal %d executed, agents voting: %v", id, voters), true
				}
			}
			return fmt.Sprintf("%d proposals, none executed with agents' votes", n), false
		}},
		{"an optimistic compute task finalized with a proof", func() (string, bool) {
			n, err := vc.TaskCount(ctx)
			if err != nil {
				return err.Error(), false
			}
			for id := uint64(1); id <= n; id++ {
				tk, err := vc.Task(ctx, new(big.Int).SetUint64(id))
				if err == nil && verifier.Mode(tk.Mode) == verifier.ModeOptimistic && verifier.Status(tk.Status) == verifier.StatusFinalized &&
					tk.TraceRoot != [32]byte{} && tk.Steps > 0 {
					return fmt.Sprintf("task %d finalized: %d steps, trace root %x", id, tk.Steps, tk.TraceRoot[:4]), true
				}
			}
			return fmt.Sprintf("%d tasks, none finalized optimistically", n), false
		}},
		{"Holders Mining rewards accrued", func() (string, bool) {
			st, err := lc.Stats(ctx, 1000)
			if err != nil {
				return err.Error(), false
			}
			agents, err := gc.Agents(ctx)
			if err != nil {
				return err.Error(), false
			}
			for _, a := range agents {
				if r, err := lc.PendingRewards(ctx, a); err == nil && r.Sign() > 0 && st.HolderRewards.Sign() > 0 {
					return fmt.Sprintf("agent %s: %s wei pending; %s wei to holders", a.Hex()[:10], r, st.HolderRewards), true
				}
			}
			return fmt.Sprintf("holder rewards %s, no agent with pending rewards", st.HolderRewards), false
		}},
		{"agent events over WebSocket for every agent", func() (string, bool) {
			agents, err := gc.Agents(ctx)
			if err != nil || len(agents) == 0 {
				return fmt.Sprintf("agents: %v %v", agents, err), false
			}
			mu.Lock()
			defer mu.Unlock()
			var missing []string
			for _, a := range agents {
				if len(seen[a]) == 0 {
					missing = append(missing, a.Hex())
				}
			}
			if len(missing) > 0 {
				return fmt.Sprintf("no events from %v", missing), false
			}
			// agent_recent holds them too.
			for _, a := range agents {
				evs, err := agentstream.Recent(ctx, rc, event.Filter{Agents: []common.Address{a}}, 5)
				if err != nil || len(evs) == 0 {
					return fmt.Sprintf("agent_recent for %s: %d events, %v", a.Hex(), len(evs), err), false
				}
			}
			return fmt.Sprintf("events from all %d agents", len(agents)), true
		}},
	}
	done := make([]bool, len(checks))
	last := make([]string, len(checks))
	for remaining := len(checks); remaining > 0; {
		for i, c := range checks {
			if done[i] {
				continue
			}
			if msg, ok := c.ok(); ok {
				done[i] = true
				remaining--
				t.Logf("found %s: %s", c.name, msg)
			} else {
				last[i] = msg
			}
		}
		if remaining == 0 {
			break
		}
		select {
		case <-exited:
			for i, c := range checks {
				if !done[i] {
					t.Errorf("not found before metis up stopped: %s (%s)", c.name, last[i])
				}
			}
			return
		case <-ctx.Done():
			t.Fatal("timed out")
		case <-time.After(500 * time.Millisecond):
		}
	}
	if !p.eventually("proposal 1 executed", 5*time.Second) {
		t.Error("the live log does not say the proposal was executed")
	}
}
