package dat

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/dat"
)

// Voting power of class holders (for community iDAOs): each owner's shares in a class, counted
// for the owner's delegate in that class (the owner itself until it delegates), checkpointed by
// block like LazAI's stake votes. Shares of a token count from its mint until its expiry is
// settled (settleExpired), and move with transferToken.

func sharesSlot(classID uint64, a common.Address) common.Hash {
	return metisvm.Slot("sharesOf", idKey(classID), metisvm.AddressKey(a))
}
func classDelegateSlot(classID uint64, a common.Address) common.Hash {
	return metisvm.Slot("classDelegate", idKey(classID), metisvm.AddressKey(a))
}
func classVotes(s *store.S, classID uint64, a common.Address) store.Checkpoints {
	return s.Checkpoints("classVotes", metisvm.Slot("classVotesKey", idKey(classID), metisvm.AddressKey(a)))
}
func totalSharesHistory(s *store.S, classID uint64) store.Checkpoints {
	return s.Checkpoints("totalSharesHistory", idKey(classID))
}

func classDelegateOf(s *store.S, classID uint64, a common.Address) common.Address {
	if d := s.Addr(classDelegateSlot(classID, a)); d != (common.Address{}) {
		return d
	}
	return a
}

// moveShares records amount shares of a class leaving from and arriving at to (zero address:
// minted or expired), moving the delegates' votes with them.
func moveShares(call *metisvm.Call, s *store.S, classID uint64, from, to common.Address, amount *uint256.Int) {
	if amount.IsZero() || from == to {
		return
	}
	var fromDel, toDel common.Address
	if from != (common.Address{}) {
		v := s.U256(sharesSlot(classID, from))
		s.SetU256(sharesSlot(classID, from), v.Sub(v, amount))
		fromDel = classDelegateOf(s, classID, from)
	}
	if to != (common.Address{}) {
		v := s.U256(sharesSlot(classID, to))
		s.SetU256(sharesSlot(classID, to), v.Add(v, amount))
		toDel = classDelegateOf(s, classID, to)
	}
	moveClassVotes(call, s, classID, fromDel, toDel, amount)
}

func moveClassVotes(call *metisvm.Call, s *store.S, classID uint64, from, to common.Address, amount *uint256.Int) {
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
		h := classVotes(s, classID, side.who)
		prev := h.Latest()
		next := new(uint256.Int).Set(prev)
		if side.add {
			next.Add(next, amount)
		} else {
			next.Sub(next, amount)
		}
		h.Push(call.BlockNumber, next)
		if s.Err() == nil {
			s.Fail(call.EmitEvent("ClassVotesChanged", idBig(classID), side.who, bigOf(prev), bigOf(next)))
		}
	}
}

// setTotalShares writes and checkpoints a class's total shares.
func setTotalShares(call *metisvm.Call, s *store.S, classID uint64, total *uint256.Int) {
	s.SetU256(classWord(classID, cTotalShares), total)
	totalSharesHistory(s, classID).Push(call.BlockNumber, total)
}

func (m *Module) delegateClass(call *metisvm.Call, args []any) ([]any, error) {
	classID, to := id(args[0].(*big.Int)), args[1].(common.Address)
	s := store.New(call)
	if _, err := loadClass(call, s, classID); err != nil {
		return nil, err
	}
	if to == (common.Address{}) {
		to = call.Caller
	}
	from := classDelegateOf(s, classID, call.Caller)
	stored := to
	if to == call.Caller {
		stored = common.Address{}
	}
	s.SetAddr(classDelegateSlot(classID, call.Caller), stored)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ClassDelegateChanged", idBig(classID), call.Caller, to))
	}
	moveClassVotes(call, s, classID, from, to, s.U256(sharesSlot(classID, call.Caller)))
	return nil, s.Err()
}

