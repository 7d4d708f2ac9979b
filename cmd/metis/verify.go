package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/verifier"
)

// Verifiable compute: 'metis verify …' (tasks), 'metis verifier …' (verifier stake and the
// verifier service) and 'metis prover run' (the prover service). See verifier/IVerifier.sol.

const verifyIntro = `Verifiable compute: a requester pays for an inference on a model DAT class; a prover
runs it and submits the signed receipt with a bond. In mode attest, k of n registered
verifiers (chosen per task) re-run it and attest the output digest; k matching
attestations finalize. In mode optimistic (the deterministic gguf engine only), the
result stands unless someone challenges it within the challenge window; a challenge is an
interactive bisection over the receipt's trace, settled by the node re-executing one step.
Finalize pays the prover (the model class's holders earn a royalty, LazAI a cut); expired
tasks refund the requester.`

func newVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Request verifiable inference, submit, attest, challenge and finalize results",
		Long:  verifyIntro + "\n\n" + chainFlagsHelp,
		Example: `  metis verify request --class 1 --prompt "Once upon a time" --mode optimistic --fee 0.01
  metis verify show 1
  metis verify ls
  metis verify challenge 1 --dev-account 3
  metis verify finalize 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addChainFlags(cmd)
	cmd.AddCommand(newVerifyRequestCmd(f), newVerifySubmitCmd(f), newVerifyAttestCmd(f), newVerifyChallengeCmd(f),
		newVerifyFinalizeCmd(f), newVerifyShowCmd(f), newVerifyLsCmd(f))
	return cmd
}

// verifierConn connects and makes a Verifier client, signing when sign is set.
func verifierConn(ctx context.Context, f *chainFlags, sign bool) (*conn, *verifier.Client, error) {
	c, err := f.connect(ctx, sign)
	if err != nil {
		return nil, nil, err
	}
	return c, verifier.NewClient(c.eth, c.signer()), nil
}

// verifierHint explains the Verifier module's errors.
func verifierHint(name string, a []any) string {
	switch name {
	case "UnknownTask":
		return fmt.Sprintf("task %s does not exist (metis verify ls lists them)", argBig(a, 0))
	case "UnknownDispute":
		return fmt.Sprintf("dispute %s does not exist", argBig(a, 0))
	case "WrongStatus":
		return fmt.Sprintf("task %s is %s, which does not allow this", argBig(a, 0), verifier.Status(argBig(a, 1).Uint64()))
	case "DeadlinePassed":
		return fmt.Sprintf("the deadline was block %s and this is block %s", argBig(a, 0), argBig(a, 1))
	case "TooEarly":
		return fmt.Sprintf("not before block %s (now %s): wait for the window or deadline to pass", new(big.Int).Add(argBig(a, 1), big.NewInt(1)), argBig(a, 0))
	case "WindowClosed":
		return fmt.Sprintf("the challenge window ended at block %s (now %s)", argBig(a, 0), argBig(a, 1))
	case "BadBond":
		return fmt.Sprintf("a bond of %s METIS, at least %s METIS needed", formatUnits(argBig(a, 0), metisDecimals), formatUnits(argBig(a, 1), metisDecimals))
	case "BadReceipt":
		if len(a) > 0 {
			return fmt.Sprintf("the receipt was refused: %v", a[0])
		}
	case "NotChosen":
		return fmt.Sprintf("%s is not among the verifiers chosen for task %s", argAddr(a, 1), argBig(a, 0))
	case "AlreadyAttested":
		return fmt.Sprintf("%s has already attested task %s", argAddr(a, 1), argBig(a, 0))
	case "NotYourMove":
		return fmt.Sprintf("it is not %s's move in dispute %s", argAddr(a, 1), argBig(a, 0))
	case "MoveTimedOut":
		return fmt.Sprintf("the move was due by block %s: finalize settles the dispute", argBig(a, 1))
	case "BadMove":
		if len(a) > 0 {
			return fmt.Sprintf("%v", a[0])
		}
	case "NotVerifier":
		return fmt.Sprintf("%s is not a registered verifier (metis verifier register)", argAddr(a, 0))
	case "AlreadyVerifier":
		return fmt.Sprintf("%s is already a verifier (or still holds an unbonding stake: metis verifier withdraw)", argAddr(a, 0))
	case "InsufficientStake":
		return fmt.Sprintf("a stake of %s METIS, at least %s METIS needed", formatUnits(argBig(a, 0), metisDecimals), formatUnits(argBig(a, 1), metisDecimals))
	case "StillUnbonding":
		return fmt.Sprintf("the stake unbonds at block %s (now %s)", argBig(a, 0), argBig(a, 1))
	case "NotEnoughVerifiers":
		return fmt.Sprintf("%s verifiers are registered, attest mode needs %s: use --mode optimistic, or register more", argBig(a, 0), argBig(a, 1))
	case "ModelUnavailable":
		return "the node holds no GGUF file with the model's sha256 for one-step replay (metis node --model-dir DIR)"
	case "ZeroAmount":
		return "the fee must be positive (--fee)"
	case "NotGovernance":
		return "only the iDAO (governance) may do this"
	}
	return ""
}

func parseMode(s string) (verifier.Mode, error) {
	switch strings.ToLower(s) {
	case "attest":
		return verifier.ModeAttest, nil
	case "optimistic":
		return verifier.ModeOptimistic, nil
	}
	return 0, fmt.Errorf("--mode %q: want attest or optimistic", s)
}

func newVerifyRequestCmd(f *chainFlags) *cobra.Command {
	var (
		classFlag, prompt, model, modeFlag, feeFlag string
		deadline                                    uint64
		sampling                                    inference.Sampling
	)
	cmd := &cobra.Command{
		Use:   "request --class ID --prompt TEXT [--mode attest|optimistic] [--fee AMT] [--deadline BLOCKS]",
		Short: "Pay for a verifiable inference on a model DAT class",
		Long: `Request publishes an inference request (the prompt and sampling parameters, as JSON)
