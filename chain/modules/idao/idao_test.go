package idao_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

var root = big.NewInt(idao.RootDAO)

type env struct {
	t   *testing.T
	ctx context.Context
	net *devnet.Net
	gov []*idao.Client
	lz  []*lazai.Client
	dc  []*dat.Client
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, ctx: context.Background(), net: devnet.Start(t, devnet.Options{})}
	for i := range 10 {
		g := idao.NewClient(e.net.Eth, e.net.Signer(i))
		g.GasLimit = 5_000_000 // refused moves are mined and fail, not refused at estimation
		l := lazai.NewClient(e.net.Eth, e.net.Signer(i))
		l.GasLimit = 2_000_000
		d := dat.NewClient(e.net.Eth, e.net.Signer(i))
		d.GasLimit = 3_000_000
		e.gov, e.lz, e.dc = append(e.gov, g), append(e.lz, l), append(e.dc, d)
	}
	return e
}

func (e *env) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// refused checks that err is a mined, failed transaction with the named error.
func (e *env) refused(err error, name string) {
	e.t.Helper()
	if err == nil {
		e.t.Fatalf("succeeded, want %s", name)
	}
	var te *chaintx.TxError
	if !asTx(err, &te) {
		e.t.Fatalf("want a mined failure %s, got %v", name, err)
	}
	if got := chaintx.ErrorName(err); got != name {
		e.t.Fatalf("error %v, want %s", err, name)
	}
}

