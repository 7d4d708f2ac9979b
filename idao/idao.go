// Package idao is the Go face of the iDAO system module (0x…0a02): governance where people and
// AI agents propose, delegate and vote, after OpenZeppelin's Governor with a timelock. It holds
// the Solidity interface (IIDAO.sol) and ABI, the types of its structs, and a typed client over
// ethclient (client.go). The module itself is chain/modules/idao.
package idao

//go:generate node ../tools/solc/abi.js IIDAO.sol IIDAO

import (
	_ "embed"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// Address is the module's fixed address. It is also the treasury: LazAI sends the iDAO's part of
// every fee here, and executed proposals spend from it.
var Address = common.HexToAddress("0x0000000000000000000000000000000000000a02")

// RootDAO is the dao id of the root iDAO; a community iDAO's id is its DAT class id.
const RootDAO = 0

//go:embed IIDAO.abi.json
var abiJSON string

// ABI is the module's ABI, generated from IIDAO.sol.
var ABI = func() *abi.ABI {
	a, err := abi.JSON(strings.NewReader(abiJSON))
	if err != nil {
		panic("idao: embedded ABI: " + err.Error())
	}
	return &a
}()

// State is a proposal's state (IIDAO.ProposalState).
type State uint8

// Proposal states, as OpenZeppelin's Governor.
const (
	Pending State = iota
	Active
	Canceled
	Defeated
	Succeeded
	Queued
	Expired
	Executed
)

var stateNames = []string{"pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Vote choices.
const (
	Against uint8 = 0
	For     uint8 = 1
	Abstain uint8 = 2
)

// ParseSupport parses "for", "against" or "abstain".
func ParseSupport(s string) (uint8, error) {
	switch strings.ToLower(s) {
	case "for", "yes", "1":
		return For, nil
	case "against", "no", "0":
		return Against, nil
	case "abstain", "2":
		return Abstain, nil
	}
	return 0, fmt.Errorf("idao: vote %q: want for, against or abstain", s)
}

// Params are the governed parameters (IIDAO.Params).
type Params struct {
	VotingDelay       uint64   `json:"votingDelay"`
	VotingPeriod      uint64   `json:"votingPeriod"`
	QuorumBps         uint16   `json:"quorumBps"`
	ProposalThreshold *big.Int `json:"proposalThreshold"`
	TimelockDelay     uint64   `json:"timelockDelay"`
	GracePeriod       uint64   `json:"gracePeriod"`
}

// DefaultParams are the genesis parameters, sized for a dev chain whose blocks come with
// transactions: voting opens 1 block after a proposal and lasts 10, quorum 4% of the power at
// the snapshot, 1 METIS of votes to propose in the root iDAO, 2 blocks of timelock, 100 blocks of
// grace.
func DefaultParams() Params {
	return Params{VotingDelay: 1, VotingPeriod: 10, QuorumBps: 400,
		ProposalThreshold: big.NewInt(1e18), TimelockDelay: 2, GracePeriod: 100}
}

// Bounds of the parameters (as GovernorBravo bounds its own); setParams outside them reverts.
const (
	MaxVotingDelay   = 100_000
	MinVotingPeriod  = 1
	MaxVotingPeriod  = 1_000_000
	MaxTimelockDelay = 100_000
	MinGracePeriod   = 1
	MaxGracePeriod   = 1_000_000
	MaxCalls         = 16   // calls per proposal
	MaxDescription   = 8192 // bytes
	MaxStringLen     = 1024 // agent name and metadata URI
)

// Valid reports whether p is within the bounds.
func (p Params) Valid() bool {
	return p.VotingDelay <= MaxVotingDelay && p.VotingPeriod >= MinVotingPeriod && p.VotingPeriod <= MaxVotingPeriod &&
		p.QuorumBps >= 1 && p.QuorumBps <= 10_000 && p.ProposalThreshold != nil && p.ProposalThreshold.Sign() >= 0 &&
		p.ProposalThreshold.BitLen() <= 256 && p.TimelockDelay <= MaxTimelockDelay &&
		p.GracePeriod >= MinGracePeriod && p.GracePeriod <= MaxGracePeriod
}

// ProposalInfo is a proposal as the proposal view returns it.
type ProposalInfo struct {
	Id           *big.Int         `json:"id"`
	Dao          *big.Int         `json:"dao"`
	Proposer     common.Address   `json:"proposer"`
	State        uint8            `json:"state"`
	Snapshot     uint64           `json:"snapshot"`
	Deadline     uint64           `json:"deadline"`
	Eta          uint64           `json:"eta"`
	ForVotes     *big.Int         `json:"forVotes"`
	AgainstVotes *big.Int         `json:"againstVotes"`
	AbstainVotes *big.Int         `json:"abstainVotes"`
	Quorum       *big.Int         `json:"quorum"`
	Targets      []common.Address `json:"targets"`
	Values       []*big.Int       `json:"values"`
	Calldatas    [][]byte         `json:"calldatas"`
	Description  string           `json:"description"`
}

// AgentInfo is a registered agent (IIDAO.AgentInfo).
type AgentInfo struct {
	Agent        common.Address `json:"agent"`
	Owner        common.Address `json:"owner"`
	Name         string         `json:"name"`
	MetadataURI  string         `json:"metadataURI"`
	ModelClassId *big.Int       `json:"modelClassId"`
	Active       bool           `json:"active"`
	RegisteredAt uint64         `json:"registeredAt"`
}
