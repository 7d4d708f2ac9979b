package dat_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

type env struct {
	t   *testing.T
	ctx context.Context
	net *devnet.Net
	c   []*dat.Client // one per dev account, sending without estimation
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, ctx: context.Background(), net: devnet.Start(t, devnet.Options{Governor: true})}
	for i := range 6 {
		c := dat.NewClient(e.net.Eth, e.net.Signer(i))
		c.GasLimit = 3_000_000 // forbidden cases are mined and fail, not refused at estimation
		e.c = append(e.c, c)
	}
	return e
}

// state is everything the module exposes, as JSON, to check that refused calls change nothing.
func (e *env) state() string {
	e.t.Helper()
	var b strings.Builder
	nc, err := e.c[0].ClassCount(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	nt, _ := e.c[0].TokenCount(e.ctx)
	for i := uint64(1); i <= nc; i++ {
		ci, err := e.c[0].Class(e.ctx, new(big.Int).SetUint64(i))
		if err != nil {
			e.t.Fatal(err)
		}
		j, _ := json.Marshal(ci)
		b.Write(j)
	}
	for i := uint64(1); i <= nt; i++ {
		ti, err := e.c[0].Token(e.ctx, new(big.Int).SetUint64(i))
		if err != nil {
			e.t.Fatal(err)
		}
		j, _ := json.Marshal(ti)
		b.Write(j)
	}
	bal, _ := e.net.Eth.BalanceAt(e.ctx, dat.Address, nil)
	b.WriteString(bal.String())
	return b.String()
}

// refused runs f, which must fail with the named error, and checks nothing changed.
func (e *env) refused(name string, f func() error) {
	e.t.Helper()
	before := e.state()
	err := f()
	if err == nil {
		e.t.Fatalf("succeeded, want %s", name)
	}
	if got := dat.ErrorName(err); got != name {
		e.t.Fatalf("error %v, want %s", err, name)
	}
	var te *chaintx.TxError
	if !errors.As(err, &te) {
		e.t.Fatalf("%s was refused before sending, not mined and reverted: %v", name, err)
	}
	if after := e.state(); after != before {
		e.t.Fatalf("refused call (%s) changed state:\nbefore %s\nafter  %s", name, before, after)
	}
}

func (e *env) ok(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func dataset(uri string, parents ...*big.Int) dat.ClassParams {
	return dat.ClassParams{
		Kind: uint8(dat.Dataset), MetadataURI: uri, IntegrityHash: crypto.Keccak256Hash([]byte(uri)),
		PolicyURI: "ipfs://policy", UnitDecimals: 0, UsageFee: big.NewInt(1e15), Parents: parents,
	}
}

// raw sends method with an explicit value through the module's ABI from account i.
func (e *env) raw(i int, value *big.Int, method string, args ...any) error {
	c := chaintx.New(e.net.Eth, dat.Address, dat.ABI, e.net.Signer(i))
	_, err := c.Send(e.ctx, chaintx.TxOptions{Value: value, GasLimit: 3_000_000}, method, args...)
	return err
}

func (e *env) govern(method string, args ...any) error {
	_, err := e.net.Govern(e.ctx, 0, dat.Address, dat.ABI, method, args...)
	return err
}

// TestLifecycle walks a class from registration to revocation and its tokens through minting,
// usage, revenue, claims, transfers and expiry, with every forbidden case refused by its named
// error and changing nothing.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	owner, alice, bob, validator, stranger := e.c[1], e.c[2], e.c[3], e.c[4], e.c[5]

	created := make(chan *dat.ClassCreated, 4)
	sub, err := owner.WatchClassCreated(e.ctx, created)
	e.ok(err)
	defer sub.Unsubscribe()

	// Registration and its refusals.
	e.refused("WrongFee", func() error { return e.raw(1, big.NewInt(1), "createClass", dataset("a")) })
	e.refused("StringTooLong", func() error {
		return e.raw(1, big.NewInt(1e16), "createClass", dataset(strings.Repeat("x", dat.MaxStringLen+1)))
	})
	e.refused("BadParent", func() error {
		return e.raw(1, big.NewInt(1e16), "createClass", dataset("a", big.NewInt(99)))
	})
	many := make([]*big.Int, dat.MaxParents+1)
	for i := range many {
		many[i] = big.NewInt(1)
	}
	e.refused("TooManyParents", func() error { return e.raw(1, big.NewInt(1e16), "createClass", dataset("a", many...)) })

	ds, _, err := owner.CreateClass(e.ctx, dataset("ipfs://dataset"))
	e.ok(err)
	select {
	case ev := <-created:
		if ev.ClassId.Cmp(ds) != 0 || ev.Owner != owner.From() || ev.IntegrityHash != crypto.Keccak256Hash([]byte("ipfs://dataset")) {
			t.Fatalf("ClassCreated %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ClassCreated event over WebSocket")
	}
	info, err := owner.Class(e.ctx, ds)
	e.ok(err)
	if dat.Status(info.Status) != dat.StatusRegistered || info.MetadataURI != "ipfs://dataset" || info.PolicyURI != "ipfs://policy" {
		t.Fatalf("class %+v", info)
	}
	if _, err := owner.Class(e.ctx, big.NewInt(77)); dat.ErrorName(err) != "ClassNotFound" {
		t.Fatalf("classInfo(77): %v, want ClassNotFound", err)
	}
	if _, err := owner.Token(e.ctx, big.NewInt(77)); dat.ErrorName(err) != "TokenNotFound" {
		t.Fatalf("tokenInfo(77): %v, want TokenNotFound", err)
	}

	// Before verification nothing else moves.
	e.refused("BadStatus", func() error { _, err := owner.ActivateClass(e.ctx, ds); return err })
	e.refused("NotClassOwner", func() error { _, err := stranger.ActivateClass(e.ctx, ds); return err })
	e.refused("BadStatus", func() error {
		_, _, err := owner.Mint(e.ctx, ds, alice.From(), big.NewInt(1), big.NewInt(1), 0)
		return err
	})

	// Validators: stake through LazAI first.
	e.refused("NotValidator", func() error { _, err := validator.Attest(e.ctx, ds, true); return err })
	e.refused("InsufficientValidatorStake", func() error { _, err := validator.RegisterValidator(e.ctx); return err })
	lz := lazai.NewClient(e.net.Eth, e.net.Signer(4))
	_, err = lz.Stake(e.ctx, ether(1))
	e.ok(err)
	_, err = validator.RegisterValidator(e.ctx)
	e.ok(err)
	e.refused("AlreadyValidator", func() error { _, err := validator.RegisterValidator(e.ctx); return err })
	e.refused("NotClassOwner", func() error { _, err := stranger.AddProof(e.ctx, ds, common.Hash{1}, "ipfs://proof"); return err })
	_, err = validator.AddProof(e.ctx, ds, common.Hash{1}, "ipfs://proof")
	e.ok(err)

	// One approval (the genesis threshold) verifies it and pays the fee to LazAI.
	r, err := validator.Attest(e.ctx, ds, true)
	e.ok(err)
	routed := false
	for _, l := range r.Logs {
		if l.Address == lazai.Address && l.Topics[0] == lazai.ABI.Events["FeesRouted"].ID &&
			l.Topics[2] == common.BigToHash(big.NewInt(int64(lazai.SourceDataVerification))) {
			routed = true
		}
	}
	if !routed {
		t.Fatal("verification did not route the fee through LazAI")
	}
	e.refused("BadStatus", func() error { _, err := validator.Attest(e.ctx, ds, true); return err })
	_, err = owner.ActivateClass(e.ctx, ds)
	e.ok(err)

	// Minting: owner and operators only, sane arguments.
	e.refused("NotMinter", func() error {
		_, _, err := stranger.Mint(e.ctx, ds, alice.From(), big.NewInt(1), big.NewInt(1), 0)
		return err
	})
	e.refused("ZeroAmount", func() error {
		_, _, err := owner.Mint(e.ctx, ds, alice.From(), new(big.Int), new(big.Int), 0)
		return err
	})
	e.refused("ZeroAddress", func() error {
		_, _, err := owner.Mint(e.ctx, ds, common.Address{}, big.NewInt(1), big.NewInt(1), 0)
		return err
	})
	e.refused("BadExpiry", func() error {
		_, _, err := owner.Mint(e.ctx, ds, alice.From(), big.NewInt(1), big.NewInt(1), 1)
		return err
	})
	e.refused("NotClassOwner", func() error { _, err := stranger.SetClassOperator(e.ctx, ds, stranger.From(), true); return err })
	_, err = owner.SetClassOperator(e.ctx, ds, bob.From(), true)
	e.ok(err)
	ta, _, err := owner.Mint(e.ctx, ds, alice.From(), big.NewInt(100), big.NewInt(1), 0)
	e.ok(err)
	tb, _, err := bob.Mint(e.ctx, ds, bob.From(), big.NewInt(50), big.NewInt(3), 0) // as operator
	e.ok(err)

	// Usage: the holder (or an approved operator), within quota, paying exactly.
	e.refused("NotTokenOwner", func() error { _, err := stranger.RecordUsage(e.ctx, ta, big.NewInt(1), big.NewInt(1e15)); return err })
	e.refused("WrongFee", func() error { _, err := alice.RecordUsage(e.ctx, ta, big.NewInt(2), big.NewInt(1e15)); return err })
	e.refused("QuotaExceeded", func() error { _, err := alice.RecordUsage(e.ctx, ta, big.NewInt(101), nil); return err })
	e.refused("ZeroAmount", func() error { _, err := alice.RecordUsage(e.ctx, ta, new(big.Int), nil); return err })
	_, err = alice.RecordUsage(e.ctx, ta, big.NewInt(40), nil) // 0.04 METIS of revenue
	e.ok(err)
	if ti, _ := alice.Token(e.ctx, ta); ti.Value.Int64() != 60 {
		t.Fatalf("value after usage: %v", ti.Value)
	}

	// Revenue: 4 METIS more; with the usage fee, 4.04 METIS split 1:3.
	e.refused("ZeroAmount", func() error { return e.raw(3, nil, "settleRevenue", ds) })
	_, err = bob.SettleRevenue(e.ctx, ds, ether(4))
	e.ok(err)
	pa, _ := alice.PendingRevenue(e.ctx, ta)
	pb, _ := bob.PendingRevenue(e.ctx, tb)
	if pa.Cmp(big.NewInt(101e16)) != 0 || pb.Cmp(big.NewInt(303e16)) != 0 {
		t.Fatalf("pending %v and %v, want 1.01 and 3.03 METIS", pa, pb)
	}
	e.refused("NotTokenOwner", func() error { _, _, err := stranger.Claim(e.ctx, ta); return err })
	got, _, err := alice.Claim(e.ctx, ta)
	e.ok(err)
	if got.Cmp(pa) != 0 {
		t.Fatalf("claimed %v, want %v", got, pa)
	}
	e.refused("NothingToClaim", func() error { _, _, err := alice.Claim(e.ctx, ta); return err })

	// Transfers: the token with its earnings, and quota within a class.
	e.refused("NotTokenOwner", func() error { _, err := stranger.TransferToken(e.ctx, tb, stranger.From()); return err })
	_, err = bob.ApproveForClass(e.ctx, ds, stranger.From(), true)
	e.ok(err)
	_, err = stranger.TransferToken(e.ctx, tb, alice.From()) // as bob's approved operator
	e.ok(err)
	ids, _ := alice.TokensOf(e.ctx, alice.From())
	if len(ids) != 2 {
		t.Fatalf("alice's tokens %v", ids)
	}
	if bobs, _ := bob.TokensOf(e.ctx, bob.From()); len(bobs) != 0 {
		t.Fatalf("bob still lists %v", bobs)
	}
	got, _, err = alice.Claim(e.ctx, tb) // bob's unclaimed earnings went with the token
	e.ok(err)
	if got.Cmp(pb) != 0 {
		t.Fatalf("claimed %v from the transferred token, want %v", got, pb)
	}
	e.refused("QuotaExceeded", func() error { _, err := alice.TransferValue(e.ctx, ta, tb, big.NewInt(61)); return err })
	_, err = alice.TransferValue(e.ctx, ta, tb, big.NewInt(10))
	e.ok(err)

	// Lineage: a model derived from the dataset pays it lineageBps (10%) of its revenue.
	model := dataset("ipfs://model", ds)
	model.Kind = uint8(dat.Model)
	md, _, err := owner.CreateClass(e.ctx, model)
	e.ok(err)
	e.refused("NotGovernance", func() error { _, err := owner.VerifyClass(e.ctx, md); return err })
	e.ok(e.govern("verifyClass", md))
	_, err = owner.ActivateClass(e.ctx, md)
	e.ok(err)
	tm, _, err := owner.Mint(e.ctx, md, owner.From(), big.NewInt(1), big.NewInt(1), 0)
	e.ok(err)
	e.refused("ClassMismatch", func() error { _, err := alice.TransferValue(e.ctx, ta, tm, big.NewInt(1)); return err })
	beforeDS, _ := alice.Class(e.ctx, ds)
	_, err = bob.SettleRevenue(e.ctx, md, ether(10))
	e.ok(err)
	afterDS, _ := alice.Class(e.ctx, ds)
	if d := new(big.Int).Sub(afterDS.TotalRevenue, beforeDS.TotalRevenue); d.Cmp(ether(1)) != 0 {
		t.Fatalf("the parent received %v, want 1 METIS", d)
	}
	if pm, _ := owner.PendingRevenue(e.ctx, tm); pm.Cmp(ether(9)) != 0 {
		t.Fatalf("the model's holder has %v, want 9 METIS", pm)
	}

	// Expiry: a token expiring in 2 seconds of block time stops earning and cannot be used.
	head, _ := e.net.Eth.HeaderByNumber(e.ctx, nil)
	te, _, err := owner.Mint(e.ctx, ds, bob.From(), big.NewInt(5), big.NewInt(4), head.Time+2)
	e.ok(err)
	for {
		h, _ := e.net.Eth.HeaderByNumber(e.ctx, nil)
		if h.Time >= head.Time+2 {
			break
		}
		_, err = alice.ApproveForClass(e.ctx, ds, stranger.From(), false) // any transaction makes a block
		e.ok(err)
	}
	e.refused("TokenExpired", func() error { _, err := bob.RecordUsage(e.ctx, te, big.NewInt(1), nil); return err })
	pe, _ := bob.PendingRevenue(e.ctx, te)
	_, err = alice.SettleRevenue(e.ctx, ds, ether(8))
	e.ok(err)
	if pe2, _ := bob.PendingRevenue(e.ctx, te); pe2.Cmp(pe) != 0 {
		t.Fatalf("expired token earned: %v → %v", pe, pe2)
	}
	// Settling the expiry hands what the expired shares were allotted to the others.
	pta, _ := alice.PendingRevenue(e.ctx, ta)
	_, err = stranger.SettleExpired(e.ctx, te)
	e.ok(err)
	pta2, _ := alice.PendingRevenue(e.ctx, ta)
	if pta2.Cmp(pta) <= 0 {
		t.Fatalf("settling the expiry did not redistribute: %v → %v", pta, pta2)
	}
	e.refused("BadExpiry", func() error { _, err := stranger.SettleExpired(e.ctx, te); return err })

	// Deprecation stops minting, not usage; revocation is governance's and stops revenue.
	_, err = owner.DeprecateClass(e.ctx, ds)
	e.ok(err)
	e.refused("BadStatus", func() error {
		_, _, err := owner.Mint(e.ctx, ds, alice.From(), big.NewInt(1), big.NewInt(1), 0)
		return err
	})
	_, err = alice.RecordUsage(e.ctx, ta, big.NewInt(1), nil)
	e.ok(err)
	e.refused("NotGovernance", func() error { _, err := owner.RevokeClass(e.ctx, ds); return err })
	e.ok(e.govern("revokeClass", ds))
	e.refused("BadStatus", func() error { _, err := bob.SettleRevenue(e.ctx, ds, ether(1)); return err })
	e.refused("BadParent", func() error { return e.raw(1, big.NewInt(1e16), "createClass", dataset("c", ds)) })

	// Validators leave on their own or by governance.
	e.refused("NotGovernance", func() error { _, err := stranger.RemoveValidator(e.ctx, validator.From()); return err })
	_, err = validator.RemoveValidator(e.ctx, validator.From())
	e.ok(err)
	e.refused("NotValidator", func() error { _, err := validator.RemoveValidator(e.ctx, validator.From()); return err })
}

// TestThresholdAndRejection: with governance raising k to 2, one approval is not enough, a
// validator cannot attest twice, and k rejections revoke the class.
func TestThresholdAndRejection(t *testing.T) {
	e := newEnv(t)
	owner := e.c[1]
	p, err := owner.Params(e.ctx)
	e.ok(err)
	p.ApprovalThreshold = 2
	e.refused("NotGovernance", func() error { _, err := owner.SetParams(e.ctx, p); return err })
	bad := p
	bad.LineageBps = 10_001
	e.refused("BadParams", func() error { return e.govern("setParams", bad) })
	e.ok(e.govern("setParams", p))

	var vals []*dat.Client
	for _, i := range []int{3, 4} {
		lz := lazai.NewClient(e.net.Eth, e.net.Signer(i))
		_, err = lz.Stake(e.ctx, ether(2))
		e.ok(err)
		_, err = e.c[i].RegisterValidator(e.ctx)
		e.ok(err)
		vals = append(vals, e.c[i])
	}
	id, _, err := owner.CreateClass(e.ctx, dataset("ipfs://x"))
	e.ok(err)
	_, err = vals[0].Attest(e.ctx, id, false)
	e.ok(err)
	e.refused("AlreadyAttested", func() error { _, err := vals[0].Attest(e.ctx, id, true); return err })
	if c, _ := owner.Class(e.ctx, id); dat.Status(c.Status) != dat.StatusRegistered || c.Rejections != 1 {
		t.Fatalf("after one rejection: %+v", c)
	}
	_, err = vals[1].Attest(e.ctx, id, false)
	e.ok(err)
	if c, _ := owner.Class(e.ctx, id); dat.Status(c.Status) != dat.StatusRevoked {
		t.Fatalf("after two rejections: status %v", dat.Status(c.Status))
	}
}

// validators stakes for and registers accounts as data validators.
func (e *env) validators(accounts ...int) {
	e.t.Helper()
	for _, i := range accounts {
		lz := lazai.NewClient(e.net.Eth, e.net.Signer(i))
		_, err := lz.Stake(e.ctx, ether(2))
		e.ok(err)
		_, err = e.c[i].RegisterValidator(e.ctx)
		e.ok(err)
	}
}

// activeClass has account owner create a class that validator verifies, and activates it.
func (e *env) activeClass(owner, validator int) *big.Int {
	e.t.Helper()
	id, _, err := e.c[owner].CreateClass(e.ctx, dataset("ipfs://overflow"))
	e.ok(err)
	_, err = e.c[validator].Attest(e.ctx, id, true)
	e.ok(err)
	_, err = e.c[owner].ActivateClass(e.ctx, id)
	e.ok(err)
	return id
}

var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// TestValueAndSharesNeverWrap (issue 12, items 5 and 8): transferValue used to add to the
// receiving token's value unchecked, so moving 1 into a token holding 2^256−1 wrapped another
// holder's quota to zero; mint added shares to the class's total unchecked (stopped only by the
// store's unnamed checkpoint error). Both now revert with a named error and change nothing.
func TestValueAndSharesNeverWrap(t *testing.T) {
	e := newEnv(t)
	e.validators(4)
	id := e.activeClass(1, 4)
	full, _, err := e.c[1].Mint(e.ctx, id, e.net.Addrs[2], maxUint256, big.NewInt(1), 0)
	e.ok(err)
	mine, _, err := e.c[1].Mint(e.ctx, id, e.net.Addrs[1], big.NewInt(1), big.NewInt(1), 0)
	e.ok(err)
	e.refused("ValueOverflow", func() error { _, err := e.c[1].TransferValue(e.ctx, mine, full, big.NewInt(1)); return err })
	if tk, _ := e.c[0].Token(e.ctx, full); tk.Value.Cmp(maxUint256) != 0 {
		t.Fatalf("the full token's value is %v", tk.Value)
	}

	// Shares are checkpointed in 192 bits: a total of 2 now; 2^192−3 more fit exactly, one more
	// does not.
	maxShares := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 192), big.NewInt(1))
	room := new(big.Int).Sub(maxShares, big.NewInt(2))
	_, _, err = e.c[1].Mint(e.ctx, id, e.net.Addrs[3], big.NewInt(1), room, 0)
	e.ok(err)
	e.refused("SharesOverflow", func() error {
		_, _, err := e.c[1].Mint(e.ctx, id, e.net.Addrs[3], big.NewInt(1), big.NewInt(1), 0)
		return err
	})
	if c, _ := e.c[0].Class(e.ctx, id); c.TotalShares.Cmp(maxShares) != 0 {
		t.Fatalf("total shares %v, want 2^192-1", c.TotalShares)
	}
}

