package node

import (
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	datmod "github.com/metisgo/metis/chain/modules/dat"
	idaomod "github.com/metisgo/metis/chain/modules/idao"
	lazaimod "github.com/metisgo/metis/chain/modules/lazai"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
)

// DefaultModules is the module set a node installs unless Config.Modules says otherwise: DAT
// (0x…0a01) with dat.DefaultParams, the iDAO (0x…0a02) with idao.DefaultParams, and LazAI
// (0x…0a04) with lazai's defaults, the validators' and sequencer's part of fees going to the
// first dev account (a dev node is its own sequencer).
func DefaultModules() []metisvm.Module {
	lcfg := lazaimod.DefaultConfig()
	lcfg.ValidatorsRecipient = core.DevAccounts()[0].Address
	return []metisvm.Module{datmod.New(dat.DefaultParams()), idaomod.New(idao.DefaultParams()), lazaimod.New(lcfg)}
}
