package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/metisgo/metis/agents/fleet"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/node"
)

func newUpCmd() *cobra.Command {
	var (
		cfg      fleet.UpConfig
		duration time.Duration
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a dev chain with a fleet of example agents, and watch them work",
		Long: `Run a dev chain (as 'metis node --dev', a block every second) and a fleet of
example agents on it, each with its own dev account, registered as iDAO agents (owned by
dev account 0), until Ctrl-C or --for DURATION:

  provider, validator  anchor a dataset as a DAT class, verify it, activate it, mint a token
  model, requester     anchor a tiny GGUF model; request an optimistic compute task on it,
  verifier             which the model agent serves with a proof and the verifier re-runs
  proposer, voter-a/b  stake, propose a LazAI fee-split change, vote for it with reasons,
                       queue and execute it

Every action is a real transaction. The agents' events (started, thought, tool_call,
tx_sent, tx_mined, ...) are printed one a line and published, signed, on the node's agent
stream: follow them with agent_subscribe over WebSocket, as examples/subscribe does.

The agents think with scripted brains: tiny GGUF models made at start, run by the embedded
engine, each saying the tool call its role needs. Nothing is downloaded. --ollama MODEL
has them think with a real Ollama model instead.`,
		Example: `  metis up
  metis up --for 60s --http.addr 127.0.0.1:8546
  metis up --ollama llama3.2 --datadir ./up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.BlockTime <= 0 {
				return fmt.Errorf("--block-time must be positive, got %s", cfg.BlockTime)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log.level: %w", err)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cfg.Out = cmd.OutOrStdout()
			cfg.Started = func(n *node.Node) { printUpBanner(cmd.OutOrStdout(), n) }
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			err := fleet.Up(ctx, cfg)
			fmt.Fprintln(cmd.OutOrStdout(), "metis up: stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.HTTPAddr, "http.addr", node.DefaultHTTPAddr, "HOST:PORT serving JSON-RPC over HTTP and WebSocket (port 0: any free port)")
	f.StringVar(&cfg.DataDir, "datadir", "", "directory for the chain, the model and the agents' files; empty: a temporary directory removed on exit")
	f.DurationVar(&cfg.BlockTime, "block-time", time.Second, "seal a block every interval")
	f.StringVar(&cfg.Ollama, "ollama", "", "an Ollama model for the agents' brains (e.g. llama3.2) instead of the scripted ones")
	f.StringVar(&cfg.OllamaHost, "ollama-host", "", "Ollama's address (default $OLLAMA_HOST or http://127.0.0.1:11434)")
	f.DurationVar(&duration, "for", 0, "stop after this long, e.g. 60s (0: until Ctrl-C)")
	f.StringVar(&logLevel, "log.level", "warn", "level of the node's and services' log lines on stderr: debug, info, warn or error")
	return cmd
}

func printUpBanner(w io.Writer, n *node.Node) {
	fmt.Fprintf(w, "\nmetis up: dev chain %s, a block every second\n\n", n.Chain().ChainConfig().ChainID)
	fmt.Fprintf(w, "  JSON-RPC  %s\n  WebSocket %s (agent_subscribe for the agents' events)\n\n", n.HTTPURL(), n.WSURL())
	accts := core.DevAccounts()
	fmt.Fprintf(w, "Agents (owner %s, dev account 0):\n", accts[0].Address.Hex())
	for _, m := range fleet.Members {
		fmt.Fprintf(w, "  %-10s %s  %s\n", m.Name, accts[m.DevAccount].Address.Hex(), m.Role)
	}
	fmt.Fprintln(w)
}