for the model of DAT class --class and pays --fee. A prover holding the model (the GGUF
file whose sha256 is the class's integrity hash) must submit a result within --deadline
blocks, or finalize refunds the fee. The request's input digest (inference.InputDigest)
is what the receipt must commit to.

` + chainFlagsHelp,
		Example: `  metis verify request --class 1 --prompt "Once upon a time" --max-tokens 16
  metis verify request --class 1 --prompt "2+2=" --mode attest --fee 0.05 --deadline 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			classID, err := parseID("--class", classFlag)
			if err != nil {
				return err
			}
			mode, err := parseMode(modeFlag)
			if err != nil {
				return err
			}
			fee, err := f.parseAmount("--fee", feeFlag)
			if err != nil {
				return err
			}
			if deadline == 0 {
				return fmt.Errorf("--deadline must be at least 1 block")
			}
			if model == "" {
				model = "dat:" + classID.String()
			}
			ctx := cmd.Context()
			c, v, err := verifierConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			head, err := c.eth.BlockNumber(ctx)
			if err != nil {
				return err
			}
			req := inference.Request{Model: model, Prompt: prompt, Sampling: sampling}
			id, r, err := v.RequestCompute(ctx, classID, req, mode, head+deadline, fee)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			if f.json {
				return printJSON(cmd, struct {
					Task     string `json:"task"`
					Deadline uint64 `json:"deadline"`
					txOut
				}{id.String(), head + deadline, newTxOut(c.from, r)})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "task %s requested (%s, class %s, fee %s)\n", id, mode, classID, f.amount(fee))
			field(w, "deadline", "block %d", head+deadline)
			printTx(cmd, c, r)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&classFlag, "class", "", "the model's DAT class id")
	fl.StringVar(&prompt, "prompt", "", "the prompt (a raw completion, as metis infer does)")
	fl.StringVar(&model, "model", "", "the model name written into the request and receipt (default dat:CLASS)")
	fl.StringVar(&modeFlag, "mode", "optimistic", "how the result is verified: attest or optimistic")
	fl.StringVar(&feeFlag, "fee", "0.01", "the fee paid to the prover on finality")
	fl.Uint64Var(&deadline, "deadline", 100, "blocks from now within which a result must be submitted")
	fl.IntVar(&sampling.MaxTokens, "max-tokens", 32, "most tokens to generate")
	fl.Float64Var(&sampling.Temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	fl.Uint64Var(&sampling.Seed, "seed", 0, "sampling seed")
	fl.IntVar(&sampling.TopK, "top-k", 0, "top-k sampling; 0 keeps every token")
	fl.Float64Var(&sampling.TopP, "top-p", 0, "nucleus sampling; 0 keeps every token")
	_ = cmd.MarkFlagRequired("class")
	_ = cmd.MarkFlagRequired("prompt")
	return cmd
}

