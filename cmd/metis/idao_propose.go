package main

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
)

// proposeCalls are the flags that make a proposal's calls.
type proposeCalls struct {
	dao                          string
	split                        string
	policies, fees, calls, datas []string
}

func newIDAOProposeCmd(f *chainFlags) *cobra.Command {
	var (
		pc          proposeCalls
		description string
	)
	cmd := &cobra.Command{
		Use:   "propose [--dao ID] (--set-split H,V,T,B | --set-policy CLASS=URI | --set-usage-fee CLASS=AMOUNT | --call TARGET:METHOD[:ARGS] | --calldata TARGET:HEX[:VALUE])... --description TEXT",
		Short: "Open a proposal: calls the iDAO makes if it passes",
		Long: `Propose opens a proposal in the root iDAO (--dao 0, the default) or in the community
iDAO of a DAT class (--dao CLASS), and prints its id, its snapshot block (voting power
counts as it stands at its end) and its deadline (the last block of voting).

In the root iDAO the proposer needs the proposal threshold in votes (1 METIS of stake at
genesis, 'metis idao params') at the previous block; in a community, any class vote.

The calls, made in this order if the proposal passes (repeat any flag for more calls):

  --set-split H,V,T,B       LazAI's fee split in basis points (holders, validators,
                            treasury, burn; they sum to 10000)
  --set-policy CLASS=URI    DAT class CLASS's policy URI (a community call: implies
                            --dao CLASS)
  --set-usage-fee CLASS=AMT DAT class CLASS's usage fee, METIS per unit (implies
                            --dao CLASS)
  --call TARGET:METHOD[:ARGS]
                            any call: TARGET is dat, idao, lazai or an address; METHOD
                            a method name of a module, or a full signature
                            name(type,…); ARGS comma-separated (the last takes the
                            rest of the text), tuples (a,b), arrays [a,b], integers
                            as they are encoded (wei, not METIS)
  --calldata TARGET:HEX[:VALUE]
                            a call encoded already, with VALUE METIS from the
                            treasury (root iDAO only)

A community proposal may only call the DAT module's class setters for its class.

` + chainFlagsHelp,
		Example: `  metis idao propose --set-split 6000,2000,1000,1000 --description "60% of fees to stakers"
  metis idao propose --set-policy 3=ipfs://bafy-new-license --description "CC-BY 4.0" --dev-account 2
  metis idao propose --call lazai:setUnbondingDelay:50 --call idao:setParams:(1,20,500,1000000000000000000,2,100) \
      --description "slower, safer"
  metis idao propose --calldata 0x70997970C51812dc3A010C7d01b50e0d17dc79C8:0x:1.5 --description "a grant"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dao, calls, err := pc.build(f, cmd.Flags().Changed("dao"))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := idaoConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer s.close()
			s.dao = dao
			id, r, err := s.cl.Propose(ctx, dao, calls, description)
			if err != nil {
				return s.explain(err)
			}
			p, err := s.cl.Proposal(ctx, id)
			if err != nil {
				return s.explain(err)
			}
			if f.json {
				return printJSON(cmd, struct {
					ProposalID *big.Int   `json:"proposalId"`
					Dao        *big.Int   `json:"dao"`
					Snapshot   uint64     `json:"snapshot"`
					Deadline   uint64     `json:"deadline"`
					Calls      []callJSON `json:"calls"`
					txOut
				}{id, dao, p.Snapshot, p.Deadline, toCallsJSON(calls), newTxOut(s.c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "proposal %s created in %s\n", id, daoName(dao))
			for i, cl := range calls {
				field(w, fmt.Sprintf("call %d", i+1), "%s", describeCall(cl))
			}
			short, _ := timing(p, r.BlockNumber.Uint64(), idao.Params{})
			field(w, "snapshot", "block %d (voting power as it stands at its end)", p.Snapshot)
			field(w, "voting", "blocks %d to %d, %s (metis idao vote %s for|against|abstain)",
				p.Snapshot+1, p.Deadline, strings.TrimPrefix(short, "voting "), id)
			field(w, "deadline", "block %d", p.Deadline)
			printTx(cmd, s.c, r)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&pc.dao, "dao", "0", "the dao: 0 for the root iDAO, a DAT class id for its community")
	fl.StringVar(&pc.split, "set-split", "", "call LazAI.setSplit: holders,validators,treasury,burn in basis points (sum 10000)")
	fl.StringArrayVar(&pc.policies, "set-policy", nil, "call DAT.setClassPolicy as class CLASS's community: CLASS=URI")
	fl.StringArrayVar(&pc.fees, "set-usage-fee", nil, "call DAT.setUsageFee as class CLASS's community: CLASS=AMOUNT (METIS per unit)")
	fl.StringArrayVar(&pc.calls, "call", nil, "a call TARGET:METHOD[:ARGS] (repeatable)")
	fl.StringArrayVar(&pc.datas, "calldata", nil, "a raw call TARGET:HEX[:VALUE] (repeatable)")
	fl.StringVar(&description, "description", "", "what the proposal does and why (required)")
	_ = cmd.MarkFlagRequired("description")
	return cmd
}

// build makes the calls and settles the dao: --dao, or the class a community call implies.
func (pc *proposeCalls) build(f *chainFlags, daoGiven bool) (*big.Int, []idao.Call, error) {
	dao, err := parseDAO(pc.dao)
	if err != nil {
		return nil, nil, err
	}
	var calls []idao.Call
	// community records the class a community flag implies, refusing a second class, or
	// one that --dao contradicts.
	var implied *big.Int
	community := func(flag string, class *big.Int) error {
		switch {
		case implied != nil && implied.Cmp(class) != 0:
			return fmt.Errorf("%s: a proposal belongs to one dao, and the calls are for classes %s and %s", flag, implied, class)
		case daoGiven && dao.Cmp(class) != 0:
			return fmt.Errorf("%s: a call of class %s's community, but --dao is %s", flag, class, dao)
		}
		implied = class
		return nil
	}
	if pc.split != "" {
		s, err := parseSplit(pc.split)
		if err != nil {
			return nil, nil, err
		}
		data, err := lazai.ABI.Pack("setSplit", s)
		if err != nil {
			return nil, nil, err
		}
		calls = append(calls, idao.Call{Target: lazai.Address, Value: new(big.Int), Data: data})
	}
	for _, p := range pc.policies {
		class, uri, err := classPair("--set-policy", p)
		if err != nil {
			return nil, nil, err
		}
		if err := community("--set-policy", class); err != nil {
			return nil, nil, err
		}
		data, err := dat.ABI.Pack("setClassPolicy", class, uri)
		if err != nil {
			return nil, nil, err
		}
		calls = append(calls, idao.Call{Target: dat.Address, Value: new(big.Int), Data: data})
	}
	for _, p := range pc.fees {
		class, amt, err := classPair("--set-usage-fee", p)
		if err != nil {
			return nil, nil, err
		}
		fee, err := f.parseAmount("--set-usage-fee", amt)
		if err != nil {
			return nil, nil, err
		}
		if err := community("--set-usage-fee", class); err != nil {
			return nil, nil, err
		}
		data, err := dat.ABI.Pack("setUsageFee", class, fee)
		if err != nil {
			return nil, nil, err
		}
		calls = append(calls, idao.Call{Target: dat.Address, Value: new(big.Int), Data: data})
	}
	for _, c := range pc.calls {
		cl, err := parseCallSpec(c)
		if err != nil {
			return nil, nil, err
		}
		calls = append(calls, cl)
	}
	for _, c := range pc.datas {
		cl, err := parseCalldata(f, c)
		if err != nil {
			return nil, nil, err
		}
		calls = append(calls, cl)
	}
	if len(calls) == 0 {
		return nil, nil, fmt.Errorf("a proposal needs a call: --set-split, --set-policy, --set-usage-fee, --call or --calldata")
	}
	if implied != nil {
		if pc.split != "" {
			return nil, nil, fmt.Errorf("--set-split is a root iDAO call; class %s's community may only make class calls", implied)
		}
		dao = implied
	}
	if len(calls) > idao.MaxCalls {
		return nil, nil, fmt.Errorf("%d calls, a proposal makes at most %d", len(calls), idao.MaxCalls)
	}
	return dao, calls, nil
}

// parseSplit reads H,V,T,B in basis points.
func parseSplit(s string) (lazai.Split, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return lazai.Split{}, fmt.Errorf("--set-split %q: want four parts in basis points, holders,validators,treasury,burn (e.g. 6000,2000,1000,1000)", s)
	}
	var v [4]uint16
	for i, p := range parts {
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil || n > lazai.BPS {
			return lazai.Split{}, fmt.Errorf("--set-split %q: %q is not a number of basis points (0 to 10000)", s, p)
		}
		v[i] = uint16(n)
	}
	sp := lazai.Split{HoldersBps: v[0], ValidatorsBps: v[1], TreasuryBps: v[2], BurnBps: v[3]}
	if sp.Total() != lazai.BPS {
		return lazai.Split{}, fmt.Errorf("--set-split %q: the parts sum to %s basis points, not 10,000", s, commas(int64(sp.Total())))
	}
	return sp, nil
}

// classPair reads CLASS=VALUE (or CLASS:VALUE, or "CLASS VALUE").
func classPair(flag, s string) (*big.Int, string, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r == '=' || r == ':' || unicode.IsSpace(r) })
	if i < 0 {
		return nil, "", fmt.Errorf("%s %q: want CLASS=VALUE", flag, s)
	}
	class, err := parseID(flag+" class", strings.TrimSpace(s[:i]))
	if err != nil {
		return nil, "", err
	}
	return class, strings.TrimSpace(s[i+1:]), nil
}
