package state

import (
	"maps"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// stateObject is the in-memory view of one account in a block: its current data, its storage
// in three layers (this transaction, this block, as read), and its code once loaded.
type stateObject struct {
	address common.Address
	data    Account

	code       []byte
	codeLoaded bool // code holds the code of data.CodeHash
	dirtyCode  bool // SetCode was called in this block

	origin  map[common.Hash]common.Hash // committed values read (Reader's, or zero after a destruction in this block)
	pending map[common.Hash]common.Hash // values written by finalised transactions of this block
	dirty   map[common.Hash]common.Hash // values written by the current transaction

	selfDestructed bool // SelfDestruct was called in this transaction
	newContract    bool // CreateContract was called in this transaction (EIP-6780)
}

func newObject(addr common.Address, data Account) *stateObject {
	return &stateObject{address: addr, data: data}
}

func newEmptyAccount() Account {
	return Account{CodeHash: types.EmptyCodeHash}
}

// empty reports EIP-161 emptiness: zero nonce, zero balance, no code.
func (o *stateObject) empty() bool {
	return o.data.Nonce == 0 && o.data.Balance.IsZero() && o.data.CodeHash == types.EmptyCodeHash
}

// setState records value as the slot's current value, dropping the dirty marker when value is
// back to the committed value (go-ethereum's stateObject.setState).
func (o *stateObject) setState(key, value, origin common.Hash) {
	if value == origin {
		delete(o.dirty, key)
		return
	}
	if o.dirty == nil {
		o.dirty = make(map[common.Hash]common.Hash)
	}
	o.dirty[key] = value
}

// finalise moves the transaction's writes into the block's pending layer.
func (o *stateObject) finalise() {
	if len(o.dirty) > 0 {
		if o.pending == nil {
			o.pending = make(map[common.Hash]common.Hash, len(o.dirty))
		}
		maps.Copy(o.pending, o.dirty)
		clear(o.dirty)
	}
	o.newContract = false
}

func (o *stateObject) deepCopy() *stateObject {
	if o == nil {
		return nil
	}
	cp := *o
	cp.origin = maps.Clone(o.origin)
	cp.pending = maps.Clone(o.pending)
	cp.dirty = maps.Clone(o.dirty)
	return &cp
}
