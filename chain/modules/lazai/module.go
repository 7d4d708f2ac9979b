package lazai

import (
	"math/big"
	"math/bits"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/lazai"
)

// Config is what genesis writes.
type Config struct {
	Split lazai.Split
	// UnbondingDelay is in blocks.
	UnbondingDelay uint64
	// ValidatorsRecipient receives the validators' and sequencer's part; zero means the iDAO
	// treasury until governance sets one.
	ValidatorsRecipient common.Address
}

// DefaultConfig is lazai.DefaultSplit and lazai.DefaultUnbondingDelay, with the validators'
// part going to the treasury.
func DefaultConfig() Config {
	return Config{Split: lazai.DefaultSplit, UnbondingDelay: lazai.DefaultUnbondingDelay}
}

// MaxStatsWindow is the largest window stats accepts, in blocks.
const MaxStatsWindow = 1_000_000

const secondsPerYear = 365 * 24 * 3600

// precision scales acc.
var precision = new(uint256.Int).Exp(uint256.NewInt(10), uint256.NewInt(27))

// gasSchedule is each method's fixed base gas, charged before it runs (see the package doc).
var gasSchedule = map[string]uint64{
	"routeFees": 5_000, "routeFeesTo": 5_000, "endBlock": 0,
	"stake": 5_000, "requestUnstake": 5_000, "withdraw": 5_000, "claim": 5_000,
	"setSplit": 2_000, "setUnbondingDelay": 2_000, "setValidatorsRecipient": 2_000,
	"split": 500, "unbondingDelay": 500, "validatorsRecipient": 500, "stakeOf": 500,
	"totalStaked": 500, "pendingRewards": 500, "unbonding": 500, "getPastStake": 500,
	"getPastTotalStake": 500, "stats": 1_000,
	"delegate": 5_000, "delegates": 500, "getVotes": 500, "getPastVotes": 500,
}

// Module is the LazAI system module.
type Module struct {
	cfg    Config
	router *metisvm.Router
}

var _ interface {
	metisvm.Module
	metisvm.GenesisInitializer
	metisvm.BlockEnder
} = (*Module)(nil)

// New returns the module with cfg as its genesis configuration.
func New(cfg Config) *Module {
	m := &Module{cfg: cfg}
	handlers := map[string]metisvm.Handler{
		"routeFees": m.routeFees, "routeFeesTo": m.routeFeesTo, "endBlock": m.endBlock,
		"stake": m.stake, "requestUnstake": m.requestUnstake, "withdraw": m.withdraw, "claim": m.claim,
		"setSplit": m.setSplit, "setUnbondingDelay": m.setUnbondingDelay,
		"setValidatorsRecipient": m.setValidatorsRecipient,
		"split":                  m.viewSplit, "unbondingDelay": m.viewUnbondingDelay,
		"validatorsRecipient": m.viewValidatorsRecipient, "stakeOf": m.viewStakeOf,
		"totalStaked": m.viewTotalStaked, "pendingRewards": m.viewPendingRewards,
		"unbonding": m.viewUnbonding, "getPastStake": m.viewPastStake,
		"getPastTotalStake": m.viewPastTotalStake, "stats": m.viewStats,
		"delegate": m.delegate, "delegates": m.viewDelegates, "getVotes": m.viewVotes,
		"getPastVotes": m.viewPastVotes,
	}
	m.router = metisvm.NewRouterFor(lazai.ABI, gasSchedule, handlers)
	return m
}

// Address is 0x…0a04.
func (m *Module) Address() common.Address { return lazai.Address }

// ABI is ILazAI's.
func (m *Module) ABI() *abi.ABI { return lazai.ABI }

// Run dispatches a call.
func (m *Module) Run(call *metisvm.Call, input []byte) ([]byte, error) {
	return m.router.Run(call, input)
}

