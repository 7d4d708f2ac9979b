package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/internal/chaintx"
)

// Client is a typed client of the Verifier module over ethclient. Transactions are signed with
// the signer given to NewClient and waited for; a revert comes back as an error whose Solidity
// error name ErrorName returns (e.g. "WindowClosed").
type Client struct {
	c *chaintx.Client
	// GasLimit, when nonzero, is used instead of estimating (a transaction that will revert is
	// then mined and fails, rather than being refused before sending).
	GasLimit uint64
}

// clientABI is ABI with the DAT module's errors added, for decoding reverts: requestCompute
// passes DAT's (ClassNotFound) through as DAT raised it.
var clientABI = func() *abi.ABI {
	a := *ABI
	a.Errors = maps.Clone(ABI.Errors)
	for name, e := range dat.ABI.Errors {
		if _, ok := a.Errors[name]; !ok {
			a.Errors[name] = e
		}
	}
	return &a
}()

// NewClient returns a client that signs with signer (go-ethereum's bind.TransactOpts: only From
// and Signer are used; bind.NewKeyedTransactor(key, chainID) for a key); signer nil makes a
// read-only client.
func NewClient(eth *ethclient.Client, signer *bind.TransactOpts) *Client {
	return &Client{c: chaintx.New(eth, Address, clientABI, signer)}
}

// ErrorName is the name of the module error err carries, or "".
func ErrorName(err error) string { return chaintx.ErrorName(err) }

// From is the signing account.
func (c *Client) From() common.Address { return c.c.From() }

// Eth is the connection the client uses.
func (c *Client) Eth() *ethclient.Client { return c.c.Eth }

func (c *Client) send(ctx context.Context, value *big.Int, method string, args ...any) (*types.Receipt, error) {
	return c.c.Send(ctx, chaintx.TxOptions{Value: value, GasLimit: c.GasLimit}, method, args...)
}

// topicArg returns indexed argument n (topic n) of the receipt's first log of event name.
func topicArg(r *types.Receipt, name string, n int) (*big.Int, error) {
	id := ABI.Events[name].ID
	for _, l := range r.Logs {
		if l.Address == Address && len(l.Topics) > n && l.Topics[0] == id {
			return l.Topics[n].Big(), nil
		}
	}
	return nil, fmt.Errorf("verifier: receipt %s has no %s event", r.TxHash, name)
}

// RegisterVerifier registers the signer as a verifier, staking stake (nil: the module's
// minimum, read first).
func (c *Client) RegisterVerifier(ctx context.Context, stake *big.Int) (*types.Receipt, error) {
	if stake == nil {
		p, err := c.Params(ctx)
		if err != nil {
			return nil, err
		}
		stake = p.MinVerifierStake
	}
	return c.send(ctx, stake, "registerVerifier")
}

// UnregisterVerifier starts the signer's unbonding.
func (c *Client) UnregisterVerifier(ctx context.Context) (*types.Receipt, error) {
	return c.send(ctx, nil, "unregisterVerifier")
}

// WithdrawVerifierStake pays out the signer's stake after the unbonding.
func (c *Client) WithdrawVerifierStake(ctx context.Context) (*types.Receipt, error) {
	return c.send(ctx, nil, "withdrawVerifierStake")
}

// EncodeRequest is the input requestCompute publishes for req: its JSON (Stream is not part of
// it).
func EncodeRequest(req inference.Request) (string, error) {
	req.Stream = nil
	b, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("verifier: request JSON: %w", err)
	}
	return string(b), nil
}

// DecodeRequest reads a task's published input back into the request and checks it against
// the task's input digest (inference.InputDigest), so that a prover runs exactly what the
// requester paid for.
func DecodeRequest(input string, inputDigest [32]byte) (inference.Request, error) {
	var req inference.Request
	if err := json.Unmarshal([]byte(input), &req); err != nil {
		return inference.Request{}, fmt.Errorf("verifier: task input is not an inference request: %w", err)
	}
	d, err := inference.InputDigest(req)
	if err != nil {
		return inference.Request{}, fmt.Errorf("verifier: task input: %w", err)
	}
	if d != inputDigest {
		return inference.Request{}, fmt.Errorf("verifier: task input digest %s, the task says %s", d, common.Hash(inputDigest))
	}
	return req, nil
}

