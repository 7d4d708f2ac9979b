package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/big"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/dat"
)

func newDATClassCmd(f *chainFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "class",
		Short: "Create, inspect and move DAT classes through their lifecycle",
		Long: `A class anchors one dataset, model, agent or compute resource. Its lifecycle:

  registered  created with 'metis dat class create' (paying the verification fee)
  verified    approved by enough data validators ('metis dat class attest'), or the iDAO
  active      activated by its owner ('metis dat class activate'): it mints tokens
  deprecated  retired by its owner ('metis dat class deprecate'): no new tokens, existing
              ones still work and earn
  revoked     rejected by validators or revoked by the iDAO`,
		Example: `  metis dat class create --kind model --metadata ipfs://bafy… --integrity 0x5f… --parent 1
  metis dat class ls
  metis dat class show 1 --json
  metis dat class activate 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newDATClassCreateCmd(f),
		newDATClassShowCmd(f),
		newDATClassLsCmd(f),
		newDATClassStatusCmd(f, "activate", "Activate a verified class (owner only) so that it mints tokens",
			"Activate moves a verified class to active. Only the class's owner may; only an active\nclass mints tokens."),
		newDATClassStatusCmd(f, "deprecate", "Deprecate an active class (owner only): no new tokens",
			"Deprecate moves an active class to deprecated: it mints no new tokens, while the\ntokens it has keep their quota and keep earning."),
		newDATClassAttestCmd(f),
	)
	return cmd
}

func newDATClassCreateCmd(f *chainFlags) *cobra.Command {
	var (
		kind, metadata, integrity, integrityFile, hashName, policy, usageFee string
		decimals                                                             uint8
		parents                                                              []string
	)
	cmd := &cobra.Command{
		Use:   "create --kind KIND --metadata URI (--integrity HEX | --integrity-file PATH) [flags]",
		Short: "Register a class: what it anchors, the hash of its content, its policy and fee",
		Long: `Create registers a class owned by the signer and prints its id. It pays the module's
verification fee (0.01 METIS at genesis), which goes to the data validators.

  --kind            dataset, model, agent or compute
  --metadata URI    where the description lives (ipfs://, https://, ar://, …)
  --integrity HEX   the 32-byte hash of the content (for a dataset of many files, the
                    Merkle root you computed), 0x and 64 hex digits
  --integrity-file  hash this file instead: SHA-256 by default, the digest 'sha256sum'
                    prints, so that anyone can check the anchor without metis;
                    --hash keccak256 uses Keccak-256 (what Solidity's keccak256 gives)
  --policy URI      the usage policy or license
  --decimals N      decimals of the class's unit of usage (quota), 0 by default: with 2,
                    'metis dat use TOKEN 1.5' consumes 150 of the smallest units
  --usage-fee AMT   METIS per smallest unit consumed by 'metis dat use', 0 by default
  --parent ID       a class this one derives from (repeatable); a share of this class's
                    revenue flows to the parents' holders

` + chainFlagsHelp,
		Example: `  metis dat class create --kind dataset --metadata ipfs://bafybeigdyrzt… \
      --integrity-file ./corpus.tar --policy https://creativecommons.org/licenses/by/4.0/ \
      --usage-fee 0.001
  metis dat class create --kind model --metadata ipfs://bafk… --integrity 0x9f86d081… \
      --parent 1 --parent 2 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := dat.ParseKind(kind)
			if err != nil {
				return fmt.Errorf("--kind: %s", strings.TrimPrefix(err.Error(), "dat: "))
			}
			ih, err := integrityHash(integrity, integrityFile, hashName)
			if err != nil {
				return err
			}
			fee := new(big.Int)
			if usageFee != "" {
				if fee, err = f.parseAmount("--usage-fee", usageFee); err != nil {
					return err
				}
			}
			ps, err := parseIDs("--parent", parents)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			params, err := d.Params(ctx)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			id, r, err := d.CreateClass(ctx, dat.ClassParams{
				Kind: uint8(k), MetadataURI: metadata, IntegrityHash: ih, PolicyURI: policy,
				UnitDecimals: decimals, UsageFee: fee, Parents: ps,
			})
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			if f.json {
				return printJSON(cmd, struct {
					ClassID *big.Int `json:"classId"`
					Kind    string   `json:"kind"`
					FeePaid string   `json:"feePaid"`
					txOut
				}{id, k.String(), params.VerificationFee.String(), newTxOut(c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "class %s created (%s, registered)\n", id, k)
			field(w, "integrity", "%s", common.Hash(ih))
			field(w, "fee paid", "%s (verification, to the data validators)", f.amount(params.VerificationFee))
			printTx(cmd, c, r)
			fmt.Fprintf(w, "next: validators attest it (metis dat class attest %s), then metis dat class activate %s\n", id, id)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&kind, "kind", "", "what the class anchors: dataset, model, agent or compute")
	fl.StringVar(&metadata, "metadata", "", "metadata URI")
	fl.StringVar(&integrity, "integrity", "", "content hash: 0x and 64 hex digits")
	fl.StringVar(&integrityFile, "integrity-file", "", "hash this file for --integrity (SHA-256, or see --hash)")
	fl.StringVar(&hashName, "hash", "sha256", "hash of --integrity-file: sha256 or keccak256")
	fl.StringVar(&policy, "policy", "", "usage policy or license URI")
	fl.Uint8Var(&decimals, "decimals", 0, "decimals of the class's usage unit")
	fl.StringVar(&usageFee, "usage-fee", "", "METIS per smallest unit of usage (e.g. 0.001); default 0")
	fl.StringArrayVar(&parents, "parent", nil, "id of a parent class (repeatable, or comma-separated)")
	_ = cmd.MarkFlagRequired("kind")
	_ = cmd.MarkFlagRequired("metadata")
	cmd.MarkFlagsMutuallyExclusive("integrity", "integrity-file")
	cmd.MarkFlagsOneRequired("integrity", "integrity-file")
	return cmd
}

// integrityHash is --integrity, or the hash of --integrity-file.
func integrityHash(hexHash, file, hashName string) ([32]byte, error) {
	var out [32]byte
	if file == "" {
		b, err := hex.DecodeString(strings.TrimPrefix(hexHash, "0x"))
		if err != nil || len(b) != 32 {
			return out, fmt.Errorf("--integrity %q: want 0x and 64 hex digits (a 32-byte hash); --integrity-file hashes a file for you", hexHash)
		}
		return [32]byte(b), nil
	}
	var h hash.Hash
	switch hashName {
	case "sha256":
		h = sha256.New()
	case "keccak256", "keccak":
		h = crypto.NewKeccakState()
	default:
		return out, fmt.Errorf("--hash %q: use sha256 or keccak256", hashName)
	}
	fh, err := os.Open(file)
	if err != nil {
		return out, fmt.Errorf("--integrity-file: %w", err)
	}
	defer fh.Close()
	if _, err := io.Copy(h, fh); err != nil {
		return out, fmt.Errorf("--integrity-file: %w", err)
	}
	copy(out[:], h.Sum(nil))
	return out, nil
}

func newDATClassShowCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show CLASS",
		Short: "Show a class: kind, status, owner, hashes, fee, lineage and revenue",
		Long:  "Show prints a class as the chain holds it. It only reads: no key needed.\n\n" + chainFlagsHelp,
		Example: `  metis dat class show 1
  metis dat class show 1 --json | jq .status`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("class", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer c.close()
			cl, err := d.Class(ctx, id)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			if f.json {
				return printJSON(cmd, toClassJSON(cl))
			}
			printClass(cmd.OutOrStdout(), f, cl)
			return nil
		},
	}
}

func printClass(w io.Writer, f *chainFlags, cl dat.ClassInfo) {
	field(w, "class", "%s", cl.Id)
	field(w, "kind", "%s", dat.Kind(cl.Kind))
	field(w, "status", "%s (%d approvals, %d rejections)", dat.Status(cl.Status), cl.Approvals, cl.Rejections)
	field(w, "owner", "%s", cl.Owner)
	field(w, "metadata", "%s", orNone(cl.MetadataURI))
	field(w, "integrity", "%s", common.Hash(cl.IntegrityHash))
	field(w, "policy", "%s", orNone(cl.PolicyURI))
	field(w, "decimals", "%d", cl.UnitDecimals)
	unit := "unit"
	if cl.UnitDecimals > 0 {
		unit = "smallest unit (" + formatUnits(big.NewInt(1), cl.UnitDecimals) + ")"
	}
	field(w, "usage fee", "%s per %s", f.amount(cl.UsageFee), unit)
	field(w, "parents", "%s", idList(cl.Parents))
	field(w, "shares", "%s (of unexpired tokens)", cl.TotalShares)
	field(w, "revenue", "%s (all time)", f.amount(cl.TotalRevenue))
	field(w, "created", "block %d", cl.CreatedAt)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func newDATClassLsCmd(f *chainFlags) *cobra.Command {
	var owner string
	cmd := &cobra.Command{
		Use:   "ls [--owner ADDR]",
		Short: "List the classes, or those of one owner",
		Long: `Ls lists every class (ids run from 1 to the class count), or with --owner only those
that account owns. It only reads: no key needed.

` + chainFlagsHelp,
		Example: `  metis dat class ls
  metis dat class ls --owner 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var want common.Address
			if owner != "" {
				var err error
				if want, err = parseAddress("--owner", owner); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer c.close()
			n, err := d.ClassCount(ctx)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			classes := []dat.ClassInfo{}
			for i := uint64(1); i <= n; i++ {
				cl, err := d.Class(ctx, new(big.Int).SetUint64(i))
				if err != nil {
					return explain(c, err, datHint(nil))
				}
				if owner == "" || cl.Owner == want {
					classes = append(classes, cl)
				}
			}
			if f.json {
				out := make([]classJSON, len(classes))
				for i, cl := range classes {
					out[i] = toClassJSON(cl)
				}
				return printJSON(cmd, out)
			}
			if len(classes) == 0 {
				if owner != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "no classes owned by %s (of %d)\n", want, n)
				} else {
					fmt.Fprintln(cmd.OutOrStdout(), "no classes yet: metis dat class create --help")
				}
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CLASS\tKIND\tSTATUS\tOWNER\tUSAGE FEE\tPARENTS\tMETADATA")
			for _, cl := range classes {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cl.Id, dat.Kind(cl.Kind), dat.Status(cl.Status),
					cl.Owner, f.amount(cl.UsageFee), idList(cl.Parents), orNone(cl.MetadataURI))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "list only the classes this account owns")
	return cmd
}

// newDATClassStatusCmd builds 'activate' and 'deprecate', which differ only in the call.
func newDATClassStatusCmd(f *chainFlags, verb, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " CLASS",
		Short:   short,
		Long:    long + "\n\n" + chainFlagsHelp,
		Example: fmt.Sprintf("  metis dat class %s 1\n  metis dat class %s 1 --key $OWNER_KEY --rpc ws://node:8545", verb, verb),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("class", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			call := d.ActivateClass
			if verb == "deprecate" {
				call = d.DeprecateClass
			}
			r, err := call(ctx, id)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			cl, err := d.Class(ctx, id)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			if f.json {
				return printJSON(cmd, struct {
					ClassID *big.Int `json:"classId"`
					Status  string   `json:"status"`
					txOut
				}{id, dat.Status(cl.Status).String(), newTxOut(c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "class %s is now %s\n", id, dat.Status(cl.Status))
			printTx(cmd, c, r)
			return nil
		},
	}
}

func newDATClassAttestCmd(f *chainFlags) *cobra.Command {
	var reject bool
	cmd := &cobra.Command{
		Use:   "attest CLASS [--reject]",
		Short: "Approve (or reject) a registered class, as a data validator",
		Long: `Attest records the signer's approval of a registered class, or with --reject its
rejection. The signer must be a registered data validator ('metis dat validator
register'). When approvals reach the module's threshold (1 on a dev chain) the class is
verified and the validators are paid its verification fee; when rejections do, it is
revoked.

` + chainFlagsHelp,
		Example: `  metis dat class attest 1 --dev-account 4
  metis dat class attest 2 --reject --key $VALIDATOR_KEY`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("class", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, d, err := datConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			r, err := d.Attest(ctx, id, !reject)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			cl, err := d.Class(ctx, id)
			if err != nil {
				return explain(c, err, datHint(nil))
			}
			if f.json {
				return printJSON(cmd, struct {
					ClassID    *big.Int `json:"classId"`
					Approve    bool     `json:"approve"`
					Status     string   `json:"status"`
					Approvals  uint32   `json:"approvals"`
					Rejections uint32   `json:"rejections"`
					txOut
				}{id, !reject, dat.Status(cl.Status).String(), cl.Approvals, cl.Rejections, newTxOut(c.from, r)})
			}
			verb := "approved"
			if reject {
				verb = "rejected"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "class %s %s: %d approvals, %d rejections; status %s\n",
				id, verb, cl.Approvals, cl.Rejections, dat.Status(cl.Status))
			printTx(cmd, c, r)
			return nil
		},
	}
	cmd.Flags().BoolVar(&reject, "reject", false, "reject the class instead of approving it")
	return cmd
}

func newDATValidatorCmd(f *chainFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validator",
		Short: "Register as a data validator, who attests classes",
		Long: `Data validators attest that a class's content matches its anchor. A validator needs a
Holders Mining stake of at least the module's minimum (1 METIS at genesis): stake with
'metis stake', then register.`,
		Example: `  metis stake 1 --dev-account 4
  metis dat validator register --dev-account 4
  metis dat validator rm --dev-account 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	register := &cobra.Command{
		Use:     "register",
		Short:   "Register the signer as a data validator (needs the minimum stake)",
		Long:    "Register makes the signer a data validator. It needs a Holders Mining stake of at\nleast the module's minimum ('metis stake').\n\n" + chainFlagsHelp,
		Example: "  metis dat validator register --dev-account 4",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return validatorTx(cmd, f, "registered as a data validator", func(d *dat.Client) (*types.Receipt, error) {
				return d.RegisterValidator(cmd.Context())
			})
		},
	}
	var who string
	rm := &cobra.Command{
		Use:     "rm [--validator ADDR]",
		Short:   "Stop being a data validator (the iDAO may remove others)",
		Long:    "Rm removes the signer (or, for the iDAO, --validator ADDR) from the data validators.\n\n" + chainFlagsHelp,
		Example: "  metis dat validator rm --dev-account 4",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return validatorTx(cmd, f, "removed from the data validators", func(d *dat.Client) (*types.Receipt, error) {
				v := d.From()
				if who != "" {
					var err error
					if v, err = parseAddress("--validator", who); err != nil {
						return nil, err
					}
				}
				return d.RemoveValidator(cmd.Context(), v)
			})
		},
	}
	rm.Flags().StringVar(&who, "validator", "", "the validator to remove (default: the signer)")
	cmd.AddCommand(register, rm)
	return cmd
}

// validatorTx sends one validator transaction and reports it.
func validatorTx(cmd *cobra.Command, f *chainFlags, done string, send func(*dat.Client) (*types.Receipt, error)) error {
	c, d, err := datConn(cmd.Context(), f, true)
	if err != nil {
		return err
	}
	defer c.close()
	r, err := send(d)
	if err != nil {
		return explain(c, err, datHint(nil))
	}
	if f.json {
		return printJSON(cmd, newTxOut(c.from, r))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", c.from, done)
	printTx(cmd, c, r)
	return nil
}
