package dat_test

import (
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/metisgo/metis/chain/metisvm"
	datmod "github.com/metisgo/metis/chain/modules/dat"
	"github.com/metisgo/metis/chain/modules/internal/modtest"
	lazaimod "github.com/metisgo/metis/chain/modules/lazai"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/internal/devnet"
)

// bench is a bare host with the default DAT and LazAI modules, the stand-in iDAO, and one active
// class with holders tokens.
type bench struct {
	tb      testing.TB
	env     *modtest.Env
	owner   common.Address
	user    common.Address
	classID *big.Int
	tokenID *big.Int // the first token, owned by user, with a huge quota
}

var benchUsageFee = big.NewInt(1e12)

func newBench(tb testing.TB, holders int) *bench {
	tb.Helper()
	accts := modtest.Accounts(2)
	env, err := modtest.New([]metisvm.Module{
		datmod.New(dat.DefaultParams()), lazaimod.New(lazaimod.DefaultConfig()), devnet.Governor{},
	}, accts)
	if err != nil {
		tb.Fatal(err)
	}
	b := &bench{tb: tb, env: env, owner: accts[0], user: accts[1]}
	p := dat.ClassParams{Kind: uint8(dat.Dataset), MetadataURI: "ipfs://bench", PolicyURI: "p", UsageFee: benchUsageFee, Parents: []*big.Int{}}
	b.must(b.owner, dat.DefaultParams().VerificationFee, "createClass", p)
	b.classID = big.NewInt(1)
	inner, _ := dat.ABI.Pack("verifyClass", b.classID)
	data, _ := devnet.GovernorABI.Pack("exec", dat.Address, inner)
	if res, err := env.Apply(b.owner, metisvm.IDAOAddress, nil, data); err != nil || res.Failed() {
		tb.Fatalf("verify: %v %v", err, res.Err)
	}
	b.must(b.owner, nil, "activateClass", b.classID)
	huge := new(big.Int).Lsh(big.NewInt(1), 200)
	// 7 shares, not 1: with a total of 1 share the division never leaves a remainder, the carry
	// slot stays zero and its SSTORE is cheaper, which would be a difference in data, not in the
	// number of holders.
	b.must(b.owner, nil, "mint", b.classID, b.user, huge, big.NewInt(7), uint64(0))
	b.tokenID = big.NewInt(1)
	for i := 1; i < holders; i++ {
		holder := common.BigToAddress(big.NewInt(int64(0x200000 + i)))
		b.must(b.owner, nil, "mint", b.classID, holder, big.NewInt(1), big.NewInt(3), uint64(0))
	}
	return b
}

// must applies a DAT call and returns its gas; a revert fails the test.
func (b *bench) must(from common.Address, value *big.Int, method string, args ...any) uint64 {
	data, err := dat.ABI.Pack(method, args...)
	if err != nil {
		b.tb.Fatal(err)
	}
	res, err := b.env.Apply(from, dat.Address, value, data)
	if err != nil {
		b.tb.Fatal(err)
	}
	if res.Failed() {
		b.tb.Fatalf("%s reverted: %v %x", method, res.Err, res.Revert())
	}
	return res.UsedGas
}

// TestSettleRevenueCostIndependentOfHolders: settleRevenue uses exactly the same gas on a class
// with 10,000 holders as on a class with one (after a first settlement, so that the same slots
// go from nonzero to nonzero in both).
func TestSettleRevenueCostIndependentOfHolders(t *testing.T) {
	holders := 10_000
	if testing.Short() {
		holders = 1_000
	}
	gas := map[int]uint64{}
	for _, n := range []int{1, holders} {
		b := newBench(t, n)
		b.must(b.user, big.NewInt(1e18+1), "settleRevenue", b.classID) // first write of each slot
		gas[n] = b.must(b.user, big.NewInt(1e18+1), "settleRevenue", b.classID)
	}
	if gas[1] != gas[holders] {
		t.Fatalf("settleRevenue gas: %d with 1 holder, %d with %d", gas[1], gas[holders], holders)
	}
	t.Logf("settleRevenue: %d gas with 1 holder and with %d", gas[1], holders)
}

