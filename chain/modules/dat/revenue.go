package dat

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/dat"
)

// settle pays amount (already in the module's balance) to a class: lineageBps of it to its
// parents in equal parts, the rest to its own holders. It returns the parents' part.
func settle(call *metisvm.Call, s *store.S, classID uint64, amount *uint256.Int) (*uint256.Int, error) {
	toParents := new(uint256.Int)
	if n := s.U64(classWord(classID, cParents)); n > 0 {
		lineage := s.U64(slotLineageBps)
		if own := s.U64(classWord(classID, cLineage)); own > 0 {
			lineage = own - 1
		}
		toParents.MulDivOverflow(amount, uint256.NewInt(lineage), uint256.NewInt(bpsDenom)) // ≤ amount: never overflows
		each := new(uint256.Int).Div(toParents, uint256.NewInt(n))
		first := new(uint256.Int).Sub(toParents, new(uint256.Int).Mul(each, uint256.NewInt(n)))
		first.Add(first, each)
		for i := uint64(0); i < n; i++ {
			part := each
			if i == 0 {
				part = first
			}
			if part.IsZero() {
				continue
			}
			parent := s.U64(classParentSlot(classID, i))
			if err := addRevenue(call, s, parent, part); err != nil {
				return nil, err
			}
			if err := distribute(call, s, parent, part); err != nil {
				return nil, err
			}
		}
	}
	own := new(uint256.Int).Sub(amount, toParents)
	if err := addRevenue(call, s, classID, own); err != nil {
		return nil, err
	}
	if err := distribute(call, s, classID, own); err != nil {
		return nil, err
	}
	return toParents, s.Err()
}

// revenueOverflow is the revert of revenue that a class's figures cannot hold: its total revenue
// past 2^256 − 1, or acc (revenue per share scaled by P = 10^27, checkpointed) past 2^192 − 1,
// which takes some 6·10^30 wei paid to a class of one share. Revenue is paid in METIS, so this
// is beyond any realistic supply, but a chain's genesis allocation is not bounded, so the sums
// are checked rather than assumed.
func revenueOverflow(call *metisvm.Call, classID uint64, amount *uint256.Int) error {
	return call.Revert("RevenueOverflow", idBig(classID), bigOf(amount))
}

func addRevenue(call *metisvm.Call, s *store.S, classID uint64, amount *uint256.Int) error {
	r := s.U256(classWord(classID, cTotalRevenue))
	if err := s.Err(); err != nil {
		return err
	}
	sum, overflow := new(uint256.Int).AddOverflow(r, amount)
	if overflow {
		return revenueOverflow(call, classID, amount)
	}
	s.SetU256(classWord(classID, cTotalRevenue), sum)
	return s.Err()
}

// distribute adds amount to a class's accumulated revenue per share (see the package doc),
// checkpointing acc by block time for expiring tokens.
func distribute(call *metisvm.Call, s *store.S, classID uint64, amount *uint256.Int) error {
	total := s.U256(classWord(classID, cTotalShares))
	un := s.U256(classWord(classID, cUnallocated))
	if err := s.Err(); err != nil {
		return err
	}
	pay, overflow := new(uint256.Int).AddOverflow(amount, un)
	if overflow {
		return revenueOverflow(call, classID, amount)
	}
	if total.IsZero() {
		if !amount.IsZero() {
			s.SetU256(classWord(classID, cUnallocated), pay)
		}
		return s.Err()
	}
	if pay.IsZero() {
		return nil
	}
	n, over1 := new(uint256.Int).MulOverflow(pay, precision)
	_, over2 := n.AddOverflow(n, s.U256(classWord(classID, cCarry)))
	q, r := new(uint256.Int).DivMod(n, total, new(uint256.Int))
	acc, over3 := store.AddCheckpointable(q, s.U256(classWord(classID, cAcc))) // acc is checkpointed
	if err := s.Err(); err != nil {
		return err
	}
	if over1 || over2 || over3 {
		return revenueOverflow(call, classID, pay)
	}
	s.SetU256(classWord(classID, cAcc), acc)
	s.SetU256(classWord(classID, cCarry), r)
	if !un.IsZero() {
		s.SetU256(classWord(classID, cUnallocated), new(uint256.Int))
	}
	accHistory(s, classID).Push(call.BlockTime, acc)
	return s.Err()
}

// earned is what shares earned between acc0 and acc (zero if acc < acc0): ⌊shares·(acc−acc0)/P⌋
// with a 512-bit product, so it is exact for any shares (a holder's earnings are at most the
// revenue paid, which fits).
func earned(shares, acc, acc0 *uint256.Int) *uint256.Int {
	if acc.Lt(acc0) {
		return new(uint256.Int)
	}
	d := new(uint256.Int).Sub(acc, acc0)
	d.MulDivOverflow(d, shares, precision)
	return d
}