// InitGenesis writes the configured split, delay and recipient.
func (m *Module) InitGenesis(call *metisvm.Call) error {
	if m.cfg.Split.Total() != lazai.BPS {
		return call.Revert("BadSplit", new(big.Int).SetUint64(m.cfg.Split.Total()))
	}
	if m.cfg.UnbondingDelay > lazai.MaxUnbondingDelay {
		return call.Revert("BadUnbondingDelay", m.cfg.UnbondingDelay, uint64(lazai.MaxUnbondingDelay))
	}
	s := store.New(call)
	s.SetWord(slotSplit, packSplit(m.cfg.Split))
	s.SetU64(slotDelay, m.cfg.UnbondingDelay)
	s.SetAddr(slotRecipient, m.cfg.ValidatorsRecipient)
	return s.Err()
}

// EndBlockInput is endBlock(total fees of the block).
func (m *Module) EndBlockInput(fees metisvm.Fees) []byte {
	input, err := lazai.ABI.Pack("endBlock", fees.Total())
	if err != nil {
		panic("lazai: packing endBlock: " + err.Error()) // a uint256 always packs
	}
	return input
}

// Storage layout: named variables and mappings (metisvm.Slot).
var (
	slotSplit          = metisvm.Slot("split")
	slotDelay          = metisvm.Slot("unbondingDelay")
	slotRecipient      = metisvm.Slot("validatorsRecipient")
	slotTotalStaked    = metisvm.Slot("totalStaked")
	slotAcc            = metisvm.Slot("acc")
	slotCarry          = metisvm.Slot("carry")
	slotUnallocated    = metisvm.Slot("unallocated")
	slotTotalBurned    = metisvm.Slot("totalBurned")
	slotTotalUnbonding = metisvm.Slot("totalUnbonding")
)

func stakeSlot(a common.Address) common.Hash { return metisvm.Slot("stake", metisvm.AddressKey(a)) }
func accOfSlot(a common.Address) common.Hash { return metisvm.Slot("accOf", metisvm.AddressKey(a)) }
func owedSlot(a common.Address) common.Hash  { return metisvm.Slot("owed", metisvm.AddressKey(a)) }
func unbondAmountSlot(a common.Address) common.Hash {
	return metisvm.Slot("unbondAmount", metisvm.AddressKey(a))
}
func unbondReadySlot(a common.Address) common.Hash {
	return metisvm.Slot("unbondReady", metisvm.AddressKey(a))
}

func delegateSlot(a common.Address) common.Hash {
	return metisvm.Slot("delegate", metisvm.AddressKey(a))
}
func votesHistory(s *store.S, a common.Address) store.Checkpoints {
	return s.Checkpoints("votesHistory", metisvm.AddressKey(a))
}

func stakeHistory(s *store.S, a common.Address) store.Checkpoints {
	return s.Checkpoints("stakeHistory", metisvm.AddressKey(a))
}
func totalStakeHistory(s *store.S) store.Checkpoints {
	return s.Checkpoints("totalStakeHistory", common.Hash{})
}
func cumHolders(s *store.S) store.Checkpoints { return s.Checkpoints("cumHolders", common.Hash{}) }
func cumRouted(s *store.S) store.Checkpoints  { return s.Checkpoints("cumRouted", common.Hash{}) }
func blockTimes(s *store.S) store.Checkpoints { return s.Checkpoints("blockTime", common.Hash{}) }

func packSplit(sp lazai.Split) common.Hash {
	var w common.Hash
	w[24], w[25] = byte(sp.HoldersBps>>8), byte(sp.HoldersBps)
	w[26], w[27] = byte(sp.ValidatorsBps>>8), byte(sp.ValidatorsBps)
	w[28], w[29] = byte(sp.TreasuryBps>>8), byte(sp.TreasuryBps)
	w[30], w[31] = byte(sp.BurnBps>>8), byte(sp.BurnBps)
	return w
}

func unpackSplit(w common.Hash) lazai.Split {
	u := func(i int) uint16 { return uint16(w[i])<<8 | uint16(w[i+1]) }
	return lazai.Split{HoldersBps: u(24), ValidatorsBps: u(26), TreasuryBps: u(28), BurnBps: u(30)}
}

