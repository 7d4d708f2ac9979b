package idao_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/modtest"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
)

// TestExtremesEveryMethod (issue 12, item 8) drives every method of IIDAO's ABI (iterated, so a
// new method cannot be left out) with 0, 1, 2^64−1, 2^192 and 2^256−1 in each argument and as
// msg.value, from two stakers, a whale holding 2^255 wei and the iDAO itself (its setters), on a
// chain with a queued proposal (1) and an active one (2). Each call either succeeds or reverts
// with a named error and no change of state (modtest.Property); after each success the
// parameters are within their bounds, and every proposal's times are ordered and its tally is
// at most the voting power at its snapshot.
func TestExtremesEveryMethod(t *testing.T) {
	env, a, b := modtest.Setup(t, node.DefaultModules())
	whale := modtest.Whale
	blocks := func(n int) {
		for range n {
			env.NextBlock()
		}
	}
	params := idao.DefaultParams()
	params.ProposalThreshold = big.NewInt(1) // the extreme value 1 may propose
	env.Must(t, idao.Address, idao.Address, idao.ABI, nil, "setParams", params)
	env.Must(t, a, lazai.Address, lazai.ABI, big.NewInt(1e18), "stake")
	env.Must(t, b, lazai.Address, lazai.ABI, big.NewInt(1e18), "stake")
	env.Must(t, a, idao.Address, idao.ABI, nil, "registerAgent", b, "b", "", new(big.Int))
	env.Must(t, a, dat.Address, dat.ABI, big.NewInt(1e16), "createClass", dat.ClassParams{Kind: uint8(dat.Dataset),
		MetadataURI: "ipfs://c", UsageFee: new(big.Int), Parents: []*big.Int{}}) // community 1
	split, err := lazai.ABI.Pack("setSplit", lazai.Split{HoldersBps: 6000, ValidatorsBps: 2000, TreasuryBps: 1000, BurnBps: 1000})
	if err != nil {
		t.Fatal(err)
	}
	propose := func() {
		blocks(1)
		env.Must(t, a, idao.Address, idao.ABI, nil, "propose", new(big.Int), []common.Address{lazai.Address},
			[]*big.Int{new(big.Int)}, [][]byte{split}, "split")
	}
	propose() // 1: voted, passed and queued
	blocks(int(params.VotingDelay) + 1)
	env.Must(t, a, idao.Address, idao.ABI, nil, "castVote", big.NewInt(1), uint8(idao.For))
	env.Must(t, b, idao.Address, idao.ABI, nil, "castVote", big.NewInt(1), uint8(idao.For))
	blocks(int(params.VotingPeriod))
	env.Must(t, a, idao.Address, idao.ABI, nil, "queue", big.NewInt(1))
	propose() // 2: active
	blocks(int(params.TimelockDelay) + 1)

	invariants := func(t *testing.T, env *modtest.Env, c modtest.Call) {
		view := func(to common.Address, a *abi.ABI, method string, args ...any) any {
			return env.View(t, to, a, method, args...)[0]
		}
		p := *abi.ConvertType(view(idao.Address, idao.ABI, "params"), new(idao.Params)).(*idao.Params)
		if !p.Valid() {
			t.Fatalf("after %s: parameters out of bounds: %+v", c.Name(), p)
		}
		n := view(idao.Address, idao.ABI, "proposalCount").(*big.Int).Uint64()
		for id := uint64(1); id <= n; id++ {
			pi := abi.ConvertType(view(idao.Address, idao.ABI, "proposal", new(big.Int).SetUint64(id)), new(idao.ProposalInfo)).(*idao.ProposalInfo)
			tally := new(big.Int).Add(pi.ForVotes, pi.AgainstVotes)
			tally.Add(tally, pi.AbstainVotes)
			var power *big.Int
			switch {
			case pi.Snapshot >= env.Block.Number:
				power = new(big.Int) // no votes before the snapshot is past
			case pi.Dao.Sign() == 0:
				power = view(lazai.Address, lazai.ABI, "getPastTotalStake", pi.Snapshot).(*big.Int)
			default:
				power = view(dat.Address, dat.ABI, "getPastTotalShares", pi.Dao, pi.Snapshot).(*big.Int)
			}
			switch {
			case pi.Deadline <= pi.Snapshot:
				t.Fatalf("after %s: proposal %d deadline %d not after its snapshot %d", c.Name(), id, pi.Deadline, pi.Snapshot)
			case pi.Eta != 0 && pi.Eta <= pi.Deadline:
				t.Fatalf("after %s: proposal %d eta %d not after its deadline %d", c.Name(), id, pi.Eta, pi.Deadline)
			case tally.Cmp(power) > 0:
				t.Fatalf("after %s: proposal %d tally %v above the power at its snapshot %v", c.Name(), id, tally, power)
			}
		}
	}
	p := &modtest.Property{Env: env, To: idao.Address, ABI: idao.ABI, Every: 5,
		Addrs:      []common.Address{{}, a, lazai.Address},
		Callers:    []common.Address{a, b, whale, metisvm.IDAOAddress},
		Extra:      []*big.Int{big.NewInt(2)}, // the active proposal
		Invariants: invariants,
		Want:       []string{"BadParams", "FutureBlock"},
		Bases: map[string][][]any{
			"propose":   {{new(big.Int), []common.Address{lazai.Address}, []*big.Int{new(big.Int)}, [][]byte{split}, "x"}},
			"setParams": {{params}},
		},
	}
	p.Run(t)
}
