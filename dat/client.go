package dat

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"

	"github.com/metisgo/metis/internal/chaintx"
)

// Client is a typed client of the DAT module over ethclient. Transactions are signed with the
// signer given to NewClient and waited for; a revert comes back as an error whose Solidity error
// name ErrorName returns (e.g. "QuotaExceeded").
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

// eventArg returns the first indexed argument (topic 1) of the receipt's first log of event
// name: the id createClass and mint return.
func eventArg(r *types.Receipt, name string) (*big.Int, error) {
	id := ABI.Events[name].ID
	for _, l := range r.Logs {
		if l.Address == Address && len(l.Topics) > 1 && l.Topics[0] == id {
			return l.Topics[1].Big(), nil
		}
	}
	return nil, fmt.Errorf("dat: receipt %s has no %s event", r.TxHash, name)
}

// CreateClass registers a class, paying the current verification fee, and returns its id.
func (c *Client) CreateClass(ctx context.Context, p ClassParams) (*big.Int, *types.Receipt, error) {
	params, err := c.Params(ctx)
	if err != nil {
		return nil, nil, err
	}
	if p.UsageFee == nil {
		p.UsageFee = new(big.Int)
	}
	if p.Parents == nil {
		p.Parents = []*big.Int{}
	}
	r, err := c.send(ctx, params.VerificationFee, "createClass", p)
	if err != nil {
		return nil, r, err
	}
	id, err := eventArg(r, "ClassCreated")
	return id, r, err
}

// SetClassOperator lets operator mint in a class (owner only).
func (c *Client) SetClassOperator(ctx context.Context, classID *big.Int, operator common.Address, allowed bool) (*types.Receipt, error) {
	return c.send(ctx, nil, "setClassOperator", classID, operator, allowed)
}

// ActivateClass moves a verified class to active (owner only).
func (c *Client) ActivateClass(ctx context.Context, classID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "activateClass", classID)
}

// DeprecateClass moves an active class to deprecated (owner only).
func (c *Client) DeprecateClass(ctx context.Context, classID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "deprecateClass", classID)
}

// RevokeClass revokes a class (iDAO only).
func (c *Client) RevokeClass(ctx context.Context, classID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "revokeClass", classID)
}

// VerifyClass verifies a class by vote (iDAO only).
func (c *Client) VerifyClass(ctx context.Context, classID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "verifyClass", classID)
}

// AddProof records a proof of the class's content (owner or validator).
func (c *Client) AddProof(ctx context.Context, classID *big.Int, proofHash common.Hash, uri string) (*types.Receipt, error) {
	return c.send(ctx, nil, "addProof", classID, [32]byte(proofHash), uri)
}

// RegisterValidator registers the caller as a data validator (needs the LazAI stake).
func (c *Client) RegisterValidator(ctx context.Context) (*types.Receipt, error) {
	return c.send(ctx, nil, "registerValidator")
}

// RemoveValidator removes a validator (itself or the iDAO).
func (c *Client) RemoveValidator(ctx context.Context, v common.Address) (*types.Receipt, error) {
	return c.send(ctx, nil, "removeValidator", v)
}

// Attest approves or rejects a registered class (validators only).
func (c *Client) Attest(ctx context.Context, classID *big.Int, approve bool) (*types.Receipt, error) {
	return c.send(ctx, nil, "attest", classID, approve)
}

// Mint mints a token of an active class and returns its id (owner or operator).
func (c *Client) Mint(ctx context.Context, classID *big.Int, to common.Address, value, shareRatio *big.Int, expireAt uint64) (*big.Int, *types.Receipt, error) {
	r, err := c.send(ctx, nil, "mint", classID, to, value, shareRatio, expireAt)
	if err != nil {
		return nil, r, err
	}
	id, err := eventArg(r, "Minted")
	return id, r, err
}

// TransferToken gives a token (and what it earned) to another account.
func (c *Client) TransferToken(ctx context.Context, tokenID *big.Int, to common.Address) (*types.Receipt, error) {
	return c.send(ctx, nil, "transferToken", tokenID, to)
}

// TransferValue moves quota between two tokens of one class.
func (c *Client) TransferValue(ctx context.Context, fromTokenID, toTokenID, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "transferValue", fromTokenID, toTokenID, amount)
}

// ApproveForClass lets operator move and use the caller's tokens of a class.
func (c *Client) ApproveForClass(ctx context.Context, classID *big.Int, operator common.Address, approved bool) (*types.Receipt, error) {
	return c.send(ctx, nil, "approveForClass", classID, operator, approved)
}

// RecordUsage consumes amount of a token's quota, paying fee; fee nil pays amount × the class's
// usage fee, read first.
func (c *Client) RecordUsage(ctx context.Context, tokenID, amount, fee *big.Int) (*types.Receipt, error) {
	if fee == nil {
		t, err := c.Token(ctx, tokenID)
		if err != nil {
			return nil, err
		}
		cl, err := c.Class(ctx, t.ClassId)
		if err != nil {
			return nil, err
		}
		fee = new(big.Int).Mul(amount, cl.UsageFee)
	}
	return c.send(ctx, fee, "recordUsage", tokenID, amount)
}

// SettleRevenue pays amount to a class's holders (and its parents').
func (c *Client) SettleRevenue(ctx context.Context, classID, amount *big.Int) (*types.Receipt, error) {
	return c.send(ctx, amount, "settleRevenue", classID)
}

