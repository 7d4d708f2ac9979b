package dat_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/modtest"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/lazai"
)

// TestExtremesEveryMethod (issue 12, item 8) drives every method of IDAT's ABI (iterated, so a
// new method cannot be left out) with 0, 1, 2^64−1, 2^192 and 2^256−1 in each argument and as
// msg.value, from a class owner, a validator and holder, a whale holding 2^255 wei, and the iDAO
// address (governance). Each call either succeeds or reverts with a named error and no change of
// state (modtest.Property); after each success the totals are the sums of their parts — a
// class's shares and votes, its tokens' values against a model of mints and usage — and the
// module holds what it owes.
func TestExtremesEveryMethod(t *testing.T) {
	env, owner, holder := modtest.Setup(t, node.DefaultModules())
	whale := modtest.Whale
	// Fees and stakes of 1 wei, so that the extreme value 1 pays them; a verified, active class
	// with a token of value 10 for the owner (id 1) and one of value 2^256−1 for the holder (id
	// 2), and a second class, a child of the first.
	env.Must(t, metisvm.IDAOAddress, dat.Address, dat.ABI, nil, "setParams",
		dat.Params{VerificationFee: big.NewInt(1), ValidatorMinStake: big.NewInt(1), ApprovalThreshold: 1, LineageBps: 1000})
	env.Must(t, holder, lazai.Address, lazai.ABI, big.NewInt(1e18), "stake")
	env.Must(t, holder, dat.Address, dat.ABI, nil, "registerValidator")
	env.Must(t, owner, dat.Address, dat.ABI, big.NewInt(1), "createClass", dat.ClassParams{Kind: uint8(dat.Dataset),
		MetadataURI: "ipfs://c", UsageFee: big.NewInt(1), Parents: []*big.Int{}})
	env.Must(t, holder, dat.Address, dat.ABI, nil, "attest", big.NewInt(1), true)
	env.Must(t, owner, dat.Address, dat.ABI, nil, "activateClass", big.NewInt(1))
	env.Must(t, owner, dat.Address, dat.ABI, nil, "mint", big.NewInt(1), owner, big.NewInt(10), big.NewInt(1), uint64(0))
	env.Must(t, owner, dat.Address, dat.ABI, nil, "mint", big.NewInt(1), holder, modtest.Extremes[4], big.NewInt(1), uint64(0))
	env.Must(t, owner, dat.Address, dat.ABI, big.NewInt(1), "createClass", dat.ClassParams{Kind: uint8(dat.Model),
		MetadataURI: "ipfs://m", UsageFee: big.NewInt(1), Parents: []*big.Int{big.NewInt(1)}})
	env.Must(t, holder, dat.Address, dat.ABI, nil, "attest", big.NewInt(2), true)
	env.Must(t, owner, dat.Address, dat.ABI, nil, "activateClass", big.NewInt(2))

	addrs := []common.Address{{}, owner, holder}
	valueSum := map[uint64]*big.Int{} // the model: minted value less used, per class
	invariants := func(t *testing.T, env *modtest.Env, c modtest.Call) {
		view := func(method string, args ...any) any { return env.View(t, dat.Address, dat.ABI, method, args...)[0] }
		count := func(method string) uint64 { return view(method).(*big.Int).Uint64() }
		if c.Method != nil {
			switch c.Method.Name {
			case "mint":
				class := c.Args[0].(*big.Int).Uint64()
				valueSum[class] = new(big.Int).Add(valueSum[class], c.Args[2].(*big.Int))
			case "recordUsage":
				tk := abi.ConvertType(view("tokenInfo", c.Args[0]), new(dat.TokenInfo)).(*dat.TokenInfo)
				class := tk.ClassId.Uint64()
				valueSum[class] = new(big.Int).Sub(valueSum[class], c.Args[1].(*big.Int))
			}
		}
		tokens := map[uint64][]dat.TokenInfo{}
		people := map[common.Address]bool{whale: true, metisvm.IDAOAddress: true}
		for _, a := range addrs {
			people[a] = true
		}
		owed := new(big.Int)
		for id := uint64(1); id <= count("tokenCount"); id++ {
			tk := *abi.ConvertType(view("tokenInfo", new(big.Int).SetUint64(id)), new(dat.TokenInfo)).(*dat.TokenInfo)
			tokens[tk.ClassId.Uint64()] = append(tokens[tk.ClassId.Uint64()], tk)
			people[tk.Owner] = true
			owed.Add(owed, tk.PendingRevenue)
		}
		for class := uint64(1); class <= count("classCount"); class++ {
			info := abi.ConvertType(view("classInfo", new(big.Int).SetUint64(class)), new(dat.ClassInfo)).(*dat.ClassInfo)
			shares, votes, values := new(big.Int), new(big.Int), new(big.Int)
			for p := range people {
				shares.Add(shares, view("sharesOf", info.Id, p).(*big.Int))
				votes.Add(votes, view("getClassVotes", info.Id, p).(*big.Int))
			}
			for _, tk := range tokens[class] {
				values.Add(values, tk.Value)
			}
			if c.Method == nil { // a method's first call: the model starts from the setup
				valueSum[class] = new(big.Int).Set(values)
			}
			switch {
			case shares.Cmp(info.TotalShares) != 0:
				t.Fatalf("after %s: class %d holders' shares sum to %v, total %v", c.Name(), class, shares, info.TotalShares)
			case votes.Cmp(info.TotalShares) != 0:
				t.Fatalf("after %s: class %d votes sum to %v, total shares %v", c.Name(), class, votes, info.TotalShares)
			case valueSum[class] != nil && values.Cmp(valueSum[class]) != 0:
				t.Fatalf("after %s: class %d tokens hold %v value, minted less used is %v", c.Name(), class, values, valueSum[class])
			}
		}
		if bal := env.State.GetBalance(dat.Address).ToBig(); bal.Cmp(owed) < 0 {
			t.Fatalf("after %s: DAT holds %v, owes holders %v", c.Name(), bal, owed)
		}
	}
	one := big.NewInt(1)
	p := &modtest.Property{Env: env, To: dat.Address, ABI: dat.ABI, Addrs: addrs, Every: 40,
		Want:  []string{"ValueOverflow", "SharesOverflow", "RevenueOverflow"},
		Extra: []*big.Int{big.NewInt(2)}, // the second class and token
		Bases: map[string][][]any{
			"mint": {{one, holder, one, one, uint64(0)}},
			"createClass": {{dat.ClassParams{Kind: uint8(dat.Dataset), MetadataURI: "ipfs://x", UsageFee: one,
				Parents: []*big.Int{one}}}},
		},
		Callers: []common.Address{owner, holder, whale, metisvm.IDAOAddress}, Invariants: invariants}
	p.Run(t)
}