// communityMethods are the calls a community iDAO may make for its class; each takes the class id
// as its first argument.
var communityMethods = map[string]func(m *Module, call *metisvm.Call, s *store.S, classID uint64, args []any) error{
	"setClassPolicy": func(m *Module, call *metisvm.Call, s *store.S, classID uint64, args []any) error {
		uri := args[1].(string)
		if len(uri) > dat.MaxStringLen {
			return call.Revert("StringTooLong", big.NewInt(int64(len(uri))), big.NewInt(dat.MaxStringLen))
		}
		s.SetBytes(classPolicySlot(classID), []byte(uri))
		if s.Err() == nil {
			s.Fail(call.EmitEvent("ClassPolicyChanged", idBig(classID), uri))
		}
		return s.Err()
	},
	"setUsageFee": func(m *Module, call *metisvm.Call, s *store.S, classID uint64, args []any) error {
		fee := args[1].(*big.Int)
		s.SetU256(classWord(classID, cUsageFee), uint256.MustFromBig(fee))
		if s.Err() == nil {
			s.Fail(call.EmitEvent("UsageFeeChanged", idBig(classID), fee))
		}
		return s.Err()
	},
	"setClassLineage": func(m *Module, call *metisvm.Call, s *store.S, classID uint64, args []any) error {
		bps := args[1].(uint16)
		if bps > bpsDenom {
			return call.Revert("BadParams")
		}
		s.SetU64(classWord(classID, cLineage), uint64(bps)+1) // 0 means "the global parameter"
		if s.Err() == nil {
			s.Fail(call.EmitEvent("ClassLineageChanged", idBig(classID), bps))
		}
		return s.Err()
	},
	"verifyClass": func(m *Module, call *metisvm.Call, s *store.S, classID uint64, args []any) error {
		meta, err := loadClass(call, s, classID)
		if err != nil {
			return err
		}
		if err := transition(call, s, classID, meta, dat.StatusRegistered, dat.StatusVerified); err != nil {
			return err
		}
		return payVerificationFee(call, s, classID)
	},
}

// executeAsCommunity runs one call of a passed community proposal for classId (see IDAT.sol).
func (m *Module) executeAsCommunity(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	classID, data := id(args[0].(*big.Int)), args[1].([]byte)
	s := store.New(call)
	if _, err := loadClass(call, s, classID); err != nil {
		return nil, err
	}
	var sel [4]byte
	copy(sel[:], data)
	method, err := dat.ABI.MethodById(data)
	if err != nil || communityMethods[method.Name] == nil {
		return nil, call.Revert("BadCommunityCall", sel)
	}
	inner, err := method.Inputs.Unpack(data[4:])
	if err != nil {
		return nil, metisvm.RevertReason(fmt.Sprintf("dat: bad arguments for %s: %v", method.Name, err))
	}
	if target := id(inner[0].(*big.Int)); target != classID {
		return nil, call.Revert("NotCommunity", inner[0].(*big.Int), call.Caller)
	}
	if err := communityMethods[method.Name](m, call, s, classID, inner); err != nil {
		return nil, err
	}
	return []any{[]byte{}}, s.Err()
}

// notCommunity is the direct entry of each class setter: only executeAsCommunity may reach them.
func (m *Module) notCommunity(call *metisvm.Call, args []any) ([]any, error) {
	return nil, call.Revert("NotCommunity", args[0].(*big.Int), call.Caller)
}

func (m *Module) viewClassDelegates(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	return []any{classDelegateOf(s, id(args[0].(*big.Int)), args[1].(common.Address))}, s.Err()
}

func (m *Module) viewSharesOf(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	return []any{bigOf(s.U256(sharesSlot(id(args[0].(*big.Int)), args[1].(common.Address))))}, s.Err()
}

func (m *Module) viewClassVotes(call *metisvm.Call, args []any) ([]any, error) {
	s := store.New(call)
	return []any{bigOf(classVotes(s, id(args[0].(*big.Int)), args[1].(common.Address)).Latest())}, s.Err()
}

func (m *Module) viewPastClassVotes(call *metisvm.Call, args []any) ([]any, error) {
	classID, a, block := id(args[0].(*big.Int)), args[1].(common.Address), args[2].(uint64)
	if block >= call.BlockNumber {
		return nil, call.Revert("FutureBlock", block, call.BlockNumber)
	}
	s := store.New(call)
	return []any{bigOf(classVotes(s, classID, a).At(block))}, s.Err()
}

func (m *Module) viewPastTotalShares(call *metisvm.Call, args []any) ([]any, error) {
	classID, block := id(args[0].(*big.Int)), args[1].(uint64)
	if block >= call.BlockNumber {
		return nil, call.Revert("FutureBlock", block, call.BlockNumber)
	}
	s := store.New(call)
	return []any{bigOf(totalSharesHistory(s, classID).At(block))}, s.Err()
}
