package dat

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/modules/internal/store"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/lazai"
)

func (m *Module) createClass(call *metisvm.Call, args []any) ([]any, error) {
	p := *abi.ConvertType(args[0], new(dat.ClassParams)).(*dat.ClassParams)
	if p.Kind > uint8(dat.Compute) {
		return nil, metisvm.RevertReason(fmt.Sprintf("dat: unknown kind %d", p.Kind))
	}
	for _, str := range []string{p.MetadataURI, p.PolicyURI} {
		if len(str) > dat.MaxStringLen {
			return nil, call.Revert("StringTooLong", big.NewInt(int64(len(str))), big.NewInt(dat.MaxStringLen))
		}
	}
	if len(p.Parents) > dat.MaxParents {
		return nil, call.Revert("TooManyParents", big.NewInt(int64(len(p.Parents))), big.NewInt(dat.MaxParents))
	}
	s := store.New(call)
	fee := s.U256(slotVerificationFee)
	if err := s.Err(); err != nil {
		return nil, err
	}
	if !call.Value.Eq(fee) {
		return nil, call.Revert("WrongFee", bigOf(call.Value), bigOf(fee))
	}
	seen := make(map[uint64]bool, len(p.Parents))
	for _, pb := range p.Parents {
		pid := id(pb)
		meta := metaOf(s.Word(classWord(pid, cMeta)))
		if err := s.Err(); err != nil {
			return nil, err
		}
		if pid == 0 || seen[pid] || meta.status == uint8(dat.StatusNone) || meta.status == uint8(dat.StatusRevoked) {
			return nil, call.Revert("BadParent", pb)
		}
		seen[pid] = true
	}
	classID := s.U64(slotClassCount) + 1
	s.SetU64(slotClassCount, classID)
	s.SetAddr(classWord(classID, cOwner), call.Caller)
	s.SetWord(classWord(classID, cMeta), classMeta{
		kind: p.Kind, status: uint8(dat.StatusRegistered), unitDecimals: p.UnitDecimals, createdAt: call.BlockNumber,
	}.word())
	s.SetWord(classWord(classID, cIntegrity), p.IntegrityHash)
	s.SetU256(classWord(classID, cUsageFee), uint256.MustFromBig(p.UsageFee))
	s.SetU256(classWord(classID, cFee), fee)
	s.SetU64(classWord(classID, cParents), uint64(len(p.Parents)))
	for i, pb := range p.Parents {
		s.SetU64(classParentSlot(classID, uint64(i)), id(pb))
	}
	s.SetBytes(classMetadataSlot(classID), []byte(p.MetadataURI))
	s.SetBytes(classPolicySlot(classID), []byte(p.PolicyURI))
	parents := p.Parents
	if parents == nil {
		parents = []*big.Int{}
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ClassCreated", idBig(classID), call.Caller, p.Kind, p.IntegrityHash, parents))
	}
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ClassStatusChanged", idBig(classID), uint8(dat.StatusNone), uint8(dat.StatusRegistered)))
	}
	return []any{idBig(classID)}, s.Err()
}

// onlyClassOwner loads a class and checks that the caller owns it.
func onlyClassOwner(call *metisvm.Call, s *store.S, classID uint64) (classMeta, error) {
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return meta, err
	}
	if owner := s.Addr(classWord(classID, cOwner)); s.Err() == nil && owner != call.Caller {
		return meta, call.Revert("NotClassOwner", idBig(classID), call.Caller)
	}
	return meta, s.Err()
}

func (m *Module) setClassOperator(call *metisvm.Call, args []any) ([]any, error) {
	classID, op, allowed := id(args[0].(*big.Int)), args[1].(common.Address), args[2].(bool)
	s := store.New(call)
	if _, err := onlyClassOwner(call, s, classID); err != nil {
		return nil, err
	}
	if op == (common.Address{}) {
		return nil, call.Revert("ZeroAddress")
	}
	s.SetBool(operatorSlot(classID, op), allowed)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ClassOperatorSet", idBig(classID), op, allowed))
	}
	return nil, s.Err()
}

// transition moves a class from one status to another after check, reverting with BadStatus if
// it is not in from.
func transition(call *metisvm.Call, s *store.S, classID uint64, meta classMeta, from, to dat.Status) error {
	if meta.status != uint8(from) {
		return call.Revert("BadStatus", idBig(classID), meta.status)
	}
	return setStatus(call, s, classID, meta, to)
}

