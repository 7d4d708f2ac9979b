package agents

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
)

// Policy is what an agent may sign. Every transaction is checked complete, before signing:
// its recipient and method against Allow, its gas limit against GasCap, its gas limit × fee cap
// against MaxGasCost, and its value + gas limit × fee cap (the most it can cost) against
// SpendCap and, with what the agent spent in the last Period, against PeriodCap. Spending is
// counted at that maximum when the transaction is signed (refunds of unused gas are not
// credited back), so the caps hold even for transactions that never get mined.
type Policy struct {
	SpendCap   *big.Int      // per transaction (nil: no transaction may spend anything)
	PeriodCap  *big.Int      // per Period (nil: no period cap)
	Period     time.Duration // the window of PeriodCap (default 24h)
	GasCap     uint64        // gas limit per transaction (0: none)
	MaxGasCost *big.Int      // gas limit × fee cap per transaction (nil: none)
	// Allow lists the modules and methods the agent may call; nil allows exactly the methods
	// of the agent's tools, an empty list nothing.
	Allow []Allow
}

// Allow is one module (or contract) and the methods of it the agent may call.
type Allow struct {
	Module  string         // the module's name, when Address is a system module
	Address common.Address // the recipient
	Methods []string       // as written: names, signatures, 0x selectors, or "*"

	any       bool
	selectors map[[4]byte]bool
}

// NewAllow returns the rule allowing methods (names of the module's ABI, Solidity signatures
// such as "transfer(address,uint256)", 0x-prefixed 4-byte selectors, or "*") at address.
func NewAllow(address common.Address, methods ...string) (Allow, error) {
	a := Allow{Address: address}
	if m := moduleByAddress(address); m != nil {
		a.Module = m.name
	}
	return a, a.setMethods(methods)
}

func (a *Allow) setMethods(methods []string) error {
	if len(methods) == 0 {
		return fmt.Errorf("no methods (use \"*\" for all)")
	}
	a.Methods = methods
	a.selectors = map[[4]byte]bool{}
	m := moduleByAddress(a.Address)
	for _, s := range methods {
		var sel [4]byte
		switch {
		case s == "*":
			a.any = true
			continue
		case strings.HasPrefix(s, "0x"):
			b, err := hex.DecodeString(s[2:])
			if err != nil || len(b) != 4 {
				return fmt.Errorf("%q is not a 4-byte selector", s)
			}
			copy(sel[:], b)
		case strings.Contains(s, "("):
			copy(sel[:], crypto.Keccak256([]byte(strings.ReplaceAll(s, " ", ""))))
		case m != nil:
			meth, ok := m.abi.Methods[s]
			if !ok {
				return fmt.Errorf("module %s has no method %q", m.name, s)
			}
			copy(sel[:], meth.ID)
		default:
			return fmt.Errorf("%q: at a plain address give a signature like f(uint256) or a 0x selector", s)
		}
		a.selectors[sel] = true
	}
	return nil
}

func (a *Allow) allows(to common.Address, sel [4]byte) bool {
	return a.Address == to && (a.any || a.selectors[sel])
}

type module struct {
	name    string
	address common.Address
	abi     *abi.ABI
}

// modules are the system modules, by name.
var modules = []module{
	{"dat", dat.Address, dat.ABI},
	{"idao", idao.Address, idao.ABI},
	{"verifier", verifier.Address, verifier.ABI},
	{"lazai", lazai.Address, lazai.ABI},
}

func moduleByName(name string) *module {
	for i := range modules {
		if strings.EqualFold(modules[i].name, name) {
			return &modules[i]
		}
	}
	return nil
}

func moduleByAddress(a common.Address) *module {
	for i := range modules {
		if modules[i].address == a {
			return &modules[i]
		}
	}
	return nil
}

// methodName names the call: "lazai.stake", or the address and selector.
func methodName(to common.Address, data []byte) string {
	var sel []byte
	if len(data) >= 4 {
		sel = data[:4]
	}
	if m := moduleByAddress(to); m != nil {
		if meth, err := m.abi.MethodById(sel); err == nil {
			return m.name + "." + meth.Name
		}
		return fmt.Sprintf("%s.0x%x", m.name, sel)
	}
	if sel == nil {
		return to.Hex() + " (plain transfer)"
	}
	return fmt.Sprintf("%s.0x%x", to.Hex(), sel)
}

// RefusedError is an action the policy refused; nothing was signed.
type RefusedError struct {
	Reason string
	To     common.Address
	Method string   // "lazai.stake"
	Value  *big.Int // wei
	Gas    uint64   // the gas limit, 0 when refused before estimation
	Cost   *big.Int // value + gas × fee cap, nil when refused before estimation
}

func (e *RefusedError) Error() string { return "refused by policy: " + e.Reason }

