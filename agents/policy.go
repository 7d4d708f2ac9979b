package agents

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
	"github.com/metisgo/metis/verifier"
)

// Policy is what an agent may sign. It is enforced by the signer the agent's module clients are
// built with (Signer): every transaction is checked complete, before it is signed — its
// recipient and method against Allow, the assets it moves against the rule's To, its value
// against the rule's MaxValue, its gas limit against GasCap, its gas limit × fee cap against
// MaxGasCost, and its value + gas limit × fee cap (the most it can cost) against SpendCap and,
// with what the agent signed in the last Period, against PeriodCap.
//
// What the caps count: METIS, at the transaction's maximum cost (value + gas limit × fee cap),
// when it is signed (refunds of unused gas are not credited back, and a transaction that is
// never mined still counts), so the caps hold whatever happens after signing. Spending is
// recorded in the agent's data dir before signing and survives restarts (see [LedgerFile]).
//
// What they do not count: assets that are not METIS. DAT token value and revenue shares, the
// right to move or mint the agent's tokens, and voting power (LazAI stake and DAT class
// delegation) have no METIS price; the module methods that move them to another address
// ([Movers]) are instead allowed only towards the addresses the rule's To lists (or the agent
// itself). Methods of contracts other than the system modules are opaque: what they do is not
// counted or restricted beyond their selector, so allow them only if you trust the contract.
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
	// To lists the addresses this rule's asset-moving methods ([Movers]) may move assets to,
	// besides the agent itself. Empty: only to the agent.
	To []common.Address
	// MaxValue caps the METIS value of one call of these methods (nil: the spend cap only).
	MaxValue *big.Int

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

