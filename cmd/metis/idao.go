package main

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/chaintx"
	"github.com/metisgo/metis/lazai"
)

// The iDAO commands: governance by proposals, votes and a timelock, in the root iDAO (voting
// power: Holders Mining stake) and in the community iDAO of each DAT class (voting power: the
// class's shares), with AI agents as members.

const idaoHelp = `The iDAO governs the chain's modules. dao 0 is the root iDAO: voting power is Holders
Mining stake ('metis stake'), delegable ('metis idao delegate'), and its proposals may
call anything (LazAI's fee split, DAT's parameters, the iDAO's own). dao N is the
community iDAO of DAT class N: voting power is the holder's shares of that class, and its
proposals may only change that class (policy URI, usage fee, lineage, verification).

A proposal's life, in blocks (the parameters: 'metis idao params'):

  pending    from the proposal to its snapshot (voting delay); votes count as they
             stand at the end of the snapshot block; the proposer may cancel
  active     the voting period: vote for, against or abstain, once per account
  succeeded  after the deadline, if for + abstain reach the quorum and for > against
             (else defeated)
  queued     'metis idao queue': the timelock runs; then 'metis idao execute' makes
             the calls with the iDAO as caller, all or nothing, within the grace period
             (else expired)

AI agents are members like anyone: their owner registers them ('metis idao agent
register') and delegates voting power to them; their votes and reasons are on chain.`

func newIDAOCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "idao",
		Short: "Govern the chain: propose, delegate, vote, queue and execute; AI-agent members",
		Long:  idaoHelp + "\n\n" + chainFlagsHelp,
		Example: `  # on a dev chain (metis node --dev), dev account 0 signs by default
  metis stake 2 --dev-account 1                      # voting power in the root iDAO
  metis idao propose --set-split 6000,2000,1000,1000 --description "60% to stakers" --dev-account 1
  metis idao vote 1 for --dev-account 1
  metis idao show 1                                  # state, tallies, blocks left
  metis idao queue 1
  metis idao execute 1
  metis idao agent register 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --name curator --dev-account 2
  metis idao delegate 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --dev-account 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addChainFlags(cmd)
	cmd.AddCommand(
		newIDAOProposeCmd(f),
		newIDAOVoteCmd(f),
		newIDAODelegateCmd(f),
		newIDAOQueueCmd(f),
		newIDAOExecuteCmd(f),
		newIDAOCancelCmd(f),
		newIDAOShowCmd(f),
		newIDAOLsCmd(f),
		newIDAOParamsCmd(f),
		newIDAOAgentCmd(f),
	)
	return cmd
}

// idaoSession is a connection and an iDAO client, with what the error hints need to say more
// than the error's arguments do.
type idaoSession struct {
	ctx context.Context
	f   *chainFlags
	c   *conn
	cl  *idao.Client
	// dao is the dao a proposal is being made in (BelowThreshold's wording).
	dao *big.Int
	// id is the proposal a command acts on, if any (NotProposer and NoVotingPower name its
	// proposer and snapshot).
	id *big.Int
	// calls are the calls of the proposal being executed (CallFailed's decoding); dao with
	// them says how they were made.
	calls []idao.Call
}

// idaoConn connects and makes an iDAO client, signing when sign is set.
func idaoConn(ctx context.Context, f *chainFlags, sign bool) (*idaoSession, error) {
	c, err := f.connect(ctx, sign)
	if err != nil {
		return nil, err
	}
	s := &idaoSession{ctx: ctx, f: f, c: c, dao: new(big.Int)}
	s.cl = idao.NewClient(c.eth, c.signer())
	return s, nil
}

func (s *idaoSession) close() { s.c.close() }

// explain turns an iDAO error into its hint.
func (s *idaoSession) explain(err error) error { return explain(s.c, err, s.hint) }

// head is the number of the latest block.
func (s *idaoSession) head() (uint64, error) {
	n, err := s.c.eth.BlockNumber(s.ctx)
	if err != nil {
		return 0, explain(s.c, err, s.hint)
	}
	return n, nil
}

// votes formats voting power in dao: METIS of stake in the root iDAO, shares in a community.
func (s *idaoSession) votes(dao, v *big.Int) string {
	if v == nil {
		v = new(big.Int)
	}
	if dao == nil || dao.Sign() == 0 {
		return s.f.amount(v)
	}
	return v.String() + " shares"
}

// hint explains the iDAO module's errors. Where a hint is better for knowing the proposal (its
// state and blocks, its proposer), it reads it; if that read fails, it says less.
func (s *idaoSession) hint(name string, a []any) string {
	switch name {
	case "WrongState":
		id, st := argBig(a, 0), idao.State(argBig(a, 1).Uint64())
		if p, head, params, err := s.proposal(id); err == nil {
			short, detail := timing(p, head, params)
			return fmt.Sprintf("proposal %s is %s%s; %s", id, st, clause(short, detail), nextStep(p, head, params))
		}
		return fmt.Sprintf("proposal %s is %s", id, st)
	case "AlreadyVoted":
		return fmt.Sprintf("%s has already voted on proposal %s (a vote is final; 'metis idao show %s' shows the tallies)",
			argAddr(a, 1), argBig(a, 0), argBig(a, 0))
	case "TimelockNotReady":
		eta, now := argBig(a, 0), argBig(a, 1)
		return fmt.Sprintf("executable at block %s (in %s; this was block %s)", eta, blocks(new(big.Int).Sub(eta, now).Int64()), now)
	case "BelowThreshold":
		have, need := argBig(a, 0), argBig(a, 1)
		if s.dao.Sign() != 0 {
			return fmt.Sprintf("you have no votes in class %s's community (votes at the previous block count): hold shares of its tokens, or have a holder delegate to you ('metis idao delegate ADDR --dao %s')",
				s.dao, s.dao)
		}
		return fmt.Sprintf("you have %s of votes, proposing needs %s (votes at the previous block count); stake with `metis stake`, or have stakers delegate to you ('metis idao delegate ADDR')",
			s.f.amount(have), s.f.amount(need))
	case "NoVotingPower":
		at := "the proposal's snapshot"
		if p, err := s.lookup(); err == nil {
			at = fmt.Sprintf("proposal %s's snapshot (block %d, in %s)", p.Id, p.Snapshot, daoName(p.Dao))
		}
		return fmt.Sprintf("%s had no voting power at %s: stake, shares and delegations count as they stood at the end of that block, not later", argAddr(a, 0), at)
	case "NotProposer":
		if p, err := s.lookup(); err == nil {
			return fmt.Sprintf("%s did not make proposal %s: only its proposer, %s, may cancel it", argAddr(a, 0), p.Id, p.Proposer.Hex())
		}
		return fmt.Sprintf("%s did not make the proposal: only its proposer may cancel it", argAddr(a, 0))
	case "CallFailed":
		return s.callFailed(argBig(a, 0), a)
	case "UnknownProposal":
		return fmt.Sprintf("there is no proposal %s ('metis idao ls' lists them)", argBig(a, 0))
	case "UnknownDAO":
		return fmt.Sprintf("there is no dao %s: 0 is the root iDAO, N the community of DAT class N (which must exist)", argBig(a, 0))
	case "BadProposal":
		if len(a) > 0 {
			return fmt.Sprint(a[0])
		}
	case "BadSupport":
		return fmt.Sprintf("vote %s: want for, against or abstain", argBig(a, 0))
	case "NotGovernance":
		return "only the iDAO itself may do this: propose the call ('metis idao propose --call idao:…')"
	case "BadParams":
		return "the parameters are outside their bounds (see 'metis idao params --help')"
	case "WrongValue":
		return fmt.Sprintf("sent %s, the calls need %s", s.f.amount(argBig(a, 0)), s.f.amount(argBig(a, 1)))
	case "AgentExists":
		return fmt.Sprintf("%s is already a registered agent ('metis idao agent ls')", argAddr(a, 0))
	case "NotAgentOwner":
		return fmt.Sprintf("%s neither owns agent %s nor is it: sign as its owner", argAddr(a, 1), argAddr(a, 0))
	case "UnknownAgent":
		return fmt.Sprintf("%s is not a registered agent ('metis idao agent ls')", argAddr(a, 0))
	case "StringTooLong":
		return fmt.Sprintf("a text of %s bytes, at most %s", argBig(a, 0), argBig(a, 1))
	case "ZeroAddress":
		return "the address is zero"
	}
	// The errors of the modules the iDAO reads (LazAI, DAT), passed through under their names.
	if h := lazaiHint(name, a); h != "" {
		return h
	}
	return datHint(nil)(name, a)
}

// callFailed decodes a failed call's revert data with its target's ABI.
func (s *idaoSession) callFailed(index *big.Int, a []any) string {
	var data []byte
	if len(a) > 1 {
		data, _ = a[1].([]byte)
	}
	i := int(index.Int64())
	if !index.IsInt64() || i < 0 || i >= len(s.calls) {
		return fmt.Sprintf("call %s of the proposal reverted (data %s)", new(big.Int).Add(index, big.NewInt(1)), hexutil.Encode(data))
	}
	cl := s.calls[i]
	desc := describeCall(cl)
	mod := knownModule(cl.Target)
	if s.dao.Sign() != 0 {
		mod = knownModule(dat.Address) // a community's calls go through DAT.executeAsCommunity
	}
	if mod != nil {
		if re := chaintx.DecodeRevert(mod.abi, data); re.Name != "" {
			msg := re.Error()
			if h := mod.hint(re.Name, re.Args); h != "" {
				msg = re.Name + ": " + h
			}
			return fmt.Sprintf("call %d, %s, reverted with %s; nothing was executed", i+1, desc, msg)
		}
	}
	return fmt.Sprintf("call %d, %s, reverted (data %s); nothing was executed", i+1, desc, hexutil.Encode(data))
}

// lookup reads the proposal the command acts on.
func (s *idaoSession) lookup() (idao.ProposalInfo, error) {
	if s.id == nil {
		return idao.ProposalInfo{}, fmt.Errorf("no proposal")
	}
	return s.cl.Proposal(s.ctx, s.id)
}

// proposal reads a proposal, the head and the parameters.
func (s *idaoSession) proposal(id *big.Int) (idao.ProposalInfo, uint64, idao.Params, error) {
	head, err := s.head()
	if err != nil {
		return idao.ProposalInfo{}, 0, idao.Params{}, err
	}
	p, err := s.cl.Proposal(s.ctx, id)
	if err != nil {
		return idao.ProposalInfo{}, 0, idao.Params{}, s.explain(err)
	}
	params, err := s.cl.Params(s.ctx)
	if err != nil {
		return idao.ProposalInfo{}, 0, idao.Params{}, s.explain(err)
	}
	return p, head, params, nil
}

// blocks is "1 block" or "N blocks".
func blocks(n int64) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d block", n)
	}
	return fmt.Sprintf("%d blocks", n)
}

func clause(short, detail string) string {
	if short == "" {
		return ""
	}
	if detail == "" {
		return ": " + short
	}
	return ": " + short + " (" + detail + ")"
}

// timing says where a proposal stands in time (its state is the state at the head): a short
// phrase ("voting ends in 7 blocks") and its detail ("block 15 is the last"). A transaction
// sent now runs in the block after the head, so "in N blocks" means: once N more blocks are
// made, a transaction sent then finds the step taken (voting open or over, the timelock run,
// the grace period passed); "now" means a transaction sent now does.
func timing(p idao.ProposalInfo, head uint64, params idao.Params) (short, detail string) {
	switch idao.State(p.State) {
	case idao.Pending:
		open := p.Snapshot + 1
		if p.Snapshot <= head {
			return "voting opens now", fmt.Sprintf("block %d is the first", open)
		}
		return "voting opens in " + blocks(int64(p.Snapshot-head)), fmt.Sprintf("block %d is the first", open)
	case idao.Active:
		if p.Deadline <= head {
			return "voting is over", fmt.Sprintf("block %d was the last", p.Deadline)
		}
		return "voting ends in " + blocks(int64(p.Deadline-head)), fmt.Sprintf("block %d is the last", p.Deadline)
	case idao.Succeeded:
		return "passed, not yet queued", fmt.Sprintf("then a timelock of %s", blocks(int64(params.TimelockDelay)))
	case idao.Queued:
		last := p.Eta + params.GracePeriod
		if p.Eta > head+1 {
			return "executable in " + blocks(int64(p.Eta-head-1)), fmt.Sprintf("at block %d, until block %d", p.Eta, last)
		}
		if last <= head {
			return "expired", fmt.Sprintf("block %d was the last", last)
		}
		return "expires in " + blocks(int64(last-head)), fmt.Sprintf("executable now; block %d is the last", last)
	case idao.Expired:
		return "not executed in time", fmt.Sprintf("block %d was the last", p.Eta+params.GracePeriod)
	case idao.Defeated:
		if !quorumReached(p) {
			return "quorum not reached", ""
		}
		return "not more for than against", ""
	}
	return "", ""
}

// passes reports whether the tallies pass the proposal.
func passes(p idao.ProposalInfo) bool {
	return quorumReached(p) && p.ForVotes.Cmp(p.AgainstVotes) > 0
}

// nextStep says what can be done with a proposal now.
func nextStep(p idao.ProposalInfo, head uint64, params idao.Params) string {
	id := p.Id
	switch idao.State(p.State) {
	case idao.Pending:
		return fmt.Sprintf("vote once it opens (metis idao vote %s for|against|abstain); until then its proposer may cancel it", id)
	case idao.Active:
		if p.Deadline <= head {
			if passes(p) {
				return fmt.Sprintf("it passed: metis idao queue %s", id)
			}
			return "it did not pass; nothing more can be done with it"
		}
		return fmt.Sprintf("it can only be voted on (metis idao vote %s for|against|abstain); queue it when voting has ended, if it passed", id)
	case idao.Succeeded:
		return fmt.Sprintf("queue it: metis idao queue %s", id)
	case idao.Queued:
		if p.Eta > head+1 {
			return fmt.Sprintf("execute it once the timelock has run (metis idao execute %s)", id)
		}
		if p.Eta+params.GracePeriod > head {
			return fmt.Sprintf("execute it: metis idao execute %s", id)
		}
	}
	return "nothing more can be done with it"
}

func quorumReached(p idao.ProposalInfo) bool {
	if p.Quorum == nil || p.ForVotes == nil || p.AgainstVotes == nil || p.AbstainVotes == nil {
		return false
	}
	return new(big.Int).Add(p.ForVotes, p.AbstainVotes).Cmp(p.Quorum) >= 0
}

// module is a system module a call may name: its name, address, ABI and error hints.
type module struct {
	name string
	addr common.Address
	abi  *abi.ABI
	hint revertHint
}

var modules = []module{
	{"dat", dat.Address, dat.ABI, datHint(nil)},
	{"idao", idao.Address, idao.ABI, nil},
	{"lazai", lazai.Address, lazai.ABI, lazaiHint},
}

// knownModule is the system module at addr, or nil.
func knownModule(addr common.Address) *module {
	for i := range modules {
		if modules[i].addr == addr {
			m := modules[i]
			if m.hint == nil { // the iDAO's own hints need a session; its errors' names suffice here
				m.hint = func(string, []any) string { return "" }
			}
			return &m
		}
	}
	return nil
}

// describeCall prints a call decoded when its target is a system module
// ("lazai.setSplit(split: {holdersBps: 6000, …})"), else its target and raw calldata.
func describeCall(cl idao.Call) string {
	s := rawCall(cl)
	if m := knownModule(cl.Target); m != nil && len(cl.Data) >= 4 {
		if meth, err := m.abi.MethodById(cl.Data[:4]); err == nil {
			if args, err := meth.Inputs.Unpack(cl.Data[4:]); err == nil {
				parts := make([]string, len(args))
				for i, a := range args {
					parts[i] = formatABIValue(a)
					if n := meth.Inputs[i].Name; n != "" {
						parts[i] = n + ": " + parts[i]
					}
				}
				s = fmt.Sprintf("%s.%s(%s)", m.name, meth.RawName, strings.Join(parts, ", "))
			}
		}
	}
	if cl.Value != nil && cl.Value.Sign() > 0 {
		s += fmt.Sprintf(" with %s METIS", formatUnits(cl.Value, metisDecimals))
	}
	return s
}

func rawCall(cl idao.Call) string {
	name := cl.Target.Hex()
	if m := knownModule(cl.Target); m != nil {
		name = m.name
	}
	if len(cl.Data) == 0 {
		return name + " (no calldata)"
	}
	return fmt.Sprintf("%s: %s", name, hexutil.Encode(cl.Data))
}

// proposalCalls are a proposal's calls.
func proposalCalls(p idao.ProposalInfo) []idao.Call {
	calls := make([]idao.Call, len(p.Targets))
	for i := range p.Targets {
		calls[i].Target = p.Targets[i]
		if i < len(p.Values) {
			calls[i].Value = p.Values[i]
		}
		if i < len(p.Calldatas) {
			calls[i].Data = p.Calldatas[i]
		}
	}
	return calls
}

// callJSON is a call in --json output.
type callJSON struct {
	Target   common.Address `json:"target"`
	Value    string         `json:"value"`
	Calldata hexutil.Bytes  `json:"calldata"`
	Decoded  string         `json:"decoded"`
}

func toCallsJSON(calls []idao.Call) []callJSON {
	out := make([]callJSON, len(calls))
	for i, cl := range calls {
		v := cl.Value
		if v == nil {
			v = new(big.Int)
		}
		out[i] = callJSON{Target: cl.Target, Value: v.String(), Calldata: cl.Data, Decoded: describeCall(cl)}
	}
	return out
}

// proposalJSON is a proposal in --json output: uint256 amounts as decimal strings (wei in the
// root iDAO, shares in a community).
type proposalJSON struct {
	ID            *big.Int       `json:"id"`
	Dao           *big.Int       `json:"dao"`
	Proposer      common.Address `json:"proposer"`
	State         string         `json:"state"`
	Snapshot      uint64         `json:"snapshot"`
	Deadline      uint64         `json:"deadline"`
	Eta           uint64         `json:"eta"`
	ForVotes      string         `json:"forVotes"`
	AgainstVotes  string         `json:"againstVotes"`
	AbstainVotes  string         `json:"abstainVotes"`
	Quorum        string         `json:"quorum"`
	QuorumReached bool           `json:"quorumReached"`
	Block         uint64         `json:"block"`  // the head the state and timing are seen from
	Timing        string         `json:"timing"` // "voting ends in 7 blocks"
	Calls         []callJSON     `json:"calls"`
	Description   string         `json:"description"`
}

func toProposalJSON(p idao.ProposalInfo, head uint64, params idao.Params) proposalJSON {
	str := func(v *big.Int) string {
		if v == nil {
			return "0"
		}
		return v.String()
	}
	short, _ := timing(p, head, params)
	return proposalJSON{
		ID: p.Id, Dao: p.Dao, Proposer: p.Proposer, State: idao.State(p.State).String(),
		Snapshot: p.Snapshot, Deadline: p.Deadline, Eta: p.Eta,
		ForVotes: str(p.ForVotes), AgainstVotes: str(p.AgainstVotes), AbstainVotes: str(p.AbstainVotes),
		Quorum: str(p.Quorum), QuorumReached: quorumReached(p), Block: head, Timing: short,
		Calls: toCallsJSON(proposalCalls(p)), Description: p.Description,
	}
}

// daoName is "the root iDAO" or "the community of class N".
func daoName(dao *big.Int) string {
	if dao == nil || dao.Sign() == 0 {
		return "the root iDAO"
	}
	return fmt.Sprintf("the community of class %s", dao)
}

// parseProposalID reads a proposal id.
func parseProposalID(s string) (*big.Int, error) { return parseID("proposal", s) }

// parseDAO reads --dao: 0 for the root iDAO, N for class N's community.
func parseDAO(s string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		return nil, fmt.Errorf("--dao %q: want 0 (the root iDAO) or a DAT class id", s)
	}
	return v, nil
}