func asTx(err error, te **chaintx.TxError) bool {
	for err != nil {
		if t, ok := err.(*chaintx.TxError); ok {
			*te = t
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func (e *env) head() uint64 {
	n, err := e.net.Eth.BlockNumber(e.ctx)
	e.ok(err)
	return n
}

// advanceTo seals blocks (one per 1-wei transfer) until the head is at least n.
func (e *env) advanceTo(n uint64) {
	e.t.Helper()
	for e.head() < n {
		_, err := e.lz[9].RouteFees(e.ctx, lazai.SourceOther, big.NewInt(1))
		e.ok(err)
	}
}

func (e *env) state(id *big.Int) idao.State {
	e.t.Helper()
	s, err := e.gov[0].State(e.ctx, id)
	e.ok(err)
	return s
}

func (e *env) wantState(id *big.Int, want idao.State) {
	e.t.Helper()
	if got := e.state(id); got != want {
		e.t.Fatalf("proposal %v is %v, want %v", id, got, want)
	}
}

func splitCall(sp lazai.Split) idao.Call {
	data, err := lazai.ABI.Pack("setSplit", sp)
	if err != nil {
		panic(err)
	}
	return idao.Call{Target: lazai.Address, Data: data}
}

// pass takes a proposal through voting (votes by the voters given, For), queue and the timelock.
func (e *env) pass(id *big.Int, voters ...int) {
	e.t.Helper()
	p, err := e.gov[0].Proposal(e.ctx, id)
	e.ok(err)
	e.advanceTo(p.Snapshot + 1)
	for _, v := range voters {
		_, err := e.gov[v].CastVote(e.ctx, id, idao.For, "")
		e.ok(err)
	}
	e.advanceTo(p.Deadline + 1)
	e.wantState(id, idao.Succeeded)
	_, err = e.gov[voters[0]].Queue(e.ctx, id)
	e.ok(err)
	p, _ = e.gov[0].Proposal(e.ctx, id)
	e.advanceTo(p.Eta)
}

var newSplit = lazai.Split{HoldersBps: 6000, ValidatorsBps: 2000, TreasuryBps: 1000, BurnBps: 1000}

// TestLifecycleAndForbiddenMoves walks proposals through every state and tries every forbidden
// move, each refused by its named error.
func TestLifecycleAndForbiddenMoves(t *testing.T) {
	e := newEnv(t)
	for i, amt := range map[int]int64{1: 100, 2: 50, 3: 10} {
		_, err := e.lz[i].Stake(e.ctx, ether(amt))
		e.ok(err)
	}
	call := splitCall(newSplit)

	// Below threshold: account 5 has no stake.
	_, _, err := e.gov[5].Propose(e.ctx, root, []idao.Call{call}, "no stake")
	e.refused(err, "BelowThreshold")
	_, _, err = e.gov[1].Propose(e.ctx, big.NewInt(99), []idao.Call{call}, "no such class")
	e.refused(err, "UnknownDAO")
	_, _, err = e.gov[1].Propose(e.ctx, root, nil, "no calls")
	e.refused(err, "BadProposal")

	id, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{call}, "Raise the holders' share to 60%")
	e.ok(err)
	e.wantState(id, idao.Pending)
	_, err = e.gov[1].CastVote(e.ctx, id, idao.For, "")
	e.refused(err, "WrongState") // before voting starts
	_, err = e.gov[2].Cancel(e.ctx, id)
	e.refused(err, "NotProposer")

	p, _ := e.gov[0].Proposal(e.ctx, id)
	e.advanceTo(p.Snapshot + 1)
	e.wantState(id, idao.Active)
	_, err = e.gov[1].Cancel(e.ctx, id)
	e.refused(err, "WrongState") // cancel only while pending
	_, err = e.gov[1].CastVote(e.ctx, id, 3, "")
	e.refused(err, "BadSupport")
	_, err = e.gov[5].CastVote(e.ctx, id, idao.For, "")
	e.refused(err, "NoVotingPower")
	_, err = e.gov[1].CastVote(e.ctx, id, idao.For, "")
	e.ok(err)
	_, err = e.gov[1].CastVote(e.ctx, id, idao.Against, "")
	e.refused(err, "AlreadyVoted")
	_, err = e.gov[1].Queue(e.ctx, id)
	e.refused(err, "WrongState") // still active
	_, err = e.gov[1].Execute(e.ctx, id, nil)
	e.refused(err, "WrongState")

	e.advanceTo(p.Deadline - 1)
	_, err = e.gov[2].CastVote(e.ctx, id, idao.Against, "")
	e.ok(err) // mined in the deadline block, which still counts
	e.advanceTo(p.Deadline + 1)
	_, err = e.gov[3].CastVote(e.ctx, id, idao.For, "")
	e.refused(err, "WrongState") // after the end
	e.wantState(id, idao.Succeeded)
	_, err = e.gov[1].Queue(e.ctx, id)
	e.ok(err)
	e.wantState(id, idao.Queued)
	_, err = e.gov[1].Execute(e.ctx, id, nil)
	e.refused(err, "TimelockNotReady")
	p, _ = e.gov[0].Proposal(e.ctx, id)
	e.advanceTo(p.Eta)
	_, err = e.gov[7].Execute(e.ctx, id, nil) // anyone may execute
	e.ok(err)
	e.wantState(id, idao.Executed)
	if got, _ := e.lz[0].Split(e.ctx); got != newSplit {
		t.Fatalf("split %+v after execution", got)
	}
	_, err = e.gov[1].Execute(e.ctx, id, nil)
	e.refused(err, "WrongState")

	// Defeated: more against than for.
	id2, _, err := e.gov[2].Propose(e.ctx, root, []idao.Call{splitCall(lazai.DefaultSplit)}, "back to default")
	e.ok(err)
	p2, _ := e.gov[0].Proposal(e.ctx, id2)
	e.advanceTo(p2.Snapshot + 1)
	_, err = e.gov[2].CastVote(e.ctx, id2, idao.For, "")
	e.ok(err)
	_, err = e.gov[1].CastVote(e.ctx, id2, idao.Against, "no")
	e.ok(err)
	e.advanceTo(p2.Deadline + 1)
	e.wantState(id2, idao.Defeated)
	_, err = e.gov[2].Queue(e.ctx, id2)
	e.refused(err, "WrongState")

	// Defeated for want of quorum: account 3 holds 10 of 160 (6.25%) > 4%… but abstaining 0: use
	// a proposal nobody votes on.
	id3, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{call}, "nobody votes")
	e.ok(err)
	p3, _ := e.gov[0].Proposal(e.ctx, id3)
	e.advanceTo(p3.Deadline + 1)
	e.wantState(id3, idao.Defeated)

	// Canceled while pending.
	id4, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{call}, "withdrawn")
	e.ok(err)
	_, err = e.gov[1].Cancel(e.ctx, id4)
	e.ok(err)
	e.wantState(id4, idao.Canceled)
	e.advanceTo(e.head() + 2)
	_, err = e.gov[1].CastVote(e.ctx, id4, idao.For, "")
	e.refused(err, "WrongState")

	// Governed setters refuse direct calls.
	_, err = e.lz[1].SetSplit(e.ctx, newSplit)
	e.refused(err, "NotGovernance")
	raw := chaintx.New(e.net.Eth, idao.Address, idao.ABI, e.net.Signer(1))
	_, err = raw.Send(e.ctx, chaintx.TxOptions{GasLimit: 1_000_000}, "setParams", idao.DefaultParams())
	e.refused(err, "NotGovernance")
	_, err = e.dc[1].SetParams(e.ctx, dat.DefaultParams())
	e.refused(err, "NotGovernance")
}

