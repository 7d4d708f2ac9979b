package lazai_test

import (
	"context"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/modtest"
	lazaimod "github.com/metisgo/metis/chain/modules/lazai"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

func client(t *testing.T, net *devnet.Net, i int) *lazai.Client {
	t.Helper()
	return lazai.NewClient(net.Eth, net.Signer(i))
}

// mustFail checks that err is a mined failure (the transaction is sent without estimation) with
// the named module error.
func mustFail(t *testing.T, err error, name string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want %s", name)
	}
	if got := lazai.ErrorName(err); got != name {
		t.Fatalf("error %v, want %s", err, name)
	}
}

func balanceAt(t *testing.T, net *devnet.Net, a common.Address, block *big.Int) *big.Int {
	t.Helper()
	b, err := net.Eth.BalanceAt(context.Background(), a, block)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGasFeesSplitEveryBlock sends a plain transfer and checks that its block's fees were split
// exactly: validators' part to the recipient, treasury's to the iDAO account, the burn gone, the
// rest held for Holders Mining, and the figures updated.
func TestGasFeesSplitEveryBlock(t *testing.T) {
	ctx := context.Background()
	net := devnet.Start(t, devnet.Options{})
	c := client(t, net, 1)
	c.GasLimit = 0
	// A plain value transfer from account 1 to account 2.
	to := net.Addrs[2]
	nonce, _ := net.Eth.PendingNonceAt(ctx, net.Addrs[1])
	head, _ := net.Eth.HeaderByNumber(ctx, nil)
	tx, _ := types.SignNewTx(net.Keys[1], types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: nonce, GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: new(big.Int).Mul(head.BaseFee, big.NewInt(3)), Gas: 21000, To: &to, Value: big.NewInt(1),
	})
	if err := net.Eth.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	r := waitReceipt(t, net, tx.Hash())
	fees := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)

	n, prev := r.BlockNumber, new(big.Int).Sub(r.BlockNumber, big.NewInt(1))
	delta := func(a common.Address) *big.Int {
		return new(big.Int).Sub(balanceAt(t, net, a, n), balanceAt(t, net, a, prev))
	}
	part := func(bps int64) *big.Int {
		return new(big.Int).Div(new(big.Int).Mul(fees, big.NewInt(bps)), big.NewInt(lazai.BPS))
	}
	wantValidators, wantTreasury, wantBurn := part(2000), part(2000), part(1000)
	wantHolders := new(big.Int).Sub(fees, wantValidators)
	wantHolders.Sub(wantHolders, wantTreasury).Sub(wantHolders, wantBurn)

	if got := delta(net.Addrs[0]); got.Cmp(wantValidators) != 0 { // the dev node's sequencer
		t.Errorf("validators got %v, want %v of fees %v", got, wantValidators, fees)
	}
	if got := delta(metisvm.IDAOAddress); got.Cmp(wantTreasury) != 0 {
		t.Errorf("treasury got %v, want %v", got, wantTreasury)
	}
	if got := delta(lazai.Address); got.Cmp(wantHolders) != 0 {
		t.Errorf("LazAI kept %v, want the holders' part %v", got, wantHolders)
	}
	st, err := c.Stats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Routed.Cmp(fees) != 0 || st.HolderRewards.Cmp(wantHolders) != 0 {
		t.Errorf("stats over the last block: routed %v holders %v, want %v and %v", st.Routed, st.HolderRewards, fees, wantHolders)
	}
	if st.TotalBurned.Cmp(wantBurn) != 0 {
		t.Errorf("total burned %v, want %v", st.TotalBurned, wantBurn)
	}
}