// tokenAcc is the acc a token earns up to: the class's acc, or for an expired token the acc of
// the last distribution before its expiry.
func tokenAcc(call *metisvm.Call, s *store.S, classID, expireAt uint64, settled bool, acc0 *uint256.Int) *uint256.Int {
	if !isExpired(call, expireAt) {
		return s.U256(classWord(classID, cAcc))
	}
	if settled {
		return acc0 // settleExpired already moved acc0 to the expiry
	}
	return accHistory(s, classID).At(expireAt - 1)
}

// pending is a token's claimable revenue.
func pending(call *metisvm.Call, s *store.S, tokenID, classID uint64) *uint256.Int {
	shares := s.U256(tokenWord(tokenID, tShares))
	owed := s.U256(tokenWord(tokenID, tOwed))
	if shares.IsZero() {
		return owed
	}
	acc0 := s.U256(tokenWord(tokenID, tAcc0))
	exp, settled := tokenExpiry(s, tokenID)
	return owed.Add(owed, earned(shares, tokenAcc(call, s, classID, exp, settled, acc0), acc0))
}

// expire settles an expired token whose shares still count (see the package doc): its earnings
// freeze at its expiry, its shares leave the class, and what was distributed to them after the
// expiry goes to the remaining holders. It reports whether it did anything.
func expire(call *metisvm.Call, s *store.S, tokenID, classID uint64) bool {
	exp, settled := tokenExpiry(s, tokenID)
	shares := s.U256(tokenWord(tokenID, tShares))
	if s.Err() != nil || settled || !isExpired(call, exp) {
		return false
	}
	if shares.IsZero() {
		s.SetU256(tokenWord(tokenID, tExpiry), new(uint256.Int).Or(uint256.NewInt(exp), expiredFlag))
		return true
	}
	acc0 := s.U256(tokenWord(tokenID, tAcc0))
	accAtExpiry := accHistory(s, classID).At(exp - 1)
	if accAtExpiry.Lt(acc0) {
		accAtExpiry = acc0
	}
	accNow := s.U256(classWord(classID, cAcc))
	owed := s.U256(tokenWord(tokenID, tOwed))
	s.SetU256(tokenWord(tokenID, tOwed), owed.Add(owed, earned(shares, accAtExpiry, acc0)))
	s.SetU256(tokenWord(tokenID, tAcc0), accAtExpiry)
	s.SetU256(tokenWord(tokenID, tExpiry), new(uint256.Int).Or(uint256.NewInt(exp), expiredFlag))
	total := s.U256(classWord(classID, cTotalShares))
	setTotalShares(call, s, classID, total.Sub(total, shares))
	moveShares(call, s, classID, s.Addr(tokenWord(tokenID, tOwner)), common.Address{}, shares)
	leaked := earned(shares, accNow, accAtExpiry)
	s.Fail(distribute(call, s, classID, leaked))
	if s.Err() == nil {
		s.Fail(call.EmitEvent("TokenExpiredSettled", idBig(tokenID), bigOf(shares), bigOf(leaked)))
	}
	return true
}

func (m *Module) settleRevenue(call *metisvm.Call, args []any) ([]any, error) {
	classID := id(args[0].(*big.Int))
	s := store.New(call)
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return nil, err
	}
	switch meta.status {
	case uint8(dat.StatusVerified), uint8(dat.StatusActive), uint8(dat.StatusDeprecated):
	default:
		return nil, call.Revert("BadStatus", idBig(classID), meta.status)
	}
	if call.Value.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	toParents, err := settle(call, s, classID, call.Value)
	if err != nil {
		return nil, err
	}
	return nil, call.EmitEvent("RevenueSettled", idBig(classID), call.Caller, bigOf(call.Value), bigOf(toParents))
}

func (m *Module) claim(call *metisvm.Call, args []any) ([]any, error) {
	tokenID := id(args[0].(*big.Int))
	s := store.New(call)
	owner, classID, err := loadTokenOwner(call, s, tokenID)
	if err != nil {
		return nil, err
	}
	if owner != call.Caller {
		return nil, call.Revert("NotTokenOwner", idBig(tokenID), call.Caller)
	}
	expire(call, s, tokenID, classID)
	amount := pending(call, s, tokenID, classID)
	if err := s.Err(); err != nil {
		return nil, err
	}
	if amount.IsZero() {
		return nil, call.Revert("NothingToClaim", idBig(tokenID))
	}
	if exp, _ := tokenExpiry(s, tokenID); !isExpired(call, exp) {
		s.SetU256(tokenWord(tokenID, tAcc0), s.U256(classWord(classID, cAcc)))
	}
	s.SetU256(tokenWord(tokenID, tOwed), new(uint256.Int))
	if s.Err() == nil {
		s.Fail(call.Transfer(owner, amount))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("RevenueClaimed", idBig(tokenID), owner, bigOf(amount)))
	}
	return []any{bigOf(amount)}, s.Err()
}

