// Package lazai is the Go face of the LazAI system module (0x…0a04): its Solidity interface
// (ILazAI.sol) and ABI, the types of its structs and events, and a typed client over ethclient
// (client.go). The module itself, which routes every fee of the chain and runs Holders Mining,
// is chain/modules/lazai; its package documentation is the specification of Holders Mining.
package lazai

//go:generate node ../tools/solc/abi.js ILazAI.sol ILazAI

import (
	_ "embed"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// Address is the module's fixed address.
var Address = common.HexToAddress("0x0000000000000000000000000000000000000a04")

//go:embed ILazAI.abi.json
var abiJSON string

// ABI is the module's ABI, generated from ILazAI.sol.
var ABI = mustABI(abiJSON)

func mustABI(s string) *abi.ABI {
	a, err := abi.JSON(strings.NewReader(s))
	if err != nil {
		panic("lazai: embedded ABI: " + err.Error())
	}
	return &a
}

// FeeSource says where a routed fee came from (ILazAI.FeeSource).
type FeeSource uint8

// Fee sources.
const (
	SourceGas FeeSource = iota
	SourceCompute
	SourceDataVerification
	SourceOther
)

func (s FeeSource) String() string {
	switch s {
	case SourceGas:
		return "gas"
	case SourceCompute:
		return "compute"
	case SourceDataVerification:
		return "data-verification"
	case SourceOther:
		return "other"
	}
	return "unknown"
}

// BPS is the denominator of basis points.
const BPS = 10_000

// Split is the fee split in basis points (ILazAI.Split); the parts sum to [BPS].
type Split struct {
	HoldersBps    uint16 `json:"holdersBps"`
	ValidatorsBps uint16 `json:"validatorsBps"`
	TreasuryBps   uint16 `json:"treasuryBps"`
	BurnBps       uint16 `json:"burnBps"`
}

// Total is the sum of the parts.
func (s Split) Total() uint64 {
	return uint64(s.HoldersBps) + uint64(s.ValidatorsBps) + uint64(s.TreasuryBps) + uint64(s.BurnBps)
}

// DefaultSplit is the genesis split: 50% Holders Mining, 20% validators and sequencer, 20% iDAO
// treasury, 10% burned.
var DefaultSplit = Split{HoldersBps: 5000, ValidatorsBps: 2000, TreasuryBps: 2000, BurnBps: 1000}

// DefaultUnbondingDelay is the genesis unbonding delay in blocks.
const DefaultUnbondingDelay = 100

// MaxUnbondingDelay bounds the unbonding delay (genesis and setUnbondingDelay): 1,000,000 blocks,
// the bound of the Verifier's verifierUnbonding and of the iDAO's voting period.
const MaxUnbondingDelay = 1_000_000

// Stats are the figures of ILazAI.stats.
type Stats struct {
	TotalStaked   *big.Int `json:"totalStaked"`
	HolderRewards *big.Int `json:"holderRewards"`
	Routed        *big.Int `json:"routed"`
	FromBlock     uint64   `json:"fromBlock"`
	ToBlock       uint64   `json:"toBlock"`
	Span          uint64   `json:"span"`
	AprBps        *big.Int `json:"aprBps"`
	TotalRouted   *big.Int `json:"totalRouted"`
	TotalBurned   *big.Int `json:"totalBurned"`
}