// TestSelfAttestation (issue 12, item 6): a class's owner used to be able to attest its own
// class, and so verify it alone at a threshold of one. The owner may not attest it now, nor may
// those it named to act or vote for it in the class (operator, approved operator, class
// delegate) approve it; their rejections stand, and an independent validator's approval verifies.
func TestSelfAttestation(t *testing.T) {
	e := newEnv(t)
	e.validators(1, 2, 3, 4, 5)
	p, err := e.c[0].Params(e.ctx)
	e.ok(err)
	p.ApprovalThreshold = 2
	e.ok(e.govern("setParams", p))
	id, _, err := e.c[1].CreateClass(e.ctx, dataset("ipfs://mine"))
	e.ok(err)
	e.refused("SelfAttestation", func() error { _, err := e.c[1].Attest(e.ctx, id, true); return err })
	e.refused("SelfAttestation", func() error { _, err := e.c[1].Attest(e.ctx, id, false); return err })

	_, err = e.c[1].SetClassOperator(e.ctx, id, e.net.Addrs[2], true)
	e.ok(err)
	_, err = e.c[1].ApproveForClass(e.ctx, id, e.net.Addrs[3], true)
	e.ok(err)
	e.ok(e.raw(1, nil, "delegateClass", id, e.net.Addrs[4]))
	for _, i := range []int{2, 3, 4} {
		e.refused("SelfAttestation", func() error { _, err := e.c[i].Attest(e.ctx, id, true); return err })
	}
	_, err = e.c[2].Attest(e.ctx, id, false) // the operator's rejection counts
	e.ok(err)
	_, err = e.c[5].Attest(e.ctx, id, true) // an independent approval
	e.ok(err)
	if c, _ := e.c[0].Class(e.ctx, id); dat.Status(c.Status) != dat.StatusRegistered || c.Approvals != 1 || c.Rejections != 1 {
		t.Fatalf("class after one approval and one rejection: %+v", c)
	}
}
