package state

import (
	"fmt"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
)

type entryKind uint8

// Journal entry kinds. The first group changes an account and makes it a candidate for
// Finalise (go-ethereum's journal "mutations"); the second does not.
const (
	jCreateObject entryKind = iota // addr; obj = the live object replaced, if any
	jSelfDestruct                  // addr
	jTouch                         // addr (a zero-value AddBalance on an empty account)
	jBalance                       // addr; u256 = previous balance
	jNonce                         // addr; u64 = previous nonce
	jCode                          // addr; code, key = previous code and hash; flag = previous dirtyCode
	jStorage                       // addr, key; prev, orig = previous and committed values

	jCreateContract // addr
	jTransient      // addr, key; prev = previous value
	jRefund         // u64 = previous refund
	jLog            // key = transaction hash
	jAccessAddress  // addr
	jAccessSlot     // addr, key
	jFees           // u256 = previous pending fees
)

// journalEntry is one undoable change. It is a tagged struct rather than an interface so that
// appending to the journal does not allocate per entry.
type journalEntry struct {
	kind entryKind
	flag bool
	addr common.Address
	key  common.Hash
	prev common.Hash
	orig common.Hash
	u64  uint64
	u256 uint256.Int
	code []byte
	obj  *stateObject
}

// dirties reports whether the entry changes its account (so Finalise must look at it).
func (e *journalEntry) dirties() bool { return e.kind <= jStorage }

type revision struct {
	id    int
	index int
}

// journal is the list of changes of the current transaction, with the revisions handed out by
// Snapshot.
type journal struct {
	entries   []journalEntry
	revisions []revision
	nextID    int
}

func (j *journal) append(e journalEntry) { j.entries = append(j.entries, e) }

func (j *journal) snapshot() int {
	id := j.nextID
	j.nextID++
	j.revisions = append(j.revisions, revision{id, len(j.entries)})
	return id
}

func (j *journal) reset() {
	clear(j.entries) // drop references to objects and code
	j.entries = j.entries[:0]
	j.revisions = j.revisions[:0]
	j.nextID = 0
}

// revertToSnapshot undoes every change made since revision id was taken and invalidates it and
// every later revision. Like go-ethereum it panics on an unknown id.
func (j *journal) revertToSnapshot(id int, s *StateDB) {
	idx := sort.Search(len(j.revisions), func(i int) bool { return j.revisions[i].id >= id })
	if idx == len(j.revisions) || j.revisions[idx].id != id {
		panic(fmt.Errorf("state: revision id %v cannot be reverted", id))
	}
	index := j.revisions[idx].index
	for i := len(j.entries) - 1; i >= index; i-- {
		s.undo(&j.entries[i])
		j.entries[i] = journalEntry{}
	}
	j.entries = j.entries[:index]
	j.revisions = j.revisions[:idx]
}

func (j *journal) copy() journal {
	cp := journal{
		entries:   make([]journalEntry, len(j.entries)),
		revisions: append([]revision(nil), j.revisions...),
		nextID:    j.nextID,
	}
	copy(cp.entries, j.entries)
	for i := range cp.entries {
		if cp.entries[i].obj != nil {
			cp.entries[i].obj = cp.entries[i].obj.deepCopy()
		}
	}
	return cp
}

// undo reverts one journal entry.
func (s *StateDB) undo(e *journalEntry) {
	switch e.kind {
	case jCreateObject:
		if e.obj != nil {
			s.objects[e.addr] = e.obj
		} else {
			delete(s.objects, e.addr)
		}
	case jSelfDestruct:
		s.objects[e.addr].selfDestructed = false
	case jTouch:
	case jBalance:
		s.objects[e.addr].data.Balance = e.u256
	case jNonce:
		s.objects[e.addr].data.Nonce = e.u64
	case jCode:
		obj := s.objects[e.addr]
		obj.code, obj.data.CodeHash, obj.dirtyCode, obj.codeLoaded = e.code, e.key, e.flag, true
	case jStorage:
		s.objects[e.addr].setState(e.key, e.prev, e.orig)
	case jCreateContract:
		if obj := s.objects[e.addr]; obj != nil {
			obj.newContract = false
		}
	case jTransient:
		s.transient.set(e.addr, e.key, e.prev)
	case jRefund:
		s.refund = e.u64
	case jLog:
		logs := s.logs[e.key]
		if len(logs) == 1 {
			delete(s.logs, e.key)
		} else {
			s.logs[e.key] = logs[:len(logs)-1]
		}
		s.logSize--
	case jAccessAddress:
		delete(s.accessList, e.addr)
	case jAccessSlot:
		delete(s.accessList[e.addr], e.key)
	case jFees:
		s.fees = e.u256
	}
}
