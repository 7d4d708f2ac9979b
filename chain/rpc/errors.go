package rpc

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/vm"
)

// JSON-RPC error codes this package returns besides go-ethereum's defaults (-32000 for a
// plain error, -32601 for an unknown method, -32602 for arguments the server cannot decode).
const (
	CodeInvalidParams = -32602 // a parameter decoded but is not acceptable
	CodeRevert        = 3      // execution reverted; data holds the revert bytes
	CodeLimitExceeded = -32005 // a server limit (subscriptions, log range, results) was hit
	CodeTimeout       = -32002 // the call ran past Options.RequestTimeout (go-ethereum's code)
)

// Errors callers can test with errors.Is.
var (
	// ErrTooManySubscriptions is returned by eth_subscribe when the connection already holds
	// Options.MaxSubscriptionsPerConn subscriptions.
	ErrTooManySubscriptions = errors.New("too many subscriptions on this connection")
	// ErrHeaderNotFound is returned when a block number or hash names no canonical block.
	ErrHeaderNotFound = errors.New("header not found")
)

// timeoutError is go-ethereum's answer to a call that ran past its time limit.
type timeoutError struct{}

func (timeoutError) Error() string  { return "request timed out" }
func (timeoutError) ErrorCode() int { return CodeTimeout }

var errTimeout error = timeoutError{}

// paramsError is a JSON-RPC "invalid params" error (-32602) with a message saying what was
// wrong.
type paramsError struct{ err error }

func (e *paramsError) Error() string  { return e.err.Error() }
func (e *paramsError) ErrorCode() int { return CodeInvalidParams }
func (e *paramsError) Unwrap() error  { return e.err }

func invalidParams(format string, args ...any) error {
	return &paramsError{fmt.Errorf(format, args...)}
}

// limitError is a JSON-RPC "limit exceeded" error (-32005).
type limitError struct{ err error }

func (e *limitError) Error() string  { return e.err.Error() }
func (e *limitError) ErrorCode() int { return CodeLimitExceeded }
func (e *limitError) Unwrap() error  { return e.err }

func limitExceeded(format string, args ...any) error {
	return &limitError{fmt.Errorf(format, args...)}
}

// revertError is an EVM revert: code 3, message "execution reverted[: reason]" and data the
// 0x-hex revert bytes, so clients (ethers, viem, ethclient's rpc.DataError) can decode custom
// errors. Adapted from go-ethereum v1.17.10 internal/ethapi/errors.go (revertError,
// newRevertError), LGPL-3.0, The go-ethereum Authors.
type revertError struct {
	error
	reason string // revert data, 0x-hex
}

func (e *revertError) ErrorCode() int { return CodeRevert }
func (e *revertError) ErrorData() any { return e.reason }
func (e *revertError) Unwrap() error  { return e.error }

func newRevertError(revert []byte) *revertError {
	err := vm.ErrExecutionReverted
	if reason, errUnpack := abi.UnpackRevert(revert); errUnpack == nil {
		err = fmt.Errorf("%w: %v", vm.ErrExecutionReverted, reason)
	}
	return &revertError{error: err, reason: hexutil.Encode(revert)}
}

// NewRevertError is how a Backend reports a revert (EstimateGas): the client gets code 3,
// "execution reverted[: reason]" and the revert data, as from go-ethereum.
func NewRevertError(data []byte) error { return newRevertError(data) }

// NewLimitError is how a Backend reports that a query exceeds its cost limits (GetLogs): the
// client gets code -32005 with err's message.
func NewLimitError(err error) error { return &limitError{err} }