// guard enforces a Policy: the state is what was spent recently.
type guard struct {
	pol   Policy
	now   func() time.Time
	mu    sync.Mutex
	spent []spend
}

type spend struct {
	at     time.Time
	amount *big.Int
}

func newGuard(p Policy, now func() time.Time) *guard {
	if p.Period <= 0 {
		p.Period = DefaultPeriod
	}
	return &guard{pol: p, now: now}
}

// checkCall checks recipient, method and value: what a tool knows before it asks the node
// anything. Refusing here saves an estimate that might fail for reasons of its own.
func (g *guard) checkCall(to common.Address, data []byte, value *big.Int) *RefusedError {
	if value == nil {
		value = new(big.Int)
	}
	r := &RefusedError{To: to, Method: methodName(to, data), Value: value}
	if reason := g.methodRefusal(to, data); reason != "" {
		r.Reason = reason
		return r
	}
	if g.pol.SpendCap == nil || value.Cmp(g.pol.SpendCap) > 0 {
		r.Reason = fmt.Sprintf("value %s is over the per-transaction spend cap of %s", FormatAmount(value), FormatAmount(g.pol.SpendCap))
		return r
	}
	return nil
}

func (g *guard) methodRefusal(to common.Address, data []byte) string {
	var sel [4]byte
	if len(data) < 4 {
		return fmt.Sprintf("%s: plain transfers are not allowed", to.Hex())
	}
	copy(sel[:], data)
	for i := range g.pol.Allow {
		if g.pol.Allow[i].allows(to, sel) {
			return ""
		}
	}
	return fmt.Sprintf("%s is not an allowed method", methodName(to, data))
}

// check checks a complete unsigned transaction and, if it passes, counts its cost as spent.
func (g *guard) check(tx *types.Transaction) *RefusedError {
	if tx.To() == nil {
		return &RefusedError{Reason: "contract creation is not allowed", Value: tx.Value(), Gas: tx.Gas()}
	}
	to := *tx.To()
	feeCap := tx.GasFeeCap() // the gas price for legacy transactions
	gasCost := new(big.Int).Mul(new(big.Int).SetUint64(tx.Gas()), feeCap)
	cost := new(big.Int).Add(tx.Value(), gasCost)
	r := &RefusedError{To: to, Method: methodName(to, tx.Data()), Value: tx.Value(), Gas: tx.Gas(), Cost: cost}
	if reason := g.methodRefusal(to, tx.Data()); reason != "" {
		r.Reason = reason
		return r
	}
	if g.pol.GasCap != 0 && tx.Gas() > g.pol.GasCap {
		r.Reason = fmt.Sprintf("gas limit %d is over the gas cap of %d", tx.Gas(), g.pol.GasCap)
		return r
	}
	if g.pol.MaxGasCost != nil && gasCost.Cmp(g.pol.MaxGasCost) > 0 {
		r.Reason = fmt.Sprintf("gas cost up to %s is over the cap of %s", FormatAmount(gasCost), FormatAmount(g.pol.MaxGasCost))
		return r
	}
	if g.pol.SpendCap == nil || cost.Cmp(g.pol.SpendCap) > 0 {
		r.Reason = fmt.Sprintf("cost up to %s (value %s + gas %s) is over the per-transaction spend cap of %s",
			FormatAmount(cost), FormatAmount(tx.Value()), FormatAmount(gasCost), FormatAmount(g.pol.SpendCap))
		return r
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.pol.PeriodCap != nil {
		keep := g.spent[:0]
		total := new(big.Int)
		for _, s := range g.spent {
			if now.Sub(s.at) < g.pol.Period {
				keep = append(keep, s)
				total.Add(total, s.amount)
			}
		}
		g.spent = keep
		if after := new(big.Int).Add(total, cost); after.Cmp(g.pol.PeriodCap) > 0 {
			r.Reason = fmt.Sprintf("cost up to %s would bring spending in the last %s to %s, over the period cap of %s",
				FormatAmount(cost), g.pol.Period, FormatAmount(after), FormatAmount(g.pol.PeriodCap))
			return r
		}
		g.spent = append(g.spent, spend{at: now, amount: cost})
	}
	return nil
}

// hook is the chaintx.SignHook that enforces the policy: a refused transaction is reported to
// refused and never signed; a signed one to sent.
func (g *guard) hook(refused func(context.Context, *RefusedError), sent func(context.Context, *types.Transaction)) chaintx.SignHook {
	return func(ctx context.Context, from common.Address, tx *types.Transaction, sign chaintx.SignFunc) (*types.Transaction, error) {
		if r := g.check(tx); r != nil {
			refused(ctx, r)
			return nil, r
		}
		signed, err := sign(tx)
		if err != nil {
			return nil, err
		}
		sent(ctx, signed)
		return signed, nil
	}
}
