package main

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/idao"
)

func newIDAOVoteCmd(f *chainFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "vote ID for|against|abstain [--reason TEXT]",
		Short: "Vote on an active proposal, once, with the power held at its snapshot",
		Long: `Vote casts the signer's vote on proposal ID: for, against or abstain. Its weight is the
signer's voting power at the proposal's snapshot (stake in the root iDAO, class shares in
a community, including what others delegated to it by then). A vote is final. --reason
records why on chain (agents: say what you weighed).

` + chainFlagsHelp,
		Example: `  metis idao vote 1 for
  metis idao vote 1 against --reason "the burn share is too low" --dev-account 3`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseProposalID(args[0])
			if err != nil {
				return err
			}
			support, err := idao.ParseSupport(args[1])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			s.id = id
			r, err := s.cl.CastVote(ctx, id, support, reason)
			if err != nil {
				return s.explain(err)
			}
			weight := voteWeight(r)
			p, err := s.cl.Proposal(ctx, id)
			if err != nil {
				return s.explain(err)
			}
			if f.json {
				return printJSON(cmd, struct {
					ProposalID   *big.Int `json:"proposalId"`
					Support      string   `json:"support"`
					Weight       string   `json:"weight"`
					Reason       string   `json:"reason"`
					ForVotes     string   `json:"forVotes"`
					AgainstVotes string   `json:"againstVotes"`
					AbstainVotes string   `json:"abstainVotes"`
					txOut
				}{id, supportName(support), weight.String(), reason, p.ForVotes.String(), p.AgainstVotes.String(),
					p.AbstainVotes.String(), newTxOut(s.c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "voted %s on proposal %s with %s\n", supportName(support), id, s.votes(p.Dao, weight))
			if reason != "" {
				field(w, "reason", "%q", reason)
			}
			field(w, "tallies", "%s", tallies(s, p))
			printTx(cmd, s.c, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on chain with the vote")
	return cmd
}

func supportName(s uint8) string {
	switch s {
	case idao.For:
		return "for"
	case idao.Against:
		return "against"
	case idao.Abstain:
		return "abstain"
	}
	return fmt.Sprint(s)
}

// voteWeight is the weight of the VoteCast event in r.
func voteWeight(r *types.Receipt) *big.Int {
	ev := idao.ABI.Events["VoteCast"]
	for _, l := range r.Logs {
		if l.Address == idao.Address && len(l.Topics) > 0 && l.Topics[0] == ev.ID {
			if out, err := ev.Inputs.NonIndexed().Unpack(l.Data); err == nil && len(out) > 1 {
				if v, ok := out[1].(*big.Int); ok {
					return v
				}
			}
		}
	}
	return new(big.Int)
}

// tallies is "for X, against Y, abstain Z; quorum Q reached".
func tallies(s *idaoSession, p idao.ProposalInfo) string {
	return fmt.Sprintf("for %s, against %s, abstain %s; %s", s.votes(p.Dao, p.ForVotes),
		s.votes(p.Dao, p.AgainstVotes), s.votes(p.Dao, p.AbstainVotes), quorumText(s, p))
}

// quorumText says whether for + abstain reach the quorum.
func quorumText(s *idaoSession, p idao.ProposalInfo) string {
	if idao.State(p.State) == idao.Pending || p.Quorum == nil {
		return "quorum set at the snapshot"
	}
	counted := new(big.Int).Add(p.ForVotes, p.AbstainVotes)
	if counted.Cmp(p.Quorum) >= 0 {
		return fmt.Sprintf("quorum %s reached", s.votes(p.Dao, p.Quorum))
	}
	return fmt.Sprintf("quorum %s not reached (%s more for or abstain)", s.votes(p.Dao, p.Quorum),
		s.votes(p.Dao, new(big.Int).Sub(p.Quorum, counted)))
}

func newIDAODelegateCmd(f *chainFlags) *cobra.Command {
	var daoFlag string
	cmd := &cobra.Command{
		Use:   "delegate ADDR [--dao ID]",
		Short: "Give the signer's voting power to ADDR (an agent, a person, or back to itself)",
		Long: `Delegate gives the signer's voting power in a dao to ADDR: in the root iDAO (--dao 0,
the default) its Holders Mining stake (LazAI.delegate); in class N's community (--dao N)
its shares of class N (DAT.delegateClass). The signer keeps its stake or tokens; ADDR
votes with their weight on proposals whose snapshot comes after this block. Delegating
to the signer's own address takes the power back. One delegate per account and dao.

` + chainFlagsHelp,
		Example: `  metis idao delegate 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --dev-account 2
  metis idao delegate 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --dao 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := parseAddress("ADDR", args[0])
			if err != nil {
				return err
			}
			dao, err := parseDAO(daoFlag)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			r, err := s.cl.Delegate(ctx, dao, to)
			if err != nil {
				return s.explain(err)
			}
			votes, err := s.cl.CurrentVotes(ctx, dao, to)
			if err != nil {
				return s.explain(err)
			}
			who := to.Hex()
			if ag, err := s.cl.Agent(ctx, to); err == nil && ag.Active {
				who += fmt.Sprintf(" (agent %q)", ag.Name)
			}
			if f.json {
				return printJSON(cmd, struct {
					Dao       *big.Int       `json:"dao"`
					Delegatee common.Address `json:"delegatee"`
					Votes     string         `json:"votes"`
					txOut
				}{dao, to, votes.String(), newTxOut(s.c.from, r)})
			}
			w := cmd.OutOrStdout()
			if to == s.c.from {
				fmt.Fprintf(w, "took back the signer's voting power in %s\n", daoName(dao))
			} else {
				fmt.Fprintf(w, "delegated the signer's voting power in %s to %s\n", daoName(dao), who)
			}
			field(w, "votes", "%s now has %s of votes (for proposals whose snapshot is after block %s)",
				to.Hex(), s.votes(dao, votes), r.BlockNumber)
			printTx(cmd, s.c, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&daoFlag, "dao", "0", "the dao: 0 for the root iDAO, a DAT class id for its community")
	return cmd
}

func newIDAOQueueCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "queue ID",
		Short: "Queue a proposal that passed: its timelock starts",
		Long: `Queue starts the timelock of proposal ID, which has passed (succeeded). When the
timelock has run, 'metis idao execute ID' makes its calls, within the grace period.

` + chainFlagsHelp,
		Example: "  metis idao queue 1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseProposalID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			r, err := s.cl.Queue(ctx, id)
			if err != nil {
				return s.explain(err)
			}
			p, err := s.cl.Proposal(ctx, id)
			if err != nil {
				return s.explain(err)
			}
			params, err := s.cl.Params(ctx)
			if err != nil {
				return s.explain(err)
			}
			last := p.Eta + params.GracePeriod
			if f.json {
				return printJSON(cmd, struct {
					ProposalID *big.Int `json:"proposalId"`
					Eta        uint64   `json:"eta"`
					LastBlock  uint64   `json:"lastBlock"`
					txOut
				}{id, p.Eta, last, newTxOut(s.c.from, r)})
			}
			w := cmd.OutOrStdout()
			short, _ := timing(p, r.BlockNumber.Uint64(), params)
			fmt.Fprintf(w, "proposal %s queued: %s (at block %d, until block %d)\n", id, short, p.Eta, last)
			field(w, "then", "metis idao execute %s", id)
			printTx(cmd, s.c, r)
			return nil
		},
	}
}

func newIDAOExecuteCmd(f *chainFlags) *cobra.Command {
	var value string
	cmd := &cobra.Command{
		Use:   "execute ID [--value AMOUNT]",
		Short: "Make a queued proposal's calls, once its timelock has run",
		Long: `Execute makes the calls of proposal ID with the iDAO as caller, in order, all or
nothing: if one fails, none happens, and the error says which and why. Anyone may
execute a queued proposal once its timelock has run and before its grace period ends.
The calls' values are paid from the iDAO treasury plus --value, which the signer sends.

` + chainFlagsHelp,
		Example: `  metis idao execute 1
  metis idao execute 2 --value 1.5`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseProposalID(args[0])
			if err != nil {
				return err
			}
			var amount *big.Int
			if value != "" {
				if amount, err = f.parseAmount("--value", value); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.cl.Proposal(ctx, id)
			if err != nil {
				return s.explain(err)
			}
			s.dao, s.calls = p.Dao, proposalCalls(p) // for CallFailed
			r, err := s.cl.Execute(ctx, id, amount)
			if err != nil {
				return s.explain(err)
			}
			if f.json {
				return printJSON(cmd, struct {
					ProposalID *big.Int   `json:"proposalId"`
					Calls      []callJSON `json:"calls"`
					txOut
				}{id, toCallsJSON(s.calls), newTxOut(s.c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "proposal %s executed (%s)\n", id, plural(len(s.calls), "call"))
			for i, cl := range s.calls {
				field(w, fmt.Sprintf("call %d", i+1), "%s", describeCall(cl))
			}
			printTx(cmd, s.c, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&value, "value", "", "METIS the signer adds to the treasury's balance for the calls' values")
	return cmd
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func newIDAOCancelCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Withdraw a pending proposal (its proposer only)",
		Long: `Cancel withdraws proposal ID. Only its proposer may, and only while it is pending
(before voting opens).

` + chainFlagsHelp,
		Example: "  metis idao cancel 2 --dev-account 1",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseProposalID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			s.id = id
			r, err := s.cl.Cancel(ctx, id)
			if err != nil {
				return s.explain(err)
			}
			if f.json {
				return printJSON(cmd, struct {
					ProposalID *big.Int `json:"proposalId"`
					txOut
				}{id, newTxOut(s.c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "proposal %s canceled\n", id)
			printTx(cmd, s.c, r)
			return nil
		},
	}
}
