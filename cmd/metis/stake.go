package main

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/lazai"
)

// The Holders Mining commands of the LazAI module: stake, unstake, withdraw, rewards.

const holdersMiningHelp = `Holders Mining (the LazAI module) pays stakers a share of every fee on the chain: gas
fees, the protocol's cut of compute fees, data-verification fees. Half of each fee goes
to stakers at genesis (the rest to validators, the iDAO treasury and a burn; the iDAO
may change the split), in proportion to stake. Unstaking takes an unbonding delay (100
blocks at genesis) during which the amount no longer earns; then 'metis withdraw' pays
it back.`

// lazaiConn connects and makes a LazAI client, signing when sign is set.
func lazaiConn(ctx context.Context, f *chainFlags, sign bool) (*conn, *lazai.Client, error) {
	c, err := f.connect(ctx, sign)
	if err != nil {
		return nil, nil, err
	}
	return c, lazai.NewClient(c.eth, c.signer()), nil
}

// lazaiHint explains the LazAI module's errors.
func lazaiHint(name string, a []any) string {
	switch name {
	case "InsufficientStake":
		return fmt.Sprintf("%s METIS is staked, asked to unstake %s", formatUnits(argBig(a, 0), metisDecimals), formatUnits(argBig(a, 1), metisDecimals))
	case "NothingToWithdraw":
		return "nothing is unbonding: 'metis unstake AMOUNT' starts an unbonding, 'metis withdraw' pays it out after the delay"
	case "StillUnbonding":
		ready, now := argBig(a, 0), argBig(a, 1)
		return fmt.Sprintf("the unbonding is ready at block %s and this is block %s: %s more blocks", ready, now, new(big.Int).Sub(ready, now))
	case "NothingToClaim":
		return "no rewards to claim yet (stakers earn as fees are paid on the chain)"
	case "ZeroAmount":
		return "the amount must be more than zero"
	case "ZeroAddress":
		return "the address is zero"
	case "NotGovernance":
		return "only the iDAO (governance) may do this"
	case "BadWindow":
		return fmt.Sprintf("--blocks %s: give 1 to 1,000,000 blocks", argBig(a, 0))
	case "FutureBlock":
		return fmt.Sprintf("block %s is not in the past (the head is %s)", argBig(a, 0), argBig(a, 1))
	case "BadSplit":
		return fmt.Sprintf("the split's parts sum to %s basis points, not 10,000", argBig(a, 0))
	}
	return ""
}

// eventAmount is the amount field of the module's event name in r (Withdrawn, RewardClaimed).
func eventAmount(r *types.Receipt, name string) (*big.Int, error) {
	ev := lazai.ABI.Events[name]
	for _, l := range r.Logs {
		if l.Address == lazai.Address && len(l.Topics) > 0 && l.Topics[0] == ev.ID {
			out, err := ev.Inputs.NonIndexed().Unpack(l.Data)
			if err != nil {
				return nil, err
			}
			if v, ok := out[0].(*big.Int); ok {
				return v, nil
			}
		}
	}
	return nil, fmt.Errorf("receipt %s has no %s event", r.TxHash, name)
}

