package dat

import (
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/dat"
)

// gasSchedule is each method's fixed base gas, charged before it runs (see the package doc).
var gasSchedule = map[string]uint64{
	"createClass": 20_000, "setClassOperator": 2_000, "activateClass": 2_000,
	"deprecateClass": 2_000, "revokeClass": 2_000, "verifyClass": 2_000, "addProof": 2_000,
	"registerValidator": 5_000, "removeValidator": 2_000, "attest": 5_000,
	"mint": 10_000, "transferToken": 5_000, "transferValue": 5_000, "approveForClass": 2_000,
	"recordUsage": 5_000, "settleRevenue": 5_000, "claim": 5_000, "settleExpired": 5_000,
	"setParams": 2_000,
	"params":    500, "classCount": 500, "tokenCount": 500, "classInfo": 1_000, "tokenInfo": 1_000,
	"pendingRevenue": 500, "tokensOf": 500, "isValidator": 500, "isApprovedForClass": 500,
	"executeAsCommunity": 5_000, "setClassPolicy": 0, "setUsageFee": 0, "setClassLineage": 0,
	"delegateClass": 5_000, "classDelegates": 500, "sharesOf": 500, "getClassVotes": 500,
	"getPastClassVotes": 500, "getPastTotalShares": 500,
}

// Module is the DAT system module.
type Module struct {
	params dat.Params
	router *metisvm.Router
}

var _ interface {
	metisvm.Module
	metisvm.GenesisInitializer
} = (*Module)(nil)

// New returns the module with p as its genesis parameters.
func New(p dat.Params) *Module {
	m := &Module{params: p}
	handlers := map[string]metisvm.Handler{
		"createClass": m.createClass, "setClassOperator": m.setClassOperator,
		"activateClass": m.activateClass, "deprecateClass": m.deprecateClass,
		"revokeClass": m.revokeClass, "verifyClass": m.verifyClass, "addProof": m.addProof,
		"registerValidator": m.registerValidator, "removeValidator": m.removeValidator,
		"attest": m.attest,
		"mint":   m.mint, "transferToken": m.transferToken, "transferValue": m.transferValue,
		"approveForClass": m.approveForClass, "recordUsage": m.recordUsage,
		"settleRevenue": m.settleRevenue, "claim": m.claim, "settleExpired": m.settleExpired,
		"setParams": m.setParams,
		"params":    m.viewParams, "classCount": m.viewClassCount, "tokenCount": m.viewTokenCount,
		"classInfo": m.viewClassInfo, "tokenInfo": m.viewTokenInfo,
		"pendingRevenue": m.viewPendingRevenue, "tokensOf": m.viewTokensOf,
		"isValidator": m.viewIsValidator, "isApprovedForClass": m.viewIsApprovedForClass,
		"executeAsCommunity": m.executeAsCommunity, "setClassPolicy": m.notCommunity,
		"setUsageFee": m.notCommunity, "setClassLineage": m.notCommunity,
		"delegateClass": m.delegateClass, "classDelegates": m.viewClassDelegates,
		"sharesOf": m.viewSharesOf, "getClassVotes": m.viewClassVotes,
		"getPastClassVotes": m.viewPastClassVotes, "getPastTotalShares": m.viewPastTotalShares,
	}
	m.router = metisvm.NewRouterFor(dat.ABI, gasSchedule, handlers)
	return m
}

// Address is 0x…0a01.
func (m *Module) Address() common.Address { return dat.Address }

// ABI is IDAT's.
func (m *Module) ABI() *abi.ABI { return dat.ABI }

// Run dispatches a call.
func (m *Module) Run(call *metisvm.Call, input []byte) ([]byte, error) {
	return m.router.Run(call, input)
}

// InitGenesis writes the genesis parameters.
func (m *Module) InitGenesis(call *metisvm.Call) error {
	if !validParams(m.params) {
		return call.Revert("BadParams")
	}
	s := store.New(call)
	writeParams(s, m.params)
	return s.Err()
}

