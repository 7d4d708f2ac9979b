package main

import (
	"context"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/metisgo/metis/lazai"
)

// TestHoldersMining stakes, earns, unstakes, waits out the unbonding, withdraws and claims
// through the CLI, and checks the figures 'metis rewards' prints against each other.
func TestHoldersMining(t *testing.T) {
	cli, net := newChainCLI(t)
	// Two blocks of unbonding instead of genesis's hundred, set as the iDAO would.
	if _, err := net.Govern(context.Background(), 0, lazai.Address, lazai.ABI, "setUnbondingDelay", uint64(2)); err != nil {
		t.Fatal(err)
	}
	acct3 := net.Addrs[3].Hex()

	out := cli.ok("stake", "1.5", "--dev-account", "3")
	wantLines(t, "stake", out, "staked 1.5 METIS", "stake       1.5 METIS", "from        "+acct3)
	st := decodeJSON[struct {
		Amount string `json:"amount"`
		Stake  string `json:"stake"`
		From   string `json:"from"`
		Block  uint64 `json:"block"`
	}](t, cli.ok("stake", "500000000000000000", "--wei", "--json", "--dev-account", "3"))
	if st.Amount != "500000000000000000" || st.Stake != "2000000000000000000" || st.Block == 0 {
		t.Errorf("stake --json = %+v", st)
	}

	// Every block's gas fees since the first stake went half to account 3, the only staker.
	out = cli.ok("rewards", acct3, "--blocks", "50")
	wantLines(t, "rewards", out, "account     "+acct3, "stake       2 METIS", "(metis rewards claim)",
		"unbonding   none", "Holders Mining, last 50 blocks", "staked      2 METIS in total", "APR ")
	r := decodeJSON[rewardsJSON](t, cli.ok("rewards", "--dev-account", "3", "--json"))
	pending, _ := new(big.Int).SetString(r.PendingRewards, 10)
	holders, _ := new(big.Int).SetString(r.Stats.HolderRewards, 10)
	routed, _ := new(big.Int).SetString(r.Stats.Routed, 10)
	if r.Account.Hex() != acct3 || r.Stake != "2000000000000000000" || r.Stats.TotalStaked != "2000000000000000000" ||
		pending == nil || pending.Sign() <= 0 || holders == nil || pending.Cmp(holders) > 0 ||
		routed == nil || holders.Cmp(routed) > 0 || new(big.Int).Mul(holders, big.NewInt(2)).Cmp(routed) < 0 || r.Stats.Blocks != 1000 {
		t.Errorf("rewards --json = %+v", r)
	}
	if _, err := strconv.ParseFloat(r.Stats.APRPercent, 64); err != nil {
		t.Errorf("aprPercent %q: %v", r.Stats.APRPercent, err)
	}

	cli.fail([]string{"unstake", "5", "--dev-account", "3"}, "InsufficientStake: 2 METIS is staked, asked to unstake 5")
	cli.fail([]string{"withdraw", "--dev-account", "3"}, "NothingToWithdraw")

	out = cli.ok("unstake", "0.5", "--dev-account", "3")
	wantLines(t, "unstake", out, "unstaking 0.5 METIS", "stake       1.5 METIS (still earning)",
		"unbonding   0.5 METIS, ready at block", "(2 blocks from now); then: metis withdraw")
	cli.fail([]string{"withdraw", "--dev-account", "3"}, "StillUnbonding: the unbonding is ready at block", "more blocks")

	claimed := cli.ok("rewards", "claim", "--dev-account", "3") // one block closer
	if !regexp.MustCompile(`^claimed 0\.\d+ METIS of rewards\n`).MatchString(claimed) {
		t.Errorf("rewards claim:\n%s", claimed)
	}
	wantLines(t, "withdraw", cli.ok("withdraw", "--dev-account", "3"), "withdrew 0.5 METIS")
	wantLines(t, "rewards after", cli.ok("rewards", acct3), "stake       1.5 METIS", "unbonding   none")

	cli.fail([]string{"rewards", "--blocks", "0"}, "BadWindow: --blocks 0: give 1 to 1,000,000 blocks")
	cli.fail([]string{"stake", "0"}, "ZeroAmount")
}

// TestChainFlagErrors covers what goes wrong before a module is reached.
func TestChainFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no node", []string{"dat", "class", "ls", "--rpc", "ws://127.0.0.1:1"},
			"metis: no node at ws://127.0.0.1:1: start one with `metis node --dev`"},
		{"no node http", []string{"rewards", "--rpc", "http://127.0.0.1:1"}, "no node at http://127.0.0.1:1"},
		{"bad amount", []string{"stake", "1.2.3"}, `AMOUNT "1.2.3": not a non-negative decimal number`},
		{"too precise", []string{"stake", "0.0000000000000000001"}, "more than 18 decimal places"},
		{"wei decimals", []string{"unstake", "1.5", "--wei"}, "with --wei, give a whole number of wei"},
		{"bad kind", []string{"dat", "class", "create", "--kind", "song", "--metadata", "x", "--integrity-file", "f"},
			`--kind: unknown kind "song" (want one of dataset, model, agent, compute)`},
		{"bad id", []string{"dat", "show", "zero"}, `token "zero": want a positive integer id`},
		{"transfer needs a target", []string{"dat", "transfer", "1"}, "give --to ADDR, or --value N --to-token ID"},
		{"bad expiry", []string{"dat", "mint", "1", "--value", "1", "--expires", "soon"}, "--expires \"soon\": want a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := metis(t, tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want non-zero and %q", code, out, errOut, tc.want)
			}
			if strings.Contains(errOut+out, "Usage:") {
				t.Error("a runtime error printed the usage")
			}
		})
	}
}