// Claim pays a token's pending revenue to its owner (the caller) and returns the amount.
func (c *Client) Claim(ctx context.Context, tokenID *big.Int) (*big.Int, *types.Receipt, error) {
	r, err := c.send(ctx, nil, "claim", tokenID)
	if err != nil {
		return nil, r, err
	}
	ev := ABI.Events["RevenueClaimed"]
	for _, l := range r.Logs {
		if l.Address == Address && len(l.Topics) > 0 && l.Topics[0] == ev.ID {
			out, err := ev.Inputs.NonIndexed().Unpack(l.Data)
			if err != nil {
				return nil, r, err
			}
			return out[0].(*big.Int), r, nil
		}
	}
	return nil, r, fmt.Errorf("dat: claim receipt %s has no RevenueClaimed event", r.TxHash)
}

// SettleExpired stops an expired token from earning.
func (c *Client) SettleExpired(ctx context.Context, tokenID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "settleExpired", tokenID)
}

// SetParams sets the governed parameters (iDAO only).
func (c *Client) SetParams(ctx context.Context, p Params) (*types.Receipt, error) {
	return c.send(ctx, nil, "setParams", p)
}

// Params are the governed parameters.
func (c *Client) Params(ctx context.Context) (Params, error) {
	return chaintx.CallInto[Params](ctx, c.c, "params")
}

// ClassCount is the number of classes (ids run from 1).
func (c *Client) ClassCount(ctx context.Context) (uint64, error) {
	n, err := chaintx.CallInto[*big.Int](ctx, c.c, "classCount")
	if err != nil {
		return 0, err
	}
	return n.Uint64(), nil
}

// TokenCount is the number of tokens (ids run from 1).
func (c *Client) TokenCount(ctx context.Context) (uint64, error) {
	n, err := chaintx.CallInto[*big.Int](ctx, c.c, "tokenCount")
	if err != nil {
		return 0, err
	}
	return n.Uint64(), nil
}

// Class returns a class.
func (c *Client) Class(ctx context.Context, classID *big.Int) (ClassInfo, error) {
	return chaintx.CallInto[ClassInfo](ctx, c.c, "classInfo", classID)
}

// Token returns a token.
func (c *Client) Token(ctx context.Context, tokenID *big.Int) (TokenInfo, error) {
	return chaintx.CallInto[TokenInfo](ctx, c.c, "tokenInfo", tokenID)
}

// PendingRevenue is what Claim would pay for a token.
func (c *Client) PendingRevenue(ctx context.Context, tokenID *big.Int) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "pendingRevenue", tokenID)
}

// TokensOf lists an owner's token ids.
func (c *Client) TokensOf(ctx context.Context, owner common.Address) ([]*big.Int, error) {
	return chaintx.CallInto[[]*big.Int](ctx, c.c, "tokensOf", owner)
}

// IsValidator reports whether a is a registered data validator.
func (c *Client) IsValidator(ctx context.Context, a common.Address) (bool, error) {
	return chaintx.CallInto[bool](ctx, c.c, "isValidator", a)
}

// Events (the fields of IDAT's events; Raw is the log).
type (
	ClassCreated struct {
		ClassId       *big.Int
		Owner         common.Address
		Kind          uint8
		IntegrityHash [32]byte
		Parents       []*big.Int
		Raw           types.Log
	}
	ClassStatusChanged struct {
		ClassId *big.Int
		From    uint8
		To      uint8
		Raw     types.Log
	}
	Minted struct {
		TokenId    *big.Int
		ClassId    *big.Int
		To         common.Address
		Value      *big.Int
		ShareRatio *big.Int
		ExpireAt   uint64
		Raw        types.Log
	}
	UsageRecorded struct {
		TokenId *big.Int
		ClassId *big.Int
		User    common.Address
		Amount  *big.Int
		Fee     *big.Int
		Raw     types.Log
	}
	RevenueSettled struct {
		ClassId   *big.Int
		Payer     common.Address
		Amount    *big.Int
		ToParents *big.Int
		Raw       types.Log
	}
	RevenueClaimed struct {
		TokenId *big.Int
		To      common.Address
		Amount  *big.Int
		Raw     types.Log
	}
)

// WatchClassCreated delivers ClassCreated events as they are mined (the client's ethclient must
// be dialled over WebSocket); the other Watch methods likewise.
func (c *Client) WatchClassCreated(ctx context.Context, sink chan<- *ClassCreated) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "ClassCreated", sink)
}

// WatchClassStatusChanged delivers lifecycle transitions.
func (c *Client) WatchClassStatusChanged(ctx context.Context, sink chan<- *ClassStatusChanged) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "ClassStatusChanged", sink)
}

// WatchMinted delivers Minted events.
func (c *Client) WatchMinted(ctx context.Context, sink chan<- *Minted) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Minted", sink)
}

// WatchUsageRecorded delivers UsageRecorded events.
func (c *Client) WatchUsageRecorded(ctx context.Context, sink chan<- *UsageRecorded) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "UsageRecorded", sink)
}

// WatchRevenueSettled delivers RevenueSettled events.
func (c *Client) WatchRevenueSettled(ctx context.Context, sink chan<- *RevenueSettled) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "RevenueSettled", sink)
}

// WatchRevenueClaimed delivers RevenueClaimed events.
func (c *Client) WatchRevenueClaimed(ctx context.Context, sink chan<- *RevenueClaimed) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "RevenueClaimed", sink)
}
