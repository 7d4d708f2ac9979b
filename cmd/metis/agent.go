package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/agents"
	"github.com/metisgo/metis/agents/event"
	agentstream "github.com/metisgo/metis/agents/stream"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/internal/chaintx"
)

func newAgentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run autonomous agents described by spec files",
		Long: `Run autonomous agents described by YAML spec files (see 'metis agent run --help'
and the agents package documentation for the format).`,
	}
	cmd.AddCommand(newAgentRunCmd())
	return cmd
}

func newAgentRunCmd() *cobra.Command {
	var (
		rpcURL, keyHex, keystoreFile, passwordFile, dataDir string
		devAccount                                          int
		jsonOut, noPublish, register                        bool
		duration                                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run SPEC",
		Short: "Run the agent a spec file describes, against a node",
		Long: `Run the agent a spec file describes against a node, until interrupted (or for
--for DURATION). The agent's events (started, thought, tool_call, inference, tx_sent,
tx_mined, refused, error, stopped) are printed one a line and published to the node,
signed by the agent's key; the node relays them to agent_subscribe subscribers when the
agent is registered in the iDAO (--register registers it, as its own owner).

The key is the spec's (key: {dev_account: N} or a keystore), or --key, --dev-account,
or --keystore with --password-file. Every transaction the agent builds passes the spec's
policy at the signer before it is signed; a refused one is printed as 'refused' and not
sent. The policy's caps count METIS (value + gas limit x fee cap, at signing); DAT tokens,
approvals and delegations are not METIS and go only to the addresses an allow rule's 'to'
lists (see docs/agents.md).

What the agent signs is recorded in its data dir (--datadir, else the spec's data_dir, else
~/.metis/agents/NAME), so that a restarted agent continues its period_cap's period. One
agent process at a time may use a data dir.

Example spec:

  name: staker
  model: {engine: gguf, model: tiny.gguf}
  tools: [lazai_stake]
  triggers: [{chain: class_created}]
  policy: {spend_cap: 1 METIS, period_cap: 3 METIS, gas_cap: 500000}
  key: {dev_account: 3}

Example:

  metis agent run staker.yaml --rpc ws://127.0.0.1:8545 --datadir ./staker-data`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := agents.LoadSpec(args[0])
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			url := rpcURL
			if !cmd.Flags().Changed("rpc") {
				if env := os.Getenv("METIS_RPC"); env != "" {
					url = env
				}
			}
			dctx, cancel := context.WithTimeout(ctx, dialTimeout)
			rc, err := rpc.DialContext(dctx, url)
			cancel()
			if err != nil {
				return nodeError(url, err)
			}
			defer rc.Close()
			eth := ethclient.NewClient(rc)

			key, err := signingKey(keyHex, keystoreFile, passwordFile, devAccount, cmd.Flags().Changed("dev-account"))
			if err != nil {
				return err
			}
			if key == nil {
				if key, err = spec.LoadKey(); err != nil {
					return err
				}
			}
			dir, err := agentDataDir(dataDir, spec)
			if err != nil {
				return err
			}
			opts := []agents.Option{agents.WithKey(key), agents.WithDataDir(dir),
				agents.WithPublisher(&eventPrinter{w: cmd.OutOrStdout(), json: jsonOut})}
			if !noPublish {
				// Continue after the last event the node relayed for this agent.
				addr := crypto.PubkeyToAddress(key.PublicKey)
				if last, err := agentstream.LastSeq(ctx, rc, addr); err == nil && last > 0 {
					opts = append(opts, agents.WithLastSeq(last))
				}
				opts = append(opts, agents.WithPublisher(&nodePublisher{rc: rc, errOut: cmd.ErrOrStderr()}))
			}
			a, err := agents.New(ctx, spec, eth, opts...)
			if err != nil {
				return err
			}
			defer a.Close()
			if register {
				if err := registerAgent(ctx, eth, key, a); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "agent %s (%s) on %s, spending recorded in %s\n", spec.Name, a.Address().Hex(), url, dir)
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&rpcURL, "rpc", defaultRPC, "node JSON-RPC URL; ws:// for chain triggers (env METIS_RPC)")
	f.StringVar(&keyHex, "key", "", "hex private key of the agent (instead of the spec's key)")
	f.IntVar(&devAccount, "dev-account", 0, "run as dev account N (0-9) of the dev chain (instead of the spec's key)")
	f.StringVar(&keystoreFile, "keystore", "", "go-ethereum keystore file of the agent's key")
	f.StringVar(&passwordFile, "password-file", "", "file holding the keystore's password")
	f.StringVar(&dataDir, "datadir", "", "directory of the agent's spend ledger (default: the spec's data_dir, else ~/.metis/agents/NAME)")
	f.BoolVar(&jsonOut, "json", false, "print each event as a JSON line")
	f.BoolVar(&noPublish, "no-publish", false, "do not publish events to the node")
	f.BoolVar(&register, "register", false, "register the agent in the iDAO (as its own owner) if it is not")
	f.DurationVar(&duration, "for", 0, "stop after this long (0: until interrupted)")
	return cmd
}

// agentDataDir is --datadir, else the spec's data_dir, else ~/.metis/agents/NAME: always a
// directory that outlives the process, so that the policy's period survives restarts.
func agentDataDir(flag string, spec *agents.Spec) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if d := spec.DataPath(); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the agent's data (%v): give --datadir", err)
	}
	return filepath.Join(home, ".metis", "agents", spec.Name), nil
}

// registerAgent registers the agent as its own member, unless it is registered and active. It is
// the operator's act before the agent starts, signed with the key directly: the agent's policy
// need not allow idao.registerAgent, and its gas is not in the agent's spend ledger.
func registerAgent(ctx context.Context, eth *ethclient.Client, key *ecdsa.PrivateKey, a *agents.Agent) error {
	info, err := a.IDAO.Agent(ctx, a.Address())
	if err == nil && info.Active {
		return nil
	}
	signer, err := chaintx.KeySigner(ctx, eth, key)
	if err != nil {
		return err
	}
	if _, err := idao.NewClient(eth, signer).RegisterAgent(ctx, a.Address(), a.Name(), "", nil); err != nil {
		return fmt.Errorf("registering the agent: %w", err)
	}
	return nil
}

// eventPrinter prints events, one a line.
type eventPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

func (p *eventPrinter) Publish(_ context.Context, e *event.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	t := time.UnixMilli(e.Time).Format("15:04:05.000")
	_, err := fmt.Fprintf(p.w, "%s %s #%d %-9s %s\n", t, e.Name, e.Seq, e.Kind, e.Data)
	return err
}

// nodePublisher publishes to the node, saying once per kind of failure why events are not
// relayed.
type nodePublisher struct {
	rc     *rpc.Client
	errOut io.Writer
	mu     sync.Mutex
	warned map[string]bool
}

func (p *nodePublisher) Publish(ctx context.Context, e *event.Event) error {
	err := agentstream.Publish(ctx, p.rc, e)
	if err == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	why := err.Error()
	if errors.Is(err, event.ErrNotRegistered) {
		why = "the agent is not registered in the iDAO (run with --register)"
	}
	if !p.warned[why] {
		p.warned[why] = true
		fmt.Fprintf(p.errOut, "metis: events not published to the node: %s\n", why)
	}
	return err
}
