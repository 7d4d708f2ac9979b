package state

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/types/bal"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisdb"
)

// Reader is the MetisDB version a StateDB reads. *metisdb.Snapshot satisfies it. Get returns an
// error wrapping metisdb.ErrNotFound for an absent key.
type Reader interface {
	Get(key []byte) ([]byte, error)
	Iterator(start, end []byte) (*metisdb.Iterator, error)
}

// Writer receives the writes of Flush. *metisdb.DB satisfies it (the writes are staged in its
// batch; the caller commits).
type Writer interface {
	Set(key, value []byte) error
	Delete(key []byte) error
}

// Errors returned by Flush.
var (
	// ErrNotFinalised: the current transaction changed accounts and Finalise was not called.
	ErrNotFinalised = errors.New("state: account changes not finalised")
	// ErrPendingFees: transaction fees accrued with no CreditFees before Flush.
	ErrPendingFees = errors.New("state: transaction fees accrued but not credited")
)

// Option configures a StateDB.
type Option func(*StateDB)

// WithPreimages makes AddPreimage record the SHA3 preimages the EVM reports (see Preimages).
// Without it AddPreimage does nothing.
func WithPreimages() Option {
	return func(s *StateDB) { s.preimages = make(map[common.Hash][]byte) }
}

// StateDB is go-ethereum's vm.StateDB over one MetisDB version. It is not safe for concurrent
// use. Reads go to the Reader; every write stays in memory until Flush.
type StateDB struct {
	reader Reader

	objects    map[common.Address]*stateObject // live accounts (read or written in this block)
	absent     map[common.Address]struct{}     // addresses the Reader has no account for
	destructed map[common.Address]struct{}     // accounts deleted by a Finalise of this block
	mutated    map[common.Address]struct{}     // accounts changed by a Finalise of this block
	scratch    map[common.Address]struct{}     // Finalise's set of visited addresses
	dbErr      error

	refund uint64
	fees   uint256.Int

	thash            common.Hash
	txIndex          int
	blockAccessIndex uint32
	logs             map[common.Hash][]*types.Log
	logSize          uint
	preimages        map[common.Hash][]byte

	accessList accessList
	transient  transientStorage
	journal    journal
}

var _ vm.StateDB = (*StateDB)(nil)

