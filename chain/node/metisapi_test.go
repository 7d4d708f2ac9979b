package node_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

// TestMetisHoldersMining: metis_holdersMining reports what the modules' views say — stake,
// rewards, APR, split — and each DAT class's revenue.
func TestMetisHoldersMining(t *testing.T) {
	ctx := context.Background()
	net := devnet.Start(t, devnet.Options{Governor: true})
	lz := lazai.NewClient(net.Eth, net.Signer(1))
	stake := new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether))
	if _, err := lz.Stake(ctx, stake); err != nil {
		t.Fatal(err)
	}
	if _, err := lz.RouteFees(ctx, lazai.SourceCompute, big.NewInt(params.Ether)); err != nil {
		t.Fatal(err)
	}
	dc := dat.NewClient(net.Eth, net.Signer(2))
	id, _, err := dc.CreateClass(ctx, dat.ClassParams{Kind: uint8(dat.Model), MetadataURI: "ipfs://m", UsageFee: new(big.Int)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := net.Govern(ctx, 0, dat.Address, dat.ABI, "verifyClass", id); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.SettleRevenue(ctx, id, big.NewInt(12345)); err != nil {
		t.Fatal(err)
	}

	var got node.HoldersMining
	if err := net.Eth.Client().CallContext(ctx, &got, "metis_holdersMining", hexutil.Uint64(100)); err != nil {
		t.Fatal(err)
	}
	want, err := lz.Stats(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalStaked.ToInt().Cmp(stake) != 0 || got.HolderRewards.ToInt().Cmp(want.HolderRewards) != 0 ||
		got.TotalRouted.ToInt().Cmp(want.TotalRouted) != 0 || got.AprBps.ToInt().Cmp(want.AprBps) != 0 {
		t.Fatalf("metis_holdersMining %+v, stats view %+v", got, want)
	}
	if got.HolderRewards.ToInt().Cmp(big.NewInt(5e17)) < 0 {
		t.Fatalf("holders' rewards %v miss half of the 1 METIS compute fee", got.HolderRewards)
	}
	if got.Split != lazai.DefaultSplit {
		t.Fatalf("split %+v", got.Split)
	}
	if len(got.Classes) != 1 || got.Classes[0].Kind != "model" || got.Classes[0].Status != "verified" ||
		got.Classes[0].TotalRevenue.ToInt().Int64() != 12345 {
		t.Fatalf("classes %+v", got.Classes)
	}
	// Without an argument the window is the default.
	if err := net.Eth.Client().CallContext(ctx, &got, "metis_holdersMining"); err != nil {
		t.Fatal(err)
	}
}
