package chaintx

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// SignFunc signs a transaction with the client's key.
type SignFunc func(*types.Transaction) (*types.Transaction, error)

// SignHook stands at the signing point of Send: it receives the complete unsigned transaction
// (recipient, value, data, gas limit and fee caps, nonce) and either refuses it by returning an
// error without calling sign, so that nothing is signed or sent, or calls sign and returns the
// signed transaction, which Send then broadcasts. The agents runtime enforces its spending
// policy here.
type SignHook func(ctx context.Context, from common.Address, tx *types.Transaction, sign SignFunc) (*types.Transaction, error)

type signHookKey struct{}

// WithSignHook returns a context under which every Send made with it passes its transaction
// through h before signing. Hooks do not nest: the innermost one is used.
func WithSignHook(ctx context.Context, h SignHook) context.Context {
	return context.WithValue(ctx, signHookKey{}, h)
}

// signHook is the hook ctx carries, or nil.
func signHook(ctx context.Context) SignHook {
	h, _ := ctx.Value(signHookKey{}).(SignHook)
	return h
}
