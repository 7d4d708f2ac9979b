package main

import (
	"context"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

// newIDAOCLI runs the CLI against a dev node with the real iDAO module (idao.DefaultParams:
// voting opens 1 block after a proposal and lasts 10, quorum 4%, threshold 1 METIS, timelock
// 2, grace 100).
func newIDAOCLI(t *testing.T) (chainCLI, *devnet.Net) {
	t.Helper()
	net := devnet.Start(t, devnet.Options{})
	return chainCLI{t: t, url: net.Node.WSURL()}, net
}

// advanceTo makes blocks until the head is at least n: the dev node seals a block per
// transaction, so each is a 1-wei self-transfer of dev account 9 (which the tests use for
// nothing else).
func advanceTo(t *testing.T, net *devnet.Net, n uint64) {
	t.Helper()
	ctx := context.Background()
	id, err := net.Eth.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from := net.Addrs[9]
	for {
		head, err := net.Eth.HeaderByNumber(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if head.Number.Uint64() >= n {
			return
		}
		nonce, err := net.Eth.PendingNonceAt(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		tip := big.NewInt(1e9)
		tx, err := types.SignNewTx(net.Keys[9], types.LatestSignerForChainID(id), &types.DynamicFeeTx{
			ChainID: id, Nonce: nonce, GasTipCap: tip,
			GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip),
			Gas:       21_000, To: &from, Value: big.NewInt(1),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := net.Eth.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if _, err := chaintx.WaitMined(ctx, net.Eth, tx.Hash()); err != nil {
			t.Fatal(err)
		}
	}
}

func headOf(t *testing.T, net *devnet.Net) uint64 {
	t.Helper()
	n, err := net.Eth.BlockNumber(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIDAOGovernance takes proposals of the root iDAO through the CLI: stake, register an
// agent and delegate to it, propose a new fee split (and a call that will fail, and one to
// cancel), vote as a person and as the agent, queue, execute, and check that LazAI's split
// changed; show and ls in text and JSON; and the named errors with their hints.
func TestIDAOGovernance(t *testing.T) {
	cli, net := newIDAOCLI(t)
	acct1, acct2, acct3 := net.Addrs[1].Hex(), net.Addrs[2].Hex(), net.Addrs[3].Hex()

	wantLines(t, "params", cli.ok("idao", "params"), "delay       1 block from a proposal to its snapshot",
		"period      10 blocks", "quorum      4% of the voting power", "threshold   1 METIS of votes", "timelock    2 blocks", "grace       100 blocks")
	params := decodeJSON[struct {
		VotingPeriod      uint64 `json:"votingPeriod"`
		ProposalThreshold string `json:"proposalThreshold"`
	}](t, cli.ok("idao", "params", "--json"))
	if params.VotingPeriod != 10 || params.ProposalThreshold != "1000000000000000000" {
		t.Errorf("params --json = %+v", params)
	}

	// Voting power: account 1 stakes 2 METIS; account 2 stakes 1 and delegates it to account 3,
	// an agent it registers.
	cli.ok("stake", "2", "--dev-account", "1")
	cli.ok("stake", "1", "--dev-account", "2")
	wantLines(t, "agent register", cli.ok("idao", "agent", "register", acct3, "--name", "curator",
		"--metadata", "ipfs://agent-card", "--dev-account", "2"),
		"agent "+acct3+" registered as \"curator\"", "owner       "+acct2, "model       none", "metis idao delegate "+acct3)
	cli.fail([]string{"idao", "agent", "register", acct3, "--name", "again", "--dev-account", "2"}, "AgentExists: "+acct3+" is already a registered agent")
	wantLines(t, "delegate", cli.ok("idao", "delegate", acct3, "--dev-account", "2"),
		"delegated the signer's voting power in the root iDAO to "+acct3+` (agent "curator")`,
		"votes       "+acct3+" now has 1 METIS of votes")

	cli.fail([]string{"idao", "propose", "--set-split", "6000,2000,1000,1000", "--description", "x", "--dev-account", "5"},
		"BelowThreshold: you have 0 METIS of votes, proposing needs 1 METIS", "stake with `metis stake`")

	out := cli.ok("idao", "propose", "--set-split", "6000,2000,1000,1000", "--description", "60% of fees to stakers", "--dev-account", "1")
	wantLines(t, "propose", out, "proposal 1 created in the root iDAO",
		"call 1      lazai.setSplit(split: {holdersBps: 6000, validatorsBps: 2000, treasuryBps: 1000, burnBps: 1000})",
		"snapshot    block ", "voting      blocks ", "opens in 1 block (metis idao vote 1 for|against|abstain)", "deadline    block ",
		"from        "+acct1)
	// Too early: the hint says when voting opens.
	cli.fail([]string{"idao", "vote", "1", "for", "--dev-account", "1"},
		"WrongState: proposal 1 is pending: voting opens in 1 block (block ", "vote once it opens (metis idao vote 1 for|against|abstain)")

	// A call that will fail on execution (the parts sum to 15000), by --call, in JSON.
	p2 := decodeJSON[struct {
		ProposalID int    `json:"proposalId"`
		Dao        int    `json:"dao"`
		Snapshot   uint64 `json:"snapshot"`
		Deadline   uint64 `json:"deadline"`
		Calls      []struct {
			Target  common.Address `json:"target"`
			Decoded string         `json:"decoded"`
		} `json:"calls"`
		Block uint64 `json:"block"`
	}](t, cli.ok("idao", "propose", "--call", "lazai:setSplit:(5000,5000,5000,0)", "--description", "too much", "--dev-account", "1", "--json"))
	if p2.ProposalID != 2 || p2.Dao != 0 || p2.Snapshot != p2.Block+1 || p2.Deadline != p2.Snapshot+10 ||
		len(p2.Calls) != 1 || p2.Calls[0].Target != lazai.Address || !strings.HasPrefix(p2.Calls[0].Decoded, "lazai.setSplit(") {
		t.Errorf("propose --json = %+v", p2)
	}

	// One to cancel: only its proposer may, while it is pending.
	wantLines(t, "propose 3", cli.ok("idao", "propose", "--call", "lazai:setUnbondingDelay:5", "--description", "shorter unbonding", "--dev-account", "1"),
		"proposal 3 created", "call 1      lazai.setUnbondingDelay(blocks: 5)")
	cli.fail([]string{"idao", "cancel", "3", "--dev-account", "2"}, "NotProposer: "+acct2+" did not make proposal 3: only its proposer, "+acct1+", may cancel it")
	wantLines(t, "cancel", cli.ok("idao", "cancel", "3", "--dev-account", "1"), "proposal 3 canceled")

	// Votes: account 1 (2 METIS) and the agent (account 2's 1 METIS), on proposals 1 and 2.
	wantLines(t, "vote", cli.ok("idao", "vote", "1", "for", "--dev-account", "1"),
		"voted for on proposal 1 with 2 METIS", "tallies     for 2 METIS, against 0 METIS, abstain 0 METIS; quorum 0.12 METIS reached")
	wantLines(t, "agent vote", cli.ok("idao", "vote", "1", "yes", "--reason", "stakers carry the risk", "--dev-account", "3"),
		"voted for on proposal 1 with 1 METIS", `reason      "stakers carry the risk"`, "for 3 METIS")
	cli.fail([]string{"idao", "vote", "1", "against", "--dev-account", "1"},
		"AlreadyVoted: "+acct1+" has already voted on proposal 1")
	cli.fail([]string{"idao", "vote", "1", "for", "--dev-account", "4"}, "NoVotingPower: "+net.Addrs[4].Hex()+" had no voting power at proposal 1's snapshot (block ")
	cli.fail([]string{"idao", "vote", "1", "maybe"}, `vote "maybe": want for, against or abstain`)
	v := decodeJSON[struct {
		Support  string `json:"support"`
		Weight   string `json:"weight"`
		ForVotes string `json:"forVotes"`
	}](t, cli.ok("idao", "vote", "2", "for", "--dev-account", "1", "--json"))
	if v.Support != "for" || v.Weight != "2000000000000000000" || v.ForVotes != "2000000000000000000" {
		t.Errorf("vote --json = %+v", v)
	}
	cli.ok("idao", "vote", "2", "abstain", "--dev-account", "3")

	out = cli.ok("idao", "show", "1")
	if !regexp.MustCompile(`(?m)^state       active: voting ends in \d+ blocks \(block \d+ is the last\)$`).MatchString(out) {
		t.Errorf("show 1 while active:\n%s", out)
	}
	wantLines(t, "show active", out, "proposal    1 in the root iDAO", "proposer    "+acct1, "for         3 METIS",
		"against     0 METIS", "quorum      0.12 METIS reached", "call 1      lazai.setSplit(split: {holdersBps: 6000",
		"description 60% of fees to stakers")
	cli.fail([]string{"idao", "queue", "1"}, "WrongState: proposal 1 is active: voting ends in", "queue it when voting has ended")

	// Past both deadlines.
	advanceTo(t, net, p2.Deadline+1)
	wantLines(t, "show succeeded", cli.ok("idao", "show", "1"), "state       succeeded: passed, not yet queued", "next        queue it: metis idao queue 1")

	out = cli.ok("idao", "queue", "1")
	m := regexp.MustCompile(`proposal 1 queued: executable in 1 block \(at block (\d+), until block (\d+)\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("queue:\n%s", out)
	}
	eta, _ := strconv.ParseUint(m[1], 10, 64)
	if last, _ := strconv.ParseUint(m[2], 10, 64); last != eta+100 {
		t.Errorf("queue: last block %d, want %d", last, eta+100)
	}
	cli.fail([]string{"idao", "execute", "1"}, "TimelockNotReady: executable at block "+m[1]+" (in 1 block; this was block")
	cli.ok("idao", "queue", "2")
	// The next block is eta: executable now.
	wantLines(t, "show queued", cli.ok("idao", "show", "1"), "state       queued: expires in 101 blocks (executable now; block "+m[2]+" is the last)",
		"next        execute it: metis idao execute 1")
	out = cli.ok("idao", "show", "1", "--json")
	sj := decodeJSON[proposalJSON](t, out)
	if sj.State != "queued" || sj.Timing != "expires in 101 blocks" || sj.ForVotes != "3000000000000000000" ||
		sj.Quorum != "120000000000000000" || !sj.QuorumReached || len(sj.Calls) != 1 || sj.Eta != eta {
		t.Errorf("show --json:\n%s", out)
	}
	wantLines(t, "execute", cli.ok("idao", "execute", "1"), "proposal 1 executed (1 call)", "call 1      lazai.setSplit(")
	l := lazai.NewClient(net.Eth, nil)
	if s, err := l.Split(context.Background()); err != nil || s != (lazai.Split{HoldersBps: 6000, ValidatorsBps: 2000, TreasuryBps: 1000, BurnBps: 1000}) {
		t.Errorf("split after execution = %+v, %v", s, err)
	}
	// All or nothing, and why: LazAI's error, decoded.
	cli.fail([]string{"idao", "execute", "2"}, "CallFailed: call 1, lazai.setSplit(split: {holdersBps: 5000",
		"reverted with BadSplit: the split's parts sum to 15000 basis points, not 10,000; nothing was executed")
	cli.fail([]string{"idao", "execute", "1"}, "WrongState: proposal 1 is executed; nothing more can be done with it")
	cli.fail([]string{"idao", "show", "9"}, "UnknownProposal: there is no proposal 9")

	out = cli.ok("idao", "ls")
	for _, re := range []string{
		`(?m)^ID\s+DAO\s+STATE\s+FOR\s+AGAINST\s+ABSTAIN\s+NEXT\s+DESCRIPTION$`,
		`(?m)^3\s+0\s+canceled\s+0 METIS\s+0 METIS\s+0 METIS\s+-\s+shorter unbonding$`,
		`(?m)^2\s+0\s+queued\s+2 METIS\s+0 METIS\s+1 METIS\s+expires in 10\d blocks\s+too much$`,
		`(?m)^1\s+0\s+executed\s+3 METIS\s+0 METIS\s+0 METIS\s+-\s+60% of fees to stakers$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("ls lacks %s:\n%s", re, out)
		}
	}
	if ls := decodeJSON[[]proposalJSON](t, cli.ok("idao", "ls", "--state", "executed", "--json")); len(ls) != 1 || ls[0].ID.Int64() != 1 {
		t.Errorf("ls --state executed --json = %+v", ls)
	}
	wantLines(t, "ls --dao", cli.ok("idao", "ls", "--dao", "5"), "no proposals in the community of class 5")
	cli.fail([]string{"idao", "ls", "--state", "won"}, `--state "won": want pending`)

	out = cli.ok("idao", "agent", "ls")
	if !regexp.MustCompile(`(?m)^` + acct3 + `\s+curator\s+` + acct2 + `\s+none\s+yes\s+block \d+\s+ipfs://agent-card$`).MatchString(out) {
		t.Errorf("agent ls:\n%s", out)
	}
	if ags := decodeJSON[[]idao.AgentInfo](t, cli.ok("idao", "agent", "ls", "--json")); len(ags) != 1 || ags[0].Owner != net.Addrs[2] || ags[0].Name != "curator" {
		t.Errorf("agent ls --json = %+v", ags)
	}
	cli.fail([]string{"idao", "agent", "rm", acct3, "--dev-account", "4"}, "NotAgentOwner: "+net.Addrs[4].Hex()+" neither owns agent "+acct3)
	wantLines(t, "agent rm", cli.ok("idao", "agent", "rm", acct3, "--dev-account", "2"), "agent "+acct3+" deregistered")
	wantLines(t, "agent ls empty", cli.ok("idao", "agent", "ls"), "no agents registered")
}

// TestIDAOCommunity has the community iDAO of a dataset class change its policy and usage fee:
// voting power is the class's shares (one holder delegates hers with 'metis idao delegate
// --dao'), and a staker without shares has none there.
func TestIDAOCommunity(t *testing.T) {
	cli, net := newIDAOCLI(t)
	acct1, acct2, acct3 := net.Addrs[1].Hex(), net.Addrs[2].Hex(), net.Addrs[3].Hex()
	cli.ok("dat", "class", "create", "--kind", "dataset", "--metadata", "ipfs://data", "--integrity", "0x"+strings.Repeat("11", 32),
		"--policy", "https://example.org/old")
	cli.ok("stake", "1", "--dev-account", "4")
	cli.ok("dat", "validator", "register", "--dev-account", "4")
	cli.ok("dat", "class", "attest", "1", "--dev-account", "4")
	cli.ok("dat", "class", "activate", "1")
	cli.ok("dat", "mint", "1", "--to", acct1, "--value", "10", "--shares", "10")
	cli.ok("dat", "mint", "1", "--to", acct2, "--value", "10", "--shares", "5")
	wantLines(t, "delegate --dao", cli.ok("idao", "delegate", acct3, "--dao", "1", "--dev-account", "2"),
		"delegated the signer's voting power in the community of class 1 to "+acct3, "now has 5 shares of votes")

	// Account 4 has stake but no shares: no power to propose here.
	cli.fail([]string{"idao", "propose", "--set-policy", "1=https://x", "--description", "x", "--dev-account", "4"},
		"BelowThreshold: you have no votes in class 1's community")
	out := cli.ok("idao", "propose", "--set-policy", "1=https://example.org/new,v2", "--set-usage-fee", "1=0.002",
		"--description", "new license, a fee", "--dev-account", "1")
	wantLines(t, "propose community", out, "proposal 1 created in the community of class 1",
		`call 1      dat.setClassPolicy(classId: 1, policyURI: "https://example.org/new,v2")`,
		"call 2      dat.setUsageFee(classId: 1, usageFee: 2000000000000000)")
	p := decodeJSON[proposalJSON](t, cli.ok("idao", "show", "1", "--json"))
	advanceTo(t, net, p.Snapshot+1)
	cli.fail([]string{"idao", "vote", "1", "for", "--dev-account", "4"}, "NoVotingPower")
	wantLines(t, "vote community", cli.ok("idao", "vote", "1", "for", "--dev-account", "1"), "with 10 shares")
	cli.ok("idao", "vote", "1", "against", "--dev-account", "3")
	wantLines(t, "show community", cli.ok("idao", "show", "1"), "for         10 shares", "against     5 shares", "quorum      0 shares reached")

	advanceTo(t, net, p.Deadline+1)
	cli.ok("idao", "queue", "1")
	advanceTo(t, net, headOf(t, net)+2)
	wantLines(t, "execute community", cli.ok("idao", "execute", "1"), "proposal 1 executed (2 calls)")
	d := dat.NewClient(net.Eth, nil)
	c, err := d.Class(context.Background(), big.NewInt(1))
	if err != nil || c.PolicyURI != "https://example.org/new,v2" || c.UsageFee.Cmp(big.NewInt(2e15)) != 0 {
		t.Errorf("class after execution: policy %q, fee %v, %v", c.PolicyURI, c.UsageFee, err)
	}
}

func TestIDAOHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"idao", "--help"}, []string{"Examples:", "root iDAO", "community iDAO", "metis idao propose --set-split", "--dev-account"}},
		{[]string{"idao", "propose", "--help"}, []string{"Examples:", "--set-policy CLASS=URI", "--call TARGET:METHOD[:ARGS]", "--calldata TARGET:HEX[:VALUE]"}},
		{[]string{"idao", "show", "--help"}, []string{"Examples:", "blocks"}},
		{[]string{"idao", "agent", "--help"}, []string{"Examples:", "register", "rm"}},
		{[]string{"--help"}, []string{"metis idao --help"}},
	} {
		wantLines(t, strings.Join(tc.args, " "), mustMetis(t, tc.args...), tc.want...)
	}
}

// TestIDAOProposeFlags covers the calls' flags, which fail before a node is reached.
func TestIDAOProposeFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no calls", []string{"--description", "x"}, "a proposal needs a call"},
		{"no description", []string{"--set-split", "6000,2000,1000,1000"}, `required flag(s) "description" not set`},
		{"split sum", []string{"--set-split", "5000,5000,1000,1000", "--description", "x"}, "the parts sum to 12,000 basis points, not 10,000"},
		{"split parts", []string{"--set-split", "5000,5000", "--description", "x"}, "want four parts"},
		{"two classes", []string{"--set-policy", "1=a", "--set-usage-fee", "2=1", "--description", "x"}, "the calls are for classes 1 and 2"},
		{"dao contradicts", []string{"--dao", "0", "--set-policy", "2=a", "--description", "x"}, "a call of class 2's community, but --dao is 0"},
		{"root in community", []string{"--set-split", "6000,2000,1000,1000", "--set-policy", "2=a", "--description", "x"}, "--set-split is a root iDAO call"},
		{"unknown method", []string{"--call", "lazai:fly:1", "--description", "x"}, `lazai has no method "fly"; its methods: `},
		{"arg count", []string{"--call", "lazai:setUnbondingDelay", "--description", "x"}, "setUnbondingDelay(uint64) takes 1 arguments, got 0"},
		{"out of range", []string{"--call", "lazai:setUnbondingDelay:-1", "--description", "x"}, "-1 is out of range"},
		{"no signature", []string{"--call", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8:transfer:1", "--description", "x"}, "give the full signature"},
		{"bad calldata", []string{"--calldata", "lazai:zz", "--description", "x"}, `"zz" is not 0x and hex digits`},
		{"bad target", []string{"--calldata", "bank:0x", "--description", "x"}, "want dat, idao, lazai or an address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := metis(t, append([]string{"idao", "propose", "--rpc", "ws://127.0.0.1:1"}, tc.args...)...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want non-zero and %q", code, out, errOut, tc.want)
			}
		})
	}
}