func (m *Module) activateClass(call *metisvm.Call, args []any) ([]any, error) {
	classID := id(args[0].(*big.Int))
	s := store.New(call)
	meta, err := onlyClassOwner(call, s, classID)
	if err != nil {
		return nil, err
	}
	return nil, transition(call, s, classID, meta, dat.StatusVerified, dat.StatusActive)
}

func (m *Module) deprecateClass(call *metisvm.Call, args []any) ([]any, error) {
	classID := id(args[0].(*big.Int))
	s := store.New(call)
	meta, err := onlyClassOwner(call, s, classID)
	if err != nil {
		return nil, err
	}
	return nil, transition(call, s, classID, meta, dat.StatusActive, dat.StatusDeprecated)
}

func (m *Module) verifyClass(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	classID := id(args[0].(*big.Int))
	s := store.New(call)
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return nil, err
	}
	if err := transition(call, s, classID, meta, dat.StatusRegistered, dat.StatusVerified); err != nil {
		return nil, err
	}
	return nil, payVerificationFee(call, s, classID)
}

func (m *Module) revokeClass(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	classID := id(args[0].(*big.Int))
	s := store.New(call)
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return nil, err
	}
	if meta.status == uint8(dat.StatusRevoked) {
		return nil, call.Revert("BadStatus", idBig(classID), meta.status)
	}
	if err := setStatus(call, s, classID, meta, dat.StatusRevoked); err != nil {
		return nil, err
	}
	return nil, payVerificationFee(call, s, classID)
}

// payVerificationFee routes a decided class's held verification fee to LazAI, whose split pays
// the validators.
func payVerificationFee(call *metisvm.Call, s *store.S, classID uint64) error {
	fee := s.U256(classWord(classID, cFee))
	if s.Err() != nil || fee.IsZero() {
		return s.Err()
	}
	s.SetU256(classWord(classID, cFee), new(uint256.Int))
	if err := s.Err(); err != nil {
		return err
	}
	// The validators' part of the fee goes to the validators who attested the class (in equal
	// parts), or to LazAI's validators recipient when governance decided without attestations.
	meta := metaOf(s.Word(classWord(classID, cMeta)))
	attesters := make([]common.Address, 0, meta.approvals+meta.rejections)
	for i := uint64(0); i < uint64(meta.approvals+meta.rejections) && s.Err() == nil; i++ {
		attesters = append(attesters, s.Addr(attesterSlot(classID, i)))
	}
	if err := s.Err(); err != nil {
		return err
	}
	if _, err := call.CallMethod(lazai.Address, lazai.ABI, fee, "routeFeesTo", uint8(lazai.SourceDataVerification), attesters); err != nil {
		return fmt.Errorf("dat: routing the verification fee to LazAI: %w", err)
	}
	return nil
}

func (m *Module) addProof(call *metisvm.Call, args []any) ([]any, error) {
	classID, proof, uri := id(args[0].(*big.Int)), args[1].([32]byte), args[2].(string)
	if len(uri) > dat.MaxStringLen {
		return nil, call.Revert("StringTooLong", big.NewInt(int64(len(uri))), big.NewInt(dat.MaxStringLen))
	}
	s := store.New(call)
	if _, err := loadClass(call, s, classID); err != nil {
		return nil, err
	}
	owner := s.Addr(classWord(classID, cOwner))
	validator := s.Bool(validatorSlot(call.Caller))
	if err := s.Err(); err != nil {
		return nil, err
	}
	if owner != call.Caller && !validator {
		return nil, call.Revert("NotClassOwner", idBig(classID), call.Caller)
	}
	return nil, call.EmitEvent("ProofAdded", idBig(classID), call.Caller, proof, uri)
}

// lazaiStake asks LazAI for an account's Holders Mining stake.
func lazaiStake(call *metisvm.Call, a common.Address) (*big.Int, error) {
	out, err := call.CallMethod(lazai.Address, lazai.ABI, nil, "stakeOf", a)
	if err != nil {
		return nil, fmt.Errorf("dat: reading the LazAI stake of %s: %w", a, err)
	}
	return out[0].(*big.Int), nil
}

// checkValidatorStake reverts unless a holds the validator stake.
func checkValidatorStake(call *metisvm.Call, s *store.S, a common.Address) error {
	required := s.U256(slotValidatorStake)
	if err := s.Err(); err != nil {
		return err
	}
	st, err := lazaiStake(call, a)
	if err != nil {
		return err
	}
	if st.Cmp(required.ToBig()) < 0 {
		return call.Revert("InsufficientValidatorStake", st, bigOf(required))
	}
	return nil
}