func u256(b *big.Int) *uint256.Int  { return uint256.MustFromBig(b) } // ABI uint256 always fits
func bigOf(u *uint256.Int) *big.Int { return u.ToBig() }

// bps is ⌊amount·p/10⁴⌋ with a 512-bit product: at most amount, so it never overflows.
func bps(amount *uint256.Int, p uint16) *uint256.Int {
	v, _ := new(uint256.Int).MulDivOverflow(amount, uint256.NewInt(uint64(p)), uint256.NewInt(lazai.BPS))
	return v
}

// feeOverflow reverts a fee the module's figures cannot hold: the cumulative checkpoints past
// 2^192 − 1 wei, acc (scaled by P = 10^27) past 2^256 − 1. Fees are METIS, so this is beyond any
// realistic supply, but genesis allocations are not bounded, so the sums are checked rather
// than assumed.
func feeOverflow(call *metisvm.Call, amount *uint256.Int) error {
	return call.Revert("FeeOverflow", bigOf(amount))
}

// addChecked adds amount to the uint256 at slot, reverting with FeeOverflow past 2^256 − 1.
func addChecked(call *metisvm.Call, s *store.S, slot common.Hash, amount *uint256.Int) {
	sum, overflow := new(uint256.Int).AddOverflow(s.U256(slot), amount)
	if overflow && s.Err() == nil {
		s.Fail(feeOverflow(call, amount))
	}
	s.SetU256(slot, sum)
}

// pushChecked checkpoints the latest value of cp plus amount, reverting with FeeOverflow past
// what a checkpoint holds (2^192 − 1).
func pushChecked(call *metisvm.Call, s *store.S, cp store.Checkpoints, amount *uint256.Int) {
	sum, overflow := store.AddCheckpointable(cp.Latest(), amount)
	if overflow && s.Err() == nil {
		s.Fail(feeOverflow(call, amount))
	}
	cp.Push(call.BlockNumber, sum)
}

// route splits amount (already in the module's balance) by the current split.
func (m *Module) route(call *metisvm.Call, s *store.S, amount *uint256.Int, source lazai.FeeSource, emit bool, validators []common.Address) error {
	sp := unpackSplit(s.Word(slotSplit))
	toValidators, toTreasury, burned := bps(amount, sp.ValidatorsBps), bps(amount, sp.TreasuryBps), bps(amount, sp.BurnBps)
	toHolders := new(uint256.Int).Sub(amount, toValidators)
	toHolders.Sub(toHolders, toTreasury).Sub(toHolders, burned)

	m.distribute(call, s, toHolders)
	if !toValidators.IsZero() {
		if len(validators) == 0 {
			to := s.Addr(slotRecipient)
			if to == (common.Address{}) {
				to = metisvm.IDAOAddress
			}
			validators = []common.Address{to}
		}
		n := uint256.NewInt(uint64(len(validators)))
		each := new(uint256.Int).Div(toValidators, n)
		first := new(uint256.Int).Sub(toValidators, new(uint256.Int).Mul(each, n))
		first.Add(first, each)
		for i, v := range validators {
			part := each
			if i == 0 {
				part = first
			}
			if s.Err() == nil {
				s.Fail(call.Transfer(v, part))
			}
		}
	}
	if !toTreasury.IsZero() {
		s.Fail(call.Transfer(metisvm.IDAOAddress, toTreasury))
	}
	if !burned.IsZero() {
		s.Fail(call.Burn(burned))
		addChecked(call, s, slotTotalBurned, burned)
	}
	if !amount.IsZero() {
		// Checkpoints only for blocks that route something: an idle chain (empty blocks on an
		// interval) writes no state here.
		blockTimes(s).Push(call.BlockNumber, uint256.NewInt(call.BlockTime))
		pushChecked(call, s, cumHolders(s), toHolders)
		pushChecked(call, s, cumRouted(s), amount)
	}
	if emit && s.Err() == nil {
		s.Fail(call.EmitEvent("FeesRouted", call.BlockNumber, uint8(source), bigOf(amount),
			bigOf(toHolders), bigOf(toValidators), bigOf(toTreasury), bigOf(burned)))
	}
	return s.Err()
}