// TestExpiredAndAllOrNothing: a queued proposal not executed within the grace period expires;
// a proposal whose second call fails changes nothing (execute reverts with CallFailed(1)); the
// iDAO's own parameters change by proposal, within bounds only.
func TestExpiredAndAllOrNothing(t *testing.T) {
	e := newEnv(t)
	_, err := e.lz[1].Stake(e.ctx, ether(100))
	e.ok(err)

	// Shorten the grace period through the iDAO itself.
	short := idao.DefaultParams()
	short.GracePeriod = 3
	setParams, _ := idao.ABI.Pack("setParams", short)
	id, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{{Target: idao.Address, Data: setParams}}, "grace 3")
	e.ok(err)
	e.pass(id, 1)
	_, err = e.gov[1].Execute(e.ctx, id, nil)
	e.ok(err)
	if p, _ := e.gov[0].Params(e.ctx); p.GracePeriod != 3 {
		t.Fatalf("params %+v", p)
	}

	// Out of bounds: the proposal passes but its call fails, and so does execute.
	bad := short
	bad.QuorumBps = 0
	badData, _ := idao.ABI.Pack("setParams", bad)
	idBad, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{{Target: idao.Address, Data: badData}}, "quorum 0")
	e.ok(err)
	e.pass(idBad, 1)
	_, err = e.gov[1].Execute(e.ctx, idBad, nil)
	e.refused(err, "CallFailed")
	e.wantState(idBad, idao.Queued)

	// All or nothing: a valid first call and a failing second one.
	bogus := lazai.Split{HoldersBps: 1}
	id2, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{splitCall(newSplit), splitCall(bogus)}, "half valid")
	e.ok(err)
	e.pass(id2, 1)
	_, err = e.gov[1].Execute(e.ctx, id2, nil)
	e.refused(err, "CallFailed")
	var te *chaintx.TxError
	asTx(err, &te)
	if re, ok := te.Err.(*chaintx.RevertError); !ok || re.Args[0].(*big.Int).Int64() != 1 {
		t.Fatalf("CallFailed args %v", te.Err)
	} else if inner := chaintx.DecodeRevert(lazai.ABI, re.Args[1].([]byte)); inner.Name != "BadSplit" {
		t.Fatalf("inner revert %v, want BadSplit", inner)
	}
	if got, _ := e.lz[0].Split(e.ctx); got != lazai.DefaultSplit {
		t.Fatalf("a failed execution changed the split to %+v", got)
	}

	// Expired: queued, then left past eta + grace.
	id3, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{splitCall(newSplit)}, "too late")
	e.ok(err)
	e.pass(id3, 1)
	p3, _ := e.gov[0].Proposal(e.ctx, id3)
	e.advanceTo(p3.Eta + 4)
	e.wantState(id3, idao.Expired)
	_, err = e.gov[1].Execute(e.ctx, id3, nil)
	e.refused(err, "WrongState")
}

