// Package chaintx is what the typed module clients (dat, lazai, and the modules after them) share:
// sending a signed transaction to a module and waiting for it, calling its views, decoding its
// custom errors, and watching its events over WebSocket. It is go-ethereum's bind/v2 underneath;
// what it adds is error decoding that names the module's Solidity error, the replay of a failed
// transaction that recovers why it reverted, and a margin on gas estimates.
//
// A client signs with the signer it is built with, a *bind.TransactOpts of which only From and
// Signer are used (the rest is per call): bind.NewKeyedTransactor for a key, or a SignerFn that
// checks each transaction before it signs, as the agents runtime's policy does. A client has no
// other way to sign, so whoever holds it signs only what its signer agrees to; the context of a
// call is for cancellation only.
//
// # Gas limits
//
// Send estimates the gas of a call (eth_estimateGas) and adds [GasMarginPercent] to it, as
// wallets do: MetaMask pads contract calls by 50% (capped at 90% of the block's gas limit),
// Foundry's forge script by 30% (--gas-estimate-multiplier 130); go-ethereum's bind and ethers
// add nothing. The clients are programs, like forge scripts, so they take Foundry's 30%, capped
// at the block's gas limit. An estimate is exact for the state it ran on, and a module's gas
// can change with state that moves between estimation and inclusion (the first checkpoint of a
// block adds an entry, about 22k gas; a first reward credit adds a slot, about 20k) on methods
// of 50k to 300k gas. Unused gas is refunded, so the margin costs nothing but raises the
// transaction's maximum cost (gas limit × fee cap), which a spending policy counts.
package chaintx

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/rpc"
)

// Client talks to one module (or contract) at Address with ABI.
type Client struct {
	Eth      *ethclient.Client
	Address  common.Address
	ABI      *abi.ABI
	contract *bind.BoundContract
	from     common.Address
	sign     bind.SignerFn // nil: read-only
}

// New returns a client that signs with signer's From and Signer (the rest of it is ignored);
// signer nil makes a read-only client.
func New(eth *ethclient.Client, address common.Address, a *abi.ABI, signer *bind.TransactOpts) *Client {
	c := &Client{Eth: eth, Address: address, ABI: a, contract: bind.NewBoundContract(address, *a, eth, eth, eth)}
	if signer != nil {
		c.from, c.sign = signer.From, signer.Signer
	}
	return c
}

// KeySigner returns go-ethereum's keyed signer of key for the chain eth is connected to.
func KeySigner(ctx context.Context, eth *ethclient.Client, key *ecdsa.PrivateKey) (*bind.TransactOpts, error) {
	id, err := eth.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain id: %w", err)
	}
	return bind.NewKeyedTransactor(key, id), nil
}

// From is the signing account (zero for a read-only client).
func (c *Client) From() common.Address { return c.from }

// Signer is the client's signer (nil for a read-only client), for another client of the same
// account.
func (c *Client) Signer() *bind.TransactOpts {
	if c.sign == nil {
		return nil
	}
	return &bind.TransactOpts{From: c.from, Signer: c.sign}
}

// TxOptions tune one transaction.
type TxOptions struct {
	Value *big.Int
	// GasLimit skips estimation when nonzero: the transaction is sent even if it will revert,
	// and the revert is recovered from the receipt (see [TxError]).
	GasLimit uint64
}

// RevertError is a module call that reverted with a custom error of the module's ABI (Name and
// Args), or with Error(string) (Name "Error", Args the reason).
type RevertError struct {
	Name string
	Args []any
	Data []byte
}

func (e *RevertError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("execution reverted (data %x)", e.Data)
	}
	parts := make([]string, len(e.Args))
	for i, a := range e.Args {
		parts[i] = fmt.Sprint(a)
	}
	return fmt.Sprintf("execution reverted: %s(%s)", e.Name, strings.Join(parts, ", "))
}

// TxError is a transaction that was mined and failed.
type TxError struct {
	Receipt *types.Receipt
	Err     error // the decoded reason, usually a *RevertError
}

func (e *TxError) Error() string {
	return fmt.Sprintf("transaction %s failed in block %v: %v", e.Receipt.TxHash, e.Receipt.BlockNumber, e.Err)
}

func (e *TxError) Unwrap() error { return e.Err }

// ErrorName returns the name of the Solidity error err carries ("" if none), through TxError.
func ErrorName(err error) string {
	var re *RevertError
	if errors.As(err, &re) {
		return re.Name
	}
	return ""
}

// GasMarginPercent is what Send adds to a gas estimate (see the package doc).
const GasMarginPercent = 30

// WithMargin is estimate plus GasMarginPercent, at most blockLimit (but never below estimate).
func WithMargin(estimate, blockLimit uint64) uint64 {
	padded := estimate + estimate/100*GasMarginPercent + estimate%100*GasMarginPercent/100
	if padded < estimate { // wrapped
		padded = blockLimit
	}
	return max(estimate, min(padded, blockLimit))
}

// Send signs and sends a call of method and waits for its receipt. A revert during estimation
// comes back as a *RevertError; a mined failure as a *TxError; a refusal of the signer as the
// signer's error, unwrapped by errors.As.
func (c *Client) Send(ctx context.Context, opts TxOptions, method string, args ...any) (*types.Receipt, error) {
	if c.sign == nil {
		return nil, errors.New("read-only client: no signer")
	}
	data, err := c.ABI.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	gas := opts.GasLimit
	if gas == 0 {
		if gas, err = c.estimate(ctx, opts.Value, data); err != nil {
			return nil, fmt.Errorf("%s: %w", method, c.DecodeError(err))
		}
	}
	topts := &bind.TransactOpts{From: c.from, Signer: c.sign, Context: ctx, Value: opts.Value, GasLimit: gas}
	tx, err := bind.Transact(c.contract, topts, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, c.DecodeError(err))
	}
	rcpt, err := WaitMined(ctx, c.Eth, tx.Hash())
	if err != nil {
		return nil, fmt.Errorf("%s: waiting for %s: %w", method, tx.Hash(), err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return rcpt, &TxError{Receipt: rcpt, Err: c.replay(ctx, tx, rcpt)}
	}
	return rcpt, nil
}