// RequestCompute pays fee for running req on the model of DAT class classID and returns the
// task id. The input digest is inference.InputDigest(req) and the request's JSON is published
// as the input; deadline is the block by which a result must be submitted.
func (c *Client) RequestCompute(ctx context.Context, classID *big.Int, req inference.Request, mode Mode, deadline uint64, fee *big.Int) (*big.Int, *types.Receipt, error) {
	digest, err := inference.InputDigest(req)
	if err != nil {
		return nil, nil, err
	}
	input, err := EncodeRequest(req)
	if err != nil {
		return nil, nil, err
	}
	r, err := c.send(ctx, fee, "requestCompute", classID, [32]byte(digest), input, uint8(mode), deadline)
	if err != nil {
		return nil, r, err
	}
	id, err := topicArg(r, "TaskRequested", 1)
	return id, r, err
}

// SubmitResult submits a signed receipt of task taskID with the trace's number of leaves (0 for
// an engine without a trace) and bond (nil: the module's minimum prover bond, read first).
func (c *Client) SubmitResult(ctx context.Context, taskID *big.Int, receipt *inference.Receipt, steps uint64, bond *big.Int) (*types.Receipt, error) {
	if receipt == nil {
		return nil, errors.New("verifier: nil receipt")
	}
	if bond == nil {
		p, err := c.Params(ctx)
		if err != nil {
			return nil, err
		}
		bond = p.MinProverBond
	}
	return c.send(ctx, bond, "submitResult", taskID, ReceiptFromInference(receipt), steps)
}

// Attest records the output digest the signer (one of the task's chosen verifiers) got; the
// task's own digest approves, any other rejects.
func (c *Client) Attest(ctx context.Context, taskID *big.Int, outputDigest [32]byte) (*types.Receipt, error) {
	return c.send(ctx, nil, "attest", taskID, outputDigest)
}

// Finalize finalizes, rejects, refunds or settles a task (see IVerifier.finalize).
func (c *Client) Finalize(ctx context.Context, taskID *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "finalize", taskID)
}

// Challenge disputes an optimistic result with bond (nil: the module's minimum challenger bond)
// and returns the dispute id.
func (c *Client) Challenge(ctx context.Context, taskID, bond *big.Int) (*big.Int, *types.Receipt, error) {
	if bond == nil {
		p, err := c.Params(ctx)
		if err != nil {
			return nil, nil, err
		}
		bond = p.MinChallengerBond
	}
	r, err := c.send(ctx, bond, "challenge", taskID)
	if err != nil {
		return nil, r, err
	}
	id, err := topicArg(r, "Challenged", 2)
	return id, r, err
}

// Bisect reveals the two children of the disputed node (the prover's move).
func (c *Client) Bisect(ctx context.Context, disputeID *big.Int, left, right [32]byte) (*types.Receipt, error) {
	return c.send(ctx, nil, "bisect", disputeID, left, right)
}

// Choose picks the child the challenger disputes (the challenger's move).
func (c *Client) Choose(ctx context.Context, disputeID *big.Int, left bool) (*types.Receipt, error) {
	return c.send(ctx, nil, "choose", disputeID, left)
}

// ProveStep submits the one-step proof of the single disputed leaf (the prover's last move).
func (c *Client) ProveStep(ctx context.Context, disputeID *big.Int, proof []byte) (*types.Receipt, error) {
	if proof == nil {
		proof = []byte{}
	}
	return c.send(ctx, nil, "proveStep", disputeID, proof)
}

// RevealOutput reveals the output tokens of the prover's optimistic result, with the request the
// task's input digest commits to (see IVerifier.revealOutput); the module refuses tokens that do
// not give the receipt's output digest or do not end the run there (BadOutput).
func (c *Client) RevealOutput(ctx context.Context, taskID *big.Int, tokens []uint32, req inference.Request) (*types.Receipt, error) {
	input, err := EncodeRequest(req)
	if err != nil {
		return nil, err
	}
	if tokens == nil {
		tokens = []uint32{}
	}
	return c.send(ctx, nil, "revealOutput", taskID, tokens, input)
}

