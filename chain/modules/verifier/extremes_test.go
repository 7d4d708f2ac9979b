package verifier_test

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
	"github.com/metisgo/metis/verifier"
)

// TestExtremesEveryMethod (issue 12, item 8) drives every method of IVerifier's ABI (iterated,
// so a new method cannot be left out) with 0, 1, 2^64−1, 2^192 and 2^256−1 in each argument and
// as msg.value, from a requester, a registered verifier, a whale holding 2^255 wei and the iDAO
// address (governance), with a verified model class and two open tasks. Each call either
// succeeds or reverts with a named error and no change of state (modtest.Property); after each
// success the parameters are within their bounds, every listed verifier is registered, and the
// module holds every verifier stake and every open task's fee and bonds.
func TestExtremesEveryMethod(t *testing.T) {
	env, req, ver := modtest.Setup(t, node.DefaultModules())
	whale := modtest.Whale
	one := big.NewInt(1)
	// Bonds and stakes of 1 wei and one-of-one attestation, so that the extreme value 1 pays
	// them; a verified model class; a verifier; two attest-mode tasks, the first due soon.
	params := verifier.DefaultParams()
	params.MinProverBond, params.MinChallengerBond, params.MinVerifierStake = one, one, one
	params.AttestN, params.AttestK = 1, 1
	env.Must(t, metisvm.IDAOAddress, verifier.Address, verifier.ABI, nil, "setParams", params)
	env.Must(t, metisvm.IDAOAddress, dat.Address, dat.ABI, nil, "setParams",
		dat.Params{VerificationFee: one, ValidatorMinStake: one, ApprovalThreshold: 1, LineageBps: 1000})
	env.Must(t, ver, lazai.Address, lazai.ABI, big.NewInt(1e18), "stake")
	env.Must(t, ver, dat.Address, dat.ABI, nil, "registerValidator")
	env.Must(t, req, dat.Address, dat.ABI, one, "createClass", dat.ClassParams{Kind: uint8(dat.Model),
		MetadataURI: "file://m.gguf", IntegrityHash: [32]byte{1}, UsageFee: one, Parents: []*big.Int{}})
	env.Must(t, ver, dat.Address, dat.ABI, nil, "attest", one, true)
	env.Must(t, ver, verifier.Address, verifier.ABI, big.NewInt(1e18), "registerVerifier")
	env.Must(t, req, verifier.Address, verifier.ABI, big.NewInt(1e18), "requestCompute", one, [32]byte{2}, "{}", uint8(verifier.ModeAttest), env.Block.Number+3)
	env.Must(t, req, verifier.Address, verifier.ABI, big.NewInt(1e18), "requestCompute", one, [32]byte{3}, "{}", uint8(verifier.ModeAttest), uint64(1<<40))

	people := []common.Address{req, ver, whale, metisvm.IDAOAddress, {}}
	invariants := func(t *testing.T, env *modtest.Env, c modtest.Call) {
		view := func(method string, args ...any) []any {
			return env.View(t, verifier.Address, verifier.ABI, method, args...)
		}
		p := *abi.ConvertType(view("params")[0], new(verifier.Params)).(*verifier.Params)
		if p.ChallengeWindow < 1 || p.ChallengeWindow > 1_000_000 || p.MoveTimeout < 1 || p.MoveTimeout > 100_000 ||
			p.AttestK < 1 || p.AttestK > p.AttestN || p.AttestN > 64 || p.ProtocolCutBps > 10_000 ||
			p.SlashCutBps > 10_000 || p.VerifierUnbonding > 1_000_000 {
			t.Fatalf("after %s: parameters out of bounds: %+v", c.Name(), p)
		}
		held := new(big.Int)
		for _, a := range people {
			held.Add(held, view("verifierStake", a)[0].(*big.Int))
		}
		for _, v := range view("verifiers")[0].([]common.Address) {
			if !view("verifierStake", v)[2].(bool) {
				t.Fatalf("after %s: %s is listed but not registered", c.Name(), v)
			}
		}
		n := view("taskCount")[0].(*big.Int).Uint64()
		for id := uint64(1); id <= n; id++ {
			tk := abi.ConvertType(view("task", new(big.Int).SetUint64(id))[0], new(verifier.TaskInfo)).(*verifier.TaskInfo)
			switch verifier.Status(tk.Status) {
			case verifier.StatusRequested, verifier.StatusSubmitted, verifier.StatusChallenged:
				held.Add(held, tk.Fee).Add(held, tk.ProverBond)
			}
		}
		if bal := env.State.GetBalance(verifier.Address).ToBig(); bal.Cmp(held) < 0 {
			t.Fatalf("after %s: the Verifier holds %v, owes %v", c.Name(), bal, held)
		}
	}
	p := &modtest.Property{Env: env, To: verifier.Address, ABI: verifier.ABI, Every: 10,
		Addrs:      []common.Address{{}, req, ver},
		Callers:    []common.Address{req, ver, whale, metisvm.IDAOAddress},
		Extra:      []*big.Int{big.NewInt(2)}, // the second task
		Invariants: invariants,
		Want:       []string{"BadParams", "ClassNotFound"},
		Bases: map[string][][]any{
			"requestCompute": {{one, [32]byte{4}, "{}", uint8(verifier.ModeAttest), uint64(1 << 40)}},
			"setParams":      {{params}},
		},
	}
	p.Run(t)
}
