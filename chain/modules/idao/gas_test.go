package idao_test

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/modules/internal/modtest"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
)

// TestCastVoteGasConstant (acceptance 5): a vote costs the same gas on the first proposal with
// one earlier voter as on the 30th proposal with 150 earlier voters, for voters whose power
// changed equally often (the one thing castVote's cost depends on: log₂ of the voter's own
// checkpoints). The figure is documented in docs/modules.md.
func TestCastVoteGasConstant(t *testing.T) {
	voters := modtest.Accounts(160)
	env, err := modtest.New(node.DefaultModules(), voters)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(from, to common.Address, value *big.Int, data []byte) uint64 {
		t.Helper()
		res, err := env.Apply(from, to, value, data)
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() {
			t.Fatalf("call to %s failed: %v %x", to, res.Err, res.Revert())
		}
		return res.UsedGas
	}
	stake, _ := lazai.ABI.Pack("stake")
	for _, v := range voters {
		apply(v, lazai.Address, big.NewInt(params.Ether), stake)
	}
	env.NextBlock()
	setSplit, _ := lazai.ABI.Pack("setSplit", lazai.DefaultSplit)
	propose, _ := idao.ABI.Pack("propose", big.NewInt(0), []common.Address{lazai.Address}, []*big.Int{big.NewInt(0)}, [][]byte{setSplit}, "p")
	for range 30 {
		apply(voters[0], idao.Address, nil, propose)
	}
	env.NextBlock()
	env.NextBlock() // past the snapshot (votingDelay 1): all 30 are active
	vote := func(v common.Address, id int64) uint64 {
		data, _ := idao.ABI.Pack("castVote", big.NewInt(id), idao.For)
		return apply(v, idao.Address, nil, data)
	}
	vote(voters[1], 1) // the first For vote writes the tally from zero
	small := vote(voters[2], 1)
	vote(voters[3], 30)
	for _, v := range voters[4:154] {
		vote(v, 30)
	}
	large := vote(voters[155], 30)
	if small != large {
		t.Fatalf("castVote: %d gas with 1 earlier voter on proposal 1, %d with 151 on proposal 30", small, large)
	}
	t.Logf("castVote: %d gas (1 earlier voter on proposal 1 and 151 on proposal 30)", small)
}