// TestFeeSplitByPeopleAndAgents (acceptance 2): a person and a registered AI agent (voting with
// power delegated by its owner, its reason on chain) pass a proposal that changes the LazAI fee
// split; after execution the next block's fees follow the new split.
func TestFeeSplitByPeopleAndAgents(t *testing.T) {
	e := newEnv(t)
	person, owner, agent := 1, 2, 6
	_, err := e.lz[person].Stake(e.ctx, ether(40))
	e.ok(err)
	_, err = e.lz[owner].Stake(e.ctx, ether(60))
	e.ok(err)
	_, err = e.gov[owner].RegisterAgent(e.ctx, e.net.Addrs[agent], "treasurer-bot", "ipfs://agent-card", big.NewInt(0))
	e.ok(err)
	_, err = e.gov[owner].RegisterAgent(e.ctx, e.net.Addrs[agent], "again", "", nil)
	e.refused(err, "AgentExists")
	_, err = e.lz[owner].Delegate(e.ctx, e.net.Addrs[agent])
	e.ok(err)
	if v, _ := e.lz[0].Votes(e.ctx, e.net.Addrs[agent]); v.Cmp(ether(60)) != 0 {
		t.Fatalf("agent's votes %v", v)
	}
	info, err := e.gov[0].Agent(e.ctx, e.net.Addrs[agent])
	e.ok(err)
	if info.Owner != e.net.Addrs[owner] || info.Name != "treasurer-bot" || !info.Active {
		t.Fatalf("agent %+v", info)
	}

	votes := make(chan *idao.VoteCast, 4)
	sub, err := e.gov[0].WatchVoteCast(e.ctx, votes)
	e.ok(err)
	defer sub.Unsubscribe()

	id, _, err := e.gov[person].Propose(e.ctx, root, []idao.Call{splitCall(newSplit)}, "60% to holders")
	e.ok(err)
	p, _ := e.gov[0].Proposal(e.ctx, id)
	e.advanceTo(p.Snapshot + 1)
	_, err = e.gov[person].CastVote(e.ctx, id, idao.For, "")
	e.ok(err)
	_, err = e.gov[agent].CastVote(e.ctx, id, idao.For, "fees to stakers raise the APR; simulated over 1,000 blocks")
	e.ok(err)
	_, err = e.gov[owner].CastVote(e.ctx, id, idao.For, "")
	e.refused(err, "NoVotingPower") // the owner delegated its power away
	for range 2 {
		ev := <-votes
		if ev.Voter == e.net.Addrs[agent] && (ev.Reason == "" || ev.Weight.Cmp(ether(60)) != 0) {
			t.Fatalf("agent's vote %+v", ev)
		}
	}
	e.advanceTo(p.Deadline + 1)
	if got, _ := e.gov[0].Proposal(e.ctx, id); got.ForVotes.Cmp(ether(100)) != 0 {
		t.Fatalf("for votes %v", got.ForVotes)
	}
	_, err = e.gov[person].Queue(e.ctx, id)
	e.ok(err)
	p, _ = e.gov[0].Proposal(e.ctx, id)
	e.advanceTo(p.Eta)
	_, err = e.gov[person].Execute(e.ctx, id, nil)
	e.ok(err)

	// The next block's fees follow the new split: 20% to the validators' recipient (account 0).
	r, err := e.lz[5].RouteFees(e.ctx, lazai.SourceOther, ether(1))
	e.ok(err)
	before, _ := e.net.Eth.BalanceAt(e.ctx, idao.Address, new(big.Int).Sub(r.BlockNumber, big.NewInt(1)))
	after, _ := e.net.Eth.BalanceAt(e.ctx, idao.Address, r.BlockNumber)
	fees := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	total := new(big.Int).Add(ether(1), fees)
	// Treasury: 10% of the routed 1 METIS plus 10% of the block's gas fees (routed separately).
	want := new(big.Int).Add(new(big.Int).Div(ether(1), big.NewInt(10)), new(big.Int).Div(fees, big.NewInt(10)))
	if got := new(big.Int).Sub(after, before); got.Cmp(want) != 0 {
		t.Fatalf("treasury got %v of %v routed, want %v (10%%)", got, total, want)
	}

	_, err = e.gov[5].DeregisterAgent(e.ctx, e.net.Addrs[agent])
	e.refused(err, "NotAgentOwner")
	_, err = e.gov[owner].DeregisterAgent(e.ctx, e.net.Addrs[agent])
	e.ok(err)
	if list, _ := e.gov[0].Agents(e.ctx); len(list) != 0 {
		t.Fatalf("agents after deregistration: %v", list)
	}
}

