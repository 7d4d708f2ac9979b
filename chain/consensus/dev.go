// Package consensus seals blocks. Today that is the dev sealer, as anvil and geth --dev have it:
// instant mode seals a block as soon as transactions arrive (batching everything pending at that
// moment, and sealing again while the pool still holds executable transactions), interval mode
// seals one block every block time, empty or not. A CometBFT application comes later.
package consensus

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
)

// Chain is what the sealer drives.
type Chain interface {
	// Seal builds, executes and commits the next block from the pool and returns it.
	Seal(ctx context.Context) (*types.Block, error)
	// HasPending reports whether the pool holds transactions executable in the next block.
	HasPending() bool
	// SubscribeNewTxs delivers every transaction the pool accepts.
	SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription
}

// Dev is the dev sealer. Zero BlockTime means instant mode.
type Dev struct {
	chain     Chain
	blockTime time.Duration
	log       *slog.Logger
}

// NewDev returns a sealer for chain; blockTime 0 seals on demand, otherwise on that interval.
func NewDev(chain Chain, blockTime time.Duration, log *slog.Logger) *Dev {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dev{chain: chain, blockTime: blockTime, log: log}
}

// Run seals until ctx ends. It returns nil on cancellation and the error of a failed seal
// otherwise: a chain that cannot seal is not one to keep running silently.
func (d *Dev) Run(ctx context.Context) error {
	if d.blockTime > 0 {
		return d.runInterval(ctx)
	}
	return d.runInstant(ctx)
}

func (d *Dev) runInterval(ctx context.Context) error {
	t := time.NewTicker(d.blockTime)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := d.seal(ctx); err != nil {
				return err
			}
		}
	}
}

func (d *Dev) runInstant(ctx context.Context) error {
	// A buffered channel: the pool's feed waits for every subscriber, and the sealer only needs
	// to know that something arrived, so it drains whatever piled up before sealing once.
	ch := make(chan []*types.Transaction, 256)
	sub := d.chain.SubscribeNewTxs(ch)
	defer sub.Unsubscribe()
	for {
		// Seal while anything is executable: a block may not hold all of it (gas limit), and
		// transactions may have arrived before the subscription.
		for d.chain.HasPending() {
			drain(ch)
			n, err := d.seal(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				break // nothing fitted or applied: wait for news rather than spin
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-sub.Err():
			return err
		case <-ch:
		}
	}
}

func drain(ch <-chan []*types.Transaction) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// seal seals one block and returns how many transactions it holds.
func (d *Dev) seal(ctx context.Context) (int, error) {
	b, err := d.chain.Seal(ctx)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	d.log.Info("sealed block", "number", b.NumberU64(), "txs", len(b.Transactions()), "gas", b.GasUsed(), "hash", b.Hash())
	return len(b.Transactions()), nil
}