// TestIDAOCallSpecs encodes --call specs and decodes them back as show prints them.
func TestIDAOCallSpecs(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"lazai:setUnbondingDelay:50", "lazai.setUnbondingDelay(blocks: 50)"},
		{"lazai:setSplit:(6000, 2000, 1000, 1000)", "lazai.setSplit(split: {holdersBps: 6000, validatorsBps: 2000, treasuryBps: 1000, burnBps: 1000})"},
		{"idao:setParams:(1,20,500,0x0de0b6b3a7640000,2,100)", "idao.setParams(p: {votingDelay: 1, votingPeriod: 20, quorumBps: 500, proposalThreshold: 1000000000000000000, timelockDelay: 2, gracePeriod: 100})"},
		// The last argument takes the rest: a URI's colons and commas need no quoting.
		{"dat:setClassPolicy:7,https://example.org/a,b", `dat.setClassPolicy(classId: 7, policyURI: "https://example.org/a,b")`},
		{"dat:setClassPolicy(uint256,string):7,x", `dat.setClassPolicy(classId: 7, policyURI: "x")`},
		{"lazai:setValidatorsRecipient:idao", "lazai.setValidatorsRecipient(recipient: 0x0000000000000000000000000000000000000a02)"},
		// Any contract, by signature: not decoded on the way back.
		{"0x70997970C51812dc3A010C7d01b50e0d17dc79C8:f((uint8,bool)[],bytes2,string[2]):[(1,true)],0xbeef,[\"a,b\",c]", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8: 0x"},
	} {
		cl, err := parseCallSpec(tc.spec)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if got := describeCall(cl); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: describeCall = %s, want %s", tc.spec, got, tc.want)
		}
	}
}
