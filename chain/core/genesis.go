package core

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisdb"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/state"
)

// Dev chain defaults.
const (
	// DevGasLimit is the dev chain's block gas limit.
	DevGasLimit = 30_000_000
	// DevTimestamp is the dev genesis timestamp (2025-01-01T00:00:00Z), fixed so that the
	// genesis hash is the same on every machine.
	DevTimestamp = 1_735_689_600
)

// DevBaseFee is the dev genesis base fee: 1 gwei.
var DevBaseFee = big.NewInt(params.GWei)

// DevBalance is what each dev account holds at genesis: 10,000 METIS (18 decimals).
var DevBalance = new(big.Int).Mul(big.NewInt(10_000), big.NewInt(params.Ether))

// Genesis describes block 0 and its state.
type Genesis struct {
	// Config is the chain configuration; nil means metisvm.DevChainConfig(nil). London (EIP-1559)
	// must be active at block 0.
	Config    *params.ChainConfig
	Timestamp uint64
	GasLimit  uint64   // 0 means DevGasLimit
	BaseFee   *big.Int // nil means DevBaseFee
	ExtraData []byte
	// Alloc is the initial state. The module accounts of the Host are installed on top of it
	// (metisvm.Host.InstallModules).
	Alloc types.GenesisAlloc
}

// DevGenesis returns the dev chain's genesis: chain id 1337, every fork through Osaka, the
// DevAccountCount accounts of DevMnemonic holding DevBalance each, go-ethereum's system contracts
// (EIP-4788 beacon roots, EIP-2935 block hashes, EIP-7002/7251 request queues, the EIP-7997
// deterministic deployment factory), gas limit DevGasLimit and base fee DevBaseFee.
func DevGenesis() *Genesis {
	alloc := gethcore.SystemContractAllocs()
	for _, a := range DevAccounts() {
		alloc[a.Address] = types.Account{Balance: new(big.Int).Set(DevBalance)}
	}
	return &Genesis{
		Config:    metisvm.DevChainConfig(nil),
		Timestamp: DevTimestamp,
		GasLimit:  DevGasLimit,
		BaseFee:   new(big.Int).Set(DevBaseFee),
		Alloc:     alloc,
	}
}

func (g *Genesis) withDefaults() *Genesis {
	out := *g
	if out.Config == nil {
		out.Config = metisvm.DevChainConfig(nil)
	}
	if out.GasLimit == 0 {
		out.GasLimit = DevGasLimit
	}
	if out.BaseFee == nil {
		out.BaseFee = new(big.Int).Set(DevBaseFee)
	}
	return &out
}

func (g *Genesis) validate() error {
	if g.Config.ChainID == nil {
		return errors.New("core: genesis config has no chain id")
	}
	if !g.Config.IsLondon(common.Big0) {
		return errors.New("core: genesis config must activate London (EIP-1559) at block 0")
	}
	return g.Config.CheckConfigForkOrder()
}

// commitState writes the genesis state into db, which must be empty, as version 1 and returns its
// root.
func (g *Genesis) commitState(db *metisdb.DB, host *metisvm.Host) (common.Hash, error) {
	snap, err := db.Snapshot(0)
	if err != nil {
		return common.Hash{}, fmt.Errorf("core: genesis: %w", err)
	}
	st := state.New(snap)
	for addr, acct := range g.Alloc {
		st.CreateAccount(addr)
		if acct.Balance != nil {
			bal, overflow := uint256.FromBig(acct.Balance)
			if overflow || acct.Balance.Sign() < 0 {
				return common.Hash{}, fmt.Errorf("core: genesis: bad balance of %s", addr)
			}
			st.SetBalance(addr, bal, tracing.BalanceIncreaseGenesisBalance)
		}
		st.SetNonce(addr, acct.Nonce, tracing.NonceChangeGenesis)
		if len(acct.Code) > 0 {
			st.SetCode(addr, acct.Code, tracing.CodeChangeGenesis)
		}
		for k, v := range acct.Storage {
			st.SetState(addr, k, v)
		}
	}
	if err := host.InstallModules(st); err != nil {
		return common.Hash{}, fmt.Errorf("core: genesis: %w", err)
	}
	st.Finalise(g.Config.Rules(common.Big0, true, g.Timestamp))
	if err := st.Flush(db); err != nil {
		db.Discard()
		return common.Hash{}, fmt.Errorf("core: genesis: %w", err)
	}
	v, root, err := db.Commit()
	if err != nil {
		return common.Hash{}, fmt.Errorf("core: genesis: %w", err)
	}
	if v != 1 {
		return common.Hash{}, fmt.Errorf("core: genesis committed as state version %d, want 1", v)
	}
	return common.Hash(root), nil
}

// block returns the genesis block with state root root, with every post-merge header field set
// as go-ethereum sets it for the forks active at genesis.
func (g *Genesis) block(root common.Hash) *types.Block {
	h := &types.Header{
		ParentHash: common.Hash{},
		UncleHash:  types.EmptyUncleHash,
		Coinbase:   metisvm.LazAIAddress,
		Root:       root,
		Number:     new(big.Int),
		GasLimit:   g.GasLimit,
		Time:       g.Timestamp,
		Extra:      common.CopyBytes(g.ExtraData),
		Difficulty: new(big.Int),
		BaseFee:    new(big.Int).Set(g.BaseFee),
	}
	setForkFields(g.Config, h)
	var body types.Body
	if h.WithdrawalsHash != nil {
		body.Withdrawals = []*types.Withdrawal{}
	}
	return types.NewBlock(h, &body, nil, trie.NewStackTrie(nil))
}

// setForkFields sets the header fields of the forks active at h (Number and Time set): the
// empty withdrawals hash (Shanghai), zero blob gas and the zero parent beacon root (Cancun), the
// empty requests hash (Prague; the block builder replaces it when there are requests).
func setForkFields(config *params.ChainConfig, h *types.Header) {
	if config.IsShanghai(h.Number, h.Time) {
		h.WithdrawalsHash = &types.EmptyWithdrawalsHash
	}
	if config.IsCancun(h.Number, h.Time) {
		h.BlobGasUsed = new(uint64)
		h.ExcessBlobGas = new(uint64)
		h.ParentBeaconRoot = new(common.Hash)
	}
	if config.IsPrague(h.Number, h.Time) {
		h.RequestsHash = &types.EmptyRequestsHash
	}
}