// New returns a StateDB reading r, typically db.Snapshot(db.Version()).
func New(r Reader, opts ...Option) *StateDB {
	s := &StateDB{
		reader:     r,
		objects:    make(map[common.Address]*stateObject),
		absent:     make(map[common.Address]struct{}),
		destructed: make(map[common.Address]struct{}),
		mutated:    make(map[common.Address]struct{}),
		scratch:    make(map[common.Address]struct{}),
		logs:       make(map[common.Hash][]*types.Log),
		accessList: make(accessList),
		transient:  make(transientStorage),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Error returns the first error met reading the Reader (a corrupt value, a closed or pruned
// version), or nil. The vm.StateDB methods cannot return errors, so like go-ethereum the StateDB
// memoises the first one; Flush returns it.
func (s *StateDB) Error() error { return s.dbErr }

func (s *StateDB) setError(err error) {
	if s.dbErr == nil {
		s.dbErr = err
	}
}

// get reads key from the Reader; ok is false if it is absent or the read failed (recorded).
func (s *StateDB) get(key []byte) (v []byte, ok bool) {
	v, err := s.reader.Get(key)
	if err != nil {
		if !errors.Is(err, metisdb.ErrNotFound) {
			s.setError(fmt.Errorf("state: read %x: %w", key, err))
		}
		return nil, false
	}
	return v, true
}

// getStateObject returns the live account at addr, loading it from the Reader, or nil if it
// does not exist (or was deleted in this block and not re-created).
func (s *StateDB) getStateObject(addr common.Address) *stateObject {
	if obj := s.objects[addr]; obj != nil {
		return obj
	}
	if _, ok := s.destructed[addr]; ok {
		return nil
	}
	if _, ok := s.absent[addr]; ok {
		return nil
	}
	v, ok := s.get(AccountKey(addr))
	if !ok {
		s.absent[addr] = struct{}{}
		return nil
	}
	acct, err := DecodeAccount(v)
	if err != nil {
		s.setError(fmt.Errorf("state: account %s: %w", addr, err))
		return nil
	}
	obj := newObject(addr, acct)
	s.objects[addr] = obj
	return obj
}

func (s *StateDB) getOrNewStateObject(addr common.Address) *stateObject {
	if obj := s.getStateObject(addr); obj != nil {
		return obj
	}
	return s.createObject(addr)
}

// createObject makes a new, empty account at addr, replacing any live one.
func (s *StateDB) createObject(addr common.Address) *stateObject {
	obj := newObject(addr, newEmptyAccount())
	s.journal.append(journalEntry{kind: jCreateObject, addr: addr, obj: s.objects[addr]})
	s.objects[addr] = obj
	return obj
}

// CreateAccount creates a new, empty account at addr. Like go-ethereum it assumes the account
// does not exist; an existing one is overwritten (its Reader storage stays visible).
func (s *StateDB) CreateAccount(addr common.Address) { s.createObject(addr) }

// CreateContract marks the account at addr, which must exist, as created by this transaction,
// which makes it eligible for deletion by SELFDESTRUCT under EIP-6780.
func (s *StateDB) CreateContract(addr common.Address) {
	obj := s.getStateObject(addr)
	if obj == nil || obj.newContract {
		return
	}
	obj.newContract = true
	s.journal.append(journalEntry{kind: jCreateContract, addr: addr})
}

// IsNewContract reports whether CreateContract was called for addr in this transaction.
func (s *StateDB) IsNewContract(addr common.Address) bool {
	obj := s.getStateObject(addr)
	return obj != nil && obj.newContract
}

// Exist reports whether the account exists; a self-destructed account exists until Finalise.
func (s *StateDB) Exist(addr common.Address) bool { return s.getStateObject(addr) != nil }

// Empty reports whether the account does not exist or is empty per EIP-161.
func (s *StateDB) Empty(addr common.Address) bool {
	obj := s.getStateObject(addr)
	return obj == nil || obj.empty()
}

// Touch loads the account, like go-ethereum (it journals nothing).
func (s *StateDB) Touch(addr common.Address) { s.getStateObject(addr) }

// GetBalance returns a copy of the account's balance (zero if it does not exist).
func (s *StateDB) GetBalance(addr common.Address) *uint256.Int {
	if obj := s.getStateObject(addr); obj != nil {
		return new(uint256.Int).Set(&obj.data.Balance)
	}
	return new(uint256.Int)
}

// AddBalance adds amount to the account, creating it if needed, and returns the previous
// balance. A zero amount on an empty account touches it (EIP-161). The reason
// tracing.BalanceIncreaseRewardTransactionFee is special: see the package doc (lazy fee
// accrual); such a call changes no account and returns zero.
func (s *StateDB) AddBalance(addr common.Address, amount *uint256.Int, reason tracing.BalanceChangeReason) uint256.Int {
	if reason == tracing.BalanceIncreaseRewardTransactionFee {
		if !amount.IsZero() {
			s.journal.append(journalEntry{kind: jFees, u256: s.fees})
			s.fees.Add(&s.fees, amount)
		}
		return uint256.Int{}
	}
	obj := s.getOrNewStateObject(addr)
	prev := obj.data.Balance
	if amount.IsZero() {
		if obj.empty() {
			s.journal.append(journalEntry{kind: jTouch, addr: addr})
		}
		return prev
	}
	var bal uint256.Int
	bal.Add(&prev, amount)
	s.setBalance(obj, &bal)
	return prev
}

// SubBalance subtracts amount from the account, creating it if needed, and returns the previous
// balance. Like go-ethereum it does not check for underflow (the EVM checks first).
func (s *StateDB) SubBalance(addr common.Address, amount *uint256.Int, reason tracing.BalanceChangeReason) uint256.Int {
	obj := s.getOrNewStateObject(addr)
	prev := obj.data.Balance
	if amount.IsZero() {
		return prev
	}
	var bal uint256.Int
	bal.Sub(&prev, amount)
	s.setBalance(obj, &bal)
	return prev
}

// SetBalance sets the account's balance, creating it if needed.
func (s *StateDB) SetBalance(addr common.Address, amount *uint256.Int, reason tracing.BalanceChangeReason) {
	s.setBalance(s.getOrNewStateObject(addr), amount)
}

func (s *StateDB) setBalance(obj *stateObject, amount *uint256.Int) {
	s.journal.append(journalEntry{kind: jBalance, addr: obj.address, u256: obj.data.Balance})
	obj.data.Balance = *amount
}

// PendingFees returns the transaction fees accrued (see the package doc) and not yet credited.
func (s *StateDB) PendingFees() *uint256.Int { return new(uint256.Int).Set(&s.fees) }

// CreditFees adds the pending fees to addr's balance (reason
// tracing.BalanceIncreaseRewardMineBlock), resets them and returns the amount credited. The
// block builder calls it once per block, before the last Finalise and Flush.
func (s *StateDB) CreditFees(addr common.Address) *uint256.Int {
	amount := s.fees
	if amount.IsZero() {
		return new(uint256.Int)
	}
	s.journal.append(journalEntry{kind: jFees, u256: s.fees})
	s.fees.Clear()
	s.AddBalance(addr, &amount, tracing.BalanceIncreaseRewardMineBlock)
	return &amount
}

// GetNonce returns the account's nonce (zero if it does not exist).
func (s *StateDB) GetNonce(addr common.Address) uint64 {
	if obj := s.getStateObject(addr); obj != nil {
		return obj.data.Nonce
	}
	return 0
}

// SetNonce sets the account's nonce, creating it if needed.
func (s *StateDB) SetNonce(addr common.Address, nonce uint64, reason tracing.NonceChangeReason) {
	obj := s.getOrNewStateObject(addr)
	s.journal.append(journalEntry{kind: jNonce, addr: addr, u64: obj.data.Nonce})
	obj.data.Nonce = nonce
}

// GetCodeHash returns the account's code hash: types.EmptyCodeHash for an account without code,
// the zero hash for an account that does not exist.
func (s *StateDB) GetCodeHash(addr common.Address) common.Hash {
	if obj := s.getStateObject(addr); obj != nil {
		return obj.data.CodeHash
	}
	return common.Hash{}
}

// GetCode returns the account's code (nil if none). The slice must not be modified.
func (s *StateDB) GetCode(addr common.Address) []byte {
	if obj := s.getStateObject(addr); obj != nil {
		return s.loadCode(obj)
	}
	return nil
}

// GetCodeSize returns the length of the account's code.
func (s *StateDB) GetCodeSize(addr common.Address) int { return len(s.GetCode(addr)) }

func (s *StateDB) loadCode(obj *stateObject) []byte {
	if !obj.codeLoaded {
		obj.codeLoaded = true
		obj.code = nil
		if obj.data.CodeHash != types.EmptyCodeHash {
			if v, ok := s.get(CodeKey(obj.data.CodeHash)); ok {
				obj.code = bytes.Clone(v)
			} else {
				s.setError(fmt.Errorf("state: code %s of %s not found", obj.data.CodeHash, obj.address))
			}
		}
	}
	if len(obj.code) == 0 {
		return nil
	}
	return obj.code
}

// SetCode sets the account's code, creating it if needed, and returns the previous code.
func (s *StateDB) SetCode(addr common.Address, code []byte, reason tracing.CodeChangeReason) []byte {
	obj := s.getOrNewStateObject(addr)
	prev := s.loadCode(obj)
	s.journal.append(journalEntry{kind: jCode, addr: addr, code: obj.code, key: obj.data.CodeHash, flag: obj.dirtyCode})
	obj.code = code
	obj.codeLoaded = true
	obj.data.CodeHash = crypto.Keccak256Hash(code)
	obj.dirtyCode = true
	return prev
}

// committedState returns the slot's value before the current transaction.
func (s *StateDB) committedState(obj *stateObject, key common.Hash) common.Hash {
	if v, ok := obj.pending[key]; ok {
		return v
	}
	if v, ok := obj.origin[key]; ok {
		return v
	}
	var v common.Hash
	if _, destructed := s.destructed[obj.address]; !destructed {
		if raw, ok := s.get(StorageKey(obj.address, key)); ok {
			if len(raw) != common.HashLength {
				s.setError(fmt.Errorf("state: storage %s/%s: value of %d bytes", obj.address, key, len(raw)))
			} else {
				v = common.Hash(raw)
			}
		}
	}
	if obj.origin == nil {
		obj.origin = make(map[common.Hash]common.Hash)
	}
	obj.origin[key] = v
	return v
}

// getState returns the slot's current and committed values.
func (s *StateDB) getState(obj *stateObject, key common.Hash) (value, committed common.Hash) {
	committed = s.committedState(obj, key)
	if v, ok := obj.dirty[key]; ok {
		return v, committed
	}
	return committed, committed
}

// GetState returns the slot's current value.
func (s *StateDB) GetState(addr common.Address, key common.Hash) common.Hash {
	obj := s.getStateObject(addr)
	if obj == nil {
		return common.Hash{}
	}
	if v, ok := obj.dirty[key]; ok {
		return v
	}
	return s.committedState(obj, key)
}

// GetCommittedState returns the slot's value before the current transaction.
func (s *StateDB) GetCommittedState(addr common.Address, key common.Hash) common.Hash {
	if obj := s.getStateObject(addr); obj != nil {
		return s.committedState(obj, key)
	}
	return common.Hash{}
}

// GetStateAndCommittedState returns the slot's current value and its value before the current
// transaction.
func (s *StateDB) GetStateAndCommittedState(addr common.Address, key common.Hash) (common.Hash, common.Hash) {
	if obj := s.getStateObject(addr); obj != nil {
		return s.getState(obj, key)
	}
	return common.Hash{}, common.Hash{}
}

// SetState sets a storage slot, creating the account if needed, and returns the previous value.
func (s *StateDB) SetState(addr common.Address, key, value common.Hash) common.Hash {
	obj := s.getOrNewStateObject(addr)
	prev, committed := s.getState(obj, key)
	if prev == value {
		return prev
	}
	s.journal.append(journalEntry{kind: jStorage, addr: addr, key: key, prev: prev, orig: committed})
	obj.setState(key, value, committed)
	return prev
}

// GetTransientState returns an EIP-1153 transient storage slot.
func (s *StateDB) GetTransientState(addr common.Address, key common.Hash) common.Hash {
	return s.transient[transientKey{addr, key}]
}

// SetTransientState sets an EIP-1153 transient storage slot (journalled).
func (s *StateDB) SetTransientState(addr common.Address, key, value common.Hash) {
	prev := s.GetTransientState(addr, key)
	if prev == value {
		return
	}
	s.journal.append(journalEntry{kind: jTransient, addr: addr, key: key, prev: prev})
	s.transient.set(addr, key, value)
}

// SelfDestruct marks the account for deletion at Finalise; it stays readable until then. It
// does not check EIP-6780: go-ethereum's interpreter (opSelfdestruct6780) calls it only for a
// contract created in the same transaction, and moves the balance itself.
func (s *StateDB) SelfDestruct(addr common.Address) {
	obj := s.getStateObject(addr)
	if obj == nil || obj.selfDestructed {
		return
	}
	s.journal.append(journalEntry{kind: jSelfDestruct, addr: addr})
	obj.selfDestructed = true
}

// HasSelfDestructed reports whether SelfDestruct was called for addr in this transaction.
func (s *StateDB) HasSelfDestructed(addr common.Address) bool {
	obj := s.getStateObject(addr)
	return obj != nil && obj.selfDestructed
}

// AddRefund adds gas to the refund counter.
func (s *StateDB) AddRefund(gas uint64) {
	s.journal.append(journalEntry{kind: jRefund, u64: s.refund})
	s.refund += gas
}

// SubRefund removes gas from the refund counter; like go-ethereum it panics below zero.
func (s *StateDB) SubRefund(gas uint64) {
	s.journal.append(journalEntry{kind: jRefund, u64: s.refund})
	if gas > s.refund {
		panic(fmt.Sprintf("Refund counter below zero (gas: %d > refund: %d)", gas, s.refund))
	}
	s.refund -= gas
}

// GetRefund returns the refund counter.
func (s *StateDB) GetRefund() uint64 { return s.refund }

// Prepare starts a transaction, exactly as go-ethereum: with EIP-2929 it resets the access list
// and warms the sender, the destination, the precompiles, the transaction's access list and,
// from Shanghai (EIP-3651), the coinbase; it always resets transient storage.
func (s *StateDB) Prepare(rules params.Rules, sender, coinbase common.Address, dst *common.Address, precompiles []common.Address, list types.AccessList) {
	if rules.IsEIP2929 && rules.IsEIP4762 {
		panic("eip2929 and eip4762 are both activated")
	}
	if rules.IsEIP2929 {
		clear(s.accessList)
		s.accessList.addAddress(sender)
		if dst != nil {
			s.accessList.addAddress(*dst)
		}
		for _, addr := range precompiles {
			s.accessList.addAddress(addr)
		}
		for _, el := range list {
			s.accessList.addAddress(el.Address)
			for _, key := range el.StorageKeys {
				s.accessList.addSlot(el.Address, key)
			}
		}
		if rules.IsShanghai {
			s.accessList.addAddress(coinbase)
		}
	}
	clear(s.transient)
}

// AddressInAccessList reports whether addr is warm.
func (s *StateDB) AddressInAccessList(addr common.Address) bool {
	_, ok := s.accessList[addr]
	return ok
}

// SlotInAccessList reports whether addr and (addr, slot) are warm.
func (s *StateDB) SlotInAccessList(addr common.Address, slot common.Hash) (addressOk bool, slotOk bool) {
	slots, ok := s.accessList[addr]
	if !ok {
		return false, false
	}
	_, slotOk = slots[slot]
	return true, slotOk
}

// AddAddressToAccessList warms addr (journalled).
func (s *StateDB) AddAddressToAccessList(addr common.Address) {
	if s.accessList.addAddress(addr) {
		s.journal.append(journalEntry{kind: jAccessAddress, addr: addr})
	}
}

// AddSlotToAccessList warms (addr, slot), and addr if needed (journalled).
func (s *StateDB) AddSlotToAccessList(addr common.Address, slot common.Hash) {
	addrAdded, slotAdded := s.accessList.addSlot(addr, slot)
	if addrAdded {
		s.journal.append(journalEntry{kind: jAccessAddress, addr: addr})
	}
	if slotAdded {
		s.journal.append(journalEntry{kind: jAccessSlot, addr: addr, key: slot})
	}
}

// Snapshot returns an identifier for the current revision of the state.
func (s *StateDB) Snapshot() int { return s.journal.snapshot() }

// RevertToSnapshot undoes every change since Snapshot returned revid. It panics on an id that
// is unknown or was invalidated by an earlier revert or Finalise.
func (s *StateDB) RevertToSnapshot(revid int) { s.journal.revertToSnapshot(revid, s) }

// SetTxContext sets the transaction hash and index given to logs added from now on.
// blockAccessIndex is kept for the EIP-7928 block access list, which is not built (see the
// package doc).
func (s *StateDB) SetTxContext(thash common.Hash, ti int, blockAccessIndex uint32) {
	s.thash, s.txIndex, s.blockAccessIndex = thash, ti, blockAccessIndex
}

// TxIndex returns the transaction index set by SetTxContext.
func (s *StateDB) TxIndex() int { return s.txIndex }

// AddLog records a log of the current transaction, setting its transaction hash and index and
// its index in the block.
func (s *StateDB) AddLog(l *types.Log) {
	s.journal.append(journalEntry{kind: jLog, key: s.thash})
	l.TxHash = s.thash
	l.TxIndex = uint(s.txIndex)
	l.Index = s.logSize
	s.logs[s.thash] = append(s.logs[s.thash], l)
	s.logSize++
}

// GetLogs returns the logs of transaction hash, setting their block number, hash and time.
func (s *StateDB) GetLogs(hash common.Hash, blockNumber uint64, blockHash common.Hash, blockTime uint64) []*types.Log {
	logs := s.logs[hash]
	for _, l := range logs {
		l.BlockNumber = blockNumber
		l.BlockHash = blockHash
		l.BlockTimestamp = blockTime
	}
	return logs
}

// Logs returns every log of the block in index order.
func (s *StateDB) Logs() []*types.Log {
	logs := make([]*types.Log, 0, s.logSize)
	for _, l := range s.logs {
		logs = append(logs, l...)
	}
	slices.SortFunc(logs, func(a, b *types.Log) int { return int(a.Index) - int(b.Index) })
	return logs
}

// AddPreimage records a SHA3 preimage if the StateDB was made WithPreimages.
func (s *StateDB) AddPreimage(hash common.Hash, preimage []byte) {
	if s.preimages == nil {
		return
	}
	if _, ok := s.preimages[hash]; !ok {
		s.preimages[hash] = slices.Clone(preimage)
	}
}

// Preimages returns the preimages recorded (nil without WithPreimages).
func (s *StateDB) Preimages() map[common.Hash][]byte { return s.preimages }

// Witness returns nil: stateless witnesses are not collected.
func (s *StateDB) Witness() *stateless.Witness { return nil }

// AccessEvents returns nil: it is used by verkle/UBT (EIP-4762) only.
func (s *StateDB) AccessEvents() *state.AccessEvents { return nil }

// Finalise ends a transaction: every account it changed is either deleted (self-destructed, or
// empty when rules.IsEIP158) or has its storage writes moved to the block's pending layer. It
// then resets the refund counter, transient storage, access list and journal.
//
// It returns nil: the EIP-7928 block access list is an Amsterdam feature, and this chain runs
// Cancun/Prague rules, under which go-ethereum's Finalise returns nil too.
func (s *StateDB) Finalise(rules params.Rules) *bal.ConstructionBlockAccessList {
	for i := range s.journal.entries {
		e := &s.journal.entries[i]
		if !e.dirties() {
			continue
		}
		if _, seen := s.scratch[e.addr]; seen {
			continue
		}
		s.scratch[e.addr] = struct{}{}
		obj := s.objects[e.addr]
		if obj == nil {
			continue
		}
		if obj.selfDestructed || (rules.IsEIP158 && obj.empty()) {
			delete(s.objects, e.addr)
			s.destructed[e.addr] = struct{}{}
		} else {
			obj.finalise()
		}
		s.mutated[e.addr] = struct{}{}
	}
	clear(s.scratch)
	s.journal.reset()
	s.refund = 0
	clear(s.accessList)
	clear(s.transient)
	return nil
}

// Copy returns an independent deep copy sharing the Reader (for eth_call, estimateGas and the
// like). Unlike go-ethereum's, the copy keeps the journal, so its own snapshots stay valid.
func (s *StateDB) Copy() *StateDB {
	cp := &StateDB{
		reader:           s.reader,
		objects:          make(map[common.Address]*stateObject, len(s.objects)),
		absent:           maps.Clone(s.absent),
		destructed:       maps.Clone(s.destructed),
		mutated:          maps.Clone(s.mutated),
		scratch:          make(map[common.Address]struct{}),
		dbErr:            s.dbErr,
		refund:           s.refund,
		fees:             s.fees,
		thash:            s.thash,
		txIndex:          s.txIndex,
		blockAccessIndex: s.blockAccessIndex,
		logs:             make(map[common.Hash][]*types.Log, len(s.logs)),
		logSize:          s.logSize,
		preimages:        maps.Clone(s.preimages),
		accessList:       s.accessList.copy(),
		transient:        maps.Clone(s.transient),
		journal:          s.journal.copy(),
	}
	for addr, obj := range s.objects {
		cp.objects[addr] = obj.deepCopy()
	}
	for h, logs := range s.logs {
		c := make([]*types.Log, len(logs))
		for i, l := range logs {
			ll := *l
			c[i] = &ll
		}
		cp.logs[h] = c
	}
	return cp
}

// accessList is the EIP-2929 warm set: addresses, each with its warm slots (nil map: none).
type accessList map[common.Address]map[common.Hash]struct{}

func (al accessList) addAddress(addr common.Address) bool {
	if _, ok := al[addr]; ok {
		return false
	}
	al[addr] = nil
	return true
}

func (al accessList) addSlot(addr common.Address, slot common.Hash) (addrAdded, slotAdded bool) {
	slots, ok := al[addr]
	if _, warm := slots[slot]; warm {
		return false, false
	}
	if slots == nil {
		slots = make(map[common.Hash]struct{})
		al[addr] = slots
	}
	slots[slot] = struct{}{}
	return !ok, true
}

func (al accessList) copy() accessList {
	cp := make(accessList, len(al))
	for a, slots := range al {
		cp[a] = maps.Clone(slots)
	}
	return cp
}

type transientKey struct {
	addr common.Address
	key  common.Hash
}

// transientStorage is EIP-1153 storage: it lives for one transaction.
type transientStorage map[transientKey]common.Hash

func (t transientStorage) set(addr common.Address, key, value common.Hash) {
	if value == (common.Hash{}) {
		delete(t, transientKey{addr, key})
	} else {
		t[transientKey{addr, key}] = value
	}
}
