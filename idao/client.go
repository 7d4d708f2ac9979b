package idao

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/lazai"
)

// Client is a typed client of the iDAO module over ethclient. Transactions are signed with the
// signer given to NewClient and waited for; a revert comes back as an error whose Solidity error
// name ErrorName returns (e.g. "AlreadyVoted").
type Client struct {
	c      *chaintx.Client
	eth    *ethclient.Client
	signer *bind.TransactOpts
	// GasLimit, when nonzero, is used instead of estimating.
	GasLimit uint64
}

// NewClient returns a client that signs with signer (go-ethereum's bind.TransactOpts: only From
// and Signer are used; bind.NewKeyedTransactor(key, chainID) for a key); signer nil makes a
// read-only client. Delegate signs its LazAI and DAT calls with the same signer.
func NewClient(eth *ethclient.Client, signer *bind.TransactOpts) *Client {
	return &Client{c: chaintx.New(eth, Address, ABI, signer), eth: eth, signer: signer}
}

// ErrorName is the name of the module error err carries, or "".
func ErrorName(err error) string { return chaintx.ErrorName(err) }

// From is the signing account.
func (c *Client) From() common.Address { return c.c.From() }

func (c *Client) send(ctx context.Context, value *big.Int, method string, args ...any) (*types.Receipt, error) {
	return c.c.Send(ctx, chaintx.TxOptions{Value: value, GasLimit: c.GasLimit}, method, args...)
}

// Call is one call of a proposal.
type Call struct {
	Target common.Address
	Value  *big.Int
	Data   []byte
}

// Propose opens a proposal in dao (RootDAO, or a DAT class id for its community) and returns its
// id.
func (c *Client) Propose(ctx context.Context, dao *big.Int, calls []Call, description string) (*big.Int, *types.Receipt, error) {
	targets := make([]common.Address, len(calls))
	values := make([]*big.Int, len(calls))
	datas := make([][]byte, len(calls))
	for i, cl := range calls {
		targets[i], values[i], datas[i] = cl.Target, cl.Value, cl.Data
		if values[i] == nil {
			values[i] = new(big.Int)
		}
		if datas[i] == nil {
			datas[i] = []byte{}
		}
	}
	r, err := c.send(ctx, nil, "propose", dao, targets, values, datas, description)
	if err != nil {
		return nil, r, err
	}
	ev := ABI.Events["ProposalCreated"].ID
	for _, l := range r.Logs {
		if l.Address == Address && len(l.Topics) > 1 && l.Topics[0] == ev {
			return l.Topics[1].Big(), r, nil
		}
	}
	return nil, r, fmt.Errorf("idao: receipt %s has no ProposalCreated event", r.TxHash)
}

// CastVote votes on a proposal (support: For, Against, Abstain); a non-empty reason is recorded
// on chain (castVoteWithReason).
func (c *Client) CastVote(ctx context.Context, id *big.Int, support uint8, reason string) (*types.Receipt, error) {
	if reason == "" {
		return c.send(ctx, nil, "castVote", id, support)
	}
	return c.send(ctx, nil, "castVoteWithReason", id, support, reason)
}

// Queue starts a succeeded proposal's timelock.
func (c *Client) Queue(ctx context.Context, id *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "queue", id)
}

// Execute runs a queued proposal whose timelock has passed; value is added to the treasury's
// balance for the calls' values.
func (c *Client) Execute(ctx context.Context, id *big.Int, value *big.Int) (*types.Receipt, error) {
	return c.send(ctx, value, "execute", id)
}

// Cancel withdraws a pending proposal (its proposer only).
func (c *Client) Cancel(ctx context.Context, id *big.Int) (*types.Receipt, error) {
	return c.send(ctx, nil, "cancel", id)
}

// RegisterAgent registers agent as a member owned by the caller.
func (c *Client) RegisterAgent(ctx context.Context, agent common.Address, name, metadataURI string, modelClassID *big.Int) (*types.Receipt, error) {
	if modelClassID == nil {
		modelClassID = new(big.Int)
	}
	return c.send(ctx, nil, "registerAgent", agent, name, metadataURI, modelClassID)
}

// DeregisterAgent removes an agent (its owner or the agent itself).
func (c *Client) DeregisterAgent(ctx context.Context, agent common.Address) (*types.Receipt, error) {
	return c.send(ctx, nil, "deregisterAgent", agent)
}

// Params are the governed parameters.
func (c *Client) Params(ctx context.Context) (Params, error) {
	return chaintx.CallInto[Params](ctx, c.c, "params")
}

// ProposalCount is the number of proposals (ids run from 1).
func (c *Client) ProposalCount(ctx context.Context) (uint64, error) {
	n, err := chaintx.CallInto[*big.Int](ctx, c.c, "proposalCount")
	if err != nil {
		return 0, err
	}
	return n.Uint64(), nil
}