func waitReceipt(t *testing.T, net *devnet.Net, h common.Hash) *types.Receipt {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 500; i++ {
		if r, err := net.Eth.TransactionReceipt(ctx, h); err == nil {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no receipt for %s", h)
	return nil
}

// TestHoldersMiningLifecycle walks stake → rewards → claim → unstake → withdraw through signed
// transactions, each forbidden case included, with the events over WebSocket.
func TestHoldersMiningLifecycle(t *testing.T) {
	ctx := context.Background()
	net := devnet.Start(t, devnet.Options{Governor: true})
	alice, bob, payer := client(t, net, 1), client(t, net, 2), client(t, net, 3)
	for _, c := range []*lazai.Client{alice, bob, payer} {
		c.GasLimit = 1_000_000 // forbidden cases are mined and fail, not refused at estimation
	}
	staked := make(chan *lazai.Staked, 4)
	sub, err := alice.WatchStaked(ctx, staked)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	// Forbidden: nothing staked, nothing to claim or withdraw, zero amounts.
	_, err = alice.Claim(ctx)
	mustFail(t, err, "NothingToClaim")
	_, err = alice.Withdraw(ctx)
	mustFail(t, err, "NothingToWithdraw")
	_, err = alice.Stake(ctx, new(big.Int))
	mustFail(t, err, "ZeroAmount")
	_, err = alice.RequestUnstake(ctx, ether(1))
	mustFail(t, err, "InsufficientStake")

	r1, err := alice.Stake(ctx, ether(100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Stake(ctx, ether(300)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-staked:
		if ev.Account != alice.From() || ev.Amount.Cmp(ether(100)) != 0 || ev.Raw.TxHash != r1.TxHash {
			t.Fatalf("Staked event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no Staked event over WebSocket")
	}
	if total, _ := alice.TotalStaked(ctx); total.Cmp(ether(400)) != 0 {
		t.Fatalf("total staked %v", total)
	}

	// A compute fee of 4 METIS: half (2 METIS) to holders, 1:3 between alice and bob, on top of
	// the gas-fee rewards of the blocks so far.
	beforeA, _ := alice.PendingRewards(ctx, alice.From())
	beforeB, _ := bob.PendingRewards(ctx, bob.From())
	rr, err := payer.RouteFees(ctx, lazai.SourceCompute, ether(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Logs) != 1 {
		t.Fatalf("routeFees logs: %d", len(rr.Logs))
	}
	afterA, _ := alice.PendingRewards(ctx, alice.From())
	afterB, _ := bob.PendingRewards(ctx, bob.From())
	gainA, gainB := new(big.Int).Sub(afterA, beforeA), new(big.Int).Sub(afterB, beforeB)
	// The routeFees block's own gas fees are routed at its end too: compare against 2 METIS plus
	// at most that block's holders' share of its fees.
	blockFees := new(big.Int).Mul(new(big.Int).SetUint64(rr.GasUsed), rr.EffectiveGasPrice)
	for _, g := range []struct {
		name string
		gain *big.Int
		want *big.Int
	}{{"alice", gainA, big.NewInt(5e17)}, {"bob", gainB, big.NewInt(15e17)}} {
		if g.gain.Cmp(g.want) < 0 || new(big.Int).Sub(g.gain, g.want).Cmp(blockFees) > 0 {
			t.Errorf("%s gained %v, want %v plus at most %v", g.name, g.gain, g.want, blockFees)
		}
	}

	// Claim pays exactly the pending amount.
	pending, _ := alice.PendingRewards(ctx, alice.From())
	before := balanceAt(t, net, alice.From(), nil)
	rc, err := alice.Claim(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gas := new(big.Int).Mul(new(big.Int).SetUint64(rc.GasUsed), rc.EffectiveGasPrice)
	after := balanceAt(t, net, alice.From(), nil)
	got := new(big.Int).Add(new(big.Int).Sub(after, before), gas)
	if got.Cmp(pending) < 0 {
		t.Fatalf("claim paid %v, pending was %v", got, pending)
	}

	// Unstake: stake leaves at once, the money after the delay.
	_, err = alice.RequestUnstake(ctx, ether(101))
	mustFail(t, err, "InsufficientStake")
	ru, err := alice.RequestUnstake(ctx, ether(40))
	if err != nil {
		t.Fatal(err)
	}
	amount, ready, _ := alice.Unbonding(ctx, alice.From())
	if amount.Cmp(ether(40)) != 0 || ready != ru.BlockNumber.Uint64()+lazai.DefaultUnbondingDelay {
		t.Fatalf("unbonding %v ready at %d (requested in %d)", amount, ready, ru.BlockNumber)
	}
	_, err = alice.Withdraw(ctx)
	mustFail(t, err, "StillUnbonding")
	if s, _ := alice.StakeOf(ctx, alice.From()); s.Cmp(ether(60)) != 0 {
		t.Fatalf("stake after unstake %v", s)
	}
	// Checkpoints: the stake as of the blocks around the changes.
	past, err := alice.PastStake(ctx, alice.From(), r1.BlockNumber.Uint64()-1)
	if err != nil || past.Sign() != 0 {
		t.Fatalf("stake before staking: %v %v", past, err)
	}
	if past, _ := alice.PastStake(ctx, alice.From(), r1.BlockNumber.Uint64()); past.Cmp(ether(100)) != 0 {
		t.Fatalf("stake at the staking block: %v", past)
	}
	if pt, _ := alice.PastTotalStake(ctx, ru.BlockNumber.Uint64()); pt.Cmp(ether(360)) != 0 {
		t.Fatalf("total stake at the unstake block: %v", pt)
	}
	head, _ := net.Eth.BlockNumber(ctx)
	_, err = alice.PastStake(ctx, alice.From(), head)
	if lazai.ErrorName(err) != "FutureBlock" {
		t.Fatalf("getPastStake(head): %v, want FutureBlock", err)
	}

	// Governance shortens the delay; then withdraw works.
	_, err = alice.SetUnbondingDelay(ctx, 0)
	mustFail(t, err, "NotGovernance")
	if _, err := net.Govern(ctx, 0, lazai.Address, lazai.ABI, "setUnbondingDelay", uint64(0)); err != nil {
		t.Fatal(err)
	}
	// The pending unbonding keeps its ready block; a new request restarts it with the new delay.
	if _, err := alice.RequestUnstake(ctx, ether(10)); err != nil {
		t.Fatal(err)
	}
	before = balanceAt(t, net, alice.From(), nil)
	rw, err := alice.Withdraw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gas = new(big.Int).Mul(new(big.Int).SetUint64(rw.GasUsed), rw.EffectiveGasPrice)
	got = new(big.Int).Add(new(big.Int).Sub(balanceAt(t, net, alice.From(), nil), before), gas)
	if got.Cmp(ether(50)) != 0 {
		t.Fatalf("withdrew %v, want 50 METIS", got)
	}
	_, err = alice.Withdraw(ctx)
	mustFail(t, err, "NothingToWithdraw")
}

// TestGovernedSetters: each setter refuses anyone but the iDAO address and changes nothing; from
// the iDAO it applies, and a bad split is refused even then.
func TestGovernedSetters(t *testing.T) {
	ctx := context.Background()
	net := devnet.Start(t, devnet.Options{Governor: true})
	c := client(t, net, 1)
	c.GasLimit = 1_000_000
	split := lazai.Split{HoldersBps: 7000, ValidatorsBps: 1000, TreasuryBps: 1000, BurnBps: 1000}

	_, err := c.SetSplit(ctx, split)
	mustFail(t, err, "NotGovernance")
	_, err = c.SetValidatorsRecipient(ctx, net.Addrs[5])
	mustFail(t, err, "NotGovernance")
	_, err = c.SetUnbondingDelay(ctx, 7)
	mustFail(t, err, "NotGovernance")
	if got, _ := c.Split(ctx); got != lazai.DefaultSplit {
		t.Fatalf("split changed to %+v by a refused call", got)
	}
	if d, _ := c.UnbondingDelay(ctx); d != lazai.DefaultUnbondingDelay {
		t.Fatalf("delay changed to %d", d)
	}

	bad := lazai.Split{HoldersBps: 7000, ValidatorsBps: 1000, TreasuryBps: 1000, BurnBps: 999}
	_, err = net.Govern(ctx, 0, lazai.Address, lazai.ABI, "setSplit", bad)
	mustFail(t, err, "BadSplit")
	_, err = net.Govern(ctx, 0, lazai.Address, lazai.ABI, "setValidatorsRecipient", common.Address{})
	mustFail(t, err, "ZeroAddress")

	for _, call := range []struct {
		method string
		arg    any
	}{{"setSplit", split}, {"setValidatorsRecipient", net.Addrs[5]}, {"setUnbondingDelay", uint64(7)}} {
		if _, err := net.Govern(ctx, 0, lazai.Address, lazai.ABI, call.method, call.arg); err != nil {
			t.Fatalf("%s from the iDAO: %v", call.method, err)
		}
	}
	if got, _ := c.Split(ctx); got != split {
		t.Fatalf("split %+v, want %+v", got, split)
	}
	if d, _ := c.UnbondingDelay(ctx); d != 7 {
		t.Fatalf("delay %d", d)
	}
	// The new recipient gets 10% of the next block's fees.
	r, err := c.RouteFees(ctx, lazai.SourceOther, ether(1))
	if err != nil {
		t.Fatal(err)
	}
	recv := new(big.Int).Sub(balanceAt(t, net, net.Addrs[5], r.BlockNumber),
		balanceAt(t, net, net.Addrs[5], new(big.Int).Sub(r.BlockNumber, big.NewInt(1))))
	fees := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	want := new(big.Int).Add(big.NewInt(1e17), new(big.Int).Div(fees, big.NewInt(10)))
	if recv.Cmp(want) != 0 {
		t.Fatalf("new recipient got %v, want %v", recv, want)
	}
}

// TestEndBlockOnlyFromSystem: endBlock from an account reverts with NotSystem.
func TestEndBlockOnlyFromSystem(t *testing.T) {
	ctx := context.Background()
	net := devnet.Start(t, devnet.Options{})
	c := chaintx.New(net.Eth, lazai.Address, lazai.ABI, net.Signer(1))
	_, err := c.Send(ctx, chaintx.TxOptions{GasLimit: 1_000_000}, "endBlock", ether(1000))
	mustFail(t, err, "NotSystem")
}

// TestUnbondingDelayBounded (issue 12, item 4): a delay of 2^64−1 ("never") used to be accepted,
// and requestUnstake's unchecked block + delay wrapped it to "withdraw next block". Now
// setUnbondingDelay refuses anything above MaxUnbondingDelay (and so does genesis), the bound
// itself applies, and an unstake under it stays locked.
func TestUnbondingDelayBounded(t *testing.T) {
	ctx := context.Background()
	net := devnet.Start(t, devnet.Options{Governor: true})
	c := client(t, net, 1)
	c.GasLimit = 1_000_000
	for _, d := range []uint64{math.MaxUint64, lazai.MaxUnbondingDelay + 1} {
		_, err := net.Govern(ctx, 0, lazai.Address, lazai.ABI, "setUnbondingDelay", d)
		mustFail(t, err, "BadUnbondingDelay")
	}
	if d, _ := c.UnbondingDelay(ctx); d != lazai.DefaultUnbondingDelay {
		t.Fatalf("delay %d after refused settings, want %d", d, lazai.DefaultUnbondingDelay)
	}
	if _, err := net.Govern(ctx, 0, lazai.Address, lazai.ABI, "setUnbondingDelay", uint64(lazai.MaxUnbondingDelay)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stake(ctx, ether(1)); err != nil {
		t.Fatal(err)
	}
	r, err := c.RequestUnstake(ctx, ether(1))
	if err != nil {
		t.Fatal(err)
	}
	_, ready, err := c.Unbonding(ctx, net.Addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := r.BlockNumber.Uint64() + lazai.MaxUnbondingDelay; ready != want {
		t.Fatalf("ready at block %d, want %d", ready, want)
	}
	_, err = c.Withdraw(ctx)
	mustFail(t, err, "StillUnbonding")
}

// TestGenesisUnbondingDelayBounded: a genesis delay above the bound does not install.
func TestGenesisUnbondingDelayBounded(t *testing.T) {
	cfg := lazaimod.DefaultConfig()
	cfg.UnbondingDelay = math.MaxUint64
	env, err := modtest.New([]metisvm.Module{lazaimod.New(cfg)}, modtest.Accounts(1))
	if err == nil {
		t.Fatalf("genesis with delay 2^64-1 installed: %v", env)
	}
	if !strings.Contains(err.Error(), "revert") {
		t.Fatalf("error %v, want the module's revert", err)
	}
}

// TestStakeGasIndependentOfWaitingFees (issue 12, item 15): stake used to pay the fees waiting
// for a first staker out itself, so its gas jumped by the distribution's writes when fees
// began to wait between estimation and inclusion, and a transaction sent with the exact
// estimate ran out of gas. Now the end-of-block routing pays them: stake costs the same with and
// without waiting fees, and the first staker still receives them.
func TestStakeGasIndependentOfWaitingFees(t *testing.T) {
	gasOfFirstStake := func(waiting *big.Int) (uint64, *modtest.Env) {
		accts := modtest.Accounts(2)
		env, err := modtest.New([]metisvm.Module{lazaimod.New(lazaimod.DefaultConfig())}, accts)
		if err != nil {
			t.Fatal(err)
		}
		if waiting != nil { // fees routed while nobody stakes wait for a first staker
			data, _ := lazai.ABI.Pack("routeFees", uint8(lazai.SourceOther))
			if res, err := env.Apply(accts[1], lazai.Address, waiting, data); err != nil || res.Failed() {
				t.Fatalf("routeFees: %v %v", err, res)
			}
		}
		env.NextBlock()
		data, _ := lazai.ABI.Pack("stake")
		res, err := env.Apply(accts[0], lazai.Address, ether(1), data)
		if err != nil || res.Failed() {
			t.Fatalf("stake: %v %v", err, res)
		}
		return res.UsedGas, env
	}
	without, _ := gasOfFirstStake(nil)
	with, env := gasOfFirstStake(ether(1))
	if with != without {
		t.Fatalf("stake costs %d gas with fees waiting for a first staker, %d without", with, without)
	}
	// The waiting fees reach the staker at the end of its block.
	sys, _ := lazai.ABI.Pack("endBlock", new(big.Int))
	if res, err := env.Apply(metisvm.SystemAddress, lazai.Address, nil, sys); err != nil || res.Failed() {
		t.Fatalf("endBlock: %v %v", err, res)
	}
	data, _ := lazai.ABI.Pack("pendingRewards", modtest.Accounts(1)[0])
	res, err := env.Apply(modtest.Accounts(2)[1], lazai.Address, nil, data)
	if err != nil || res.Failed() {
		t.Fatalf("pendingRewards: %v %v", err, res)
	}
	got := new(big.Int).SetBytes(res.ReturnData)
	holders := new(big.Int).Div(new(big.Int).Mul(ether(1), big.NewInt(int64(lazai.DefaultSplit.HoldersBps))), big.NewInt(lazai.BPS))
	if diff := new(big.Int).Sub(holders, got); diff.Sign() < 0 || diff.Cmp(big.NewInt(2)) > 0 {
		t.Fatalf("first staker's rewards %v, want the holders' part %v (to rounding)", got, holders)
	}
}