// distribute adds the holders' part h to acc (see the package doc).
func (m *Module) distribute(call *metisvm.Call, s *store.S, h *uint256.Int) {
	total := s.U256(slotTotalStaked)
	unallocated := s.U256(slotUnallocated)
	if s.Err() != nil {
		return
	}
	pay, overflow := new(uint256.Int).AddOverflow(h, unallocated)
	if overflow {
		s.Fail(feeOverflow(call, h))
		return
	}
	if total.IsZero() {
		if !h.IsZero() {
			s.SetU256(slotUnallocated, pay)
		}
		return
	}
	if pay.IsZero() {
		return
	}
	n, over1 := new(uint256.Int).MulOverflow(pay, precision)
	_, over2 := n.AddOverflow(n, s.U256(slotCarry))
	q, r := new(uint256.Int).DivMod(n, total, new(uint256.Int))
	_, over3 := q.AddOverflow(q, s.U256(slotAcc))
	if over1 || over2 || over3 {
		s.Fail(feeOverflow(call, pay))
		return
	}
	s.SetU256(slotAcc, q)
	s.SetU256(slotCarry, r)
	if !unallocated.IsZero() {
		s.SetU256(slotUnallocated, new(uint256.Int))
	}
}

// earned is what stake st earned between acc0 and acc: ⌊st·(acc−acc0)/P⌋ with a 512-bit product,
// exact for any stake (earnings are at most the fees routed, which fit).
func earned(st, acc, acc0 *uint256.Int) *uint256.Int {
	d := new(uint256.Int).Sub(acc, acc0)
	d.MulDivOverflow(d, st, precision)
	return d
}

// settle credits a's rewards so far to its owed balance.
func (m *Module) settle(s *store.S, a common.Address) (stake *uint256.Int) {
	acc := s.U256(slotAcc)
	acc0 := s.U256(accOfSlot(a))
	stake = s.U256(stakeSlot(a))
	if !stake.IsZero() && !acc.Eq(acc0) {
		owed := s.U256(owedSlot(a))
		s.SetU256(owedSlot(a), owed.Add(owed, earned(stake, acc, acc0)))
	}
	if !acc.Eq(acc0) {
		s.SetU256(accOfSlot(a), acc)
	}
	return stake
}

func (m *Module) setStake(call *metisvm.Call, s *store.S, a common.Address, old, stake, total *uint256.Int) {
	s.SetU256(stakeSlot(a), stake)
	s.SetU256(slotTotalStaked, total)
	stakeHistory(s, a).Push(call.BlockNumber, stake)
	totalStakeHistory(s).Push(call.BlockNumber, total)
	d := delegateOf(s, a)
	if stake.Gt(old) {
		moveVotes(call, s, common.Address{}, d, new(uint256.Int).Sub(stake, old))
	} else if old.Gt(stake) {
		moveVotes(call, s, d, common.Address{}, new(uint256.Int).Sub(old, stake))
	}
}

// delegateOf is a's delegate: a itself until it delegates.
func delegateOf(s *store.S, a common.Address) common.Address {
	if d := s.Addr(delegateSlot(a)); d != (common.Address{}) {
		return d
	}
	return a
}

// moveVotes moves amount of voting power from one delegate to another (the zero address is
// "nobody": stake arriving or leaving), checkpointing both.
func moveVotes(call *metisvm.Call, s *store.S, from, to common.Address, amount *uint256.Int) {
	if from == to || amount.IsZero() {
		return
	}
	for _, side := range []struct {
		who common.Address
		add bool
	}{{from, false}, {to, true}} {
		if side.who == (common.Address{}) {
			continue
		}
		h := votesHistory(s, side.who)
		prev := h.Latest()
		next := new(uint256.Int).Set(prev)
		if side.add {
			next.Add(next, amount)
		} else {
			next.Sub(next, amount)
		}
		h.Push(call.BlockNumber, next)
		if s.Err() == nil {
			s.Fail(call.EmitEvent("DelegateVotesChanged", side.who, bigOf(prev), bigOf(next)))
		}
	}
}

