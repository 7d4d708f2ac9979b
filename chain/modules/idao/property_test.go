package idao_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

type chainEnv struct {
	t *testing.T
	c *devnet.Chain
}

func (e *chainEnv) send(i int, to common.Address, a *abi.ABI, value *big.Int, method string, args ...any) *types.Receipt {
	e.t.Helper()
	data, err := a.Pack(method, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.c.Send(i, to, value, data)
}

func (e *chainEnv) must(i int, to common.Address, a *abi.ABI, value *big.Int, method string, args ...any) *types.Receipt {
	e.t.Helper()
	r := e.send(i, to, a, value, method, args...)
	if r.Status != types.ReceiptStatusSuccessful {
		data, _ := a.Pack(method, args...)
		ret, err := e.c.Call(i, to, data)
		e.t.Fatalf("%s failed: %v %x", method, err, ret)
	}
	return r
}

func (e *chainEnv) view(to common.Address, a *abi.ABI, out any, method string, args ...any) {
	e.t.Helper()
	data, _ := a.Pack(method, args...)
	ret, err := e.c.Call(0, to, data)
	if err != nil {
		e.t.Fatalf("%s: %v", method, err)
	}
	vals, err := a.Unpack(method, ret)
	if err != nil {
		e.t.Fatal(err)
	}
	abi.ConvertType(vals[0], out)
}

func topic(r *types.Receipt, a *abi.ABI, addr common.Address, name string) *big.Int {
	for _, l := range r.Logs {
		if l.Address == addr && l.Topics[0] == a.Events[name].ID {
			return l.Topics[1].Big()
		}
	}
	return nil
}

// TestPropertyTallies (acceptance 4): while proposals of the root iDAO and of a class community
// are open, accounts stake, unstake, delegate, transfer class tokens and re-delegate class votes
// at random; every vote's weight and every tally equal what a replay of those moves gives for
// the voters at the snapshot block.
func TestPropertyTallies(t *testing.T) {
	for _, seed := range []uint64{11, 12} {
		t.Run("seed="+big.NewInt(int64(seed)).String(), func(t *testing.T) { propertyTallies(t, seed) })
	}
}

func propertyTallies(t *testing.T, seed uint64) {
	e := &chainEnv{t: t, c: devnet.OpenChain(t, node.DefaultModules())}
	rng := rand.New(rand.NewPCG(seed, 5))
	const n = 6 // accounts 1..6 take part; account 0 is the class owner, 9 its validator
	acct := func(i int) common.Address { return e.c.Addrs[i] }
	milli := big.NewInt(1e15)

	// A class with a validator's verification, and tokens for every participant.
	e.must(0, lazai.Address, lazai.ABI, big.NewInt(1e18), "stake") // to propose
	e.must(9, lazai.Address, lazai.ABI, big.NewInt(1e18), "stake")
	e.must(9, dat.Address, dat.ABI, nil, "registerValidator")
	r := e.must(0, dat.Address, dat.ABI, dat.DefaultParams().VerificationFee, "createClass",
		dat.ClassParams{Kind: uint8(dat.Dataset), MetadataURI: "ipfs://c", UsageFee: new(big.Int), Parents: []*big.Int{}})
	class := topic(r, dat.ABI, dat.Address, "ClassCreated")
	e.must(9, dat.Address, dat.ABI, nil, "attest", class, true)
	e.must(0, dat.Address, dat.ABI, nil, "activateClass", class)

	// The model: stakes, delegates, token owners and shares, class delegates.
	stake := map[int]*big.Int{}
	delegate := map[int]int{}
	classDelegate := map[int]int{}
	type token struct {
		id     *big.Int
		owner  int
		shares int64
	}
	var tokens []token
	stake[0], delegate[0], classDelegate[0] = big.NewInt(1e18), 0, 0 // the validator's stake
	for i := 1; i <= n; i++ {
		stake[i] = new(big.Int)
		delegate[i], classDelegate[i] = i, i
		amt := new(big.Int).Mul(big.NewInt(int64(1000+rng.IntN(5000))), milli)
		e.must(i, lazai.Address, lazai.ABI, amt, "stake")
		stake[i].Add(stake[i], amt)
		for range 2 {
			sh := int64(1 + rng.IntN(100))
			r := e.must(0, dat.Address, dat.ABI, nil, "mint", class, acct(i), big.NewInt(1), big.NewInt(sh), uint64(0))
			tokens = append(tokens, token{id: topic(r, dat.ABI, dat.Address, "Minted"), owner: i, shares: sh})
		}
	}
	votes := func() (root, community map[int]*big.Int) {
		root, community = map[int]*big.Int{}, map[int]*big.Int{}
		for i := 0; i <= 9; i++ {
			root[i], community[i] = new(big.Int), new(big.Int)
		}
		for i := 0; i <= n; i++ {
			root[delegate[i]].Add(root[delegate[i]], stake[i])
		}
		for _, tk := range tokens {
			community[classDelegate[tk.owner]].Add(community[classDelegate[tk.owner]], big.NewInt(tk.shares))
		}
		return root, community
	}
	history := map[uint64][2]map[int]*big.Int{}
	record := func(r *types.Receipt) {
		a, b := votes()
		history[r.BlockNumber.Uint64()] = [2]map[int]*big.Int{a, b}
	}
	at := func(block uint64) [2]map[int]*big.Int {
		for b := block; ; b-- {
			if h, ok := history[b]; ok {
				return h
			}
			if b == 0 {
				t.Fatalf("no history at or before block %d", block)
			}
		}
	}
	record(e.must(1, lazai.Address, lazai.ABI, big.NewInt(1), "routeFees", uint8(3)))

	// A random move by a random participant: stake, unstake, delegate, transfer a token,
	// delegate class votes.
	move := func() {
		i := 1 + rng.IntN(n)
		var r *types.Receipt
		switch rng.IntN(5) {
		case 0:
			amt := new(big.Int).Mul(big.NewInt(int64(1+rng.IntN(2000))), milli)
			r = e.must(i, lazai.Address, lazai.ABI, amt, "stake")
			stake[i].Add(stake[i], amt)
		case 1:
			amt := new(big.Int).Div(stake[i], big.NewInt(int64(2+rng.IntN(5))))
			if amt.Sign() == 0 {
				return
			}
			r = e.must(i, lazai.Address, lazai.ABI, nil, "requestUnstake", amt)
			stake[i].Sub(stake[i], amt)
		case 2:
			to := rng.IntN(10)
			r = e.must(i, lazai.Address, lazai.ABI, nil, "delegate", acct(to))
			delegate[i] = to
		case 3:
			k := rng.IntN(len(tokens))
			to := 1 + rng.IntN(n)
			r = e.must(tokens[k].owner, dat.Address, dat.ABI, nil, "transferToken", tokens[k].id, acct(to))
			tokens[k].owner = to
		case 4:
			to := rng.IntN(10)
			r = e.must(i, dat.Address, dat.ABI, nil, "delegateClass", class, acct(to))
			classDelegate[i] = to
		}
		record(r)
	}
	for range 10 {
		move()
	}

	setSplit, _ := lazai.ABI.Pack("setSplit", lazai.DefaultSplit)
	setPolicy, _ := dat.ABI.Pack("setClassPolicy", class, "ipfs://p2")
	counted := 0
	for round := 0; round < 3; round++ {
		type prop struct {
			id  *big.Int
			dao *big.Int
		}
		var props []prop
		for _, p := range []struct {
			dao  *big.Int
			data []byte
			to   common.Address
		}{{big.NewInt(0), setSplit, lazai.Address}, {class, setPolicy, dat.Address}} {
			// Find an account with power in this DAO at the previous block.
			h := at(e.c.Chain.CurrentHeader().Number.Uint64())
			who := -1
			for i := 0; i <= 9 && who < 0; i++ {
				pw := h[0][i]
				if p.dao.Sign() != 0 {
					pw = h[1][i]
				}
				if (p.dao.Sign() == 0 && pw.Cmp(big.NewInt(1e18)) >= 0) || (p.dao.Sign() != 0 && pw.Sign() > 0) {
					who = i
				}
			}
			if who < 0 {
				continue
			}
			r := e.must(who, idao.Address, idao.ABI, nil, "propose", p.dao, []common.Address{p.to}, []*big.Int{big.NewInt(0)}, [][]byte{p.data}, "round")
			record(r)
			props = append(props, prop{id: topic(r, idao.ABI, idao.Address, "ProposalCreated"), dao: p.dao})
		}
		type tally struct{ against, forV, abstain *big.Int }
		want := map[string]*tally{}
		voted := map[string]bool{}
		for _, p := range props {
			want[p.id.String()] = &tally{new(big.Int), new(big.Int), new(big.Int)}
		}
		// Moves and votes interleave until the proposals close.
		for step := 0; step < 24; step++ {
			if rng.IntN(2) == 0 {
				move()
				continue
			}
			p := props[rng.IntN(len(props))]
			var info idao.ProposalInfo
			e.view(idao.Address, idao.ABI, &info, "proposal", p.id)
			// Mostly voters with power at the snapshot, sometimes anyone (refused without power).
			voter := rng.IntN(10)
			if info.Snapshot < e.c.Chain.CurrentHeader().Number.Uint64() && rng.IntN(5) > 0 {
				h := at(info.Snapshot)
				var holders []int
				for i := 0; i <= 9; i++ {
					if (p.dao.Sign() == 0 && h[0][i].Sign() > 0) || (p.dao.Sign() != 0 && h[1][i].Sign() > 0) {
						holders = append(holders, i)
					}
				}
				if len(holders) > 0 {
					voter = holders[rng.IntN(len(holders))]
				}
			}
			support := uint8(rng.IntN(3))
			r := e.send(voter, idao.Address, idao.ABI, nil, "castVote", p.id, support)
			record(r)
			key := p.id.String() + "/" + acct(voter).Hex()
			block := r.BlockNumber.Uint64()
			h := at(info.Snapshot)
			weight := h[0][voter]
			if p.dao.Sign() != 0 {
				weight = h[1][voter]
			}
			active := block > info.Snapshot && block <= info.Deadline
			ok := active && !voted[key] && weight.Sign() > 0
			if (r.Status == types.ReceiptStatusSuccessful) != ok {
				t.Fatalf("round %d: vote by %d on %v in block %d (snapshot %d, deadline %d, weight %v, voted %v): status %d",
					round, voter, p.id, block, info.Snapshot, info.Deadline, weight, voted[key], r.Status)
			}
			if !ok {
				continue
			}
			voted[key] = true
			counted++
			ev := idao.ABI.Events["VoteCast"]
			for _, l := range r.Logs {
				if l.Topics[0] == ev.ID {
					vals, _ := ev.Inputs.NonIndexed().Unpack(l.Data)
					if vals[1].(*big.Int).Cmp(weight) != 0 {
						t.Fatalf("vote by %d weighs %v, replay says %v", voter, vals[1], weight)
					}
				}
			}
			tl := want[p.id.String()]
			[]*big.Int{tl.against, tl.forV, tl.abstain}[support].Add([]*big.Int{tl.against, tl.forV, tl.abstain}[support], weight)
		}
		for _, p := range props {
			var info idao.ProposalInfo
			e.view(idao.Address, idao.ABI, &info, "proposal", p.id)
			tl := want[p.id.String()]
			if info.ForVotes.Cmp(tl.forV) != 0 || info.AgainstVotes.Cmp(tl.against) != 0 || info.AbstainVotes.Cmp(tl.abstain) != 0 {
				t.Fatalf("proposal %v tallies for/against/abstain %v/%v/%v, replay %v/%v/%v", p.id,
					info.ForVotes, info.AgainstVotes, info.AbstainVotes, tl.forV, tl.against, tl.abstain)
			}
		}
	}
	if counted < 10 {
		t.Fatalf("only %d votes counted: the test exercises too little", counted)
	}
	t.Logf("%d votes counted across %d blocks", counted, e.c.Chain.CurrentHeader().Number.Uint64())
}