// ChallengeToken disputes revealed output token k of an optimistic result with bond (nil: the
// module's minimum challenger bond) and returns the dispute id.
func (c *Client) ChallengeToken(ctx context.Context, taskID *big.Int, k uint64, bond *big.Int) (*big.Int, *types.Receipt, error) {
	if bond == nil {
		p, err := c.Params(ctx)
		if err != nil {
			return nil, nil, err
		}
		bond = p.MinChallengerBond
	}
	r, err := c.send(ctx, bond, "challengeToken", taskID, k)
	if err != nil {
		return nil, r, err
	}
	id, err := topicArg(r, "Challenged", 2)
	return id, r, err
}

// ProveToken answers a token dispute (the prover's only move): the revealed tokens, the state
// record of the disputed output step and its audit path (replay.TokenProof).
func (c *Client) ProveToken(ctx context.Context, disputeID *big.Int, tokens []uint32, record []byte, path [][32]byte) (*types.Receipt, error) {
	if tokens == nil {
		tokens = []uint32{}
	}
	if record == nil {
		record = []byte{}
	}
	if path == nil {
		path = [][32]byte{}
	}
	return c.send(ctx, nil, "proveToken", disputeID, tokens, record, path)
}

// RevealedOutput returns the output tokens revealed for a task (from its OutputRevealed event),
// or nil if none were.
func (c *Client) RevealedOutput(ctx context.Context, taskID *big.Int) ([]uint32, error) {
	evs, err := chaintx.Filter[OutputRevealed](ctx, c.c, "OutputRevealed", 0, nil, []any{taskID})
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	return evs[len(evs)-1].Tokens, nil
}

// SetParams sets the governed parameters (iDAO only).
func (c *Client) SetParams(ctx context.Context, p Params) (*types.Receipt, error) {
	return c.send(ctx, nil, "setParams", p)
}

// Params are the governed parameters.
func (c *Client) Params(ctx context.Context) (Params, error) {
	return chaintx.CallInto[Params](ctx, c.c, "params")
}

// TaskCount is the number of tasks (ids run from 1).
func (c *Client) TaskCount(ctx context.Context) (uint64, error) {
	n, err := chaintx.CallInto[*big.Int](ctx, c.c, "taskCount")
	if err != nil {
		return 0, err
	}
	return n.Uint64(), nil
}

// Task returns a task.
func (c *Client) Task(ctx context.Context, taskID *big.Int) (TaskInfo, error) {
	return chaintx.CallInto[TaskInfo](ctx, c.c, "task", taskID)
}

// Dispute returns a dispute.
func (c *Client) Dispute(ctx context.Context, disputeID *big.Int) (DisputeInfo, error) {
	return chaintx.CallInto[DisputeInfo](ctx, c.c, "dispute", disputeID)
}

// Verifiers lists the registered (active) verifiers.
func (c *Client) Verifiers(ctx context.Context) ([]common.Address, error) {
	return chaintx.CallInto[[]common.Address](ctx, c.c, "verifiers")
}

// StakeInfo is verifierStake's answer: the stake held, when an unbonding stake can be withdrawn
// (0: not unbonding) and whether the account is an active verifier.
type StakeInfo struct {
	Stake   *big.Int `json:"stake"`
	ReadyAt uint64   `json:"readyAt"`
	Active  bool     `json:"active"`
}

// VerifierStake is account's verifier stake.
func (c *Client) VerifierStake(ctx context.Context, account common.Address) (StakeInfo, error) {
	out, err := c.c.Call(ctx, "verifierStake", account)
	if err != nil {
		return StakeInfo{}, err
	}
	if len(out) != 3 {
		return StakeInfo{}, fmt.Errorf("verifierStake: %d outputs, want 3", len(out))
	}
	stake, ok1 := out[0].(*big.Int)
	ready, ok2 := out[1].(uint64)
	active, ok3 := out[2].(bool)
	if !ok1 || !ok2 || !ok3 {
		return StakeInfo{}, fmt.Errorf("verifierStake: unexpected output types %T %T %T", out[0], out[1], out[2])
	}
	return StakeInfo{Stake: stake, ReadyAt: ready, Active: active}, nil
}