func (m *Module) delegate(call *metisvm.Call, args []any) ([]any, error) {
	to := args[0].(common.Address)
	if to == (common.Address{}) {
		to = call.Caller
	}
	s := store.New(call)
	from := delegateOf(s, call.Caller)
	stake := s.U256(stakeSlot(call.Caller))
	stored := to
	if to == call.Caller {
		stored = common.Address{}
	}
	s.SetAddr(delegateSlot(call.Caller), stored)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("DelegateChanged", call.Caller, from, to))
	}
	moveVotes(call, s, from, to, stake)
	return nil, s.Err()
}

func (m *Module) viewDelegates(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	return []any{delegateOf(s, args[0].(common.Address))}, s.Err()
}

func (m *Module) viewVotes(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	return []any{bigOf(votesHistory(s, args[0].(common.Address)).Latest())}, s.Err()
}

func (m *Module) viewPastVotes(call *metisvm.Call, args []any) ([]any, error) {
	a, block := args[0].(common.Address), args[1].(uint64)
	if block >= call.BlockNumber {
		return nil, call.Revert("FutureBlock", block, call.BlockNumber)
	}
	s := store.New(call)
	return []any{bigOf(votesHistory(s, a).At(block))}, s.Err()
}

func (m *Module) routeFees(call *metisvm.Call, args []any) ([]any, error) {
	source := args[0].(uint8)
	if source > uint8(lazai.SourceOther) {
		return nil, metisvm.RevertReason("lazai: unknown fee source")
	}
	if call.Value.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	s := store.New(call)
	return nil, m.route(call, s, call.Value, lazai.FeeSource(source), true, nil)
}

// MaxRecipients bounds routeFeesTo's validators.
const MaxRecipients = 64

func (m *Module) routeFeesTo(call *metisvm.Call, args []any) ([]any, error) {
	source, validators := args[0].(uint8), args[1].([]common.Address)
	if source > uint8(lazai.SourceOther) {
		return nil, metisvm.RevertReason("lazai: unknown fee source")
	}
	if call.Value.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	if len(validators) > MaxRecipients {
		return nil, call.Revert("TooManyRecipients", big.NewInt(int64(len(validators))), big.NewInt(MaxRecipients))
	}
	for _, v := range validators {
		if v == (common.Address{}) {
			return nil, call.Revert("ZeroAddress")
		}
	}
	s := store.New(call)
	return nil, m.route(call, s, call.Value, lazai.FeeSource(source), true, validators)
}

func (m *Module) endBlock(call *metisvm.Call, args []any) ([]any, error) {
	if call.Caller != metisvm.SystemAddress {
		return nil, call.Revert("NotSystem", call.Caller)
	}
	s := store.New(call)
	return nil, m.route(call, s, u256(args[0].(*big.Int)), lazai.SourceGas, false, nil)
}

func (m *Module) stake(call *metisvm.Call, _ []any) ([]any, error) {
	if call.Value.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	s := store.New(call)
	total, overflow := store.AddCheckpointable(s.U256(slotTotalStaked), call.Value)
	if err := s.Err(); err != nil {
		return nil, err
	}
	if overflow {
		// The total is checkpointed (at most 2^192 − 1); each stake and each delegate's votes
		// are parts of it, so a total that fits keeps them within bounds too.
		return nil, call.Revert("StakeOverflow", bigOf(s.U256(slotTotalStaked)), bigOf(call.Value))
	}
	st := m.settle(s, call.Caller)
	old := new(uint256.Int).Set(st)
	st.Add(st, call.Value)
	m.setStake(call, s, call.Caller, old, st, total)
	// Rewards that waited for a first staker are not paid out here but by this block's
	// end-of-block routing (distribute takes them with the block's fees, to the stakers present
	// then): so stake costs the same gas whether or not fees are waiting, and a transaction's gas
	// estimate holds when fees start waiting between estimation and inclusion.
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Staked", call.Caller, bigOf(call.Value), bigOf(st)))
	}
	return nil, s.Err()
}

