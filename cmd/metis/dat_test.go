package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/internal/devnet"
)

// chainCLI runs the CLI against one in-process dev node.
type chainCLI struct {
	t   *testing.T
	url string
}

func newChainCLI(t *testing.T) (chainCLI, *devnet.Net) {
	t.Helper()
	net := devnet.Start(t, devnet.Options{Governor: true})
	return chainCLI{t: t, url: net.Node.WSURL()}, net
}

// ok runs metis ARGS --rpc URL and fails the test unless it exits 0.
func (c chainCLI) ok(args ...string) string {
	c.t.Helper()
	return mustMetis(c.t, append(args, "--rpc", c.url)...)
}

// fail runs metis ARGS --rpc URL, expects a non-zero exit with every want in stderr, and returns
// stderr.
func (c chainCLI) fail(args []string, want ...string) string {
	c.t.Helper()
	code, out, errOut := metis(c.t, append(args, "--rpc", c.url)...)
	if code == 0 {
		c.t.Fatalf("metis %s: exit 0, want an error\nstdout:\n%s", strings.Join(args, " "), out)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			c.t.Errorf("metis %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, errOut)
		}
	}
	if strings.Contains(errOut+out, "Usage:") {
		c.t.Errorf("metis %s: a runtime error printed the usage", strings.Join(args, " "))
	}
	return errOut
}

func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON (%v):\n%s", err, out)
	}
	return v
}

