package lazai_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/modtest"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/lazai"
)

// TestExtremesEveryMethod (issue 12, item 8) drives every method of ILazAI's ABI (iterated, so a
// new method cannot be left out) with 0, 1, 2^64−1, 2^192 and 2^256−1 in each argument and as
// msg.value, from two stakers, a whale holding 2^255 wei, the iDAO address (governance) and the
// system address (endBlock). Each call either succeeds or reverts with a named error and no
// change of state (modtest.Property); after each success: the total staked is the sum of the
// stakes and of the delegates' votes, the module holds every stake, unbonding amount and reward
// it owes, the unbonding delay is within its bound, and an unstake's ready block is the request
// block plus the delay (no wrap).
func TestExtremesEveryMethod(t *testing.T) {
	env, a, b := modtest.Setup(t, node.DefaultModules())
	whale := modtest.Whale
	must := func(from common.Address, value *big.Int, method string, args ...any) {
		t.Helper()
		env.Must(t, from, lazai.Address, lazai.ABI, value, method, args...)
	}
	// Stakes, a delegation, fees to share and a pending unstake.
	must(a, big.NewInt(1e18), "stake")
	must(b, big.NewInt(1e18), "stake")
	must(b, nil, "delegate", a)
	must(b, big.NewInt(1e18), "routeFees", uint8(lazai.SourceOther))
	env.NextBlock()
	must(a, nil, "requestUnstake", big.NewInt(1e17))
	env.NextBlock()

	people := []common.Address{a, b, whale, metisvm.IDAOAddress, metisvm.SystemAddress, {}}
	invariants := func(t *testing.T, env *modtest.Env, c modtest.Call) {
		view := func(method string, args ...any) []any { return env.View(t, lazai.Address, lazai.ABI, method, args...) }
		total := view("totalStaked")[0].(*big.Int)
		stakes, votes := new(big.Int), new(big.Int)
		owed := new(big.Int).Set(total)
		for _, p := range people {
			stakes.Add(stakes, view("stakeOf", p)[0].(*big.Int))
			votes.Add(votes, view("getVotes", p)[0].(*big.Int))
			owed.Add(owed, view("unbonding", p)[0].(*big.Int)).Add(owed, view("pendingRewards", p)[0].(*big.Int))
		}
		delay := view("unbondingDelay")[0].(uint64)
		switch {
		case stakes.Cmp(total) != 0:
			t.Fatalf("after %s: stakes sum to %v, total staked %v", c.Name(), stakes, total)
		case votes.Cmp(total) != 0:
			t.Fatalf("after %s: votes sum to %v, total staked %v", c.Name(), votes, total)
		case env.State.GetBalance(lazai.Address).ToBig().Cmp(owed) < 0:
			t.Fatalf("after %s: LazAI holds %v, owes %v", c.Name(), env.State.GetBalance(lazai.Address), owed)
		case delay > lazai.MaxUnbondingDelay:
			t.Fatalf("after %s: unbonding delay %d, above the bound", c.Name(), delay)
		}
		if c.Method != nil && c.Method.Name == "requestUnstake" {
			if ready := view("unbonding", c.From)[1].(uint64); ready != env.Block.Number+delay {
				t.Fatalf("after requestUnstake in block %d with delay %d: ready at %d", env.Block.Number, delay, ready)
			}
		}
	}
	p := &modtest.Property{Env: env, To: lazai.Address, ABI: lazai.ABI, Every: 25,
		Addrs:      []common.Address{{}, a, b},
		Callers:    []common.Address{a, b, whale, metisvm.IDAOAddress, metisvm.SystemAddress},
		Invariants: invariants,
		Want:       []string{"BadUnbondingDelay", "StakeOverflow", "FeeOverflow"},
	}
	p.Run(t)
}