// estimate is the call's gas estimate with the margin.
func (c *Client) estimate(ctx context.Context, value *big.Int, data []byte) (uint64, error) {
	head, err := c.Eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, err
	}
	est, err := c.Eth.EstimateGas(ctx, ethereum.CallMsg{From: c.from, To: &c.Address, Value: value, Data: data})
	if err != nil {
		return 0, err
	}
	return WithMargin(est, head.GasLimit), nil
}

// replay re-runs a failed transaction as a call on the state before its block to recover the
// revert data (receipts do not carry it).
func (c *Client) replay(ctx context.Context, tx *types.Transaction, rcpt *types.Receipt) error {
	msg := ethereum.CallMsg{From: c.from, To: tx.To(), Gas: tx.Gas(), Value: tx.Value(), Data: tx.Data()}
	parent := new(big.Int).Sub(rcpt.BlockNumber, big.NewInt(1))
	_, err := c.Eth.CallContract(ctx, msg, parent)
	if err == nil {
		return fmt.Errorf("reverted (out of gas or state changed since; gas used %d of %d)", rcpt.GasUsed, tx.Gas())
	}
	return c.DecodeError(err)
}

// Call runs a view and returns its decoded outputs.
func (c *Client) Call(ctx context.Context, method string, args ...any) ([]any, error) {
	data, err := c.ABI.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	ret, err := c.Eth.CallContract(ctx, ethereum.CallMsg{From: c.from, To: &c.Address, Data: data}, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, c.DecodeError(err))
	}
	out, err := c.ABI.Unpack(method, ret)
	if err != nil {
		return nil, fmt.Errorf("%s: decoding result: %w", method, err)
	}
	return out, nil
}

// CallInto runs a view whose single output is converted into out (a pointer to a struct or
// value of the matching Go type).
func CallInto[T any](ctx context.Context, c *Client, method string, args ...any) (T, error) {
	var zero T
	out, err := c.Call(ctx, method, args...)
	if err != nil {
		return zero, err
	}
	if len(out) != 1 {
		return zero, fmt.Errorf("%s: %d outputs, want 1", method, len(out))
	}
	return *abi.ConvertType(out[0], new(T)).(*T), nil
}

var errorStringID = crypto.Keccak256([]byte("Error(string)"))[:4]

// DecodeError turns a JSON-RPC error carrying revert data into a *RevertError naming the
// module's error; other errors come back unchanged.
func (c *Client) DecodeError(err error) error {
	var de rpc.DataError
	if !errors.As(err, &de) {
		return err
	}
	s, ok := de.ErrorData().(string)
	if !ok {
		return err
	}
	data, derr := hexutil.Decode(s)
	if derr != nil || len(data) < 4 {
		return err
	}
	return DecodeRevert(c.ABI, data)
}

// DecodeRevert decodes revert data by a's errors or as Error(string).
func DecodeRevert(a *abi.ABI, data []byte) *RevertError {
	re := &RevertError{Data: data}
	if len(data) < 4 {
		return re
	}
	if string(data[:4]) == string(errorStringID) {
		if reason, err := abi.UnpackRevert(data); err == nil {
			re.Name, re.Args = "Error", []any{reason}
		}
		return re
	}
	for name, e := range a.Errors {
		if string(e.ID[:4]) != string(data[:4]) {
			continue
		}
		args, err := e.Inputs.Unpack(data[4:])
		if err != nil {
			return re
		}
		re.Name, re.Args = name, args
		return re
	}
	return re
}

// Watch subscribes (over WebSocket: Eth must be dialled with ws://) to the module's event name
// and delivers each as a *T, decoded from the event's indexed and data fields (T's fields are the
// event's arguments, capitalised, as go-ethereum's abi package maps them; a field Raw types.Log,
// if present, receives the log). query optionally filters the indexed arguments, in order. The
// subscription ends with an error if the connection drops or a log cannot be decoded.
func Watch[T any](ctx context.Context, c *Client, name string, sink chan<- *T, query ...[]any) (event.Subscription, error) {
	if _, ok := c.ABI.Events[name]; !ok {
		return nil, fmt.Errorf("no event %q", name)
	}
	logs, sub, err := c.contract.WatchLogs(&bind.WatchOpts{Context: ctx}, name, query...)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", name, err)
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case l := <-logs:
				out := new(T)
				if err := c.contract.UnpackLog(out, name, l); err != nil {
					return fmt.Errorf("decoding %s: %w", name, err)
				}
				if f := reflect.ValueOf(out).Elem().FieldByName("Raw"); f.IsValid() && f.Type() == reflect.TypeOf(l) {
					f.Set(reflect.ValueOf(l))
				}
				select {
				case sink <- out:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// receiptPoll is how often WaitMined asks for a receipt. bind.WaitMined waits a whole second
// between polls; a dev chain seals in milliseconds.
const receiptPoll = 20 * time.Millisecond

// WaitMined waits until the transaction has a receipt or ctx ends.
func WaitMined(ctx context.Context, eth *ethclient.Client, hash common.Hash) (*types.Receipt, error) {
	t := time.NewTicker(receiptPoll)
	defer t.Stop()
	for {
		r, err := eth.TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