func validParams(p dat.Params) bool {
	return p.VerificationFee != nil && p.VerificationFee.Sign() >= 0 && p.VerificationFee.BitLen() <= 256 &&
		p.ValidatorMinStake != nil && p.ValidatorMinStake.Sign() >= 0 && p.ValidatorMinStake.BitLen() <= 256 &&
		p.ApprovalThreshold >= 1 && p.LineageBps <= bpsDenom
}

const bpsDenom = 10_000

// precision scales acc.
var precision = uint256.MustFromBig(dat.AccPrecision)

// Storage layout. Classes and tokens are structs of consecutive words from a mapping slot.
var (
	slotVerificationFee = metisvm.Slot("params.verificationFee")
	slotValidatorStake  = metisvm.Slot("params.validatorMinStake")
	slotThreshold       = metisvm.Slot("params.approvalThreshold")
	slotLineageBps      = metisvm.Slot("params.lineageBps")
	slotClassCount      = metisvm.Slot("classCount")
	slotTokenCount      = metisvm.Slot("tokenCount")
)

// Class words (from classBase(id)).
const (
	cOwner = iota
	cMeta  // kind, status, unitDecimals, approvals, rejections, createdAt (packed, see classMeta)
	cIntegrity
	cUsageFee
	cTotalShares
	cTotalRevenue
	cAcc
	cCarry
	cUnallocated
	cParents // count; parent i at Slot("classParent", id, i)
	cFee     // verification fee held until the class is decided
	cLineage // lineageBps+1 set by the class's community; 0: params().lineageBps
)

// Token words (from tokenBase(id)).
const (
	tOwner = iota
	tClass
	tValue
	tShares
	tExpiry // expireAt (low 64 bits) and the settled-expired flag (bit 64)
	tAcc0
	tOwed
	tIndex // position in the owner's token list, plus one
)

func idKey(id uint64) common.Hash { return metisvm.Uint64Key(id) }

func classBase(id uint64) common.Hash { return metisvm.Slot("class", idKey(id)) }
func classWord(id uint64, w uint64) common.Hash {
	return metisvm.SlotAt(classBase(id), w)
}
func tokenWord(id uint64, w uint64) common.Hash {
	return metisvm.SlotAt(metisvm.Slot("token", idKey(id)), w)
}
func classMetadataSlot(id uint64) common.Hash { return metisvm.Slot("classMetadataURI", idKey(id)) }
func classPolicySlot(id uint64) common.Hash   { return metisvm.Slot("classPolicyURI", idKey(id)) }
func classParentSlot(id, i uint64) common.Hash {
	return metisvm.Slot("classParent", idKey(id), metisvm.Uint64Key(i))
}
func operatorSlot(id uint64, a common.Address) common.Hash {
	return metisvm.Slot("classOperator", idKey(id), metisvm.AddressKey(a))
}
func attesterSlot(id, i uint64) common.Hash {
	return metisvm.Slot("attester", idKey(id), metisvm.Uint64Key(i))
}
func attestedSlot(id uint64, a common.Address) common.Hash {
	return metisvm.Slot("attested", idKey(id), metisvm.AddressKey(a))
}
func approvedSlot(owner common.Address, classID uint64, op common.Address) common.Hash {
	return metisvm.Slot("approvedForClass", metisvm.AddressKey(owner), idKey(classID), metisvm.AddressKey(op))
}
func validatorSlot(a common.Address) common.Hash {
	return metisvm.Slot("validator", metisvm.AddressKey(a))
}
func ownerTokensSlot(a common.Address) common.Hash {
	return metisvm.Slot("ownerTokens", metisvm.AddressKey(a))
}
func ownerTokenSlot(a common.Address, i uint64) common.Hash {
	return metisvm.Slot("ownerTokens", metisvm.AddressKey(a), metisvm.Uint64Key(i))
}
func accHistory(s *store.S, classID uint64) store.Checkpoints {
	return s.Checkpoints("accHistory", idKey(classID))
}

