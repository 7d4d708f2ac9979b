package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/agents"
	"github.com/metisgo/metis/agents/event"
	agentstream "github.com/metisgo/metis/agents/stream"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/internal/devnet"
)

// TestAgentRun runs 'metis agent run' against a dev node with a tiny random model (its replies
// are text, never tool calls): the agent starts on its start trigger, thinks, stops after
// --for, and, registered with --register, its events are relayed by the node.
func TestAgentRun(t *testing.T) {
	net := devnet.Start(t, devnet.Options{})
	dir := t.TempDir()
	p := gguf.LlamaParams{Dim: 32, Layers: 1, Heads: 2, KVHeads: 1, FFN: 64, Context: 4096,
		RopeTheta: 10000, NormEps: 1e-5, Type: gguf.F32}
	if err := gguf.RandomLlama(p, gguf.ByteVocab(), 3).WriteFile(filepath.Join(dir, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(spec, []byte(`name: cli-agent
model: {model: tiny.gguf, max_tokens: 8}
tools: [remember]
triggers: [{start: true}]
policy: {spend_cap: 0}
key: {dev_account: 4}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	out := mustMetis(t, "agent", "run", spec, "--rpc", net.Node.WSURL(), "--for", "3s", "--register", "--datadir", data)
	if _, err := os.Stat(filepath.Join(data, agents.LedgerFile)); err != nil {
		t.Errorf("no spend ledger in --datadir: %v", err)
	}
	for _, k := range []string{"started", "thought", "stopped"} {
		if !strings.Contains(out, "cli-agent #") || !strings.Contains(out, " "+k+" ") {
			t.Errorf("no %s event in output:\n%s", k, out)
		}
	}
	rc, err := rpc.Dial(net.Node.WSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := agentstream.Recent(ctx, rc, event.Filter{Agents: []common.Address{net.Addrs[4]}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].Kind != event.Started {
		t.Errorf("node relayed %d events: %v", len(evs), evs)
	}

	// A malformed spec fails with its line and field.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nmodel: {model: m}\npolicy:\n  spend_cap: lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := metis(t, "agent", "run", bad, "--rpc", net.Node.WSURL())
	if want := fmt.Sprintf("%s:4: policy.spend_cap: not an amount: \"lots\"", bad); code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
}