// TestChainFlagEnv checks that $METIS_RPC and $METIS_KEY stand in for the flags, and that the
// flags beat them.
func TestChainFlagEnv(t *testing.T) {
	cli, net := newChainCLI(t)
	t.Setenv("METIS_RPC", cli.url)
	t.Setenv("METIS_KEY", "0x"+strings.Repeat("0", 63)+"7") // a key nobody funded
	if out := mustMetis(t, "rewards"); !strings.Contains(out, "stake       0 METIS") {
		t.Errorf("rewards via $METIS_RPC:\n%s", out)
	}
	// The environment's key has no METIS: the node refuses the stake for want of funds.
	if code, _, errOut := metis(t, "stake", "1"); code == 0 || !strings.Contains(errOut, "insufficient funds") {
		t.Errorf("stake with an unfunded $METIS_KEY: exit %d, %q", code, errOut)
	}
	// --dev-account beats $METIS_KEY.
	if out := mustMetis(t, "stake", "1", "--dev-account", "5"); !strings.Contains(out, net.Addrs[5].Hex()) {
		t.Errorf("stake --dev-account 5 with $METIS_KEY set:\n%s", out)
	}
	code, _, errOut := metis(t, "stake", "1", "--dev-account", "5", "--key", "0x01")
	if code == 0 || !strings.Contains(errOut, "give --key or --dev-account, not both") {
		t.Errorf("both key flags: exit %d, %q", code, errOut)
	}
	if code, _, errOut := metis(t, "rewards", "--rpc", "ws://127.0.0.1:1"); code == 0 || !strings.Contains(errOut, "ws://127.0.0.1:1") {
		t.Errorf("--rpc should beat $METIS_RPC: exit %d, %q", code, errOut)
	}
}

func TestStakeHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"stake", "--help"}, []string{"Examples:", "metis stake 1.5", "--dev-account", "unbonding delay"}},
		{[]string{"unstake", "--help"}, []string{"Examples:", "metis withdraw"}},
		{[]string{"withdraw", "--help"}, []string{"Examples:"}},
		{[]string{"rewards", "--help"}, []string{"Examples:", "metis rewards claim", "--blocks", "APR"}},
	} {
		wantLines(t, strings.Join(tc.args, " "), mustMetis(t, tc.args...), tc.want...)
	}
}

func TestAmounts(t *testing.T) {
	for _, tc := range []struct {
		in       string
		decimals uint8
		want     string // "" means an error
	}{
		{"1.5", 18, "1500000000000000000"},
		{"0.001", 18, "1000000000000000"},
		{"2", 18, "2000000000000000000"},
		{".5", 18, "500000000000000000"},
		{"1.", 18, "1000000000000000000"},
		{"0", 18, "0"},
		{"1.25", 2, "125"},
		{"7", 0, "7"},
		{"1.5", 0, ""},
		{"1.234", 2, ""},
		{"", 18, ""},
		{".", 18, ""},
		{"-1", 18, ""},
		{"1e18", 18, ""},
		{"1.2.3", 18, ""},
		{" 1", 18, ""},
	} {
		got, err := parseUnits(tc.in, tc.decimals)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseUnits(%q, %d) = %s, want an error", tc.in, tc.decimals, got)
		case tc.want != "" && (err != nil || got.String() != tc.want):
			t.Errorf("parseUnits(%q, %d) = %v, %v; want %s", tc.in, tc.decimals, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		wei      string
		decimals uint8
		want     string
	}{
		{"1500000000000000000", 18, "1.5"},
		{"1", 18, "0.000000000000000001"},
		{"0", 18, "0"},
		{"10000000000000000000000", 18, "10000"},
		{"125", 2, "1.25"},
		{"7", 0, "7"},
		{"-15", 1, "-1.5"},
	} {
		v, _ := new(big.Int).SetString(tc.wei, 10)
		if got := formatUnits(v, tc.decimals); got != tc.want {
			t.Errorf("formatUnits(%s, %d) = %q, want %q", tc.wei, tc.decimals, got, tc.want)
		}
		if v.Sign() >= 0 {
			back, err := parseUnits(tc.want, tc.decimals)
			if err != nil || back.Cmp(v) != 0 {
				t.Errorf("parseUnits(formatUnits(%s)) = %v, %v", tc.wei, back, err)
			}
		}
	}
}
