package lazai_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	datmod "github.com/metisgo/metis/chain/modules/dat"
	lazaimod "github.com/metisgo/metis/chain/modules/lazai"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

// chainEnv drives the LazAI module on a chain without RPC: many blocks, quickly.
type chainEnv struct {
	t *testing.T
	c *devnet.Chain
}

func (e *chainEnv) send(i int, value *big.Int, method string, args ...any) *types.Receipt {
	e.t.Helper()
	data, err := lazai.ABI.Pack(method, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.c.Send(i, lazai.Address, value, data)
}

func (e *chainEnv) view(method string, args ...any) []any {
	e.t.Helper()
	data, err := lazai.ABI.Pack(method, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	ret, err := e.c.Call(0, lazai.Address, data)
	if err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
	out, err := lazai.ABI.Unpack(method, ret)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *chainEnv) big(method string, args ...any) *big.Int {
	return e.view(method, args...)[0].(*big.Int)
}

// TestPropertyHoldersMining runs random stakes, unstakes, withdrawals, claims and fee payments
// and checks after every block: the total staked equals the sum of stakes (and the model's);
// the module stays solvent; and at the end, that checkpointed stake equals the replayed history
// at every block, and that what was claimed plus what is pending never exceeds what holders
// received, short of it by at most the documented rounding (under 1 wei per account per block).
func TestPropertyHoldersMining(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed="+big.NewInt(int64(seed)).String(), func(t *testing.T) { propertyHoldersMining(t, seed) })
	}
}

func propertyHoldersMining(t *testing.T, seed uint64) {
	cfg := lazaimod.DefaultConfig()
	cfg.UnbondingDelay = 2
	cfg.ValidatorsRecipient = core.DevAccounts()[9].Address
	e := &chainEnv{t: t, c: devnet.OpenChain(t, []metisvm.Module{datmod.New(dat.DefaultParams()), lazaimod.New(cfg)})}
	rng := rand.New(rand.NewPCG(seed, 42))
	const accounts = 4
	addr := func(i int) common.Address { return e.c.Addrs[i] }
	milli := big.NewInt(1e15)
	ms := func(n int) *big.Int { return new(big.Int).Mul(big.NewInt(int64(n)), milli) }

	stake := make([]*big.Int, accounts)
	unbonding := make([]*big.Int, accounts)
	ready := make([]uint64, accounts)
	for i := range stake {
		stake[i], unbonding[i] = new(big.Int), new(big.Int)
	}
	history := map[uint64][accounts]*big.Int{} // the model's stakes at the end of each block
	claimed := new(big.Int)
	claimedEv := lazai.ABI.Events["RewardClaimed"].ID
	record := func(r *types.Receipt) {
		var snap [accounts]*big.Int
		for j := range snap {
			snap[j] = new(big.Int).Set(stake[j])
		}
		history[r.BlockNumber.Uint64()] = snap
	}

	// Account 0 always keeps a stake, so no block's rewards wait unallocated.
	stake[0] = ms(1000)
	first := e.send(0, ms(1000), "stake")
	record(first)

	blocks := 1
	for step := 0; step < 150; step++ {
		i := rng.IntN(accounts)
		var r *types.Receipt
		switch rng.IntN(6) {
		case 0, 1:
			amt := ms(1 + rng.IntN(5000))
			r = e.send(i, amt, "stake")
			stake[i].Add(stake[i], amt)
		case 2:
			limit := new(big.Int).Set(stake[i])
			if i == 0 {
				limit.Sub(limit, milli) // keep account 0 staked
			}
			if limit.Sign() <= 0 {
				continue
			}
			amt := new(big.Int).Mul(limit, big.NewInt(int64(1+rng.IntN(1000))))
			amt.Div(amt, big.NewInt(1000))
			if amt.Sign() == 0 {
				continue
			}
			r = e.send(i, nil, "requestUnstake", amt)
			stake[i].Sub(stake[i], amt)
			unbonding[i].Add(unbonding[i], amt)
			ready[i] = r.BlockNumber.Uint64() + cfg.UnbondingDelay
		case 3:
			r = e.send(i, nil, "withdraw")
			ok := unbonding[i].Sign() > 0 && r.BlockNumber.Uint64() >= ready[i]
			if (r.Status == types.ReceiptStatusSuccessful) != ok {
				t.Fatalf("step %d: withdraw status %d, model says %v (unbonding %v ready %d block %d)",
					step, r.Status, ok, unbonding[i], ready[i], r.BlockNumber)
			}
			if ok {
				unbonding[i].SetInt64(0)
			}
		case 4:
			r = e.send(i, nil, "claim")
			for _, l := range r.Logs {
				if l.Topics[0] == claimedEv {
					claimed.Add(claimed, new(big.Int).SetBytes(l.Data))
				}
			}
		case 5:
			r = e.send(i, ms(1+rng.IntN(3000)), "routeFees", uint8(rng.IntN(4)))
		}
		blocks++
		record(r)

		sum := new(big.Int)
		for j := 0; j < accounts; j++ {
			got := e.big("stakeOf", addr(j))
			if got.Cmp(stake[j]) != 0 {
				t.Fatalf("step %d: stake of %d is %v, model %v", step, j, got, stake[j])
			}
			sum.Add(sum, got)
		}
		if total := e.big("totalStaked"); total.Cmp(sum) != 0 {
			t.Fatalf("step %d: totalStaked %v != sum of stakes %v", step, total, sum)
		}
	}
	// Seal one more block so every recorded block is in the past for getPast*.
	e.send(3, ms(1), "routeFees", uint8(lazai.SourceOther))

	// Checkpoints equal the replayed history at every block (blocks without a change carry the
	// previous value).
	head := e.c.Chain.CurrentHeader().Number.Uint64()
	var last [accounts]*big.Int
	for j := range last {
		last[j] = new(big.Int)
	}
	for b := uint64(0); b < head; b++ {
		if h, ok := history[b]; ok {
			last = h
		}
		total := new(big.Int)
		for j := 0; j < accounts; j++ {
			total.Add(total, last[j])
			if got := e.big("getPastStake", addr(j), b); got.Cmp(last[j]) != 0 {
				t.Fatalf("getPastStake(%d, block %d) = %v, replay says %v", j, b, got, last[j])
			}
		}
		if got := e.big("getPastTotalStake", b); got.Cmp(total) != 0 {
			t.Fatalf("getPastTotalStake(%d) = %v, replay says %v", b, got, total)
		}
	}

	// Conservation: claimed + pending ≤ holders' income, short by at most the rounding bound.
	stats := *abiConvertStats(e.view("stats", uint64(head+1))[0])
	paid := new(big.Int).Set(claimed)
	for j := 0; j < accounts; j++ {
		paid.Add(paid, e.big("pendingRewards", addr(j)))
	}
	if paid.Cmp(stats.HolderRewards) > 0 {
		t.Fatalf("claimed+pending %v exceeds the holders' income %v", paid, stats.HolderRewards)
	}
	bound := big.NewInt(int64(accounts * (blocks + 2)))
	gap := new(big.Int).Sub(stats.HolderRewards, paid)
	if gap.Cmp(bound) > 0 {
		t.Fatalf("holders' income %v, paid out or owed %v: %v wei unaccounted, bound %v", stats.HolderRewards, paid, gap, bound)
	}
	t.Logf("%d blocks: holders received %v wei; claimed+pending falls short by %v wei (bound %v)", blocks, stats.HolderRewards, gap, bound)
	// Solvency: the module holds every stake, unbonding amount and owed reward.
	owed := new(big.Int).Set(e.big("totalStaked"))
	for j := 0; j < accounts; j++ {
		owed.Add(owed, unbonding[j]).Add(owed, e.big("pendingRewards", addr(j)))
	}
	if bal := e.c.Balance(lazai.Address); bal.Cmp(owed) < 0 {
		t.Fatalf("LazAI holds %v, owes %v", bal, owed)
	}
}

func abiConvertStats(v any) *lazai.Stats {
	return abi.ConvertType(v, new(lazai.Stats)).(*lazai.Stats)
}
