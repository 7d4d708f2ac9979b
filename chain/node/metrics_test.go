package node

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
)

// TestIntervalSealingAndMetrics runs the real chain with --block-time: blocks appear without
// any transaction, and /metrics reports them with the RPC calls made, in Prometheus format.
func TestIntervalSealingAndMetrics(t *testing.T) {
	n, err := New(Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
		BlockTime: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	defer n.Close()
	ec, err := ethclient.Dial(n.HTTPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		num, err := ec.BlockNumber(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if num >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("interval sealing: head still %d", num)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{"chain_blocks", "chain_head", "txpool_transactions", "rpc_calls_eth_blockNumber"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, text)
		}
	}
}
