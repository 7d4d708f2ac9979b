// Package txpool holds the dev chain's pending transactions: it validates them as go-ethereum
// does (with go-ethereum's own stateless checks and its error messages), keeps each sender's
// transactions by nonce with gaps held until they fill, replaces a transaction only for a fee
// bump of at least PriceBump percent, caps what one sender and the whole pool may hold, and hands
// the block builder executable transactions ordered by effective tip.
package txpool

import (
	"cmp"
	"container/heap"
	"fmt"
	"math/big"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	gethcore "github.com/ethereum/go-ethereum/core"
	gethpool "github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// Errors are go-ethereum's, so clients that match on geth's messages (ethers, viem, cast) see
// what they expect. Returned errors wrap them: test with errors.Is.
var (
	ErrAlreadyKnown         = gethpool.ErrAlreadyKnown
	ErrReplaceUnderpriced   = gethpool.ErrReplaceUnderpriced
	ErrAccountLimitExceeded = gethpool.ErrAccountLimitExceeded
	ErrPoolFull             = legacypool.ErrTxPoolOverflow
	ErrNonceTooLow          = gethcore.ErrNonceTooLow
	ErrInsufficientFunds    = gethcore.ErrInsufficientFunds
	ErrFeeCapTooLow         = gethcore.ErrFeeCapTooLow
)

// StateReader is the state the pool checks nonces and balances against: the head state.
type StateReader interface {
	GetNonce(common.Address) uint64
	GetBalance(common.Address) *uint256.Int
}

// Config bounds the pool. Zero fields take the defaults.
type Config struct {
	PriceBump    uint64   // percent a replacement must raise both tip and fee cap by (10)
	AccountSlots int      // transactions one sender may have pooled, executable or not (64)
	GlobalSlots  int      // transactions in the whole pool (8192)
	MaxSize      uint64   // largest encoded transaction accepted, bytes (128 KiB, as geth)
	MinTip       *big.Int // lowest tip accepted (0: a dev chain takes anything)
}

func (c Config) withDefaults() Config {
	if c.PriceBump == 0 {
		c.PriceBump = 10
	}
	if c.AccountSlots == 0 {
		c.AccountSlots = 64
	}
	if c.GlobalSlots == 0 {
		c.GlobalSlots = 8192
	}
	if c.MaxSize == 0 {
		c.MaxSize = 4 * 32 * 1024
	}
	if c.MinTip == nil {
		c.MinTip = new(big.Int)
	}
	return c
}

// Pool is safe for concurrent use.
type Pool struct {
	cfg    Config
	chain  *params.ChainConfig
	signer types.Signer
	feed   event.Feed // []*types.Transaction, each accepted transaction

	mu       sync.Mutex
	head     *types.Header
	state    StateReader
	senders  map[common.Address]*sender
	byHash   map[common.Hash]*pooled
	arrivals uint64
}

type sender struct {
	txs map[uint64]*pooled // by nonce
}

type pooled struct {
	tx      *types.Transaction
	from    common.Address
	arrival uint64 // order of acceptance: ties in ordering go to the earlier transaction
}

// New returns a pool validating against chain's rules at head, with state the head's state.
func New(cfg Config, chain *params.ChainConfig, head *types.Header, state StateReader) *Pool {
	return &Pool{
		cfg:     cfg.withDefaults(),
		chain:   chain,
		signer:  types.LatestSigner(chain),
		head:    head,
		state:   state,
		senders: make(map[common.Address]*sender),
		byHash:  make(map[common.Hash]*pooled),
	}
}

// Signer returns the signer the pool recovers senders with.
func (p *Pool) Signer() types.Signer { return p.signer }

// nextBaseFee is the base fee of the block the pool's transactions are headed for.
func (p *Pool) nextBaseFee() *big.Int {
	if !p.chain.IsLondon(new(big.Int).Add(p.head.Number, common.Big1)) {
		return nil
	}
	return eip1559.CalcBaseFee(p.chain, p.head)
}

// Add validates tx and pools it. It returns an error wrapping one of go-ethereum's for anything
// geth would refuse, and ErrFeeCapTooLow for a fee cap below the next block's base fee (geth
// would queue such a transaction; a dev chain refusing it tells the user at once, as anvil does).
func (p *Pool) Add(tx *types.Transaction) error {
	// Recover the sender before taking the lock: it is the costliest step of admission (a
	// secp256k1 recovery), types.Sender caches it in tx for ValidateTransaction below, and
	// outside the lock concurrent submissions (one per RPC request) recover on every core.
	// An invalid signature is reported by ValidateTransaction.
	_, _ = types.Sender(p.signer, tx)
	if err := p.add(tx); err != nil {
		return err
	}
	// Outside the lock: Send waits until every subscriber's channel took the value, so
	// subscribers must read promptly (the RPC layer buffers and drops a slow client).
	p.feed.Send([]*types.Transaction{tx})
	return nil
}

func (p *Pool) add(tx *types.Transaction) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byHash[tx.Hash()]; ok {
		return fmt.Errorf("%w: %s", ErrAlreadyKnown, tx.Hash())
	}
	opts := &gethpool.ValidationOptions{
		Config:  p.chain,
		Accept:  1<<types.LegacyTxType | 1<<types.AccessListTxType | 1<<types.DynamicFeeTxType,
		MaxSize: p.cfg.MaxSize,
		MinTip:  p.cfg.MinTip,
	}
	if err := gethpool.ValidateTransaction(tx, p.head, p.signer, opts); err != nil {
		return err
	}
	from, _ := types.Sender(p.signer, tx) // validated above
	if baseFee := p.nextBaseFee(); baseFee != nil && tx.GasFeeCapIntCmp(baseFee) < 0 {
		return fmt.Errorf("%w: address %v, maxFeePerGas: %s, baseFee: %s", ErrFeeCapTooLow, from.Hex(), tx.GasFeeCap(), baseFee)
	}
	next := p.state.GetNonce(from)
	if tx.Nonce() < next {
		return fmt.Errorf("%w: next nonce %v, tx nonce %v", ErrNonceTooLow, next, tx.Nonce())
	}
	s := p.senders[from]
	var old *pooled
	if s != nil {
		old = s.txs[tx.Nonce()]
	}
	if old != nil && !p.bumped(old.tx, tx) {
		return fmt.Errorf("%w: need %d%% more tip and fee cap than %s", ErrReplaceUnderpriced, p.cfg.PriceBump, old.tx.Hash())
	}
	if err := p.affordable(from, s, tx, old); err != nil {
		return err
	}
	if old == nil {
		if s != nil && len(s.txs) >= p.cfg.AccountSlots {
			return fmt.Errorf("%w: pooled %d txs", ErrAccountLimitExceeded, len(s.txs))
		}
		if len(p.byHash) >= p.cfg.GlobalSlots {
			return fmt.Errorf("%w: %d transactions", ErrPoolFull, len(p.byHash))
		}
	}
	if s == nil {
		s = &sender{txs: make(map[uint64]*pooled)}
		p.senders[from] = s
	}
	if old != nil {
		delete(p.byHash, old.tx.Hash())
	}
	p.arrivals++
	pt := &pooled{tx: tx, from: from, arrival: p.arrivals}
	s.txs[tx.Nonce()] = pt
	p.byHash[tx.Hash()] = pt
	return nil
}