// TestCommunityChangesPolicy (acceptance 3): the community of a dataset class changes its policy;
// holders of another class have no power there; the root iDAO cannot make class calls.
func TestCommunityChangesPolicy(t *testing.T) {
	e := newEnv(t)
	// Two active classes, verified by a validator staked through LazAI.
	_, err := e.lz[4].Stake(e.ctx, ether(1))
	e.ok(err)
	_, err = e.dc[4].RegisterValidator(e.ctx)
	e.ok(err)
	var classes []*big.Int
	for _, uri := range []string{"ipfs://a", "ipfs://b"} {
		id, _, err := e.dc[3].CreateClass(e.ctx, dat.ClassParams{Kind: uint8(dat.Dataset), MetadataURI: uri, PolicyURI: "ipfs://policy-v1", UsageFee: new(big.Int)})
		e.ok(err)
		_, err = e.dc[4].Attest(e.ctx, id, true)
		e.ok(err)
		_, err = e.dc[3].ActivateClass(e.ctx, id)
		e.ok(err)
		classes = append(classes, id)
	}
	a, b := classes[0], classes[1]
	_, _, err = e.dc[3].Mint(e.ctx, a, e.net.Addrs[1], big.NewInt(1), big.NewInt(10), 0)
	e.ok(err)
	_, _, err = e.dc[3].Mint(e.ctx, b, e.net.Addrs[2], big.NewInt(1), big.NewInt(1000), 0)
	e.ok(err)
	e.advanceTo(e.head() + 1)

	policy, _ := dat.ABI.Pack("setClassPolicy", a, "ipfs://policy-v2")
	call := idao.Call{Target: dat.Address, Data: policy}
	_, _, err = e.gov[2].Propose(e.ctx, a, []idao.Call{call}, "B's holder in A's community")
	e.refused(err, "BelowThreshold")
	_, _, err = e.gov[1].Propose(e.ctx, a, []idao.Call{{Target: lazai.Address, Data: policy}}, "wrong target")
	e.refused(err, "BadProposal")

	id, _, err := e.gov[1].Propose(e.ctx, a, []idao.Call{call}, "policy v2")
	e.ok(err)
	p, _ := e.gov[0].Proposal(e.ctx, id)
	e.advanceTo(p.Snapshot + 1)
	_, err = e.gov[2].CastVote(e.ctx, id, idao.Against, "")
	e.refused(err, "NoVotingPower")
	e.pass(id, 1)
	_, err = e.gov[1].Execute(e.ctx, id, nil)
	e.ok(err)
	if c, _ := e.dc[0].Class(e.ctx, a); c.PolicyURI != "ipfs://policy-v2" {
		t.Fatalf("policy %q", c.PolicyURI)
	}
	if c, _ := e.dc[0].Class(e.ctx, b); c.PolicyURI != "ipfs://policy-v1" {
		t.Fatalf("class B's policy changed to %q", c.PolicyURI)
	}

	// A's community cannot touch B, and the root iDAO cannot make class calls at all.
	policyB, _ := dat.ABI.Pack("setClassPolicy", b, "ipfs://hijack")
	idx, _, err := e.gov[1].Propose(e.ctx, a, []idao.Call{{Target: dat.Address, Data: policyB}}, "hijack B")
	e.ok(err)
	e.pass(idx, 1)
	_, err = e.gov[1].Execute(e.ctx, idx, nil)
	e.refused(err, "CallFailed")
	_, err = e.lz[1].Stake(e.ctx, ether(5))
	e.ok(err)
	e.advanceTo(e.head() + 1)
	idr, _, err := e.gov[1].Propose(e.ctx, root, []idao.Call{{Target: dat.Address, Data: policyB}}, "root tries B")
	e.ok(err)
	e.pass(idr, 1)
	_, err = e.gov[1].Execute(e.ctx, idr, nil)
	e.refused(err, "CallFailed")
	if c, _ := e.dc[0].Class(e.ctx, b); c.PolicyURI != "ipfs://policy-v1" {
		t.Fatalf("class B's policy changed to %q", c.PolicyURI)
	}
	// Direct calls to the class setters are refused too.
	direct := chaintx.New(e.net.Eth, dat.Address, dat.ABI, e.net.Signer(2))
	_, err = direct.Send(e.ctx, chaintx.TxOptions{GasLimit: 1_000_000}, "setClassPolicy", b, "ipfs://direct")
	e.refused(err, "NotCommunity")
}