func (m *Module) settleExpired(call *metisvm.Call, args []any) ([]any, error) {
	tokenID := id(args[0].(*big.Int))
	s := store.New(call)
	_, classID, err := loadTokenOwner(call, s, tokenID)
	if err != nil {
		return nil, err
	}
	exp, _ := tokenExpiry(s, tokenID)
	if !expire(call, s, tokenID, classID) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("BadExpiry", exp)
	}
	return nil, s.Err()
}

// Views.

func (m *Module) viewParams(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{readParams(s)}, s.Err()
}

func (m *Module) viewClassCount(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{idBig(s.U64(slotClassCount))}, s.Err()
}

func (m *Module) viewTokenCount(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	return []any{idBig(s.U64(slotTokenCount))}, s.Err()
}

func (m *Module) viewClassInfo(call *metisvm.Call, args []any) ([]any, error) {
	classID := id(args[0].(*big.Int))
	s := store.New(call)
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return nil, err
	}
	n := s.U64(classWord(classID, cParents))
	parents := make([]*big.Int, 0, min(n, dat.MaxParents))
	for i := uint64(0); i < n && s.Err() == nil; i++ {
		parents = append(parents, idBig(s.U64(classParentSlot(classID, i))))
	}
	info := dat.ClassInfo{
		Id: idBig(classID), Kind: meta.kind, Status: meta.status,
		Owner:              s.Addr(classWord(classID, cOwner)),
		MetadataURI:        string(s.Bytes(classMetadataSlot(classID))),
		IntegrityHash:      s.Word(classWord(classID, cIntegrity)),
		PolicyURI:          string(s.Bytes(classPolicySlot(classID))),
		UnitDecimals:       meta.unitDecimals,
		UsageFee:           bigOf(s.U256(classWord(classID, cUsageFee))),
		Parents:            parents,
		TotalShares:        bigOf(s.U256(classWord(classID, cTotalShares))),
		TotalRevenue:       bigOf(s.U256(classWord(classID, cTotalRevenue))),
		AccRevenuePerShare: bigOf(s.U256(classWord(classID, cAcc))),
		Approvals:          meta.approvals, Rejections: meta.rejections, CreatedAt: meta.createdAt,
	}
	return []any{info}, s.Err()
}

func (m *Module) viewTokenInfo(call *metisvm.Call, args []any) ([]any, error) {
	tokenID := id(args[0].(*big.Int))
	s := store.New(call)
	owner, classID, err := loadTokenOwner(call, s, tokenID)
	if err != nil {
		return nil, err
	}
	exp, _ := tokenExpiry(s, tokenID)
	info := dat.TokenInfo{
		Id: idBig(tokenID), ClassId: idBig(classID), Owner: owner,
		Value:      bigOf(s.U256(tokenWord(tokenID, tValue))),
		ShareRatio: bigOf(s.U256(tokenWord(tokenID, tShares))),
		ExpireAt:   exp, Expired: isExpired(call, exp),
		PendingRevenue: bigOf(pending(call, s, tokenID, classID)),
	}
	return []any{info}, s.Err()
}

func (m *Module) viewPendingRevenue(call *metisvm.Call, args []any) ([]any, error) {
	tokenID := id(args[0].(*big.Int))
	s := store.New(call)
	_, classID, err := loadTokenOwner(call, s, tokenID)
	if err != nil {
		return nil, err
	}
	return []any{bigOf(pending(call, s, tokenID, classID))}, s.Err()
}

func (m *Module) viewTokensOf(call *metisvm.Call, args []any) ([]any, error) {
	owner := args[0].(common.Address)
	s := store.New(call)
	n := s.U64(ownerTokensSlot(owner))
	ids := make([]*big.Int, 0, min(n, 1024))
	for i := uint64(0); i < n && s.Err() == nil; i++ {
		ids = append(ids, idBig(s.U64(ownerTokenSlot(owner, i))))
	}
	return []any{ids}, s.Err()
}

func (m *Module) viewIsValidator(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	return []any{s.Bool(validatorSlot(args[0].(common.Address)))}, s.Err()
}

func (m *Module) viewIsApprovedForClass(call *metisvm.Call, args []any) ([]any, error) {
	owner, classID, op := args[0].(common.Address), id(args[1].(*big.Int)), args[2].(common.Address)
	s := store.New(call)
	return []any{s.Bool(approvedSlot(owner, classID, op))}, s.Err()
}