// bumped reports whether next raises both the tip and the fee cap of prev by PriceBump percent.
func (p *Pool) bumped(prev, next *types.Transaction) bool {
	need := func(x *big.Int) *big.Int {
		n := new(big.Int).Mul(x, big.NewInt(int64(100+p.cfg.PriceBump)))
		return n.Div(n, big.NewInt(100))
	}
	return next.GasTipCapIntCmp(need(prev.GasTipCap())) >= 0 && next.GasFeeCapIntCmp(need(prev.GasFeeCap())) >= 0
}

// affordable checks that the sender's balance covers tx plus every other transaction it has
// pooled (a replacement counts instead of the one it replaces).
func (p *Pool) affordable(from common.Address, s *sender, tx *types.Transaction, replaced *pooled) error {
	balance := p.state.GetBalance(from).ToBig()
	cost := tx.Cost()
	if balance.Cmp(cost) < 0 {
		return fmt.Errorf("%w: balance %v, tx cost %v, overshot %v", ErrInsufficientFunds, balance, cost, new(big.Int).Sub(cost, balance))
	}
	spent := new(big.Int)
	if s != nil {
		for _, pt := range s.txs {
			if pt != replaced {
				spent.Add(spent, pt.tx.Cost())
			}
		}
	}
	if need := new(big.Int).Add(spent, cost); balance.Cmp(need) < 0 {
		return fmt.Errorf("%w: balance %v, queued cost %v, tx cost %v, overshot %v", ErrInsufficientFunds, balance, spent, cost, new(big.Int).Sub(need, balance))
	}
	return nil
}

// Reset moves the pool to a new head: transactions the head's state has made stale (nonce
// below the sender's) are dropped, and so are those the sender can no longer pay for. Gapped
// transactions stay until their gap fills.
func (p *Pool) Reset(head *types.Header, state StateReader) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.head, p.state = head, state
	for from, s := range p.senders {
		next := state.GetNonce(from)
		balance := state.GetBalance(from).ToBig()
		for nonce, pt := range s.txs {
			if nonce < next || balance.Cmp(pt.tx.Cost()) < 0 {
				delete(s.txs, nonce)
				delete(p.byHash, pt.tx.Hash())
			}
		}
		if len(s.txs) == 0 {
			delete(p.senders, from)
		}
	}
}