func newVerifySubmitCmd(f *chainFlags) *cobra.Command {
	var receiptFile, bondFlag string
	var steps uint64
	cmd := &cobra.Command{
		Use:   "submit ID --receipt FILE [--steps N] [--bond AMT]",
		Short: "Submit a signed inference receipt as the result of a task",
		Long: `Submit sends the signed receipt in --receipt (the JSON 'metis infer --receipt-out' writes;
it must be signed by the account sending it, over this chain's id) as the result of task
ID, with --bond (default: the module's minimum prover bond). For an optimistic task,
--steps is the number of leaves of the run's trace, and the output's token ids must then
be revealed (revealOutput: checked on chain against the receipt's output digest) before
the challenge window ends, or the result is rejected; a receipt does not carry them, so
optimistic tasks are for 'metis prover run', which runs the model, submits, reveals and
defends disputes by itself (or for the Go client's RevealOutput).

` + chainFlagsHelp,
		Example: `  metis verify submit 1 --receipt receipt.json --steps 530 --dev-account 2`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("task", args[0])
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(receiptFile)
			if err != nil {
				return fmt.Errorf("--receipt: %w", err)
			}
			var rc inference.Receipt
			if err := json.Unmarshal(raw, &rc); err != nil {
				return fmt.Errorf("--receipt %s: %w", receiptFile, err)
			}
			var bond *big.Int
			if bondFlag != "" {
				if bond, err = f.parseAmount("--bond", bondFlag); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			c, v, err := verifierConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			r, err := v.SubmitResult(ctx, id, &rc, steps, bond)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			if f.json {
				return printJSON(cmd, newTxOut(c.from, r))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "result of task %s submitted (output %s)\n", id, rc.OutputDigest)
			printTx(cmd, c, r)
			if t, err := v.Task(ctx, id); err == nil && verifier.Mode(t.Mode) == verifier.ModeOptimistic {
				fmt.Fprintf(cmd.OutOrStdout(), "note: reveal the output's tokens before block %d, or the result is rejected (see --help)\n", t.WindowEnd)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&receiptFile, "receipt", "", "the signed receipt JSON file")
	cmd.Flags().Uint64Var(&steps, "steps", 0, "leaves of the run's trace (optimistic tasks)")
	cmd.Flags().StringVar(&bondFlag, "bond", "", "the prover's bond (default: the module's minimum)")
	_ = cmd.MarkFlagRequired("receipt")
	return cmd
}

func newVerifyAttestCmd(f *chainFlags) *cobra.Command {
	var reject bool
	var digestFlag string
	cmd := &cobra.Command{
		Use:   "attest ID [--reject | --digest HEX]",
		Short: "Attest the result of an attest task (chosen verifiers only)",
		Long: `Attest records the output digest the signer got for task ID: by default the task's own
(approve), with --reject the zero digest (reject), with --digest the one given (approve
if it equals the task's). 'metis verifier run' re-runs the request and attests by itself.

` + chainFlagsHelp,
		Example: `  metis verify attest 1 --dev-account 5
  metis verify attest 1 --reject --dev-account 6`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("task", args[0])
			if err != nil {
				return err
			}
			if reject && digestFlag != "" {
				return fmt.Errorf("give --reject or --digest, not both")
			}
			ctx := cmd.Context()
			c, v, err := verifierConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			t, err := v.Task(ctx, id)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			digest := t.OutputDigest
			switch {
			case reject:
				digest = [32]byte{}
			case digestFlag != "":
				h, err := inference.ParseDigest(digestFlag)
				if err != nil {
					return fmt.Errorf("--digest: %w", err)
				}
				digest = h
			}
			r, err := v.Attest(ctx, id, digest)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			if f.json {
				return printJSON(cmd, newTxOut(c.from, r))
			}
			verdict := "approved"
			if digest != t.OutputDigest {
				verdict = "rejected"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "task %s %s by %s\n", id, verdict, c.from)
			printTx(cmd, c, r)
			return nil
		},
	}
	cmd.Flags().BoolVar(&reject, "reject", false, "reject the result")
	cmd.Flags().StringVar(&digestFlag, "digest", "", "the output digest the signer got (0x + 64 hex)")
	return cmd
}

func newVerifyChallengeCmd(f *chainFlags) *cobra.Command {
	var bondFlag string
	cmd := &cobra.Command{
		Use:   "challenge ID [--bond AMT]",
		Short: "Dispute an optimistic result within its challenge window",
		Long: `Challenge bonds --bond (default: the module's minimum challenger bond) and disputes task
ID's result. Then the prover bisects the trace and the challenger chooses a half, each
within the move timeout, down to one step that the node re-executes. The bisection
needs the challenger's own trace, so run 'metis verifier run' with the model rather
than challenging by hand: it challenges and plays the moves by itself.

` + chainFlagsHelp,
		Example: `  metis verify challenge 1 --dev-account 3`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("task", args[0])
			if err != nil {
				return err
			}
			var bond *big.Int
			if bondFlag != "" {
				if bond, err = f.parseAmount("--bond", bondFlag); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			c, v, err := verifierConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			d, r, err := v.Challenge(ctx, id, bond)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			if f.json {
				return printJSON(cmd, struct {
					Dispute string `json:"dispute"`
					txOut
				}{d.String(), newTxOut(c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "task %s challenged: dispute %s\n", id, d)
			printTx(cmd, c, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&bondFlag, "bond", "", "the challenger's bond (default: the module's minimum)")
	return cmd
}

func newVerifyFinalizeCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "finalize ID",
		Short: "Finalize, reject, refund or settle a task whose time has come (anyone may)",
		Long: `Finalize settles task ID: pays an attested or unchallenged result, rejects a refuted
one, refunds an expired task, or settles a dispute whose side to move missed its
deadline.

` + chainFlagsHelp,
		Example: `  metis verify finalize 1`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("task", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, v, err := verifierConn(ctx, f, true)
			if err != nil {
				return err
			}
			defer c.close()
			r, err := v.Finalize(ctx, id)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			t, err := v.Task(ctx, id)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			if f.json {
				return printJSON(cmd, struct {
					Status string `json:"status"`
					txOut
				}{verifier.Status(t.Status).String(), newTxOut(c.from, r)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "task %s is %s\n", id, verifier.Status(t.Status))
			printTx(cmd, c, r)
			return nil
		},
	}
}

// taskJSON is a task in --json output (amounts in wei as decimal strings).
type taskJSON struct {
	ID           string           `json:"id"`
	Requester    common.Address   `json:"requester"`
	ModelClass   string           `json:"modelClass"`
	ModelDigest  common.Hash      `json:"modelDigest"`
	InputDigest  common.Hash      `json:"inputDigest"`
	Mode         string           `json:"mode"`
	Fee          string           `json:"fee"`
	Deadline     uint64           `json:"deadline"`
	Status       string           `json:"status"`
	Prover       *common.Address  `json:"prover,omitempty"`
	OutputDigest *common.Hash     `json:"outputDigest,omitempty"`
	TraceRoot    *common.Hash     `json:"traceRoot,omitempty"`
	Steps        uint64           `json:"steps"`
	ProverBond   string           `json:"proverBond"`
	WindowEnd    uint64           `json:"windowEnd"`
	Verifiers    []common.Address `json:"verifiers"`
	Approvals    uint32           `json:"approvals"`
	Rejections   uint32           `json:"rejections"`
	Dispute      *disputeJSON     `json:"dispute,omitempty"`
	Head         uint64           `json:"head"`
}

type disputeJSON struct {
	ID              string         `json:"id"`
	Challenger      common.Address `json:"challenger"`
	Bond            string         `json:"bond"`
	Lo              uint64         `json:"lo"`
	Hi              uint64         `json:"hi"`
	Node            common.Hash    `json:"node"`
	ToMove          string         `json:"toMove"`
	MoveDeadline    uint64         `json:"moveDeadline"`
	ProverMoves     uint32         `json:"proverMoves"`
	ChallengerMoves uint32         `json:"challengerMoves"`
	Resolved        bool           `json:"resolved"`
	ProverWon       bool           `json:"proverWon"`
}

func toTaskJSON(t verifier.TaskInfo, d *verifier.DisputeInfo, head uint64) taskJSON {
	out := taskJSON{ID: t.Id.String(), Requester: t.Requester, ModelClass: t.ModelClassId.String(),
		ModelDigest: t.ModelDigest, InputDigest: t.InputDigest, Mode: verifier.Mode(t.Mode).String(),
		Fee: t.Fee.String(), Deadline: t.Deadline, Status: verifier.Status(t.Status).String(), Steps: t.Steps,
		ProverBond: t.ProverBond.String(), WindowEnd: t.WindowEnd, Verifiers: t.Verifiers,
		Approvals: t.Approvals, Rejections: t.Rejections, Head: head}
	if out.Verifiers == nil {
		out.Verifiers = []common.Address{}
	}
	if t.Prover != (common.Address{}) {
		p, o, r := t.Prover, common.Hash(t.OutputDigest), common.Hash(t.TraceRoot)
		out.Prover, out.OutputDigest, out.TraceRoot = &p, &o, &r
	}
	if d != nil {
		out.Dispute = &disputeJSON{ID: d.Id.String(), Challenger: d.Challenger, Bond: d.Bond.String(), Lo: d.Lo, Hi: d.Hi,
			Node: d.Node, ToMove: toMove(*d), MoveDeadline: d.MoveDeadline, ProverMoves: d.ProverMoves,
			ChallengerMoves: d.ChallengerMoves, Resolved: d.Resolved, ProverWon: d.ProverWon}
	}
	return out
}

func toMove(d verifier.DisputeInfo) string {
	switch {
	case d.Resolved:
		return "none"
	case d.ProverToMove && d.Hi-d.Lo <= 1:
		return "prover (proveStep)"
	case d.ProverToMove:
		return "prover (bisect)"
	}
	return "challenger (choose)"
}

// blocksLeft says how far block n is from the head.
func blocksLeft(n, head uint64) string {
	switch {
	case n > head:
		return fmt.Sprintf("block %d, in %d blocks", n, n-head)
	case n == head:
		return fmt.Sprintf("block %d, now", n)
	}
	return fmt.Sprintf("block %d, %d blocks ago", n, head-n)
}

func newVerifyShowCmd(f *chainFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a task and its dispute: status, result, moves and deadlines",
		Long: `Show prints task ID: requester, model class and digest, mode, fee, status and
deadlines, the submitted result, the chosen verifiers and their tallies, and the
running or last dispute: the disputed range of trace leaves, whose move it is, by which
block, and how many moves each side made. It only reads.

` + chainFlagsHelp,
		Example: `  metis verify show 1
  metis verify show 1 --json | jq .dispute`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("task", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, v, err := verifierConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer c.close()
			t, err := v.Task(ctx, id)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			var d *verifier.DisputeInfo
			if t.DisputeId != nil && t.DisputeId.Sign() > 0 {
				di, err := v.Dispute(ctx, t.DisputeId)
				if err != nil {
					return explain(c, err, verifierHint)
				}
				d = &di
			}
			head, err := c.eth.BlockNumber(ctx)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd, toTaskJSON(t, d, head))
			}
			w := cmd.OutOrStdout()
			field(w, "task", "%s (%s)", t.Id, verifier.Mode(t.Mode))
			field(w, "status", "%s", verifier.Status(t.Status))
			field(w, "requester", "%s", t.Requester.Hex())
			field(w, "model", "class %s, sha256 %x", t.ModelClassId, t.ModelDigest)
			field(w, "input", "%s", common.Hash(t.InputDigest))
			field(w, "fee", "%s", f.amount(t.Fee))
			field(w, "deadline", "%s", blocksLeft(t.Deadline, head))
			if len(t.Verifiers) > 0 {
				field(w, "verifiers", "%d approve, %d reject of %d chosen", t.Approvals, t.Rejections, len(t.Verifiers))
				for _, a := range t.Verifiers {
					field(w, "", "%s", a.Hex())
				}
			}
			if t.Prover != (common.Address{}) {
				field(w, "prover", "%s, bond %s", t.Prover.Hex(), f.amount(t.ProverBond))
				field(w, "output", "%s", common.Hash(t.OutputDigest))
				if t.TraceRoot != ([32]byte{}) {
					field(w, "trace", "root %s, %d steps", common.Hash(t.TraceRoot), t.Steps)
				}
				field(w, "window", "ends %s", blocksLeft(t.WindowEnd, head))
			}
			if d != nil {
				field(w, "dispute", "%s by %s, bond %s", d.Id, d.Challenger.Hex(), f.amount(d.Bond))
				field(w, "range", "leaves [%d, %d) of %d, prover's node %s", d.Lo, d.Hi, t.Steps, common.Hash(d.Node))
				field(w, "moves", "prover %d, challenger %d", d.ProverMoves, d.ChallengerMoves)
				if d.Resolved {
					winner := "challenger"
					if d.ProverWon {
						winner = "prover"
					}
					field(w, "resolved", "the %s won", winner)
				} else {
					field(w, "to move", "%s, by %s", toMove(*d), blocksLeft(d.MoveDeadline, head))
				}
			}
			field(w, "head", "block %d", head)
			return nil
		},
	}
}

func newVerifyLsCmd(f *chainFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "ls [--limit N]",
		Short: "List tasks, newest first",
		Long: `Ls lists the newest --limit tasks: id, mode, status, model class, fee, prover and what
comes next. It only reads.

` + chainFlagsHelp,
		Example: `  metis verify ls
  metis verify ls --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, v, err := verifierConn(ctx, f, false)
			if err != nil {
				return err
			}
			defer c.close()
			n, err := v.TaskCount(ctx)
			if err != nil {
				return explain(c, err, verifierHint)
			}
			head, err := c.eth.BlockNumber(ctx)
			if err != nil {
				return err
			}
			var tasks []taskJSON
			for id := n; id >= 1 && (limit <= 0 || len(tasks) < limit); id-- {
				t, err := v.Task(ctx, new(big.Int).SetUint64(id))
				if err != nil {
					return explain(c, err, verifierHint)
				}
				tasks = append(tasks, toTaskJSON(t, nil, head))
			}
			if f.json {
				if tasks == nil {
					tasks = []taskJSON{}
				}
				return printJSON(cmd, tasks)
			}
			if len(tasks) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no tasks yet (metis verify request)")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tMODE\tSTATUS\tCLASS\tFEE\tPROVER\tNEXT")
			for _, t := range tasks {
				prover := "-"
				if t.Prover != nil {
					prover = t.Prover.Hex()[:10] + "…"
				}
				fee, _ := new(big.Int).SetString(t.Fee, 10)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Mode, t.Status, t.ModelClass, f.amount(fee), prover, nextOf(t, head))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "most tasks to list (0: all)")
	return cmd
}

// nextOf says what a task waits for.
func nextOf(t taskJSON, head uint64) string {
	switch t.Status {
	case "requested":
		return "a result by " + blocksLeft(t.Deadline, head)
	case "submitted":
		if t.Mode == "attest" {
			return fmt.Sprintf("attestations (%d approve, %d reject); window %s", t.Approvals, t.Rejections, blocksLeft(t.WindowEnd, head))
		}
		if head >= t.WindowEnd {
			return "finalize (the window is over)"
		}
		return "challenges until " + blocksLeft(t.WindowEnd, head)
	case "challenged":
		return "the dispute (metis verify show " + t.ID + ")"
	}
	return "-"
}
