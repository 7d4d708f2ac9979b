package node

import (
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	datmod "github.com/metisgo/metis/chain/modules/dat"
	idaomod "github.com/metisgo/metis/chain/modules/idao"
	lazaimod "github.com/metisgo/metis/chain/modules/lazai"
	verifiermod "github.com/metisgo/metis/chain/modules/verifier"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/verifier"
)

// DefaultModules is the module set of a dev chain (chain id 1337) without a model directory:
// DefaultModulesFor(metisvm.DevChainID, nil).
func DefaultModules() []metisvm.Module {
	return DefaultModulesFor(metisvm.DevChainID, nil)
}

// DefaultModulesFor is the module set a node installs unless Config.Modules says otherwise: DAT
// (0x…0a01) with dat.DefaultParams, the iDAO (0x…0a02) with idao.DefaultParams, the Verifier
// (0x…0a03) with verifier.DefaultParams, receipts of chainID and one-step replays by r (nil:
// optimistic tasks unavailable), and LazAI (0x…0a04) with lazai's defaults, the validators' and
// sequencer's part of fees going to the first dev account (a dev node is its own sequencer).
func DefaultModulesFor(chainID uint64, r verifiermod.StepReplayer) []metisvm.Module {
	lcfg := lazaimod.DefaultConfig()
	lcfg.ValidatorsRecipient = core.DevAccounts()[0].Address
	return []metisvm.Module{
		datmod.New(dat.DefaultParams()),
		idaomod.New(idao.DefaultParams()),
		verifiermod.New(verifier.DefaultParams(), chainID, r),
		lazaimod.New(lcfg),
	}
}