// movesAssets reports whether the rule allows any method of Movers.
func (a *Allow) movesAssets() bool {
	for _, mv := range Movers {
		if m := moduleByName(mv.Module); m != nil && a.allows(m.address, [4]byte(m.abi.Methods[mv.Method].ID)) {
			return true
		}
	}
	return false
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

// Mover is a module method that moves something of the agent's other than METIS to an address
// its arguments name: the policy allows it only towards the agent itself or its rule's To.
type Mover struct {
	Module, Method string
	What           string // what it moves, for refusals and the docs
	// recipients returns the addresses the call moves to (the zero address: nobody); owner
	// looks up a DAT token's owner.
	recipients func(args []any, owner func(tokenID *big.Int) (common.Address, error)) ([]common.Address, error)
}

// Movers are the asset-moving methods of the system modules.
var Movers = []Mover{
	{"dat", "transferToken", "a DAT token", argAddr(1)},
	{"dat", "transferValue", "DAT token value (to the owner of the receiving token)",
		func(args []any, owner func(*big.Int) (common.Address, error)) ([]common.Address, error) {
			o, err := owner(args[1].(*big.Int))
			return []common.Address{o}, err
		}},
	{"dat", "mint", "a new DAT token (its value and revenue shares)", argAddr(1)},
	{"dat", "approveForClass", "the right to move and use the agent's tokens of a class", argAddrIf(1, 2)},
	{"dat", "setClassOperator", "the right to mint in the agent's class", argAddrIf(1, 2)},
	{"dat", "delegateClass", "the agent's class voting power", argAddr(1)},
	{"lazai", "delegate", "the agent's root iDAO voting power (its LazAI stake)", argAddr(0)},
}

func argAddr(i int) func([]any, func(*big.Int) (common.Address, error)) ([]common.Address, error) {
	return func(args []any, _ func(*big.Int) (common.Address, error)) ([]common.Address, error) {
		return []common.Address{args[i].(common.Address)}, nil
	}
}

// argAddrIf is argument i when the boolean argument flag grants (approve, allow) rather than
// revokes.
func argAddrIf(i, flag int) func([]any, func(*big.Int) (common.Address, error)) ([]common.Address, error) {
	return func(args []any, _ func(*big.Int) (common.Address, error)) ([]common.Address, error) {
		if !args[flag].(bool) {
			return nil, nil
		}
		return []common.Address{args[i].(common.Address)}, nil
	}
}

func moverOf(to common.Address, data []byte) (*Mover, *abi.Method) {
	m := moduleByAddress(to)
	if m == nil || len(data) < 4 {
		return nil, nil
	}
	meth, err := m.abi.MethodById(data[:4])
	if err != nil {
		return nil, nil
	}
	for i := range Movers {
		if Movers[i].Module == m.name && Movers[i].Method == meth.Name {
			return &Movers[i], meth
		}
	}
	return nil, nil
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

// guard enforces a Policy for one account; its ledger is what the account signed.
type guard struct {
	pol   Policy
	self  common.Address
	now   func() time.Time
	owner func(tokenID *big.Int) (common.Address, error) // a DAT token's owner
	mu    sync.Mutex
	led   *ledger
}

func newGuard(p Policy, self common.Address, now func() time.Time, led *ledger, owner func(*big.Int) (common.Address, error)) *guard {
	if p.Period <= 0 {
		p.Period = DefaultPeriod
	}
	return &guard{pol: p, self: self, now: now, led: led, owner: owner}
}

// checkCall checks recipient, method and value: what a tool knows before it asks the node
// anything. Refusing here saves an estimate that might fail for reasons of its own; the signer
// checks again, completely.
func (g *guard) checkCall(to common.Address, data []byte, value *big.Int) *RefusedError {
	if value == nil {
		value = new(big.Int)
	}
	r := &RefusedError{To: to, Method: methodName(to, data), Value: value}
	if len(data) < 4 {
		r.Reason = fmt.Sprintf("%s: plain transfers are not allowed", to.Hex())
		return r
	}
	if g.rule(to, data, value) == nil {
		r.Reason = g.ruleRefusal(to, data, value)
		return r
	}
	if g.pol.SpendCap == nil || value.Cmp(g.pol.SpendCap) > 0 {
		r.Reason = fmt.Sprintf("value %s is over the per-transaction spend cap of %s", FormatAmount(value), FormatAmount(g.pol.SpendCap))
		return r
	}
	return nil
}

// rule returns the first rule allowing the method at to with value, or nil.
func (g *guard) rule(to common.Address, data []byte, value *big.Int) *Allow {
	sel := [4]byte(data[:4])
	for i := range g.pol.Allow {
		a := &g.pol.Allow[i]
		if a.allows(to, sel) && (a.MaxValue == nil || value.Cmp(a.MaxValue) <= 0) {
			return a
		}
	}
	return nil
}

// ruleRefusal says why no rule allows the call.
func (g *guard) ruleRefusal(to common.Address, data []byte, value *big.Int) string {
	sel := [4]byte(data[:4])
	for i := range g.pol.Allow {
		if a := &g.pol.Allow[i]; a.allows(to, sel) {
			return fmt.Sprintf("value %s is over %s's limit of %s", FormatAmount(value), methodName(to, data), FormatAmount(a.MaxValue))
		}
	}
	return fmt.Sprintf("%s is not an allowed method", methodName(to, data))
}

// recipientRefusal says why a call of an asset-moving method may not be signed under rule a:
// it moves to an address neither the agent's nor in a.To ("" if it may).
func (g *guard) recipientRefusal(a *Allow, to common.Address, data []byte) string {
	mv, meth := moverOf(to, data)
	if mv == nil {
		return ""
	}
	args, err := meth.Inputs.Unpack(data[4:])
	if err != nil {
		return fmt.Sprintf("%s: arguments do not decode: %v", methodName(to, data), err)
	}
	rcpts, err := mv.recipients(args, g.owner)
	if err != nil {
		return fmt.Sprintf("%s: cannot tell where it moves %s: %v", methodName(to, data), mv.What, err)
	}
	for _, r := range rcpts {
		if r == g.self || r == (common.Address{}) || containsAddr(a.To, r) {
			continue
		}
		return fmt.Sprintf("%s would move %s to %s, which is not in the rule's to list", methodName(to, data), mv.What, r.Hex())
	}
	return ""
}

func containsAddr(list []common.Address, a common.Address) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// check checks a complete unsigned transaction and, if it passes, records its cost as spent
// (durably, before it returns).
func (g *guard) check(tx *types.Transaction) *RefusedError {
	if tx.To() == nil {
		return &RefusedError{Reason: "contract creation is not allowed", Value: tx.Value(), Gas: tx.Gas()}
	}
	to := *tx.To()
	feeCap := tx.GasFeeCap() // the gas price for legacy transactions
	gasCost := new(big.Int).Mul(new(big.Int).SetUint64(tx.Gas()), feeCap)
	cost := new(big.Int).Add(tx.Value(), gasCost)
	r := &RefusedError{To: to, Method: methodName(to, tx.Data()), Value: tx.Value(), Gas: tx.Gas(), Cost: cost}
	if len(tx.Data()) < 4 {
		r.Reason = fmt.Sprintf("%s: plain transfers are not allowed", to.Hex())
		return r
	}
	rule := g.rule(to, tx.Data(), tx.Value())
	if rule == nil {
		r.Reason = g.ruleRefusal(to, tx.Data(), tx.Value())
		return r
	}
	if reason := g.recipientRefusal(rule, to, tx.Data()); reason != "" {
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
		if after := new(big.Int).Add(g.led.total(now, g.pol.Period), cost); after.Cmp(g.pol.PeriodCap) > 0 {
			r.Reason = fmt.Sprintf("cost up to %s would bring spending in the last %s to %s, over the period cap of %s",
				FormatAmount(cost), g.pol.Period, FormatAmount(after), FormatAmount(g.pol.PeriodCap))
			return r
		}
	}
	if err := g.led.add(ledgerEntry{at: now, amount: cost, nonce: tx.Nonce(), method: r.Method}); err != nil {
		r.Reason = "the spend ledger could not record it: " + err.Error()
		return r
	}
	return nil
}

// signer is the agent's signer: the From and Signer of a bind.TransactOpts its module clients
// are built with. Every transaction they build passes check before key signs it; a refused one
// is reported to refused and never signed, a signed one to sent. The clients have no other way
// to sign, whatever context they are called with.
func (g *guard) signer(key *ecdsa.PrivateKey, chainID *big.Int, refused func(context.Context, *RefusedError), sent func(context.Context, *types.Transaction)) *bind.TransactOpts {
	keyed := bind.NewKeyedTransactor(key, chainID)
	return &bind.TransactOpts{From: keyed.From, Signer: func(from common.Address, tx *types.Transaction) (*types.Transaction, error) {
		if from != keyed.From {
			return nil, bind.ErrNotAuthorized
		}
		// The events are the agent's own record; they are not tied to the caller's context.
		ctx := context.Background()
		if r := g.check(tx); r != nil {
			refused(ctx, r)
			return nil, r
		}
		signed, err := keyed.Signer(from, tx)
		if err != nil {
			return nil, err
		}
		sent(ctx, signed)
		return signed, nil
	}}
}

// moverNames lists Movers as module.method.
func moverNames() string {
	names := make([]string, len(Movers))
	for i, mv := range Movers {
		names[i] = mv.Module + "." + mv.Method
	}
	return strings.Join(names, ", ")
}
