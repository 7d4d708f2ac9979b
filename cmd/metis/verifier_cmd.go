package main

import (
	"fmt"
	"log/slog"
	"math/big"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/service"
)

func newVerifierCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verifier",
		Short: "Register as a verifier and run the verifier service",
		Long: `Verifiers stake METIS with the Verifier module (slashable; 1 METIS minimum at genesis)
and are chosen, k of n per attest task, to re-run and attest results. Anyone may
challenge an optimistic result; 'metis verifier run' does both by itself: it re-runs
every result with its local models, attests the attest tasks it is chosen for,
challenges optimistic results whose trace differs from its own, plays the bisection,
and finalizes what is due. unregister starts an unbonding; withdraw pays the stake out
after it.

` + chainFlagsHelp,
		Example: `  metis verifier register --dev-account 5
  metis verifier run --models ./models --dev-account 5
  metis verifier unregister --dev-account 5
  metis verifier withdraw --dev-account 5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addChainFlags(cmd)
	var stakeFlag string
	register := &cobra.Command{
		Use:   "register [--stake AMT]",
		Short: "Register the signer as a verifier, staking --stake (default: the minimum)",
		Long:  "Register stakes --stake (default: the module's minimum verifier stake) and makes the\nsigner a verifier.\n\n" + chainFlagsHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var stake *big.Int
			if stakeFlag != "" {
				var err error
				if stake, err = f.parseAmount("--stake", stakeFlag); err != nil {
					return err
				}
			}
			return verifierTx(cmd, f, "registered as a verifier", func(v *verifier.Client) (*types.Receipt, error) {
				return v.RegisterVerifier(cmd.Context(), stake)
			})
		},
	}
	register.Flags().StringVar(&stakeFlag, "stake", "", "the stake (default: the module's minimum)")
	unregister := &cobra.Command{
		Use:   "unregister",
		Short: "Stop being a verifier; the stake unbonds",
		Long:  "Unregister removes the signer from the verifiers and starts the unbonding of its stake\n(metis verifier withdraw after it).\n\n" + chainFlagsHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return verifierTx(cmd, f, "unregistered; the stake is unbonding", func(v *verifier.Client) (*types.Receipt, error) {
				return v.UnregisterVerifier(cmd.Context())
			})
		},
	}
	withdraw := &cobra.Command{
		Use:   "withdraw",
		Short: "Withdraw an unbonded verifier stake",
		Long:  "Withdraw pays the signer's verifier stake out once its unbonding is over.\n\n" + chainFlagsHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return verifierTx(cmd, f, "withdrew its verifier stake", func(v *verifier.Client) (*types.Receipt, error) {
				return v.WithdrawVerifierStake(cmd.Context())
			})
		},
	}
	cmd.AddCommand(register, unregister, withdraw, newVerifierRunCmd(f))
	return cmd
}

// verifierTx sends one verifier transaction and reports it.
func verifierTx(cmd *cobra.Command, f *chainFlags, done string, send func(*verifier.Client) (*types.Receipt, error)) error {
	c, v, err := verifierConn(cmd.Context(), f, true)
	if err != nil {
		return err
	}
	defer c.close()
	r, err := send(v)
	if err != nil {
		return explain(c, err, verifierHint)
	}
	if f.json {
		return printJSON(cmd, newTxOut(c.from, r))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", c.from, done)
	printTx(cmd, c, r)
	return nil
}

// serviceConfig resolves the shared parts of the services' configuration: the WebSocket URL,
// the signing key and a logger on stderr.
func serviceConfig(cmd *cobra.Command, f *chainFlags, models, logLevel string) (service.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return service.Config{}, fmt.Errorf("--log.level: %w", err)
	}
	c, err := f.connect(cmd.Context(), true)
	if err != nil {
		return service.Config{}, err
	}
	c.close()
	if models == "" {
		return service.Config{}, fmt.Errorf("--models DIR is required: the directory of GGUF files to serve")
	}
	return service.Config{
		RPC:      c.url,
		Key:      c.key,
		ModelDir: models,
		Logger:   slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})),
	}, nil
}

func newVerifierRunCmd(f *chainFlags) *cobra.Command {
	var models, stakeFlag, bondFlag, logLevel string
	var noRegister bool
	cmd := &cobra.Command{
		Use:   "run --models DIR",
		Short: "Run the verifier service: re-run, attest, challenge, bisect and finalize by itself",
		Long: `Run watches the Verifier module over WebSocket (--rpc must be ws://) and, for every
submitted result whose model it holds in --models (the GGUF file whose sha256 is the
model class's integrity hash), re-runs the request with the deterministic gguf engine:

  attest tasks it was chosen for    it attests the output digest it got
  optimistic results                if its trace root differs, it challenges (--bond)
                                    and answers each bisection with the leftmost
                                    half whose hash differs from its own
  anything due                      it calls finalize

It registers the signer as a verifier first unless it is one (--stake, default the
minimum) or --no-register is given. It logs a line per decision on stderr, reconnects
when the node goes away, and stops on Ctrl-C.

` + chainFlagsHelp,
		Example: `  metis verifier run --models ./models --dev-account 5`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := serviceConfig(cmd, f, models, logLevel)
			if err != nil {
				return err
			}
			v := service.NewVerifier(cfg)
			v.Register = !noRegister
			if stakeFlag != "" {
				if v.Stake, err = f.parseAmount("--stake", stakeFlag); err != nil {
					return err
				}
			}
			if bondFlag != "" {
				if v.ChallengeBond, err = f.parseAmount("--bond", bondFlag); err != nil {
					return err
				}
			}
			return v.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&models, "models", "", "directory of GGUF files (searched recursively, matched by sha256)")
	fl.StringVar(&stakeFlag, "stake", "", "stake to register with (default: the module's minimum)")
	fl.BoolVar(&noRegister, "no-register", false, "do not register as a verifier (challenge only)")
	fl.StringVar(&bondFlag, "bond", "", "bond of each challenge (default: the module's minimum)")
	fl.StringVar(&logLevel, "log.level", "info", "log level: debug, info, warn or error")
	return cmd
}

func newProverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prover",
		Short: "Run the prover service: serve compute tasks for the models you hold",
		Long:  "Prover serves the Verifier module's compute tasks (metis prover run --help).\n\n" + chainFlagsHelp,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addChainFlags(cmd)
	var models, bondFlag, logLevel string
	var faultStep int
	run := &cobra.Command{
		Use:   "run --models DIR",
		Short: "Serve compute tasks: run, sign, submit, defend disputes, finalize",
		Long: `Run watches the Verifier module over WebSocket (--rpc must be ws://) for requested tasks
whose model class's integrity hash is the sha256 of a GGUF file in --models. For each
it runs the request with the deterministic gguf engine, signs the receipt with the
signer's key and submits it with --bond (default: the module's minimum). If the result
is challenged it defends it: it reveals the halves of the disputed trace node (bisect)
and, at one step, submits the one-step proof the node re-executes. It finalizes its
results when due. It logs a line per decision on stderr, reconnects when the node goes
away, and stops on Ctrl-C. The node needs the same GGUF file (metis node --model-dir)
to settle disputes.

` + chainFlagsHelp,
		Example: `  metis prover run --models ./models --dev-account 2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := serviceConfig(cmd, f, models, logLevel)
			if err != nil {
				return err
			}
			p := service.NewProver(cfg)
			if bondFlag != "" {
				if p.Bond, err = f.parseAmount("--bond", bondFlag); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("fault-step") {
				p.Fault = &service.Fault{Step: faultStep}
			}
			return p.Run(cmd.Context())
		},
	}
	fl := run.Flags()
	fl.StringVar(&models, "models", "", "directory of GGUF files (searched recursively, matched by sha256)")
	fl.StringVar(&bondFlag, "bond", "", "bond of each result (default: the module's minimum)")
	fl.StringVar(&logLevel, "log.level", "info", "log level: debug, info, warn or error")
	// For tests of the dispute game only: commit to a trace with this leaf's hash changed.
	fl.IntVar(&faultStep, "fault-step", 0, "TESTING ONLY: lie about this trace leaf (the prover will lose disputes)")
	_ = fl.MarkHidden("fault-step")
	cmd.AddCommand(run)
	return cmd
}