func (m *Module) requestUnstake(call *metisvm.Call, args []any) ([]any, error) {
	amount := u256(args[0].(*big.Int))
	if amount.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	s := store.New(call)
	st := m.settle(s, call.Caller)
	if s.Err() == nil && st.Lt(amount) {
		return nil, call.Revert("InsufficientStake", bigOf(st), bigOf(amount))
	}
	ready, carry := bits.Add64(call.BlockNumber, s.U64(slotDelay), 0)
	if err := s.Err(); err != nil {
		return nil, err
	}
	if carry != 0 {
		// Only a delay stored before the bound existed can get here.
		return nil, call.Revert("BadUnbondingDelay", s.U64(slotDelay), uint64(lazai.MaxUnbondingDelay))
	}
	old := new(uint256.Int).Set(st)
	st.Sub(st, amount)
	total := s.U256(slotTotalStaked)
	m.setStake(call, s, call.Caller, old, st, total.Sub(total, amount))
	// Unbonding and staked amounts together are at most the module's balance: no overflow.
	pending := s.U256(unbondAmountSlot(call.Caller))
	s.SetU256(unbondAmountSlot(call.Caller), pending.Add(pending, amount))
	s.SetU64(unbondReadySlot(call.Caller), ready)
	tu := s.U256(slotTotalUnbonding)
	s.SetU256(slotTotalUnbonding, tu.Add(tu, amount))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("UnstakeRequested", call.Caller, bigOf(amount), bigOf(st), ready))
	}
	return nil, s.Err()
}

func (m *Module) withdraw(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	amount := s.U256(unbondAmountSlot(call.Caller))
	ready := s.U64(unbondReadySlot(call.Caller))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if amount.IsZero() {
		return nil, call.Revert("NothingToWithdraw")
	}
	if call.BlockNumber < ready {
		return nil, call.Revert("StillUnbonding", ready, call.BlockNumber)
	}
	s.SetU256(unbondAmountSlot(call.Caller), new(uint256.Int))
	s.SetU64(unbondReadySlot(call.Caller), 0)
	tu := s.U256(slotTotalUnbonding)
	s.SetU256(slotTotalUnbonding, tu.Sub(tu, amount))
	if s.Err() == nil {
		s.Fail(call.Transfer(call.Caller, amount))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Withdrawn", call.Caller, bigOf(amount)))
	}
	return []any{bigOf(amount)}, s.Err()
}

func (m *Module) claim(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	m.settle(s, call.Caller)
	owed := s.U256(owedSlot(call.Caller))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if owed.IsZero() {
		return nil, call.Revert("NothingToClaim")
	}
	s.SetU256(owedSlot(call.Caller), new(uint256.Int))
	if s.Err() == nil {
		s.Fail(call.Transfer(call.Caller, owed))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("RewardClaimed", call.Caller, bigOf(owed)))
	}
	return []any{bigOf(owed)}, s.Err()
}

func governance(call *metisvm.Call) error {
	if call.Caller != metisvm.IDAOAddress {
		return call.Revert("NotGovernance", call.Caller)
	}
	return nil
}

func (m *Module) setSplit(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	sp := *abi.ConvertType(args[0], new(lazai.Split)).(*lazai.Split)
	if sp.Total() != lazai.BPS {
		return nil, call.Revert("BadSplit", new(big.Int).SetUint64(sp.Total()))
	}
	s := store.New(call)
	s.SetWord(slotSplit, packSplit(sp))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("SplitChanged", sp.HoldersBps, sp.ValidatorsBps, sp.TreasuryBps, sp.BurnBps))
	}
	return nil, s.Err()
}

func (m *Module) setUnbondingDelay(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	blocks := args[0].(uint64)
	if blocks > lazai.MaxUnbondingDelay {
		return nil, call.Revert("BadUnbondingDelay", blocks, uint64(lazai.MaxUnbondingDelay))
	}
	s := store.New(call)
	s.SetU64(slotDelay, blocks)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("UnbondingDelayChanged", blocks))
	}
	return nil, s.Err()
}