// classMeta is the packed second word of a class.
type classMeta struct {
	kind, status, unitDecimals uint8
	approvals, rejections      uint32
	createdAt                  uint64
}

func (c classMeta) word() common.Hash {
	var w common.Hash
	w[0], w[1], w[2] = c.kind, c.status, c.unitDecimals
	be32(w[3:7], c.approvals)
	be32(w[7:11], c.rejections)
	for i := 0; i < 8; i++ {
		w[11+i] = byte(c.createdAt >> (56 - 8*i))
	}
	return w
}

func metaOf(w common.Hash) classMeta {
	c := classMeta{kind: w[0], status: w[1], unitDecimals: w[2],
		approvals: rd32(w[3:7]), rejections: rd32(w[7:11])}
	for i := 0; i < 8; i++ {
		c.createdAt = c.createdAt<<8 | uint64(w[11+i])
	}
	return c
}

func be32(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v) }
func rd32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func writeParams(s *store.S, p dat.Params) {
	s.SetU256(slotVerificationFee, uint256.MustFromBig(p.VerificationFee))
	s.SetU256(slotValidatorStake, uint256.MustFromBig(p.ValidatorMinStake))
	s.SetU64(slotThreshold, uint64(p.ApprovalThreshold))
	s.SetU64(slotLineageBps, uint64(p.LineageBps))
}

func readParams(s *store.S) dat.Params {
	return dat.Params{
		VerificationFee:   s.U256(slotVerificationFee).ToBig(),
		ValidatorMinStake: s.U256(slotValidatorStake).ToBig(),
		ApprovalThreshold: uint32(s.U64(slotThreshold)),
		LineageBps:        uint16(s.U64(slotLineageBps)),
	}
}

func bigOf(u *uint256.Int) *big.Int { return u.ToBig() }

// id converts an ABI uint256 id; ids above 2^64 cannot exist (ids count from 1).
func id(b *big.Int) uint64 {
	if !b.IsUint64() {
		return 0
	}
	return b.Uint64()
}

func idBig(id uint64) *big.Int { return new(big.Int).SetUint64(id) }

func governance(call *metisvm.Call) error {
	if call.Caller != metisvm.IDAOAddress {
		return call.Revert("NotGovernance", call.Caller)
	}
	return nil
}

// loadClass returns a class's packed word, reverting with ClassNotFound if it does not exist.
func loadClass(call *metisvm.Call, s *store.S, classID uint64) (classMeta, error) {
	meta := metaOf(s.Word(classWord(classID, cMeta)))
	if err := s.Err(); err != nil {
		return meta, err
	}
	if meta.status == uint8(dat.StatusNone) {
		return meta, call.Revert("ClassNotFound", idBig(classID))
	}
	return meta, nil
}

// loadTokenOwner returns a token's owner and class, reverting with TokenNotFound.
func loadTokenOwner(call *metisvm.Call, s *store.S, tokenID uint64) (common.Address, uint64, error) {
	owner := s.Addr(tokenWord(tokenID, tOwner))
	classID := s.U64(tokenWord(tokenID, tClass))
	if err := s.Err(); err != nil {
		return owner, classID, err
	}
	if owner == (common.Address{}) {
		return owner, classID, call.Revert("TokenNotFound", idBig(tokenID))
	}
	return owner, classID, nil
}

// setStatus moves a class to status to, emitting the transition.
func setStatus(call *metisvm.Call, s *store.S, classID uint64, meta classMeta, to dat.Status) error {
	from := meta.status
	meta.status = uint8(to)
	s.SetWord(classWord(classID, cMeta), meta.word())
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ClassStatusChanged", idBig(classID), from, uint8(to)))
	}
	return s.Err()
}
