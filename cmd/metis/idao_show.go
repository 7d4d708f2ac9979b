package main

import (
	"fmt"
	"math/big"
	"strings"
	"text/tabwriter"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/idao"
)

func newIDAOShowCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a proposal: state, tallies against the quorum, blocks left, its calls",
		Long: `Show prints proposal ID: its dao and proposer, its state and how many blocks are left
before the next step (voting opens, voting ends, executable, expires), the tallies for,
against and abstain against the quorum, and its calls, decoded when they call a system
module. It only reads.

` + chainFlagsHelp,
		Example: `  metis idao show 1
  metis idao show 1 --json | jq -r .state`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseProposalID(args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, head, params, err := s.proposal(id)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd, toProposalJSON(p, head, params))
			}
			w := cmd.OutOrStdout()
			field(w, "proposal", "%s in %s", p.Id, daoName(p.Dao))
			short, detail := timing(p, head, params)
			field(w, "state", "%s%s", idao.State(p.State), clause(short, detail))
			field(w, "next", "%s", nextStep(p, head, params))
			field(w, "proposer", "%s", p.Proposer.Hex())
			field(w, "for", "%s", s.votes(p.Dao, p.ForVotes))
			field(w, "against", "%s", s.votes(p.Dao, p.AgainstVotes))
			field(w, "abstain", "%s", s.votes(p.Dao, p.AbstainVotes))
			field(w, "quorum", "%s", strings.TrimPrefix(quorumText(s, p), "quorum "))
			b := fmt.Sprintf("snapshot %d, deadline %d", p.Snapshot, p.Deadline)
			if p.Eta != 0 {
				b += fmt.Sprintf(", eta %d, last %d", p.Eta, p.Eta+params.GracePeriod)
			}
			field(w, "blocks", "%s; now %d", b, head)
			for i, cl := range proposalCalls(p) {
				field(w, fmt.Sprintf("call %d", i+1), "%s", describeCall(cl))
			}
			field(w, "description", "%s", p.Description)
			return nil
		},
	}
}