// Events (the fields of IVerifier's events; Raw is the log).
type (
	TaskRequested struct {
		TaskId       *big.Int
		Requester    common.Address
		ModelClassId *big.Int
		Mode         uint8
		Fee          *big.Int
		Deadline     uint64
		InputDigest  [32]byte
		Input        string
		Raw          types.Log
	}
	VerifiersChosen struct {
		TaskId    *big.Int
		Verifiers []common.Address
		Raw       types.Log
	}
	ResultSubmitted struct {
		TaskId       *big.Int
		Prover       common.Address
		OutputDigest [32]byte
		TraceRoot    [32]byte
		Steps        uint64
		WindowEnd    uint64
		Raw          types.Log
	}
	Attested struct {
		TaskId   *big.Int
		Verifier common.Address
		Approve  bool
		Raw      types.Log
	}
	Challenged struct {
		TaskId     *big.Int
		DisputeId  *big.Int
		Challenger common.Address
		Bond       *big.Int
		Raw        types.Log
	}
	Bisected struct {
		DisputeId *big.Int
		Lo        uint64
		Hi        uint64
		Left      [32]byte
		Right     [32]byte
		Raw       types.Log
	}
	Chosen struct {
		DisputeId *big.Int
		Lo        uint64
		Hi        uint64
		Left      bool
		Raw       types.Log
	}
	StepReplayed struct {
		DisputeId *big.Int
		Step      uint64
		Claimed   [32]byte
		Replayed  [32]byte
		Raw       types.Log
	}
	DisputeResolved struct {
		DisputeId *big.Int
		TaskId    *big.Int
		ProverWon bool
		Reason    string
		Raw       types.Log
	}
	TaskFinalized struct {
		TaskId      *big.Int
		Prover      common.Address
		Paid        *big.Int
		ProtocolCut *big.Int
		Raw         types.Log
	}
	TaskRejected struct {
		TaskId *big.Int
		Reason string
		Raw    types.Log
	}
	TaskExpired struct {
		TaskId *big.Int
		Refund *big.Int
		Raw    types.Log
	}
	Slashed struct {
		Account common.Address
		Amount  *big.Int
		Reason  string
		Raw     types.Log
	}
	OutputRevealed struct {
		TaskId     *big.Int
		TokensHash [32]byte
		Tokens     []uint32
		Raw        types.Log
	}
	TokenProved struct {
		DisputeId *big.Int
		K         uint64
		Revealed  uint32
		Traced    uint32
		Raw       types.Log
	}
)

// Request decodes the event's input into the inference request it publishes, checked against
// the event's input digest (see DecodeRequest).
func (e *TaskRequested) Request() (inference.Request, error) {
	return DecodeRequest(e.Input, e.InputDigest)
}

// WatchTaskRequested delivers new tasks as they are mined (the client's ethclient must be
// dialled over WebSocket); the other Watch methods likewise. Each event's Request method
// decodes the published inference request.
func (c *Client) WatchTaskRequested(ctx context.Context, sink chan<- *TaskRequested) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "TaskRequested", sink)
}

// WatchVerifiersChosen delivers the verifier sets of attest tasks.
func (c *Client) WatchVerifiersChosen(ctx context.Context, sink chan<- *VerifiersChosen) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "VerifiersChosen", sink)
}

// WatchResultSubmitted delivers submitted results.
func (c *Client) WatchResultSubmitted(ctx context.Context, sink chan<- *ResultSubmitted) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "ResultSubmitted", sink)
}

// WatchAttested delivers attestations.
func (c *Client) WatchAttested(ctx context.Context, sink chan<- *Attested) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Attested", sink)
}

// WatchChallenged delivers new disputes.
func (c *Client) WatchChallenged(ctx context.Context, sink chan<- *Challenged) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Challenged", sink)
}

// WatchBisected delivers the prover's bisections.
func (c *Client) WatchBisected(ctx context.Context, sink chan<- *Bisected) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Bisected", sink)
}

// WatchChosen delivers the challenger's choices.
func (c *Client) WatchChosen(ctx context.Context, sink chan<- *Chosen) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Chosen", sink)
}

// WatchStepReplayed delivers the module's one-step replays.
func (c *Client) WatchStepReplayed(ctx context.Context, sink chan<- *StepReplayed) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "StepReplayed", sink)
}

// WatchDisputeResolved delivers settled disputes.
func (c *Client) WatchDisputeResolved(ctx context.Context, sink chan<- *DisputeResolved) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "DisputeResolved", sink)
}

