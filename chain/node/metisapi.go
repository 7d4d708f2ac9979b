package node

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethcore "github.com/ethereum/go-ethereum/core"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/lazai"
)

// metisAPI is the metis_ JSON-RPC namespace: figures read from the system modules' views at the
// head, so a wallet or dashboard gets them in one call instead of several eth_calls.
type metisAPI struct{ chain *core.Chain }

// DefaultStatsWindow is the window of metis_holdersMining when none is given, in blocks.
const DefaultStatsWindow = 1000

// maxClassesReported bounds the classes metis_holdersMining lists.
const maxClassesReported = 1000

// ClassRevenue is one DAT class's revenue in metis_holdersMining.
type ClassRevenue struct {
	ID           hexutil.Uint64 `json:"id"`
	Kind         string         `json:"kind"`
	Status       string         `json:"status"`
	TotalRevenue *hexutil.Big   `json:"totalRevenue"`
	TotalShares  *hexutil.Big   `json:"totalShares"`
}

// HoldersMining is the answer of metis_holdersMining.
type HoldersMining struct {
	Block         hexutil.Uint64 `json:"block"`
	FromBlock     hexutil.Uint64 `json:"fromBlock"`
	Span          hexutil.Uint64 `json:"span"` // seconds covered by the window
	TotalStaked   *hexutil.Big   `json:"totalStaked"`
	HolderRewards *hexutil.Big   `json:"holderRewards"` // in the window
	Routed        *hexutil.Big   `json:"routed"`        // all fees routed in the window
	AprBps        *hexutil.Big   `json:"aprBps"`
	TotalRouted   *hexutil.Big   `json:"totalRouted"` // since genesis
	TotalBurned   *hexutil.Big   `json:"totalBurned"`
	Split         lazai.Split    `json:"split"`
	Classes       []ClassRevenue `json:"classes"`
	// ClassesTruncated is set when there are more classes than listed.
	ClassesTruncated bool `json:"classesTruncated,omitempty"`
}

// HoldersMining returns LazAI's figures over the last blocks blocks (default
// DefaultStatsWindow): total staked, holders' rewards and fees routed in the window, APR, totals
// since genesis and the split; and the revenue of each DAT class.
func (a *metisAPI) HoldersMining(ctx context.Context, blocks *hexutil.Uint64) (*HoldersMining, error) {
	n := uint64(DefaultStatsWindow)
	if blocks != nil {
		n = uint64(*blocks)
	}
	head := a.chain.CurrentHeader().Number.Uint64()
	var st lazai.Stats
	if err := a.view(ctx, head, lazai.Address, lazai.ABI, &st, "stats", n); err != nil {
		return nil, err
	}
	var split lazai.Split
	if err := a.view(ctx, head, lazai.Address, lazai.ABI, &split, "split"); err != nil {
		return nil, err
	}
	out := &HoldersMining{
		Block: hexutil.Uint64(head), FromBlock: hexutil.Uint64(st.FromBlock), Span: hexutil.Uint64(st.Span),
		TotalStaked: (*hexutil.Big)(st.TotalStaked), HolderRewards: (*hexutil.Big)(st.HolderRewards),
		Routed: (*hexutil.Big)(st.Routed), AprBps: (*hexutil.Big)(st.AprBps),
		TotalRouted: (*hexutil.Big)(st.TotalRouted), TotalBurned: (*hexutil.Big)(st.TotalBurned),
		Split: split, Classes: []ClassRevenue{},
	}
	var count *big.Int
	if err := a.view(ctx, head, dat.Address, dat.ABI, &count, "classCount"); err != nil {
		return nil, err
	}
	for id := uint64(1); id <= count.Uint64(); id++ {
		if len(out.Classes) == maxClassesReported {
			out.ClassesTruncated = true
			break
		}
		var c dat.ClassInfo
		if err := a.view(ctx, head, dat.Address, dat.ABI, &c, "classInfo", new(big.Int).SetUint64(id)); err != nil {
			return nil, err
		}
		out.Classes = append(out.Classes, ClassRevenue{
			ID: hexutil.Uint64(id), Kind: dat.Kind(c.Kind).String(), Status: dat.Status(c.Status).String(),
			TotalRevenue: (*hexutil.Big)(c.TotalRevenue), TotalShares: (*hexutil.Big)(c.TotalShares),
		})
	}
	return out, nil
}

// view runs a module view at block num and converts its single output into out.
func (a *metisAPI) view(ctx context.Context, num uint64, to common.Address, mabi *abi.ABI, out any, method string, args ...any) error {
	data, err := mabi.Pack(method, args...)
	if err != nil {
		return err
	}
	res, err := a.chain.Call(ctx, &gethcore.Message{To: &to, Data: data}, num)
	if err != nil {
		return err
	}
	if res.Err != nil {
		if reason, ok := res.RevertReason(); ok {
			return fmt.Errorf("%s: %s", method, reason)
		}
		if e := decodeModuleError(mabi, res.Revert()); e != "" {
			return fmt.Errorf("%s: %s", method, e)
		}
		return fmt.Errorf("%s: %w (is the module installed?)", method, res.Err)
	}
	vals, err := mabi.Unpack(method, res.ReturnData)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if len(vals) != 1 {
		return fmt.Errorf("%s: %d outputs", method, len(vals))
	}
	abi.ConvertType(vals[0], out)
	return nil
}

// decodeModuleError names a custom error from revert data, or "".
func decodeModuleError(a *abi.ABI, data []byte) string {
	if len(data) < 4 {
		return ""
	}
	for name, e := range a.Errors {
		if string(e.ID[:4]) == string(data[:4]) {
			if args, err := e.Inputs.Unpack(data[4:]); err == nil {
				return fmt.Sprintf("%s%v", name, args)
			}
			return name
		}
	}
	return ""
}
