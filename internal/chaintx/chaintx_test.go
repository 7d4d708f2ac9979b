package chaintx_test

import (
	"context"
	"math"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

func TestWithMargin(t *testing.T) {
	for _, c := range []struct{ est, limit, want uint64 }{
		{100_000, 30_000_000, 130_000},
		{99, 30_000_000, 128},                                // ⌊99·1.3⌋
		{25_000_000, 30_000_000, 30_000_000},                 // capped at the block
		{31_000_000, 30_000_000, 31_000_000},                 // never below the estimate
		{math.MaxUint64 - 1, math.MaxUint64, math.MaxUint64}, // no wrap
	} {
		if got := chaintx.WithMargin(c.est, c.limit); got != c.want {
			t.Errorf("WithMargin(%d, %d) = %d, want %d", c.est, c.limit, got, c.want)
		}
	}
}

// TestSendAddsMargin (issue 12, item 15): Send used to sign the exact estimate, which ran out of
// gas whenever the module's gas grew between estimation and inclusion. It now signs the
// estimate plus GasMarginPercent.
func TestSendAddsMargin(t *testing.T) {
	ctx := context.Background()
	net := devnet.Start(t, devnet.Options{})
	var signed *types.Transaction
	signer := net.Signer(1)
	sign := signer.Signer
	signer.Signer = func(from common.Address, tx *types.Transaction) (*types.Transaction, error) {
		s, err := sign(from, tx)
		signed = s
		return s, err
	}
	c := chaintx.New(net.Eth, lazai.Address, lazai.ABI, signer)
	value := big.NewInt(1e18)
	data, _ := lazai.ABI.Pack("stake")
	est, err := net.Eth.EstimateGas(ctx, ethereum.CallMsg{From: net.Addrs[1], To: &lazai.Address, Value: value, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	head, err := net.Eth.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Send(ctx, chaintx.TxOptions{Value: value}, "stake")
	if err != nil {
		t.Fatal(err)
	}
	if want := chaintx.WithMargin(est, head.GasLimit); signed.Gas() != want || want <= est {
		t.Fatalf("gas limit %d, want the estimate %d plus %d%%: %d", signed.Gas(), est, chaintx.GasMarginPercent, want)
	}
	if r.GasUsed > est {
		t.Fatalf("used %d gas, estimated %d", r.GasUsed, est)
	}
}
