package idao

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/idao"
)

// Agent words (from Slot("agent", address)).
const (
	aOwner = iota
	aModel
	aState // registeredAt (low 64 bits); active flag (bit 64)
	aIndex // position in the agent list, plus one
)

func agentWord(a common.Address, w uint64) common.Hash {
	return metisvm.SlotAt(metisvm.Slot("agent", metisvm.AddressKey(a)), w)
}
func agentNameSlot(a common.Address) common.Hash {
	return metisvm.Slot("agentName", metisvm.AddressKey(a))
}
func agentMetaSlot(a common.Address) common.Hash {
	return metisvm.Slot("agentMeta", metisvm.AddressKey(a))
}
func agentListSlot(i uint64) common.Hash { return metisvm.Slot("agentList", metisvm.Uint64Key(i)) }

const activeBit = uint64(1) << 63

func (m *Module) registerAgent(call *metisvm.Call, args []any) ([]any, error) {
	a, name, meta, model := args[0].(common.Address), args[1].(string), args[2].(string), args[3].(*big.Int)
	if a == (common.Address{}) {
		return nil, call.Revert("ZeroAddress")
	}
	for _, str := range []string{name, meta} {
		if len(str) > idao.MaxStringLen {
			return nil, call.Revert("StringTooLong", big.NewInt(int64(len(str))), big.NewInt(idao.MaxStringLen))
		}
	}
	s := store.New(call)
	if st := s.U64(agentWord(a, aState)); st&activeBit != 0 {
		return nil, call.Revert("AgentExists", a)
	}
	s.SetAddr(agentWord(a, aOwner), call.Caller)
	s.SetU256(agentWord(a, aModel), u256(model))
	s.SetU64(agentWord(a, aState), activeBit|call.BlockNumber)
	s.SetBytes(agentNameSlot(a), []byte(name))
	s.SetBytes(agentMetaSlot(a), []byte(meta))
	n := s.U64(slotAgentCount)
	s.SetAddr(agentListSlot(n), a)
	s.SetU64(slotAgentCount, n+1)
	s.SetU64(agentWord(a, aIndex), n+1)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("AgentRegistered", a, call.Caller, name, meta, model))
	}
	return nil, s.Err()
}

func (m *Module) deregisterAgent(call *metisvm.Call, args []any) ([]any, error) {
	a := args[0].(common.Address)
	s := store.New(call)
	st := s.U64(agentWord(a, aState))
	owner := s.Addr(agentWord(a, aOwner))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if st&activeBit == 0 {
		return nil, call.Revert("UnknownAgent", a)
	}
	if call.Caller != owner && call.Caller != a {
		return nil, call.Revert("NotAgentOwner", a, call.Caller)
	}
	s.SetU64(agentWord(a, aState), st&^activeBit)
	// Remove from the list in O(1): the last entry takes its place.
	i := s.U64(agentWord(a, aIndex)) - 1
	n := s.U64(slotAgentCount)
	if last := n - 1; i != last {
		moved := s.Addr(agentListSlot(last))
		s.SetAddr(agentListSlot(i), moved)
		s.SetU64(agentWord(moved, aIndex), i+1)
	}
	s.SetAddr(agentListSlot(n-1), common.Address{})
	s.SetU64(slotAgentCount, n-1)
	s.SetU64(agentWord(a, aIndex), 0)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("AgentDeregistered", a, owner))
	}
	return nil, s.Err()
}

func (m *Module) viewAgent(call *metisvm.Call, args []any) ([]any, error) {
	a := args[0].(common.Address)
	s := store.New(call)
	owner := s.Addr(agentWord(a, aOwner))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if owner == (common.Address{}) {
		return nil, call.Revert("UnknownAgent", a)
	}
	st := s.U64(agentWord(a, aState))
	info := idao.AgentInfo{
		Agent: a, Owner: owner, Name: string(s.Bytes(agentNameSlot(a))),
		MetadataURI: string(s.Bytes(agentMetaSlot(a))), ModelClassId: bigOf(s.U256(agentWord(a, aModel))),
		Active: st&activeBit != 0, RegisteredAt: st &^ activeBit,
	}
	return []any{info}, s.Err()
}

func (m *Module) viewAgents(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	n := s.U64(slotAgentCount)
	out := make([]common.Address, 0, min(n, 4096))
	for i := uint64(0); i < n && s.Err() == nil; i++ {
		out = append(out, s.Addr(agentListSlot(i)))
	}
	return []any{out}, s.Err()
}
