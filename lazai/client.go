package lazai

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"

	"github.com/metisgo/metis/internal/chaintx"
)

// Client is a typed client of the LazAI module over ethclient. Transactions are signed with the
// signer given to NewClient and waited for; a revert comes back as an error whose Solidity error
// name ErrorName returns (e.g. "InsufficientStake").
type Client struct {
	c *chaintx.Client
	// GasLimit, when nonzero, is used instead of estimating (a transaction that will revert is
	// then mined and fails, rather than being refused before sending).
	GasLimit uint64
}

// NewClient returns a client that signs with signer (go-ethereum's bind.TransactOpts: only From
// and Signer are used; bind.NewKeyedTransactor(key, chainID) for a key); signer nil makes a
// read-only client.
func NewClient(eth *ethclient.Client, signer *bind.TransactOpts) *Client {
	return &Client{c: chaintx.New(eth, Address, ABI, signer)}
}

// ErrorName is the name of the module error err carries, or "".
func ErrorName(err error) string { return chaintx.ErrorName(err) }

// From is the signing account.
func (c *Client) From() common.Address { return c.c.From() }

func (c *Client) send(ctx context.Context, value *big.Int, method string, args ...any) (*types.Receipt, error) {
	return c.c.Send(ctx, chaintx.TxOptions{Value: value, GasLimit: c.GasLimit}, method, args...)
}

// RouteFees pays amount into the fee split, attributed to source.
func (c *Client) RouteFees(ctx context.Context, source FeeSource, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, amount, "routeFees", uint8(source))
}

// Stake stakes amount wei in Holders Mining.
func (c *Client) Stake(ctx context.Context, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, amount, "stake")
}

// RequestUnstake starts unbonding amount of the caller's stake.
func (c *Client) RequestUnstake(ctx context.Context, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "requestUnstake", amount)
}

// Withdraw pays out the unbonded amount.
func (c *Client) Withdraw(ctx context.Context) (*types.Receipt, error) {
	return c.send(ctx, nil, "withdraw")
}

// Claim pays out the caller's rewards.
func (c *Client) Claim(ctx context.Context) (*types.Receipt, error) {
	return c.send(ctx, nil, "claim")
}

// SetSplit, SetUnbondingDelay and SetValidatorsRecipient succeed only from the iDAO module.
func (c *Client) SetSplit(ctx context.Context, s Split) (*types.Receipt, error) {
	return c.send(ctx, nil, "setSplit", s)
}

// SetUnbondingDelay sets the delay in blocks (iDAO only).
func (c *Client) SetUnbondingDelay(ctx context.Context, blocks uint64) (*types.Receipt, error) {
	return c.send(ctx, nil, "setUnbondingDelay", blocks)
}

// SetValidatorsRecipient sets who receives the validators' part (iDAO only).
func (c *Client) SetValidatorsRecipient(ctx context.Context, to common.Address) (*types.Receipt, error) {
	return c.send(ctx, nil, "setValidatorsRecipient", to)
}

// Split is the current fee split.
func (c *Client) Split(ctx context.Context) (Split, error) {
	return chaintx.CallInto[Split](ctx, c.c, "split")
}

// UnbondingDelay is the delay in blocks.
func (c *Client) UnbondingDelay(ctx context.Context) (uint64, error) {
	return chaintx.CallInto[uint64](ctx, c.c, "unbondingDelay")
}

// StakeOf is an account's stake.
func (c *Client) StakeOf(ctx context.Context, a common.Address) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "stakeOf", a)
}

// TotalStaked is the sum of all stakes.
func (c *Client) TotalStaked(ctx context.Context) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "totalStaked")
}

// PendingRewards is what Claim would pay a.
func (c *Client) PendingRewards(ctx context.Context, a common.Address) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "pendingRewards", a)
}

// Unbonding is a's pending unstake and the block from which Withdraw pays it.
func (c *Client) Unbonding(ctx context.Context, a common.Address) (amount *big.Int, readyAt uint64, err error) {
	out, err := c.c.Call(ctx, "unbonding", a)
	if err != nil {
		return nil, 0, err
	}
	return out[0].(*big.Int), out[1].(uint64), nil
}

// PastStake is a's stake at the end of block n (n before the current block).
func (c *Client) PastStake(ctx context.Context, a common.Address, n uint64) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "getPastStake", a, n)
}

// PastTotalStake is the total stake at the end of block n.
func (c *Client) PastTotalStake(ctx context.Context, n uint64) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "getPastTotalStake", n)
}

// Stats are the figures over the last blocks blocks.
func (c *Client) Stats(ctx context.Context, blocks uint64) (Stats, error) {
	return chaintx.CallInto[Stats](ctx, c.c, "stats", blocks)
}

// Events (the fields of ILazAI's events; Raw is the log).
type (
	FeesRouted struct {
		BlockNumber  uint64
		Source       uint8
		Amount       *big.Int
		ToHolders    *big.Int
		ToValidators *big.Int
		ToTreasury   *big.Int
		Burned       *big.Int
		Raw          types.Log
	}
	Staked struct {
		Account common.Address
		Amount  *big.Int
		Stake   *big.Int
		Raw     types.Log
	}
	UnstakeRequested struct {
		Account common.Address
		Amount  *big.Int
		Stake   *big.Int
		ReadyAt uint64
		Raw     types.Log
	}
	Withdrawn struct {
		Account common.Address
		Amount  *big.Int
		Raw     types.Log
	}
	RewardClaimed struct {
		Account common.Address
		Amount  *big.Int
		Raw     types.Log
	}
)

// WatchFeesRouted, WatchStaked, ... deliver the module's events as they are mined (the client's
// ethclient must be dialled over WebSocket).
func (c *Client) WatchFeesRouted(ctx context.Context, sink chan<- *FeesRouted) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "FeesRouted", sink)
}

// WatchStaked delivers Staked events.
func (c *Client) WatchStaked(ctx context.Context, sink chan<- *Staked) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Staked", sink)
}

// WatchUnstakeRequested delivers UnstakeRequested events.
func (c *Client) WatchUnstakeRequested(ctx context.Context, sink chan<- *UnstakeRequested) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "UnstakeRequested", sink)
}

// WatchWithdrawn delivers Withdrawn events.
func (c *Client) WatchWithdrawn(ctx context.Context, sink chan<- *Withdrawn) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Withdrawn", sink)
}

// WatchRewardClaimed delivers RewardClaimed events.
func (c *Client) WatchRewardClaimed(ctx context.Context, sink chan<- *RewardClaimed) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "RewardClaimed", sink)
}

// Delegate gives the caller's voting power (its stake) to delegatee; the zero address or the
// caller itself takes it back.
func (c *Client) Delegate(ctx context.Context, delegatee common.Address) (*types.Receipt, error) {
	return c.send(ctx, nil, "delegate", delegatee)
}

// Delegates is a's delegate (a itself unless it delegated).
func (c *Client) Delegates(ctx context.Context, a common.Address) (common.Address, error) {
	return chaintx.CallInto[common.Address](ctx, c.c, "delegates", a)
}

// Votes is the voting power delegated to a now.
func (c *Client) Votes(ctx context.Context, a common.Address) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "getVotes", a)
}

// PastVotes is the voting power delegated to a at the end of block n.
func (c *Client) PastVotes(ctx context.Context, a common.Address, n uint64) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "getPastVotes", a, n)
}
