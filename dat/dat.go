// Package dat is the Go face of the DAT system module (0x…0a01), Data Anchoring Tokens after the
// ERC-8028 draft: its Solidity interface (IDAT.sol) and ABI, the types of its structs, and a
// typed client over ethclient (client.go). The module itself is chain/modules/dat.
package dat

//go:generate node ../tools/solc/abi.js IDAT.sol IDAT

import (
	_ "embed"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// Address is the module's fixed address.
var Address = common.HexToAddress("0x0000000000000000000000000000000000000a01")

//go:embed IDAT.abi.json
var abiJSON string

// ABI is the module's ABI, generated from IDAT.sol.
var ABI = mustABI(abiJSON)

func mustABI(s string) *abi.ABI {
	a, err := abi.JSON(strings.NewReader(s))
	if err != nil {
		panic("dat: embedded ABI: " + err.Error())
	}
	return &a
}

// Kind is what a class anchors (IDAT.Kind).
type Kind uint8

// Kinds.
const (
	Dataset Kind = iota
	Model
	Agent
	Compute
)

var kindNames = []string{"dataset", "model", "agent", "compute"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind parses a kind name ("dataset", "model", "agent", "compute").
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if strings.EqualFold(s, n) {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("dat: unknown kind %q (want one of %s)", s, strings.Join(kindNames, ", "))
}

// Status is a class's place in its lifecycle (IDAT.Status).
type Status uint8

// Statuses: Registered → Verified → Active → Deprecated; Revoked from any of them.
const (
	StatusNone Status = iota
	StatusRegistered
	StatusVerified
	StatusActive
	StatusDeprecated
	StatusRevoked
)

var statusNames = []string{"none", "registered", "verified", "active", "deprecated", "revoked"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// ClassParams are createClass's arguments (IDAT.ClassParams).
type ClassParams struct {
	Kind          uint8      `json:"kind"`
	MetadataURI   string     `json:"metadataURI"`
	IntegrityHash [32]byte   `json:"integrityHash"`
	PolicyURI     string     `json:"policyURI"`
	UnitDecimals  uint8      `json:"unitDecimals"`
	UsageFee      *big.Int   `json:"usageFee"`
	Parents       []*big.Int `json:"parents"`
}

// ClassInfo is a class as classInfo returns it (IDAT.ClassInfo).
type ClassInfo struct {
	Id                 *big.Int       `json:"id"`
	Kind               uint8          `json:"kind"`
	Status             uint8          `json:"status"`
	Owner              common.Address `json:"owner"`
	MetadataURI        string         `json:"metadataURI"`
	IntegrityHash      [32]byte       `json:"integrityHash"`
	PolicyURI          string         `json:"policyURI"`
	UnitDecimals       uint8          `json:"unitDecimals"`
	UsageFee           *big.Int       `json:"usageFee"`
	Parents            []*big.Int     `json:"parents"`
	TotalShares        *big.Int       `json:"totalShares"`
	TotalRevenue       *big.Int       `json:"totalRevenue"`
	AccRevenuePerShare *big.Int       `json:"accRevenuePerShare"`
	Approvals          uint32         `json:"approvals"`
	Rejections         uint32         `json:"rejections"`
	CreatedAt          uint64         `json:"createdAt"`
}

// TokenInfo is a token as tokenInfo returns it (IDAT.TokenInfo).
type TokenInfo struct {
	Id             *big.Int       `json:"id"`
	ClassId        *big.Int       `json:"classId"`
	Owner          common.Address `json:"owner"`
	Value          *big.Int       `json:"value"`
	ShareRatio     *big.Int       `json:"shareRatio"`
	ExpireAt       uint64         `json:"expireAt"`
	Expired        bool           `json:"expired"`
	PendingRevenue *big.Int       `json:"pendingRevenue"`
}

// Params are the governed parameters (IDAT.Params).
type Params struct {
	VerificationFee   *big.Int `json:"verificationFee"`
	ValidatorMinStake *big.Int `json:"validatorMinStake"`
	ApprovalThreshold uint32   `json:"approvalThreshold"`
	LineageBps        uint16   `json:"lineageBps"`
}

// Limits the module enforces.
const (
	MaxParents   = 16   // lineage parents per class
	MaxStringLen = 1024 // bytes of metadataURI, policyURI and proof URIs
)

// AccPrecision scales accRevenuePerShare.
var AccPrecision = new(big.Int).Exp(big.NewInt(10), big.NewInt(27), nil)

// DefaultParams are the genesis parameters: 0.01 METIS verification fee, 1 METIS validator stake,
// 1-of-n attestations (a dev chain has few validators), 10% lineage share.
func DefaultParams() Params {
	return Params{
		VerificationFee:   big.NewInt(1e16),
		ValidatorMinStake: big.NewInt(1e18),
		ApprovalThreshold: 1,
		LineageBps:        1000,
	}
}
