package dat

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/dat"
)

// expiredFlag marks, in a token's expiry word, that settleExpired has run.
var expiredFlag = new(uint256.Int).Lsh(uint256.NewInt(1), 64)

// tokenExpiry returns a token's expireAt and whether its expiry was settled.
func tokenExpiry(s *store.S, tokenID uint64) (expireAt uint64, settled bool) {
	w := s.U256(tokenWord(tokenID, tExpiry))
	return w.Uint64(), new(uint256.Int).And(w, expiredFlag).Sign() != 0
}

func isExpired(call *metisvm.Call, expireAt uint64) bool {
	return expireAt != 0 && call.BlockTime >= expireAt
}

// mayMove reports whether caller may move and use owner's tokens of a class.
func mayMove(s *store.S, caller, owner common.Address, classID uint64) bool {
	return caller == owner || s.Bool(approvedSlot(owner, classID, caller))
}

func (m *Module) mint(call *metisvm.Call, args []any) ([]any, error) {
	classID, to := id(args[0].(*big.Int)), args[1].(common.Address)
	value, shares := uint256.MustFromBig(args[2].(*big.Int)), uint256.MustFromBig(args[3].(*big.Int))
	expireAt := args[4].(uint64)
	s := store.New(call)
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return nil, err
	}
	owner := s.Addr(classWord(classID, cOwner))
	if s.Err() == nil && owner != call.Caller && !s.Bool(operatorSlot(classID, call.Caller)) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("NotMinter", idBig(classID), call.Caller)
	}
	switch {
	case meta.status != uint8(dat.StatusActive):
		return nil, call.Revert("BadStatus", idBig(classID), meta.status)
	case to == (common.Address{}):
		return nil, call.Revert("ZeroAddress")
	case value.IsZero() && shares.IsZero():
		return nil, call.Revert("ZeroAmount")
	case expireAt != 0 && expireAt <= call.BlockTime:
		return nil, call.Revert("BadExpiry", expireAt)
	}
	totalShares := s.U256(classWord(classID, cTotalShares))
	if err := s.Err(); err != nil {
		return nil, err
	}
	newTotal, overflow := store.AddCheckpointable(totalShares, shares)
	if overflow {
		// The total is checkpointed (at most 2^192 − 1), and every holder's shares and votes
		// are parts of it, so a total that fits keeps them within bounds too.
		return nil, call.Revert("SharesOverflow", idBig(classID), bigOf(totalShares), bigOf(shares))
	}
	tokenID := s.U64(slotTokenCount) + 1
	s.SetU64(slotTokenCount, tokenID)
	s.SetAddr(tokenWord(tokenID, tOwner), to)
	s.SetU64(tokenWord(tokenID, tClass), classID)
	s.SetU256(tokenWord(tokenID, tValue), value)
	s.SetU256(tokenWord(tokenID, tShares), shares)
	s.SetU64(tokenWord(tokenID, tExpiry), expireAt)
	if !shares.IsZero() {
		s.SetU256(tokenWord(tokenID, tAcc0), s.U256(classWord(classID, cAcc)))
		setTotalShares(call, s, classID, newTotal)
		moveShares(call, s, classID, common.Address{}, to, shares)
		// Revenue that waited for a first holder goes to the holders present now.
		if un := s.U256(classWord(classID, cUnallocated)); !un.IsZero() {
			if err := distribute(call, s, classID, new(uint256.Int)); err != nil {
				return nil, err
			}
		}
	}
	addToOwner(s, to, tokenID)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Minted", idBig(tokenID), idBig(classID), to, bigOf(value), bigOf(shares), expireAt))
	}
	return []any{idBig(tokenID)}, s.Err()
}

// addToOwner appends a token to its owner's list (for tokensOf).
func addToOwner(s *store.S, owner common.Address, tokenID uint64) {
	n := s.U64(ownerTokensSlot(owner))
	s.SetU64(ownerTokenSlot(owner, n), tokenID)
	s.SetU64(ownerTokensSlot(owner), n+1)
	s.SetU64(tokenWord(tokenID, tIndex), n+1)
}

// removeFromOwner removes a token from its owner's list in O(1) by moving the last entry into
// its place.
func removeFromOwner(s *store.S, owner common.Address, tokenID uint64) {
	n := s.U64(ownerTokensSlot(owner))
	i := s.U64(tokenWord(tokenID, tIndex)) - 1
	if s.Err() != nil || n == 0 {
		return
	}
	if last := n - 1; i != last {
		moved := s.U64(ownerTokenSlot(owner, last))
		s.SetU64(ownerTokenSlot(owner, i), moved)
		s.SetU64(tokenWord(moved, tIndex), i+1)
	}
	s.SetU64(ownerTokenSlot(owner, n-1), 0)
	s.SetU64(ownerTokensSlot(owner), n-1)
	s.SetU64(tokenWord(tokenID, tIndex), 0)
}