func newIDAOLsCmd(f *chainFlags) *cobra.Command {
	var daoFlag, stateFlag string
	cmd := &cobra.Command{
		Use:   "ls [--dao ID] [--state S]",
		Short: "List proposals, newest first, with their state and blocks left",
		Long: `Ls lists the proposals, newest first: id, dao, state, tallies, what comes next and in
how many blocks, and the description's first line. --dao keeps one dao's (0: the root
iDAO), --state one state's (pending, active, canceled, defeated, succeeded, queued,
expired, executed). It only reads.

` + chainFlagsHelp,
		Example: `  metis idao ls
  metis idao ls --state active
  metis idao ls --dao 3 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var dao *big.Int
			if daoFlag != "" {
				var err error
				if dao, err = parseDAO(daoFlag); err != nil {
					return err
				}
			}
			state := -1
			if stateFlag != "" {
				for st := idao.Pending; st <= idao.Executed; st++ {
					if strings.EqualFold(stateFlag, st.String()) {
						state = int(st)
					}
				}
				if state < 0 {
					return fmt.Errorf("--state %q: want pending, active, canceled, defeated, succeeded, queued, expired or executed", stateFlag)
				}
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer s.close()
			head, err := s.head()
			if err != nil {
				return err
			}
			params, err := s.cl.Params(ctx)
			if err != nil {
				return s.explain(err)
			}
			n, err := s.cl.ProposalCount(ctx)
			if err != nil {
				return s.explain(err)
			}
			var ps []idao.ProposalInfo
			for id := n; id >= 1; id-- {
				p, err := s.cl.Proposal(ctx, new(big.Int).SetUint64(id))
				if err != nil {
					return s.explain(err)
				}
				if (dao == nil || p.Dao.Cmp(dao) == 0) && (state < 0 || int(p.State) == state) {
					ps = append(ps, p)
				}
			}
			if f.json {
				out := make([]proposalJSON, len(ps))
				for i, p := range ps {
					out[i] = toProposalJSON(p, head, params)
				}
				return printJSON(cmd, out)
			}
			w := cmd.OutOrStdout()
			if len(ps) == 0 {
				what := "no proposals"
				if stateFlag != "" {
					what = "no " + strings.ToLower(stateFlag) + " proposals"
				}
				if dao != nil {
					what += " in " + daoName(dao)
				}
				fmt.Fprintln(w, what)
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDAO\tSTATE\tFOR\tAGAINST\tABSTAIN\tNEXT\tDESCRIPTION")
			for _, p := range ps {
				short, _ := timing(p, head, params)
				if short == "" {
					short = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Id, p.Dao, idao.State(p.State),
					s.votes(p.Dao, p.ForVotes), s.votes(p.Dao, p.AgainstVotes), s.votes(p.Dao, p.AbstainVotes),
					short, firstLine(p.Description, 60))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&daoFlag, "dao", "", "only this dao's proposals (0: the root iDAO)")
	cmd.Flags().StringVar(&stateFlag, "state", "", "only proposals in this state")
	return cmd
}

// firstLine is s's first line, cut to at most n runes.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newIDAOParamsCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "params",
		Short: "Show the governance parameters (delays, quorum, threshold, timelock)",
		Long: fmt.Sprintf(`Params prints the iDAO's governed parameters. They change only by a root proposal
that calls idao.setParams, within these bounds: voting delay at most %d blocks, voting
period %d to %d, quorum 1 to 10000 basis points, timelock at most %d, grace period %d
to %d. It only reads.

`, idao.MaxVotingDelay, idao.MinVotingPeriod, idao.MaxVotingPeriod, idao.MaxTimelockDelay,
			idao.MinGracePeriod, idao.MaxGracePeriod) + chainFlagsHelp,
		Example: "  metis idao params\n  metis idao params --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.cl.Params(ctx)
			if err != nil {
				return s.explain(err)
			}
			if f.json {
				return printJSON(cmd, struct {
					VotingDelay       uint64 `json:"votingDelay"`
					VotingPeriod      uint64 `json:"votingPeriod"`
					QuorumBps         uint16 `json:"quorumBps"`
					ProposalThreshold string `json:"proposalThreshold"`
					TimelockDelay     uint64 `json:"timelockDelay"`
					GracePeriod       uint64 `json:"gracePeriod"`
				}{p.VotingDelay, p.VotingPeriod, p.QuorumBps, p.ProposalThreshold.String(), p.TimelockDelay, p.GracePeriod})
			}
			w := cmd.OutOrStdout()
			field(w, "delay", "%s from a proposal to its snapshot", blocks(int64(p.VotingDelay)))
			field(w, "period", "%s of voting after the snapshot", blocks(int64(p.VotingPeriod)))
			field(w, "quorum", "%s%% of the voting power at the snapshot, in for + abstain votes", formatUnits(big.NewInt(int64(p.QuorumBps)), 2))
			field(w, "threshold", "%s of votes to propose in the root iDAO (any class vote in a community)", f.amount(p.ProposalThreshold))
			field(w, "timelock", "%s from queue to execution", blocks(int64(p.TimelockDelay)))
			field(w, "grace", "%s to execute after that", blocks(int64(p.GracePeriod)))
			return nil
		},
	}
}

func newIDAOAgentCmd(f *chainFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Register AI agents as iDAO members, list and remove them",
		Long: `An agent is an account an AI runs. Its owner registers it with a name, a metadata URI
(what it is, who runs it) and the DAT class of the model it runs; delegates voting power
to it ('metis idao delegate AGENT'); and the agent votes like anyone, its reasons on
chain. The owner or the agent deregisters it.`,
		Example: `  metis idao agent register 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --name curator \
      --metadata ipfs://bafy-agent-card --model 2
  metis idao agent ls
  metis idao agent rm 0x90F79bf6EB2c4f870365E785982E1f101E93b906`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var name, metadata, model string
	register := &cobra.Command{
		Use:   "register ADDR --name NAME [--metadata URI] [--model CLASS]",
		Short: "Register ADDR as an agent owned by the signer",
		Long: `Register makes ADDR an agent member owned by the signer. --model is the DAT class of the
model it runs (0 or none: unknown).

` + chainFlagsHelp,
		Example: "  metis idao agent register 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --name curator --model 2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			agent, err := parseAddress("ADDR", args[0])
			if err != nil {
				return err
			}
			modelID := new(big.Int)
			if model != "" && model != "0" {
				if modelID, err = parseID("--model", model); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			r, err := s.cl.RegisterAgent(ctx, agent, name, metadata, modelID)
			if err != nil {
				return s.explain(err)
			}
			if f.json {
				return printJSON(cmd, struct {
					Agent        common.Address `json:"agent"`
					Name         string         `json:"name"`
					MetadataURI  string         `json:"metadataURI"`
					ModelClassID *big.Int       `json:"modelClassId"`
					txOut
				}{agent, name, metadata, modelID, newTxOut(s.c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "agent %s registered as %q\n", agent.Hex(), name)
			field(w, "owner", "%s", s.c.from.Hex())
			field(w, "model", "%s", modelText(modelID))
			if metadata != "" {
				field(w, "metadata", "%s", metadata)
			}
			field(w, "then", "metis idao delegate %s (give it voting power)", agent.Hex())
			printTx(cmd, s.c, r)
			return nil
		},
	}
	register.Flags().StringVar(&name, "name", "", "the agent's name (required)")
	register.Flags().StringVar(&metadata, "metadata", "", "URI of the agent's description")
	register.Flags().StringVar(&model, "model", "", "DAT class id of the model it runs")
	_ = register.MarkFlagRequired("name")

	ls := &cobra.Command{
		Use:     "ls",
		Short:   "List the registered agents: name, owner, model class, active",
		Long:    "Ls lists the registered agents. It only reads.\n\n" + chainFlagsHelp,
		Example: "  metis idao agent ls\n  metis idao agent ls --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer s.close()
			addrs, err := s.cl.Agents(ctx)
			if err != nil {
				return s.explain(err)
			}
			agents := make([]idao.AgentInfo, 0, len(addrs))
			for _, a := range addrs {
				ag, err := s.cl.Agent(ctx, a)
				if err != nil {
					return s.explain(err)
				}
				agents = append(agents, ag)
			}
			if f.json {
				return printJSON(cmd, agents)
			}
			w := cmd.OutOrStdout()
			if len(agents) == 0 {
				fmt.Fprintln(w, "no agents registered ('metis idao agent register ADDR --name NAME')")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "AGENT\tNAME\tOWNER\tMODEL\tACTIVE\tSINCE\tMETADATA")
			for _, ag := range agents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\tblock %d\t%s\n", ag.Agent.Hex(), ag.Name, ag.Owner.Hex(),
					modelText(ag.ModelClassId), yesNo(ag.Active), ag.RegisteredAt, ag.MetadataURI)
			}
			return tw.Flush()
		},
	}

	rm := &cobra.Command{
		Use:     "rm ADDR",
		Short:   "Deregister an agent (its owner, or the agent itself)",
		Long:    "Rm deregisters agent ADDR. Its owner or the agent itself may. Delegations to it stay\nuntil their delegators change them.\n\n" + chainFlagsHelp,
		Example: "  metis idao agent rm 0x90F79bf6EB2c4f870365E785982E1f101E93b906 --dev-account 2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			agent, err := parseAddress("ADDR", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			r, err := s.cl.DeregisterAgent(ctx, agent)
			if err != nil {
				return s.explain(err)
			}
			if f.json {
				return printJSON(cmd, struct {
					Agent common.Address `json:"agent"`
					txOut
				}{agent, newTxOut(s.c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent %s deregistered\n", agent.Hex())
			printTx(cmd, s.c, r)
			return nil
		},
	}
	cmd.AddCommand(register, ls, rm)
	return cmd
}

func modelText(id *big.Int) string {
	if id == nil || id.Sign() == 0 {
		return "none"
	}
	return "class " + id.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
