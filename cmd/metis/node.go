package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/verifier/replay"
)

func newNodeCmd() *cobra.Command {
	var (
		dev       bool
		cfg       node.Config
		logLevel  string
		quietKeys bool
		modelDir  string
	)
	cmd := &cobra.Command{
		Use:   "node --dev",
		Short: "Run a Hyperion dev chain with Ethereum JSON-RPC over HTTP and WebSocket",
		Long: `Run a Hyperion dev chain: the EVM on MetisDB, chain id 1337, with Ethereum JSON-RPC
over HTTP and WebSocket on one port. The ten accounts of the mnemonic
"test test test test test test test test test test test junk" hold 10,000 METIS each,
as on anvil and Hardhat, so wallets and scripts that know them work unchanged.

Blocks are sealed as soon as transactions arrive, or every --block-time. Without
--datadir the chain lives in a temporary directory removed on exit; with one, a restart
resumes at the same head and state. Ctrl-C (SIGINT) or SIGTERM shuts down cleanly; every
block whose receipt a client received is on disk.

Point your tools at it:
  cast block-number --rpc-url http://127.0.0.1:8545
  new ethers.JsonRpcProvider("http://127.0.0.1:8545")   or   ethers.WebSocketProvider("ws://127.0.0.1:8545")
  ethclient.Dial("ws://127.0.0.1:8545")`,
		Example: `  metis node --dev
  metis node --dev --datadir ./chain --block-time 2s
  metis node --dev --http.addr 127.0.0.1:0 --metrics.addr 127.0.0.1:6060`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !dev {
				return errors.New("only the dev chain exists today: run 'metis node --dev' (multi-validator networks come later)")
			}
			if cfg.BlockTime < 0 {
				return fmt.Errorf("--block-time must be positive, got %s", cfg.BlockTime)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log.level: %w", err)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if modelDir == "" && cfg.DataDir != "" {
				modelDir = filepath.Join(cfg.DataDir, "models")
			}
			if modelDir != "" {
				// The Verifier module re-executes disputed inference steps with the GGUF files
				// found here (by sha256, the model DAT's integrity hash).
				cfg.Replayer = replay.New(modelDir)
			}
			n, err := node.New(cfg)
			if err != nil {
				return err
			}
			n.Start()
			printBanner(cmd.OutOrStdout(), n, !quietKeys)
			err = n.Wait(cmd.Context())
			cfg.Logger.Info("shutting down")
			if cerr := n.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dev, "dev", false, "run the single-node dev chain (chain id 1337, funded test accounts)")
	f.StringVar(&cfg.DataDir, "datadir", "", "directory for the chain; empty keeps it in a temporary directory removed on exit")
	f.StringVar(&cfg.HTTPAddr, "http.addr", node.DefaultHTTPAddr, "HOST:PORT serving JSON-RPC over HTTP and WebSocket (port 0: any free port)")
	f.StringVar(&modelDir, "model-dir", "", "directory of GGUF models the Verifier uses to replay a disputed inference step (default DATADIR/models; none without --datadir)")
	f.DurationVar(&cfg.BlockTime, "block-time", 0, "seal a block every interval, e.g. 2s; 0 seals as soon as transactions arrive")
	f.StringVar(&cfg.MetricsAddr, "metrics.addr", "", "HOST:PORT serving Prometheus metrics at /metrics; empty disables them")
	f.StringVar(&logLevel, "log.level", "info", "log level: debug, info, warn or error")
	f.BoolVar(&quietKeys, "no-keys", false, "do not print the dev accounts' private keys")
	return cmd
}

func printBanner(w io.Writer, n *node.Node, keys bool) {
	fmt.Fprintf(w, "\nmetis dev chain, chain id %s\n\n", n.Chain().ChainConfig().ChainID)
	fmt.Fprintf(w, "  JSON-RPC  %s\n  WebSocket %s\n", n.HTTPURL(), n.WSURL())
	if m := n.MetricsAddr(); m != "" {
		fmt.Fprintf(w, "  metrics   http://%s/metrics\n", m)
	}
	fmt.Fprintf(w, "  data      %s\n\n", n.DataDir())
	fmt.Fprintf(w, "Accounts (10,000 METIS each; mnemonic %q):\n", core.DevMnemonic)
	for i, a := range core.DevAccounts() {
		if keys {
			fmt.Fprintf(w, "  (%d) %s  %s\n", i, a.Address, hexutil.Encode(crypto.FromECDSA(a.Key)))
		} else {
			fmt.Fprintf(w, "  (%d) %s\n", i, a.Address)
		}
	}
	fmt.Fprintf(w, "\nTry: cast balance %s --rpc-url %s\n\n", core.DevAccounts()[0].Address, n.HTTPURL())
}