func loadStore(tb testing.TB) (code []byte, a *abi.ABI) {
	raw, err := os.ReadFile("../../node/testdata/Store.json")
	if err != nil {
		tb.Fatal(err)
	}
	var art struct {
		ABI      json.RawMessage `json:"abi"`
		Bytecode string          `json:"bytecode"`
	}
	if err := json.Unmarshal(raw, &art); err != nil {
		tb.Fatal(err)
	}
	parsed, err := abi.JSON(strings.NewReader(string(art.ABI)))
	if err != nil {
		tb.Fatal(err)
	}
	return hexutil.MustDecode(art.Bytecode), &parsed
}

// BenchmarkDAT measures the module's hot methods (ns/op of the Go module through the EVM host,
// and gas/op) against two baselines run by go-ethereum in the same harness: a plain value
// transfer, and a Solidity contract's storage write (Store.set from chain/node/testdata).
func BenchmarkDAT(b *testing.B) {
	b.Run("op=transfer", func(b *testing.B) { // baseline
		env := newBench(b, 1)
		to := common.Address{0xbe, 0xef}
		var gas uint64
		for b.Loop() {
			res, err := env.env.Apply(env.user, to, big.NewInt(1), nil)
			if err != nil || res.Failed() {
				b.Fatal(err)
			}
			gas = res.UsedGas
		}
		b.ReportMetric(float64(gas), "gas/op")
	})
	b.Run("op=evm-store-set", func(b *testing.B) { // baseline
		env := newBench(b, 1)
		code, storeABI := loadStore(b)
		addr, err := env.env.Deploy(env.user, code)
		if err != nil {
			b.Fatal(err)
		}
		var gas uint64
		i := 0
		for b.Loop() {
			i++
			data, _ := storeABI.Pack("set", big.NewInt(int64(i%64)), big.NewInt(int64(1+i)))
			res, err := env.env.Apply(env.user, addr, nil, data)
			if err != nil || res.Failed() {
				b.Fatal(err, res.Err)
			}
			gas = res.UsedGas
		}
		b.ReportMetric(float64(gas), "gas/op")
	})
	b.Run("op=mint", func(b *testing.B) {
		env := newBench(b, 1)
		var gas uint64
		for b.Loop() {
			gas = env.must(env.owner, nil, "mint", env.classID, env.user, big.NewInt(100), big.NewInt(1), uint64(0))
		}
		b.ReportMetric(float64(gas), "gas/op")
	})
	b.Run("op=recordUsage", func(b *testing.B) {
		env := newBench(b, 1)
		var gas uint64
		for b.Loop() {
			gas = env.must(env.user, benchUsageFee, "recordUsage", env.tokenID, big.NewInt(1))
		}
		b.ReportMetric(float64(gas), "gas/op")
	})
	for _, holders := range []int{1, 10_000} {
		b.Run("op=settleRevenue/holders="+big.NewInt(int64(holders)).String(), func(b *testing.B) {
			env := newBench(b, holders)
			var gas uint64
			for b.Loop() {
				gas = env.must(env.user, big.NewInt(1e15), "settleRevenue", env.classID)
			}
			b.ReportMetric(float64(gas), "gas/op")
		})
	}
	b.Run("op=claim", func(b *testing.B) {
		env := newBench(b, 1)
		var gas uint64
		for b.Loop() {
			b.StopTimer()
			env.must(env.owner, big.NewInt(1e15), "settleRevenue", env.classID)
			b.StartTimer()
			gas = env.must(env.user, nil, "claim", env.tokenID)
		}
		b.ReportMetric(float64(gas), "gas/op")
	})
}
