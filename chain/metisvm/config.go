package metisvm

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
)

// DevChainID is the chain id of the development chain.
const DevChainID = 1337

// The system modules' fixed addresses (DESIGN.md, "Module addresses").
var (
	DATAddress      = common.HexToAddress("0x0000000000000000000000000000000000000a01")
	IDAOAddress     = common.HexToAddress("0x0000000000000000000000000000000000000a02")
	VerifierAddress = common.HexToAddress("0x0000000000000000000000000000000000000a03")
)

// LazAIAddress is the address of the LazAI system module, the recipient of
// every fee. It is the EVM's COINBASE (see the package documentation, section
// Fees).
var LazAIAddress = common.HexToAddress("0x0000000000000000000000000000000000000a04")

// DevChainConfig returns the chain configuration of a chain with the given id
// (nil means [DevChainID]): every fork through Osaka, plus the BPO1 and BPO2
// blob-parameter forks, active at block 0 and time 0, with mainnet's blob
// schedule. The merge is at genesis, so an EVM block context must carry a
// Random (PREVRANDAO) value; [NewBlockContext] does.
func DevChainConfig(chainID *big.Int) *params.ChainConfig {
	if chainID == nil {
		chainID = big.NewInt(DevChainID)
	}
	zero := func() *big.Int { return new(big.Int) }
	at0 := func() *uint64 { t := uint64(0); return &t }
	return &params.ChainConfig{
		ChainID:                 new(big.Int).Set(chainID),
		HomesteadBlock:          zero(),
		EIP150Block:             zero(),
		EIP155Block:             zero(),
		EIP158Block:             zero(),
		ByzantiumBlock:          zero(),
		ConstantinopleBlock:     zero(),
		PetersburgBlock:         zero(),
		IstanbulBlock:           zero(),
		MuirGlacierBlock:        zero(),
		BerlinBlock:             zero(),
		LondonBlock:             zero(),
		ArrowGlacierBlock:       zero(),
		GrayGlacierBlock:        zero(),
		MergeNetsplitBlock:      zero(),
		TerminalTotalDifficulty: zero(),
		ShanghaiTime:            at0(),
		CancunTime:              at0(),
		PragueTime:              at0(),
		OsakaTime:               at0(),
		BPO1Time:                at0(),
		BPO2Time:                at0(),
		BlobScheduleConfig: &params.BlobScheduleConfig{
			Cancun: params.DefaultCancunBlobConfig,
			Prague: params.DefaultPragueBlobConfig,
			BPO1:   params.DefaultBPO1BlobConfig,
			BPO2:   params.DefaultBPO2BlobConfig,
		},
	}
}

// BlockInfo is what the EVM needs to know about the block being executed.
type BlockInfo struct {
	Number   uint64
	Time     uint64
	GasLimit uint64
	BaseFee  *big.Int // nil means 0
	// Random is the PREVRANDAO value (the header's MixDigest).
	Random common.Hash
	// GetHash returns the hash of block n for BLOCKHASH; nil answers the
	// zero hash.
	GetHash vm.GetHashFunc
}

// NewBlockContext returns the EVM block context for b: go-ethereum's value
// transfer functions, COINBASE = [LazAIAddress] (fees accrue to LazAI), zero
// difficulty with PREVRANDAO = b.Random (post-merge rules), and the minimum
// blob base fee (no blob transactions on this chain, so excess blob gas stays 0).
func NewBlockContext(b BlockInfo) vm.BlockContext {
	getHash := b.GetHash
	if getHash == nil {
		getHash = func(uint64) common.Hash { return common.Hash{} }
	}
	baseFee := new(big.Int)
	if b.BaseFee != nil {
		baseFee.Set(b.BaseFee)
	}
	random := b.Random
	return vm.BlockContext{
		CanTransfer:      core.CanTransfer,
		Transfer:         core.Transfer,
		GetHash:          getHash,
		Coinbase:         LazAIAddress,
		GasLimit:         b.GasLimit,
		BlockNumber:      new(big.Int).SetUint64(b.Number),
		Time:             b.Time,
		Difficulty:       new(big.Int),
		BaseFee:          baseFee,
		BlobBaseFee:      big.NewInt(params.BlobTxMinBlobGasprice),
		Random:           &random,
		CostPerStateByte: params.CostPerStateByte,
	}
}
