package main

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/dat"
)

func newDATMintCmd(f *chainFlags) *cobra.Command {
	var to, value, expires string
	var shares uint64
	cmd := &cobra.Command{
		Use:   "mint CLASS --value N [--to ADDR] [--shares N] [--expires DURATION|UNIX]",
		Short: "Mint a token of an active class: a usage quota and revenue shares",
		Long: `Mint creates a token of an active class and prints its id. Only the class's owner and
the operators it named may mint.

  --to ADDR         who receives the token (default: the signer)
  --value N         its usage quota, in the class's units (decimals as the class allows)
  --shares N        its revenue shares (default 1): the class's revenue is split among
                    its unexpired tokens in proportion to their shares
  --expires D|UNIX  when it stops working and earning: a duration from now (30d, 12h,
                    90m) or a unix time in seconds; never by default

` + chainFlagsHelp,
		Example: `  metis dat mint 1 --value 100
  metis dat mint 1 --to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --value 1000 --shares 25 --expires 30d`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			classID, err := parseID("class", args[0])
			if err != nil {
				return err
			}
			expireAt, err := parseExpiry(expires, time.Now())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			recipient := c.from
			if to != "" {
				if recipient, err = parseAddress("--to", to); err != nil {
					return err
				}
			}
			cl, err := d.Class(ctx, classID)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			v, err := parseQuota("--value", value, cl.UnitDecimals)
			if err != nil {
				return err
			}
			sh := new(big.Int).SetUint64(shares)
			id, r, err := d.Mint(ctx, classID, recipient, v, sh, expireAt)
			if err != nil {
				return explain(c, err, datHint(classUnits(cl.UnitDecimals)))
			}
			if f.json {
				return printJSON(cmd, struct {
					TokenID    *big.Int       `json:"tokenId"`
					ClassID    *big.Int       `json:"classId"`
					To         common.Address `json:"to"`
					Value      string         `json:"value"`
					ShareRatio string         `json:"shareRatio"`
					ExpireAt   uint64         `json:"expireAt"`
					txOut
				}{id, classID, recipient, v.String(), sh.String(), expireAt, newTxOut(c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "token %s minted (class %s)\n", id, classID)
			field(w, "to", "%s", recipient)
			field(w, "value", "%s units", formatUnits(v, cl.UnitDecimals))
			field(w, "shares", "%s", sh)
			field(w, "expires", "%s", formatTime(expireAt))
			printTx(cmd, c, r)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&to, "to", "", "recipient (default: the signer)")
	fl.StringVar(&value, "value", "", "usage quota in the class's units")
	fl.Uint64Var(&shares, "shares", 1, "revenue shares")
	fl.StringVar(&expires, "expires", "", "expiry: a duration from now (30d, 12h) or a unix time; default never")
	_ = cmd.MarkFlagRequired("value")
	return cmd
}

func newDATUseCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "use TOKEN AMOUNT",
		Short: "Consume AMOUNT of a token's quota, paying the class's usage fee",
		Long: `Use records AMOUNT units of use of a token: its quota (value) goes down by AMOUNT and
the signer pays AMOUNT × the class's usage fee, computed here from the class and sent
with the call. That fee is the class's revenue, shared by its token holders. The signer
must own the token or be approved for its class. The quota never goes below zero:
asking for more than is left fails with QuotaExceeded.

` + chainFlagsHelp,
		Example: `  metis dat use 1 30
  metis dat use 1 0.5 --dev-account 1      # a class with --decimals 1 or more`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokenID, err := parseID("token", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			tok, cl, err := tokenAndClass(c, d, cmd, tokenID)
			if err != nil {
				return err
			}
			amount, err := parseQuota("AMOUNT", args[1], cl.UnitDecimals)
			if err != nil {
				return err
			}
			units := classUnits(cl.UnitDecimals)
			fee := new(big.Int).Mul(amount, cl.UsageFee)
			r, err := d.RecordUsage(ctx, tokenID, amount, fee)
			if err != nil {
				return explain(c, err, datHint(units))
			}
			left := new(big.Int).Sub(tok.Value, amount)
			if after, err := d.Token(ctx, tokenID); err == nil {
				left = after.Value // exact even if someone else used it meanwhile
			}
			if f.json {
				return printJSON(cmd, struct {
					TokenID *big.Int `json:"tokenId"`
					ClassID *big.Int `json:"classId"`
					Amount  string   `json:"amount"`
					Fee     string   `json:"fee"`
					Left    string   `json:"valueLeft"`
					txOut
				}{tokenID, tok.ClassId, amount.String(), fee.String(), left.String(), newTxOut(c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "used %s units of token %s (class %s)\n", units(amount), tokenID, tok.ClassId)
			field(w, "fee paid", "%s", f.amount(fee))
			field(w, "left", "%s units", units(left))
			printTx(cmd, c, r)
			return nil
		},
	}
}

// tokenAndClass reads a token and its class.
func tokenAndClass(c *conn, d *dat.Client, cmd *cobra.Command, tokenID *big.Int) (dat.TokenInfo, dat.ClassInfo, error) {
	tok, err := d.Token(cmd.Context(), tokenID)
	if err != nil {
		return tok, dat.ClassInfo{}, explain(c, err, datHint(nil))
	}
	cl, err := d.Class(cmd.Context(), tok.ClassId)
	if err != nil {
		return tok, cl, explain(c, err, datHint(nil))
	}
	return tok, cl, nil
}

func newDATTransferCmd(f *chainFlags) *cobra.Command {
	var to, value, toToken string
	cmd := &cobra.Command{
		Use:   "transfer TOKEN (--to ADDR | --value N --to-token ID)",
		Short: "Give a token to another account, or move quota between two tokens",
		Long: `Transfer gives TOKEN, with the revenue it has earned, to --to ADDR.

With --value N --to-token ID it moves N units of TOKEN's quota to another token of the
same class instead (which may belong to anyone); TOKEN's shares stay where they are.

The signer must own TOKEN or be approved for its class.

` + chainFlagsHelp,
		Example: `  metis dat transfer 1 --to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
  metis dat transfer 1 --value 25 --to-token 4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokenID, err := parseID("token", args[0])
			if err != nil {
				return err
			}
			moveValue := value != "" || toToken != ""
			switch {
			case moveValue && (value == "" || toToken == ""):
				return errors.New("moving quota needs both --value N and --to-token ID")
			case moveValue && to != "":
				return errors.New("give --to ADDR (the whole token) or --value with --to-token (quota), not both")
			case !moveValue && to == "":
				return errors.New("give --to ADDR, or --value N --to-token ID")
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			w := cmd.OutOrStdout()
			if !moveValue {
				recipient, err := parseAddress("--to", to)
				if err != nil {
					return err
				}
				r, err := d.TransferToken(ctx, tokenID, recipient)
				if err != nil {
					return explain(c, err, datHint(nil))
				}
				if f.json {
					return printJSON(cmd, struct {
						TokenID *big.Int       `json:"tokenId"`
						To      common.Address `json:"to"`
						txOut
					}{tokenID, recipient, newTxOut(c.from, r)})
				}
				fmt.Fprintf(w, "token %s now belongs to %s\n", tokenID, recipient)
				printTx(cmd, c, r)
				return nil
			}
			dest, err := parseID("--to-token", toToken)
			if err != nil {
				return err
			}
			_, cl, err := tokenAndClass(c, d, cmd, tokenID)
			if err != nil {
				return err
			}
			amount, err := parseQuota("--value", value, cl.UnitDecimals)
			if err != nil {
				return err
			}
			units := classUnits(cl.UnitDecimals)
			r, err := d.TransferValue(ctx, tokenID, dest, amount)
			if err != nil {
				return explain(c, err, datHint(units))
			}
			if f.json {
				return printJSON(cmd, struct {
					FromTokenID *big.Int `json:"fromTokenId"`
					ToTokenID   *big.Int `json:"toTokenId"`
					Amount      string   `json:"amount"`
					txOut
				}{tokenID, dest, amount.String(), newTxOut(c.from, r)})
			}
			fmt.Fprintf(w, "moved %s units from token %s to token %s\n", units(amount), tokenID, dest)
			printTx(cmd, c, r)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&to, "to", "", "give the whole token to this account")
	fl.StringVar(&value, "value", "", "move this much quota (with --to-token)")
	fl.StringVar(&toToken, "to-token", "", "the token of the same class that receives --value")
	return cmd
}

func newDATClaimCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "claim TOKEN",
		Short: "Collect the revenue a token has earned",
		Long: `Claim pays TOKEN's pending revenue (its shares' part of the class's usage fees and
settled revenue, and of its derived classes' lineage share) to its owner, who must be
the signer. 'metis dat show TOKEN' shows what is pending.

` + chainFlagsHelp,
		Example: `  metis dat claim 1
  metis dat claim 1 --dev-account 1 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokenID, err := parseID("token", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			amount, r, err := d.Claim(ctx, tokenID)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			if f.json {
				return printJSON(cmd, struct {
					TokenID *big.Int `json:"tokenId"`
					Amount  string   `json:"amount"`
					txOut
				}{tokenID, amount.String(), newTxOut(c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "claimed %s from token %s\n", f.amount(amount), tokenID)
			printTx(cmd, c, r)
			return nil
		},
	}
}

func newDATShowCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show TOKEN",
		Short: "Show a token: class, owner, quota left, shares, expiry and pending revenue",
		Long:  "Show prints a token as the chain holds it. It only reads: no key needed.\n\n" + chainFlagsHelp,
		Example: `  metis dat show 1
  metis dat show 1 --json | jq -r .pendingRevenue`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tokenID, err := parseID("token", args[0])
			if err != nil {
				return err
			}
			c, d, err := datConn(cmd.Context(), f, false)
			if err != nil {
				return err
			}
			defer c.close()
			tok, cl, err := tokenAndClass(c, d, cmd, tokenID)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd, toTokenJSON(tok))
			}
			printToken(cmd.OutOrStdout(), f, tok, cl)
			return nil
		},
	}
}

func printToken(w io.Writer, f *chainFlags, t dat.TokenInfo, cl dat.ClassInfo) {
	field(w, "token", "%s", t.Id)
	field(w, "class", "%s (%s, %s)", t.ClassId, dat.Kind(cl.Kind), dat.Status(cl.Status))
	field(w, "owner", "%s", t.Owner)
	field(w, "value", "%s units left", formatUnits(t.Value, cl.UnitDecimals))
	share := ""
	if cl.TotalShares.Sign() > 0 && !t.Expired {
		// Two decimals of a percentage, in integers so that it never prints 33.333333333.
		bp := new(big.Int).Div(new(big.Int).Mul(t.ShareRatio, big.NewInt(10_000)), cl.TotalShares)
		share = fmt.Sprintf(" of %s (%s%%)", cl.TotalShares, formatUnits(bp, 2))
	}
	field(w, "shares", "%s%s", t.ShareRatio, share)
	exp := formatTime(t.ExpireAt)
	if t.Expired {
		exp += " (expired: no longer earns)"
	}
	field(w, "expires", "%s", exp)
	pending := f.amount(t.PendingRevenue)
	if t.PendingRevenue.Sign() > 0 {
		pending += fmt.Sprintf(" (metis dat claim %s)", t.Id)
	}
	field(w, "pending", "%s", pending)
}

func newDATLsCmd(f *chainFlags) *cobra.Command {
	var owner string
	cmd := &cobra.Command{
		Use:   "ls [--owner ADDR]",
		Short: "List an account's tokens (the signer's by default)",
		Long: `Ls lists the tokens an account owns, with quota, shares, expiry and pending revenue.
Without --owner it lists the signer's (dev account 0 on a dev chain when no key is
given). It only reads.

` + chainFlagsHelp,
		Example: `  metis dat ls
  metis dat ls --owner 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer c.close()
			who, err := c.account(owner, "--owner")
			if err != nil {
				return err
			}
			ids, err := d.TokensOf(ctx, who)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			toks := make([]dat.TokenInfo, 0, len(ids))
			classes := map[string]dat.ClassInfo{}
			for _, id := range ids {
				t, cl, err := tokenAndClass(c, d, cmd, id)
				if err != nil {
					return err
				}
				toks = append(toks, t)
				classes[t.ClassId.String()] = cl
			}
			if f.json {
				out := make([]tokenJSON, len(toks))
				for i, t := range toks {
					out[i] = toTokenJSON(t)
				}
				return printJSON(cmd, out)
			}
			if len(toks) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s owns no tokens\n", who)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tokens of %s\n", who)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TOKEN\tCLASS\tVALUE\tSHARES\tEXPIRES\tPENDING")
			for _, t := range toks {
				cl := classes[t.ClassId.String()]
				exp := formatTime(t.ExpireAt)
				if t.Expired {
					exp += " (expired)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Id, t.ClassId, formatUnits(t.Value, cl.UnitDecimals),
					t.ShareRatio, exp, f.amount(t.PendingRevenue))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "whose tokens (default: the signer)")
	return cmd
}