func (m *Module) setValidatorsRecipient(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	to := args[0].(common.Address)
	if to == (common.Address{}) {
		return nil, call.Revert("ZeroAddress")
	}
	s := store.New(call)
	s.SetAddr(slotRecipient, to)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ValidatorsRecipientChanged", to))
	}
	return nil, s.Err()
}

func (m *Module) viewSplit(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{unpackSplit(s.Word(slotSplit))}, s.Err()
}

func (m *Module) viewUnbondingDelay(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{s.U64(slotDelay)}, s.Err()
}

func (m *Module) viewValidatorsRecipient(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{s.Addr(slotRecipient)}, s.Err()
}

func (m *Module) viewStakeOf(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	return []any{bigOf(s.U256(stakeSlot(args[0].(common.Address))))}, s.Err()
}

func (m *Module) viewTotalStaked(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{bigOf(s.U256(slotTotalStaked))}, s.Err()
}

func (m *Module) viewPendingRewards(call *metisvm.Call, args []any) ([]any, error) {
	a := args[0].(common.Address)
	s := store.New(call)
	owed := s.U256(owedSlot(a))
	owed.Add(owed, earned(s.U256(stakeSlot(a)), s.U256(slotAcc), s.U256(accOfSlot(a))))
	return []any{bigOf(owed)}, s.Err()
}

func (m *Module) viewUnbonding(call *metisvm.Call, args []any) ([]any, error) {
	a := args[0].(common.Address)
	s := store.New(call)
	return []any{bigOf(s.U256(unbondAmountSlot(a))), s.U64(unbondReadySlot(a))}, s.Err()
}

func (m *Module) viewPastStake(call *metisvm.Call, args []any) ([]any, error) {
	a, block := args[0].(common.Address), args[1].(uint64)
	if block >= call.BlockNumber {
		return nil, call.Revert("FutureBlock", block, call.BlockNumber)
	}
	s := store.New(call)
	return []any{bigOf(stakeHistory(s, a).At(block))}, s.Err()
}

func (m *Module) viewPastTotalStake(call *metisvm.Call, args []any) ([]any, error) {
	block := args[0].(uint64)
	if block >= call.BlockNumber {
		return nil, call.Revert("FutureBlock", block, call.BlockNumber)
	}
	s := store.New(call)
	return []any{bigOf(totalStakeHistory(s).At(block))}, s.Err()
}

func (m *Module) viewStats(call *metisvm.Call, args []any) ([]any, error) {
	blocks := args[0].(uint64)
	if blocks == 0 || blocks > MaxStatsWindow {
		return nil, call.Revert("BadWindow", blocks)
	}
	to := call.BlockNumber
	from := uint64(0)
	if to > blocks {
		from = to - blocks
	}
	s := store.New(call)
	h, r, t := cumHolders(s), cumRouted(s), blockTimes(s)
	rewards := new(uint256.Int).Sub(h.At(to), h.At(from))
	routedNow := r.At(to)
	routed := new(uint256.Int).Sub(routedNow, r.At(from))
	tFrom := t.At(from).Uint64()
	tTo := call.BlockTime
	if last := t.At(to).Uint64(); last > tTo {
		tTo = last
	}
	span := uint64(0)
	if tFrom > 0 && tTo > tFrom {
		span = tTo - tFrom
	}
	total := s.U256(slotTotalStaked)
	apr := new(uint256.Int)
	if !total.IsZero() && span > 0 {
		apr.Mul(rewards, uint256.NewInt(lazai.BPS*secondsPerYear))
		apr.Div(apr, new(uint256.Int).Mul(total, uint256.NewInt(span)))
	}
	st := lazai.Stats{
		TotalStaked: bigOf(total), HolderRewards: bigOf(rewards), Routed: bigOf(routed),
		FromBlock: from, ToBlock: to, Span: span, AprBps: bigOf(apr),
		TotalRouted: bigOf(r.Latest()), TotalBurned: bigOf(s.U256(slotTotalBurned)),
	}
	return []any{st}, s.Err()
}
