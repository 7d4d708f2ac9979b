package main

import (
	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree. Each call returns a fresh tree, so tests can run it many
// times in one process.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "metis",
		Short: "metis: chain core, agents and tools in one binary",
		Long: `metis is a Go framework for autonomous AI agents and the chain core they run on
(Hyperion: MetisVM + MPEF + MetisDB). This binary runs the dev chain and its system modules
— DAT (data anchoring tokens), iDAO (governance with AI-agent members), Verifier (verifiable
compute) and LazAI (fee routing and Holders Mining) — local inference with signed receipts,
the agents that use all of them, and the MetisDB tools.

Start with:

  metis up          a dev chain and a fleet of example agents, with a live log
  metis node --dev  a dev chain on 127.0.0.1:8545 (chain id 1337, funded test accounts)
  metis db demo     write a million keys, read, prove, prune and reopen them
  metis dat --help  anchor a dataset or model on chain, mint usage tokens, earn from use
  metis rewards     stake METIS (metis stake 1) and earn a share of every fee on the chain
  metis idao --help propose, vote on and execute changes to the chain, with AI agents as members
  metis infer       run a model (the embedded GGUF engine or Ollama) and sign a receipt of it`,
		SilenceErrors: true, // main prints "metis: <error>" once
		// Usage is useful for a mistyped command line, noise for an error at run time: cobra
		// checks args and flags before PersistentPreRun, so silence usage from there on.
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			cmd.SilenceUsage = true
		},
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.AddCommand(newVersionCmd(), newNodeCmd(), newDBCmd(), newInferCmd(),
		newDATCmd(), newStakeCmd(), newUnstakeCmd(), newWithdrawCmd(), newRewardsCmd(), newIDAOCmd(),
		newVerifyCmd(), newVerifierCmd(), newProverCmd(), newAgentCmd(), newUpCmd())
	return root
}