func newStakeCmd() *cobra.Command {
	var f *chainFlags
	cmd := &cobra.Command{
		Use:   "stake AMOUNT",
		Short: "Stake METIS in Holders Mining to earn a share of the chain's fees",
		Long: `Stake sends AMOUNT METIS from the signer into Holders Mining, where it earns a share of
every fee on the chain until it is unstaked. A stake also qualifies its owner as a DAT
data validator ('metis dat validator register', 1 METIS at genesis) and counts as
iDAO voting power.

` + holdersMiningHelp + "\n\n" + chainFlagsHelp,
		Example: `  metis stake 1.5
  metis stake 1 --dev-account 4
  metis stake 250000000000000000 --wei --key $KEY --rpc ws://node:8545`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := f.parseAmount("AMOUNT", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, l, err := lazaiConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			r, err := l.Stake(ctx, amount)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			st, err := l.StakeOf(ctx, c.from)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			if f.json {
				return printJSON(cmd, struct {
					Amount string `json:"amount"`
					Stake  string `json:"stake"`
					txOut
				}{amount.String(), st.String(), newTxOut(c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "staked %s\n", f.amount(amount))
			field(w, "stake", "%s", f.amount(st))
			printTx(cmd, c, r)
			return nil
		},
	}
	f = addChainFlags(cmd)
	return cmd
}

func newUnstakeCmd() *cobra.Command {
	var f *chainFlags
	cmd := &cobra.Command{
		Use:   "unstake AMOUNT",
		Short: "Start unbonding AMOUNT of the signer's stake; 'metis withdraw' pays it later",
		Long: `Unstake takes AMOUNT METIS out of the signer's stake at once (it stops earning) and
starts its unbonding delay. When the delay has passed, 'metis withdraw' pays it back.
Unstaking again while an amount is unbonding adds to it and restarts the delay.

` + holdersMiningHelp + "\n\n" + chainFlagsHelp,
		Example: `  metis unstake 0.5
  metis unstake 1 --dev-account 4 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := f.parseAmount("AMOUNT", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, l, err := lazaiConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			r, err := l.RequestUnstake(ctx, amount)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			st, err := l.StakeOf(ctx, c.from)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			pending, readyAt, err := l.Unbonding(ctx, c.from)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			if f.json {
				return printJSON(cmd, struct {
					Amount    string `json:"amount"`
					Stake     string `json:"stake"`
					Unbonding string `json:"unbonding"`
					ReadyAt   uint64 `json:"readyAtBlock"`
					txOut
				}{amount.String(), st.String(), pending.String(), readyAt, newTxOut(c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "unstaking %s\n", f.amount(amount))
			field(w, "stake", "%s (still earning)", f.amount(st))
			field(w, "unbonding", "%s, ready at block %d (%d blocks from now); then: metis withdraw",
				f.amount(pending), readyAt, blocksUntil(readyAt, r.BlockNumber.Uint64()))
			printTx(cmd, c, r)
			return nil
		},
	}
	f = addChainFlags(cmd)
	return cmd
}

func blocksUntil(ready, now uint64) uint64 {
	if ready > now {
		return ready - now
	}
	return 0
}

func newWithdrawCmd() *cobra.Command {
	var f *chainFlags
	cmd := &cobra.Command{
		Use:   "withdraw",
		Short: "Pay out the signer's unbonded stake once its delay has passed",
		Long: `Withdraw pays the signer the amount it unstaked with 'metis unstake', once the
unbonding delay has passed ('metis rewards' shows the block it is ready at).

` + holdersMiningHelp + "\n\n" + chainFlagsHelp,
		Example: `  metis withdraw
  metis withdraw --dev-account 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, l, err := lazaiConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			r, err := l.Withdraw(ctx)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			amount, err := eventAmount(r, "Withdrawn")
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd, struct {
					Amount string `json:"amount"`
					txOut
				}{amount.String(), newTxOut(c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "withdrew %s\n", f.amount(amount))
			printTx(cmd, c, r)
			return nil
		},
	}
	f = addChainFlags(cmd)
	return cmd
}

// rewardsJSON is 'metis rewards --json'.
type rewardsJSON struct {
	Account        common.Address `json:"account"`
	Stake          string         `json:"stake"`
	PendingRewards string         `json:"pendingRewards"`
	Unbonding      string         `json:"unbonding"`
	UnbondingReady uint64         `json:"unbondingReadyAtBlock"`
	Stats          statsJSON      `json:"stats"`
}

type statsJSON struct {
	Blocks        uint64 `json:"blocks"`
	FromBlock     uint64 `json:"fromBlock"`
	ToBlock       uint64 `json:"toBlock"`
	SpanSeconds   uint64 `json:"spanSeconds"`
	TotalStaked   string `json:"totalStaked"`
	HolderRewards string `json:"holderRewards"`
	Routed        string `json:"routed"`
	AprBps        string `json:"aprBps"`
	APRPercent    string `json:"aprPercent"`
	TotalRouted   string `json:"totalRouted"`
	TotalBurned   string `json:"totalBurned"`
}

func newRewardsCmd() *cobra.Command {
	var (
		f      *chainFlags
		blocks uint64
	)
	cmd := &cobra.Command{
		Use:   "rewards [ADDR] [--blocks N]",
		Short: "Show an account's stake and rewards, and Holders Mining's totals and APR",
		Long: `Rewards shows, for ADDR (default: the signer, dev account 0 on a dev chain when no key
is given), its stake, its pending rewards and any unbonding amount; and for Holders
Mining as a whole: total staked, the rewards paid to stakers and all fees routed over
the last --blocks blocks, and the APR those rewards make, annualised over the blocks'
wall-clock span. It only reads. 'metis rewards claim' collects the pending rewards.

` + holdersMiningHelp + "\n\n" + chainFlagsHelp,
		Example: `  metis rewards
  metis rewards 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65 --blocks 7200
  metis rewards --json | jq -r .stats.aprPercent
  metis rewards claim`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, l, err := lazaiConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer c.close()
			var addr string
			if len(args) == 1 {
				addr = args[0]
			}
			who, err := c.account(addr, "ADDR")
			if err != nil {
				return err
			}
			st, err := l.StakeOf(ctx, who)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			pending, err := l.PendingRewards(ctx, who)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			unb, readyAt, err := l.Unbonding(ctx, who)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			s, err := l.Stats(ctx, blocks)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			apr := formatUnits(s.AprBps, 2) // basis points → percent
			// A young chain with little staked makes huge APRs: separate their thousands.
			aprText := apr
			whole, frac, hasFrac := strings.Cut(apr, ".")
			if n, err := strconv.ParseInt(whole, 10, 64); err == nil {
				aprText = commas(n)
				if hasFrac {
					aprText += "." + frac
				}
			}
			if f.json {
				return printJSON(cmd, rewardsJSON{
					Account: who, Stake: st.String(), PendingRewards: pending.String(),
					Unbonding: unb.String(), UnbondingReady: readyAt,
					Stats: statsJSON{
						Blocks: blocks, FromBlock: s.FromBlock, ToBlock: s.ToBlock, SpanSeconds: s.Span,
						TotalStaked: s.TotalStaked.String(), HolderRewards: s.HolderRewards.String(),
						Routed: s.Routed.String(), AprBps: s.AprBps.String(), APRPercent: apr,
						TotalRouted: s.TotalRouted.String(), TotalBurned: s.TotalBurned.String(),
					},
				})
			}
			w := cmd.OutOrStdout()
			field(w, "account", "%s", who)
			field(w, "stake", "%s", f.amount(st))
			p := f.amount(pending) + " pending"
			if pending.Sign() > 0 {
				p += " (metis rewards claim)"
			}
			field(w, "rewards", "%s", p)
			if unb.Sign() > 0 {
				field(w, "unbonding", "%s, ready at block %d", f.amount(unb), readyAt)
			} else {
				field(w, "unbonding", "none")
			}
			fmt.Fprintf(w, "\nHolders Mining, last %s blocks (%d to %d, %s):\n", commas(int64(blocks)), s.FromBlock, s.ToBlock,
				time.Duration(s.Span)*time.Second)
			field(w, "staked", "%s in total", f.amount(s.TotalStaked))
			field(w, "rewards", "%s to stakers, of %s fees routed", f.amount(s.HolderRewards), f.amount(s.Routed))
			field(w, "APR", "%s%%", aprText)
			field(w, "all time", "%s routed, %s burned", f.amount(s.TotalRouted), f.amount(s.TotalBurned))
			return nil
		},
	}
	f = addChainFlags(cmd)
	cmd.Flags().Uint64Var(&blocks, "blocks", 1000, "window of the totals and the APR, in blocks (1 to 1,000,000)")
	claim := &cobra.Command{
		Use:   "claim",
		Short: "Collect the signer's pending Holders Mining rewards",
		Long:  "Claim pays the signer's pending Holders Mining rewards ('metis rewards' shows them).\n\n" + chainFlagsHelp,
		Example: `  metis rewards claim
  metis rewards claim --dev-account 4 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, l, err := lazaiConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			r, err := l.Claim(ctx)
			if err != nil {
				return explain(c, err, lazaiHint)
			}
			amount, err := eventAmount(r, "RewardClaimed")
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd, struct {
					Amount string `json:"amount"`
					txOut
				}{amount.String(), newTxOut(c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "claimed %s of rewards\n", f.amount(amount))
			printTx(cmd, c, r)
			return nil
		},
	}
	cmd.AddCommand(claim)
	return cmd
}