func (m *Module) transferToken(call *metisvm.Call, args []any) ([]any, error) {
	tokenID, to := id(args[0].(*big.Int)), args[1].(common.Address)
	s := store.New(call)
	owner, classID, err := loadTokenOwner(call, s, tokenID)
	if err != nil {
		return nil, err
	}
	if !mayMove(s, call.Caller, owner, classID) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("NotTokenOwner", idBig(tokenID), call.Caller)
	}
	if to == (common.Address{}) {
		return nil, call.Revert("ZeroAddress")
	}
	if to != owner {
		removeFromOwner(s, owner, tokenID)
		s.SetAddr(tokenWord(tokenID, tOwner), to)
		addToOwner(s, to, tokenID)
		// The token's shares vote for their holder until its expiry is settled.
		if _, settled := tokenExpiry(s, tokenID); !settled {
			moveShares(call, s, classID, owner, to, s.U256(tokenWord(tokenID, tShares)))
		}
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("TokenTransferred", idBig(tokenID), owner, to))
	}
	return nil, s.Err()
}

func (m *Module) transferValue(call *metisvm.Call, args []any) ([]any, error) {
	fromID, toID := id(args[0].(*big.Int)), id(args[1].(*big.Int))
	amount := uint256.MustFromBig(args[2].(*big.Int))
	s := store.New(call)
	owner, classID, err := loadTokenOwner(call, s, fromID)
	if err != nil {
		return nil, err
	}
	_, toClass, err := loadTokenOwner(call, s, toID)
	if err != nil {
		return nil, err
	}
	if !mayMove(s, call.Caller, owner, classID) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("NotTokenOwner", idBig(fromID), call.Caller)
	}
	if classID != toClass {
		return nil, call.Revert("ClassMismatch", idBig(classID), idBig(toClass))
	}
	if amount.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	for _, t := range []uint64{fromID, toID} {
		if exp, _ := tokenExpiry(s, t); isExpired(call, exp) {
			return nil, call.Revert("TokenExpired", idBig(t), exp)
		}
	}
	value := s.U256(tokenWord(fromID, tValue))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if value.Lt(amount) {
		return nil, call.Revert("QuotaExceeded", idBig(fromID), bigOf(value), bigOf(amount))
	}
	if fromID != toID {
		tv := s.U256(tokenWord(toID, tValue))
		if err := s.Err(); err != nil {
			return nil, err
		}
		sum, overflow := new(uint256.Int).AddOverflow(tv, amount)
		if overflow {
			return nil, call.Revert("ValueOverflow", idBig(toID), bigOf(tv), bigOf(amount))
		}
		s.SetU256(tokenWord(fromID, tValue), value.Sub(value, amount))
		s.SetU256(tokenWord(toID, tValue), sum)
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ValueTransferred", idBig(fromID), idBig(toID), bigOf(amount)))
	}
	return nil, s.Err()
}

func (m *Module) approveForClass(call *metisvm.Call, args []any) ([]any, error) {
	classID, op, approved := id(args[0].(*big.Int)), args[1].(common.Address), args[2].(bool)
	s := store.New(call)
	if _, err := loadClass(call, s, classID); err != nil {
		return nil, err
	}
	if op == (common.Address{}) {
		return nil, call.Revert("ZeroAddress")
	}
	s.SetBool(approvedSlot(call.Caller, classID, op), approved)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ApprovalForClass", call.Caller, idBig(classID), op, approved))
	}
	return nil, s.Err()
}

func (m *Module) recordUsage(call *metisvm.Call, args []any) ([]any, error) {
	tokenID, amount := id(args[0].(*big.Int)), uint256.MustFromBig(args[1].(*big.Int))
	s := store.New(call)
	owner, classID, err := loadTokenOwner(call, s, tokenID)
	if err != nil {
		return nil, err
	}
	if !mayMove(s, call.Caller, owner, classID) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("NotTokenOwner", idBig(tokenID), call.Caller)
	}
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return nil, err
	}
	if meta.status != uint8(dat.StatusActive) && meta.status != uint8(dat.StatusDeprecated) {
		return nil, call.Revert("BadStatus", idBig(classID), meta.status)
	}
	if amount.IsZero() {
		return nil, call.Revert("ZeroAmount")
	}
	if exp, _ := tokenExpiry(s, tokenID); isExpired(call, exp) {
		return nil, call.Revert("TokenExpired", idBig(tokenID), exp)
	}
	value := s.U256(tokenWord(tokenID, tValue))
	fee, overflow := new(uint256.Int).MulOverflow(amount, s.U256(classWord(classID, cUsageFee)))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if value.Lt(amount) {
		return nil, call.Revert("QuotaExceeded", idBig(tokenID), bigOf(value), bigOf(amount))
	}
	if overflow || !call.Value.Eq(fee) {
		required := bigOf(fee)
		if overflow {
			required = new(big.Int).Mul(amount.ToBig(), s.U256(classWord(classID, cUsageFee)).ToBig())
		}
		return nil, call.Revert("WrongFee", bigOf(call.Value), required)
	}
	s.SetU256(tokenWord(tokenID, tValue), value.Sub(value, amount))
	if !fee.IsZero() {
		if _, err := settle(call, s, classID, fee); err != nil {
			return nil, err
		}
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("UsageRecorded", idBig(tokenID), idBig(classID), call.Caller, bigOf(amount), bigOf(fee)))
	}
	return nil, s.Err()
}