// Remove drops transactions by hash (the block builder drops those that failed to apply).
func (p *Pool) Remove(hashes ...common.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range hashes {
		pt, ok := p.byHash[h]
		if !ok {
			continue
		}
		delete(p.byHash, h)
		s := p.senders[pt.from]
		delete(s.txs, pt.tx.Nonce())
		if len(s.txs) == 0 {
			delete(p.senders, pt.from)
		}
	}
}

// Get returns a pooled transaction by hash.
func (p *Pool) Get(hash common.Hash) *types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pt, ok := p.byHash[hash]; ok {
		return pt.tx
	}
	return nil
}

// Len returns the number of pooled transactions.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byHash)
}

// executable returns s's transactions from nonce next on, up to the first gap.
func (s *sender) executable(next uint64) []*pooled {
	var out []*pooled
	for n := next; ; n++ {
		pt, ok := s.txs[n]
		if !ok {
			return out
		}
		out = append(out, pt)
	}
}

// Content returns every pooled transaction split as go-ethereum's txpool_content does: pending
// (executable now, in nonce order) and queued (behind a nonce gap), by sender.
func (p *Pool) Content() (pending, queued map[common.Address][]*types.Transaction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pending = make(map[common.Address][]*types.Transaction)
	queued = make(map[common.Address][]*types.Transaction)
	for from, s := range p.senders {
		exec := s.executable(p.state.GetNonce(from))
		ready := make(map[uint64]bool, len(exec))
		for _, pt := range exec {
			pending[from] = append(pending[from], pt.tx)
			ready[pt.tx.Nonce()] = true
		}
		for nonce, pt := range s.txs {
			if !ready[nonce] {
				queued[from] = append(queued[from], pt.tx)
			}
		}
		sortByNonce(queued[from])
	}
	return pending, queued
}

func sortByNonce(txs []*types.Transaction) {
	slices.SortFunc(txs, func(a, b *types.Transaction) int { return cmp.Compare(a.Nonce(), b.Nonce()) })
}

// PendingNonce returns the nonce a sender's next transaction should use: the state's nonce plus
// its executable pooled transactions (eth_getTransactionCount at "pending").
func (p *Pool) PendingNonce(addr common.Address) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := p.state.GetNonce(addr)
	if s := p.senders[addr]; s != nil {
		next += uint64(len(s.executable(next)))
	}
	return next
}

// SubscribeNewTxs delivers every accepted transaction to ch.
func (p *Pool) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return p.feed.Subscribe(ch)
}

// Ordered returns the executable transactions for the next block, best first: each sender's in
// nonce order, and across senders by effective tip at baseFee (ties to the earlier arrival).
// Transactions whose fee cap is below baseFee wait. The block builder walks the result and
// calls Remove for what fails; a sender's later nonces are skipped by the builder on failure.
func (p *Pool) Ordered(baseFee *big.Int) []*types.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := &tipHeap{baseFee: baseFee}
	for from, s := range p.senders {
		var ready []*pooled
		for _, pt := range s.executable(p.state.GetNonce(from)) {
			if baseFee != nil && pt.tx.GasFeeCapIntCmp(baseFee) < 0 {
				break
			}
			ready = append(ready, pt)
		}
		if len(ready) > 0 {
			h.queues = append(h.queues, ready)
		}
	}
	heap.Init(h)
	var out []*types.Transaction
	for h.Len() > 0 {
		q := h.queues[0]
		out = append(out, q[0].tx)
		if len(q) == 1 {
			heap.Pop(h)
		} else {
			h.queues[0] = q[1:]
			heap.Fix(h, 0)
		}
	}
	return out
}

// tipHeap orders senders' queues by the effective tip of their next transaction.
type tipHeap struct {
	baseFee *big.Int
	queues  [][]*pooled
}

func (h *tipHeap) Len() int { return len(h.queues) }
func (h *tipHeap) Less(i, j int) bool {
	a, b := h.queues[i][0], h.queues[j][0]
	ta, _ := a.tx.EffectiveGasTip(h.baseFee)
	tb, _ := b.tx.EffectiveGasTip(h.baseFee)
	if c := ta.Cmp(tb); c != 0 {
		return c > 0
	}
	return a.arrival < b.arrival
}
func (h *tipHeap) Swap(i, j int) { h.queues[i], h.queues[j] = h.queues[j], h.queues[i] }
func (h *tipHeap) Push(x any)    { h.queues = append(h.queues, x.([]*pooled)) }
func (h *tipHeap) Pop() any {
	x := h.queues[len(h.queues)-1]
	h.queues = h.queues[:len(h.queues)-1]
	return x
}