// State is a proposal's state now.
func (c *Client) State(ctx context.Context, id *big.Int) (State, error) {
	s, err := chaintx.CallInto[uint8](ctx, c.c, "state", id)
	return State(s), err
}

// Proposal returns a proposal with its tallies and calls.
func (c *Client) Proposal(ctx context.Context, id *big.Int) (ProposalInfo, error) {
	return chaintx.CallInto[ProposalInfo](ctx, c.c, "proposal", id)
}

// HasVoted reports whether account voted on a proposal.
func (c *Client) HasVoted(ctx context.Context, id *big.Int, account common.Address) (bool, error) {
	return chaintx.CallInto[bool](ctx, c.c, "hasVoted", id, account)
}

// Votes is account's voting power in dao at the end of block n (n before the current block).
func (c *Client) Votes(ctx context.Context, dao *big.Int, account common.Address, n uint64) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "getVotes", dao, account, n)
}

// Quorum is dao's quorum at the end of block n.
func (c *Client) Quorum(ctx context.Context, dao *big.Int, n uint64) (*big.Int, error) {
	return chaintx.CallInto[*big.Int](ctx, c.c, "quorum", dao, n)
}

// Agent returns a registered (or deregistered) agent.
func (c *Client) Agent(ctx context.Context, a common.Address) (AgentInfo, error) {
	return chaintx.CallInto[AgentInfo](ctx, c.c, "agent", a)
}

// Agents lists the registered agents.
func (c *Client) Agents(ctx context.Context) ([]common.Address, error) {
	return chaintx.CallInto[[]common.Address](ctx, c.c, "agents")
}

// Events (the fields of IIDAO's events; Raw is the log).
type (
	ProposalCreated struct {
		ProposalId  *big.Int
		Dao         *big.Int
		Proposer    common.Address
		Targets     []common.Address
		Values      []*big.Int
		Calldatas   [][]byte
		Snapshot    uint64
		Deadline    uint64
		Description string
		Raw         types.Log
	}
	VoteCast struct {
		Voter      common.Address
		ProposalId *big.Int
		Support    uint8
		Weight     *big.Int
		Reason     string
		Raw        types.Log
	}
	ProposalExecuted struct {
		ProposalId *big.Int
		Raw        types.Log
	}
)

// WatchProposalCreated delivers new proposals as they are mined (WebSocket ethclient).
func (c *Client) WatchProposalCreated(ctx context.Context, sink chan<- *ProposalCreated) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "ProposalCreated", sink)
}

// WatchVoteCast delivers votes as they are mined.
func (c *Client) WatchVoteCast(ctx context.Context, sink chan<- *VoteCast) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "VoteCast", sink)
}

// WatchProposalExecuted delivers executions as they are mined.
func (c *Client) WatchProposalExecuted(ctx context.Context, sink chan<- *ProposalExecuted) (event.Subscription, error) {
	return chaintx.Watch(ctx, c.c, "ProposalExecuted", sink)
}

// votesModule is the module that holds voting power in dao: LazAI (stake) for the root iDAO,
// DAT (class shares) for a community.
func (c *Client) votesModule(dao *big.Int) *chaintx.Client {
	if dao == nil || dao.Sign() == 0 {
		return chaintx.New(c.eth, lazai.Address, lazai.ABI, c.signer)
	}
	return chaintx.New(c.eth, dat.Address, dat.ABI, c.signer)
}

// Delegate gives the caller's voting power in dao to delegatee: in the root iDAO its stake
// (LazAI.delegate), in the community of class dao its shares of that class
// (DAT.delegateClass). The zero address or the caller itself takes it back. A revert names
// the LazAI or DAT error.
func (c *Client) Delegate(ctx context.Context, dao *big.Int, delegatee common.Address) (*types.Receipt, error) {
	m := c.votesModule(dao)
	opts := chaintx.TxOptions{GasLimit: c.GasLimit}
	if dao == nil || dao.Sign() == 0 {
		return m.Send(ctx, opts, "delegate", delegatee)
	}
	return m.Send(ctx, opts, "delegateClass", dao, delegatee)
}

// CurrentVotes is the voting power delegated to account in dao now (Votes reads a past block,
// which is what a proposal counts).
func (c *Client) CurrentVotes(ctx context.Context, dao *big.Int, account common.Address) (*big.Int, error) {
	m := c.votesModule(dao)
	if dao == nil || dao.Sign() == 0 {
		return chaintx.CallInto[*big.Int](ctx, m, "getVotes", account)
	}
	return chaintx.CallInto[*big.Int](ctx, m, "getClassVotes", dao, account)
}