func (m *Module) registerValidator(call *metisvm.Call, _ []any) ([]any, error) {
	s := store.New(call)
	if s.Bool(validatorSlot(call.Caller)) {
		return nil, call.Revert("AlreadyValidator", call.Caller)
	}
	if err := checkValidatorStake(call, s, call.Caller); err != nil {
		return nil, err
	}
	s.SetBool(validatorSlot(call.Caller), true)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ValidatorRegistered", call.Caller))
	}
	return nil, s.Err()
}

func (m *Module) removeValidator(call *metisvm.Call, args []any) ([]any, error) {
	v := args[0].(common.Address)
	if call.Caller != v {
		if err := governance(call); err != nil {
			return nil, err
		}
	}
	s := store.New(call)
	if !s.Bool(validatorSlot(v)) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("NotValidator", v)
	}
	s.SetBool(validatorSlot(v), false)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ValidatorRemoved", v))
	}
	return nil, s.Err()
}

func (m *Module) attest(call *metisvm.Call, args []any) ([]any, error) {
	classID, approve := id(args[0].(*big.Int)), args[1].(bool)
	s := store.New(call)
	if !s.Bool(validatorSlot(call.Caller)) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("NotValidator", call.Caller)
	}
	meta, err := loadClass(call, s, classID)
	if err != nil {
		return nil, err
	}
	if meta.status != uint8(dat.StatusRegistered) {
		return nil, call.Revert("BadStatus", idBig(classID), meta.status)
	}
	if s.Bool(attestedSlot(classID, call.Caller)) {
		return nil, call.Revert("AlreadyAttested", idBig(classID), call.Caller)
	}
	if selfAttestation(s, classID, call.Caller, approve) {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, call.Revert("SelfAttestation", idBig(classID), call.Caller)
	}
	// A validator whose stake fell below the minimum since registering may not attest.
	if err := checkValidatorStake(call, s, call.Caller); err != nil {
		return nil, err
	}
	s.SetBool(attestedSlot(classID, call.Caller), true)
	s.SetAddr(attesterSlot(classID, uint64(meta.approvals+meta.rejections)), call.Caller)
	if approve {
		meta.approvals++
	} else {
		meta.rejections++
	}
	s.SetWord(classWord(classID, cMeta), meta.word())
	if s.Err() == nil {
		s.Fail(call.EmitEvent("Attested", idBig(classID), call.Caller, approve))
	}
	threshold := uint32(s.U64(slotThreshold))
	if err := s.Err(); err != nil {
		return nil, err
	}
	switch {
	case meta.approvals >= threshold:
		if err := setStatus(call, s, classID, meta, dat.StatusVerified); err != nil {
			return nil, err
		}
		return nil, payVerificationFee(call, s, classID)
	case meta.rejections >= threshold:
		if err := setStatus(call, s, classID, meta, dat.StatusRevoked); err != nil {
			return nil, err
		}
		return nil, payVerificationFee(call, s, classID)
	}
	return nil, nil
}

// selfAttestation reports whether attester may not attest the class: it owns it, or it would
// approve it while the owner has named it to act or vote for it in the class (an operator of
// the class, an approved operator of the owner's tokens of it, the owner's class delegate).
// Those are only refused approvals: the owner names them alone, and a refused rejection would
// let an owner silence the validators it expects to reject its class by naming them.
func selfAttestation(s *store.S, classID uint64, attester common.Address, approve bool) bool {
	owner := s.Addr(classWord(classID, cOwner))
	if owner == attester {
		return true
	}
	if !approve {
		return false
	}
	return s.Bool(operatorSlot(classID, attester)) || s.Bool(approvedSlot(owner, classID, attester)) ||
		classDelegateOf(s, classID, owner) == attester
}

func (m *Module) setParams(call *metisvm.Call, args []any) ([]any, error) {
	if err := governance(call); err != nil {
		return nil, err
	}
	p := *abi.ConvertType(args[0], new(dat.Params)).(*dat.Params)
	if !validParams(p) {
		return nil, call.Revert("BadParams")
	}
	s := store.New(call)
	writeParams(s, p)
	if s.Err() == nil {
		s.Fail(call.EmitEvent("ParamsChanged", p.VerificationFee, p.ValidatorMinStake, p.ApprovalThreshold, p.LineageBps))
	}
	return nil, s.Err()
}