func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// TestDATLifecycle walks a class and its tokens through the whole CLI: create (from a file's
// hash), verify (by a validator who staked through 'metis stake', and by the iDAO), activate,
// mint, use, show and ls in text and JSON, move value, claim, transfer, deprecate, and the named
// errors the module refuses with.
func TestDATLifecycle(t *testing.T) {
	cli, net := newChainCLI(t)
	acct1, acct3 := net.Addrs[1].Hex(), net.Addrs[3].Hex()

	content := []byte("a small dataset\n")
	file := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)

	out := cli.ok("dat", "class", "create", "--kind", "dataset", "--metadata", "ipfs://bafy-test",
		"--integrity-file", file, "--policy", "https://example.org/license", "--usage-fee", "0.001")
	wantLines(t, "class create", out,
		"class 1 created (dataset, registered)",
		"integrity   0x"+hex.EncodeToString(sum[:]),
		"fee paid    0.01 METIS",
		net.Addrs[0].Hex()+" (dev account 0)",
		"metis dat class attest 1")

	// A derived model with two-decimal units, by JSON.
	created := decodeJSON[struct {
		ClassID int    `json:"classId"`
		Kind    string `json:"kind"`
		Tx      string `json:"tx"`
	}](t, cli.ok("dat", "class", "create", "--kind", "model", "--metadata", "ipfs://model",
		"--integrity", "0x"+strings.Repeat("ab", 32), "--parent", "1", "--decimals", "2", "--json"))
	if created.ClassID != 2 || created.Kind != "model" || !strings.HasPrefix(created.Tx, "0x") {
		t.Errorf("create --json = %+v", created)
	}

	// Not active yet: minting is refused with the status and what to do about it.
	cli.fail([]string{"dat", "mint", "1", "--value", "5"}, "BadStatus: class 1 is registered", "metis dat class attest 1")

	// Verify class 1 through a validator, all by CLI: stake, register, attest (threshold 1).
	cli.fail([]string{"dat", "validator", "register", "--dev-account", "4"}, "InsufficientValidatorStake", "needs 1 METIS staked")
	cli.ok("stake", "1", "--dev-account", "4")
	wantLines(t, "validator register", cli.ok("dat", "validator", "register", "--dev-account", "4"),
		net.Addrs[4].Hex()+" registered as a data validator")
	wantLines(t, "attest", cli.ok("dat", "class", "attest", "1", "--dev-account", "4"),
		"class 1 approved: 1 approvals, 0 rejections; status verified")
	// Class 2 through the iDAO's vote (the stand-in Governor).
	if _, err := net.Govern(context.Background(), 0, dat.Address, dat.ABI, "verifyClass", big.NewInt(2)); err != nil {
		t.Fatal(err)
	}

	// Only the owner activates.
	cli.fail([]string{"dat", "class", "activate", "1", "--dev-account", "2"},
		"NotClassOwner: "+net.Addrs[2].Hex()+" does not own class 1")
	wantLines(t, "activate", cli.ok("dat", "class", "activate", "1"), "class 1 is now active")
	cli.ok("dat", "class", "activate", "2")

	out = cli.ok("dat", "mint", "1", "--to", acct1, "--value", "100", "--shares", "10")
	wantLines(t, "mint", out, "token 1 minted (class 1)", "to          "+acct1, "value       100 units", "expires     never")
	minted := decodeJSON[struct {
		TokenID int    `json:"tokenId"`
		To      string `json:"to"`
		Value   string `json:"value"`
	}](t, cli.ok("dat", "mint", "1", "--value", "10", "--shares", "10", "--json"))
	if minted.TokenID != 2 || !strings.EqualFold(minted.To, net.Addrs[0].Hex()) || minted.Value != "10" {
		t.Errorf("mint --json = %+v", minted)
	}
	out = cli.ok("dat", "mint", "2", "--value", "1.25", "--expires", "30d")
	wantLines(t, "mint 2", out, "token 3 minted (class 2)", "value       1.25 units", "expires     20")

	// Past the quota: the named error and the numbers.
	cli.fail([]string{"dat", "use", "2", "20"}, "QuotaExceeded: token 2 has 10 units left, asked for 20")
	cli.fail([]string{"dat", "use", "3", "0.001"}, "more than 2 decimal places")
	cli.fail([]string{"dat", "use", "1", "5"}, "NotTokenOwner") // token 1 is account 1's

	out = cli.ok("dat", "use", "1", "30", "--dev-account", "1")
	wantLines(t, "use", out, "used 30 units of token 1 (class 1)", "fee paid    0.03 METIS", "left        70 units")
	used := decodeJSON[struct {
		Fee  string `json:"fee"`
		Left string `json:"valueLeft"`
	}](t, cli.ok("dat", "use", "3", "0.25", "--json")) // class 2 has no usage fee
	if used.Fee != "0" || used.Left != "100" {
		t.Errorf("use --json = %+v", used)
	}

	// 0.03 METIS of revenue over 20 shares: token 1 (10 shares) has earned 0.015.
	out = cli.ok("dat", "show", "1")
	wantLines(t, "show", out, "class       1 (dataset, active)", "owner       "+acct1, "value       70 units left",
		"shares      10 of 20 (50%)", "pending     0.015 METIS (metis dat claim 1)")
	tok := decodeJSON[tokenJSON](t, cli.ok("dat", "show", "1", "--json"))
	if tok.Value != "70" || tok.PendingRevenue != "15000000000000000" || tok.ClassID.Int64() != 1 || tok.Owner != net.Addrs[1] {
		t.Errorf("show --json = %+v", tok)
	}
	wantLines(t, "show --wei", cli.ok("dat", "show", "1", "--wei"), "pending     15000000000000000 wei")

	out = cli.ok("dat", "class", "show", "1")
	wantLines(t, "class show", out, "status      active (1 approvals, 0 rejections)", "usage fee   0.001 METIS per unit",
		"revenue     0.03 METIS", "policy      https://example.org/license", "parents     none")
	wantLines(t, "class show 2", cli.ok("dat", "class", "show", "2"), "parents     1", "decimals    2",
		"usage fee   0 METIS per smallest unit (0.01)")
	cl := decodeJSON[classJSON](t, cli.ok("dat", "class", "show", "1", "--json"))
	if cl.Status != "active" || cl.TotalRevenue != "30000000000000000" || cl.UsageFee != "1000000000000000" ||
		cl.IntegrityHash != [32]byte(sum) || len(cl.Parents) != 0 {
		t.Errorf("class show --json = %+v", cl)
	}
	cli.fail([]string{"dat", "class", "show", "9"}, "ClassNotFound: class 9 does not exist")

	out = cli.ok("dat", "class", "ls")
	if !regexp.MustCompile(`(?m)^1\s+dataset\s+active\s+0x`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^2\s+model\s+active\s+.*\s1\s+ipfs://model$`).MatchString(out) {
		t.Errorf("class ls:\n%s", out)
	}
	wantLines(t, "class ls --owner", cli.ok("dat", "class", "ls", "--owner", acct3), "no classes owned by "+acct3)
	if ls := decodeJSON[[]classJSON](t, cli.ok("dat", "class", "ls", "--json")); len(ls) != 2 {
		t.Errorf("class ls --json: %d classes, want 2", len(ls))
	}

	out = cli.ok("dat", "ls", "--owner", acct1)
	if !regexp.MustCompile(`(?m)^1\s+1\s+70\s+10\s+never\s+0.015 METIS$`).MatchString(out) {
		t.Errorf("ls --owner:\n%s", out)
	}
	mine := decodeJSON[[]tokenJSON](t, cli.ok("dat", "ls", "--json")) // dev account 0's
	if len(mine) != 2 || mine[0].ID.Int64() != 2 || mine[1].ID.Int64() != 3 || mine[1].Value != "100" {
		t.Errorf("ls --json = %+v", mine)
	}

	// Quota moves between tokens of one class, not across classes.
	wantLines(t, "transfer --value", cli.ok("dat", "transfer", "1", "--value", "5", "--to-token", "2", "--dev-account", "1"),
		"moved 5 units from token 1 to token 2")
	cli.fail([]string{"dat", "transfer", "2", "--value", "1", "--to-token", "3"}, "ClassMismatch")
	cli.fail([]string{"dat", "transfer", "2", "--value", "1"}, "needs both --value N and --to-token ID")

	wantLines(t, "claim", cli.ok("dat", "claim", "1", "--dev-account", "1"), "claimed 0.015 METIS from token 1")
	cli.fail([]string{"dat", "claim", "1", "--dev-account", "1"}, "NothingToClaim: token 1 has no revenue to claim yet")

	wantLines(t, "transfer", cli.ok("dat", "transfer", "2", "--to", acct3), "token 2 now belongs to "+acct3)
	wantLines(t, "ls after transfer", cli.ok("dat", "ls", "--owner", acct3), "tokens of "+acct3)

	wantLines(t, "deprecate", cli.ok("dat", "class", "deprecate", "1"), "class 1 is now deprecated")
	cli.fail([]string{"dat", "mint", "1", "--value", "1"}, "BadStatus: class 1 is deprecated")
}

func TestDATHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"dat", "--help"}, []string{"Examples:", "metis dat class create", "metis dat use 1 30", "--dev-account", "METIS_RPC"}},
		{[]string{"dat", "class", "create", "--help"}, []string{"Examples:", "sha256sum", "keccak256", "--parent", "chain id 1337"}},
		{[]string{"dat", "mint", "--help"}, []string{"Examples:", "--expires 30d"}},
		{[]string{"dat", "use", "--help"}, []string{"Examples:", "QuotaExceeded"}},
		{[]string{"--help"}, []string{"metis dat --help", "metis rewards"}},
	} {
		wantLines(t, strings.Join(tc.args, " "), mustMetis(t, tc.args...), tc.want...)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		in   string
		want uint64 // 0 with ok false means an error
		ok   bool
	}{
		{"", 0, true},
		{"1800000000", 1_800_000_000, true},
		{"30d", 1_700_000_000 + 30*86400, true},
		{"90m", 1_700_000_000 + 90*60, true},
		{"1h30m", 1_700_000_000 + 5400, true},
		{"-1h", 0, false},
		{"0d", 0, false},
		{"soon", 0, false},
	} {
		got, err := parseExpiry(tc.in, now)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseExpiry(%q) = %d, %v; want %d (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
