// Package verifier is the Go face of the Verifier system module (0x…0a03), verifiable compute:
// its Solidity interface (IVerifier.sol) and ABI, the types of its structs, and a typed client
// over ethclient. The module itself is chain/modules/verifier; the one-step replay it runs in a
// dispute is verifier/replay.
package verifier

//go:generate node ../tools/solc/abi.js IVerifier.sol IVerifier

import (
	_ "embed"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

// Address is the module's fixed address.
var Address = common.HexToAddress("0x0000000000000000000000000000000000000a03")

//go:embed IVerifier.abi.json
var abiJSON string

// ABI is the module's ABI, generated from IVerifier.sol.
var ABI = func() *abi.ABI {
	a, err := abi.JSON(strings.NewReader(abiJSON))
	if err != nil {
		panic("verifier: embedded ABI: " + err.Error())
	}
	return &a
}()

// Mode is how a task's result is verified (IVerifier.Mode).
type Mode uint8

// Modes.
const (
	ModeAttest     Mode = 0
	ModeOptimistic Mode = 1
)

func (m Mode) String() string {
	switch m {
	case ModeAttest:
		return "attest"
	case ModeOptimistic:
		return "optimistic"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Status is a task's state (IVerifier.TaskStatus).
type Status uint8

// Task statuses.
const (
	StatusNone Status = iota
	StatusRequested
	StatusSubmitted
	StatusChallenged
	StatusFinalized
	StatusRejected
	StatusExpired
)

var statusNames = []string{"none", "requested", "submitted", "challenged", "finalized", "rejected", "expired"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Receipt is IVerifier.Receipt: inference.Receipt in ABI form (see ReceiptFromInference).
type Receipt struct {
	Engine       string   `json:"engine"`
	Model        string   `json:"model"`
	ModelDigest  [32]byte `json:"modelDigest"`
	InputDigest  [32]byte `json:"inputDigest"`
	Temperature  string   `json:"temperature"`
	TopK         uint64   `json:"topK"`
	TopP         string   `json:"topP"`
	Seed         string   `json:"seed"`
	MaxTokens    uint64   `json:"maxTokens"`
	Stop         []string `json:"stop"`
	OutputDigest [32]byte `json:"outputDigest"`
	PromptTokens uint64   `json:"promptTokens"`
	OutputTokens uint64   `json:"outputTokens"`
	TraceRoot    [32]byte `json:"traceRoot"`
	Timestamp    uint64   `json:"timestamp"`
	ChainId      uint64   `json:"chainId"`
	Signature    []byte   `json:"signature"`
}

// TaskInfo is IVerifier.TaskInfo.
type TaskInfo struct {
	Id           *big.Int         `json:"id"`
	Requester    common.Address   `json:"requester"`
	ModelClassId *big.Int         `json:"modelClassId"`
	ModelDigest  [32]byte         `json:"modelDigest"`
	InputDigest  [32]byte         `json:"inputDigest"`
	Mode         uint8            `json:"mode"`
	Fee          *big.Int         `json:"fee"`
	Deadline     uint64           `json:"deadline"`
	Status       uint8            `json:"status"`
	Prover       common.Address   `json:"prover"`
	OutputDigest [32]byte         `json:"outputDigest"`
	TraceRoot    [32]byte         `json:"traceRoot"`
	Steps        uint64           `json:"steps"`
	ProverBond   *big.Int         `json:"proverBond"`
	WindowEnd    uint64           `json:"windowEnd"`
	Verifiers    []common.Address `json:"verifiers"`
	Approvals    uint32           `json:"approvals"`
	Rejections   uint32           `json:"rejections"`
	DisputeId    *big.Int         `json:"disputeId"`
	// OutputTokensHash is, for an optimistic task, the sha256 of the revealed output tokens
	// (each a little-endian u32); zero until the prover reveals them.
	OutputTokensHash [32]byte `json:"outputTokensHash"`
}

// DisputeInfo is IVerifier.DisputeInfo.
type DisputeInfo struct {
	Id              *big.Int       `json:"id"`
	TaskId          *big.Int       `json:"taskId"`
	Challenger      common.Address `json:"challenger"`
	Bond            *big.Int       `json:"bond"`
	Lo              uint64         `json:"lo"`
	Hi              uint64         `json:"hi"`
	Node            [32]byte       `json:"node"`
	ProverToMove    bool           `json:"proverToMove"`
	MoveDeadline    uint64         `json:"moveDeadline"`
	ProverMoves     uint32         `json:"proverMoves"`
	ChallengerMoves uint32         `json:"challengerMoves"`
	Resolved        bool           `json:"resolved"`
	ProverWon       bool           `json:"proverWon"`
	// OutputToken marks a token dispute (challengeToken): TokenIndex is the output token k
	// disputed, and [Lo, Hi) the leaf of its output step.
	OutputToken bool   `json:"outputToken"`
	TokenIndex  uint64 `json:"tokenIndex"`
}

// Params is IVerifier.Params.
type Params struct {
	MinProverBond     *big.Int `json:"minProverBond"`
	MinChallengerBond *big.Int `json:"minChallengerBond"`
	ChallengeWindow   uint64   `json:"challengeWindow"`
	MoveTimeout       uint64   `json:"moveTimeout"`
	AttestN           uint32   `json:"attestN"`
	AttestK           uint32   `json:"attestK"`
	ProtocolCutBps    uint16   `json:"protocolCutBps"`
	SlashCutBps       uint16   `json:"slashCutBps"`
	MinVerifierStake  *big.Int `json:"minVerifierStake"`
	VerifierUnbonding uint64   `json:"verifierUnbonding"`
}

// DefaultParams are the genesis parameters, sized for a dev chain: 0.1 METIS bonds, a 10-block
// challenge window, 5 blocks per dispute move, 2-of-3 attestation, 5% of fees and 10% of
// forfeited bonds to LazAI, 1 METIS verifier stake with 10 blocks of unbonding.
func DefaultParams() Params {
	return Params{
		MinProverBond: big.NewInt(1e17), MinChallengerBond: big.NewInt(1e17),
		ChallengeWindow: 10, MoveTimeout: 5, AttestN: 3, AttestK: 2,
		ProtocolCutBps: 500, SlashCutBps: 1000,
		MinVerifierStake: big.NewInt(1e18), VerifierUnbonding: 10,
	}
}