// WatchTaskFinalized delivers finalized tasks.
func (c *Client) WatchTaskFinalized(ctx context.Context, sink chan<- *TaskFinalized) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "TaskFinalized", sink)
}

// WatchTaskRejected delivers rejected tasks.
func (c *Client) WatchTaskRejected(ctx context.Context, sink chan<- *TaskRejected) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "TaskRejected", sink)
}

// WatchTaskExpired delivers expired tasks.
func (c *Client) WatchTaskExpired(ctx context.Context, sink chan<- *TaskExpired) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "TaskExpired", sink)
}

// WatchOutputRevealed delivers revealed outputs of optimistic results.
func (c *Client) WatchOutputRevealed(ctx context.Context, sink chan<- *OutputRevealed) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "OutputRevealed", sink)
}

// WatchTokenProved delivers the module's decisions of token disputes.
func (c *Client) WatchTokenProved(ctx context.Context, sink chan<- *TokenProved) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "TokenProved", sink)
}

// WatchSlashed delivers slashes.
func (c *Client) WatchSlashed(ctx context.Context, sink chan<- *Slashed) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "Slashed", sink)
}

// FilterTaskRequested returns the TaskRequested events mined in blocks [from, to] (to nil: up
// to the head), of the given tasks only if any are given, over HTTP or WebSocket: how a service
// catches up on tasks requested before it subscribed.
func (c *Client) FilterTaskRequested(ctx context.Context, from uint64, to *uint64, taskIDs ...*big.Int) ([]*TaskRequested, error) {
	var q [][]any
	if len(taskIDs) > 0 {
		ids := make([]any, len(taskIDs))
		for i, id := range taskIDs {
			ids[i] = id
		}
		q = append(q, ids)
	}
	return chaintx.Filter[TaskRequested](ctx, c.c, "TaskRequested", from, to, q...)
}

// FilterResultSubmitted returns past ResultSubmitted events (see FilterTaskRequested).
func (c *Client) FilterResultSubmitted(ctx context.Context, from uint64, to *uint64) ([]*ResultSubmitted, error) {
	return chaintx.Filter[ResultSubmitted](ctx, c.c, "ResultSubmitted", from, to)
}

// FilterOutputRevealed returns past OutputRevealed events (see FilterTaskRequested).
func (c *Client) FilterOutputRevealed(ctx context.Context, from uint64, to *uint64) ([]*OutputRevealed, error) {
	return chaintx.Filter[OutputRevealed](ctx, c.c, "OutputRevealed", from, to)
}

// FilterChallenged returns past Challenged events (see FilterTaskRequested).
func (c *Client) FilterChallenged(ctx context.Context, from uint64, to *uint64) ([]*Challenged, error) {
	return chaintx.Filter[Challenged](ctx, c.c, "Challenged", from, to)
}

// FilterBisected returns past Bisected events (see FilterTaskRequested).
func (c *Client) FilterBisected(ctx context.Context, from uint64, to *uint64) ([]*Bisected, error) {
	return chaintx.Filter[Bisected](ctx, c.c, "Bisected", from, to)
}

// FilterChosen returns past Chosen events (see FilterTaskRequested).
func (c *Client) FilterChosen(ctx context.Context, from uint64, to *uint64) ([]*Chosen, error) {
	return chaintx.Filter[Chosen](ctx, c.c, "Chosen", from, to)
}

// FilterDisputeResolved returns past DisputeResolved events (see FilterTaskRequested).
func (c *Client) FilterDisputeResolved(ctx context.Context, from uint64, to *uint64) ([]*DisputeResolved, error) {
	return chaintx.Filter[DisputeResolved](ctx, c.c, "DisputeResolved", from, to)
}

// FilterStepReplayed returns past StepReplayed events (see FilterTaskRequested).
func (c *Client) FilterStepReplayed(ctx context.Context, from uint64, to *uint64) ([]*StepReplayed, error) {
	return chaintx.Filter[StepReplayed](ctx, c.c, "StepReplayed", from, to)
}

// FilterTaskFinalized returns past TaskFinalized events (see FilterTaskRequested).
func (c *Client) FilterTaskFinalized(ctx context.Context, from uint64, to *uint64) ([]*TaskFinalized, error) {
	return chaintx.Filter[TaskFinalized](ctx, c.c, "TaskFinalized", from, to)
}
