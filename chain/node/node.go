// Package node runs a Hyperion node: it owns the data directory, opens the chain (chain/core),
// serves Ethereum JSON-RPC over HTTP and WebSocket on one port (chain/rpc), seals blocks
// (chain/consensus), exposes Prometheus metrics, and shuts all of it down in order. It is the
// only package that wires the chain's parts together, including the default set of system
// modules (none yet: DAT and LazAI come next).
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/metrics"
	"github.com/ethereum/go-ethereum/metrics/prometheus"

	"github.com/metisgo/metis/chain/consensus"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	verifiermod "github.com/metisgo/metis/chain/modules/verifier"
	"github.com/metisgo/metis/chain/rpc"
)

// Config says where and how a node runs. The zero value (after defaults) is a dev node on
// 127.0.0.1:8545 with instant sealing and its chain in a temporary directory.
type Config struct {
	// DataDir holds the chain. Empty: a temporary directory, removed when the node closes.
	DataDir string
	// HTTPAddr is the one address serving JSON-RPC over HTTP and WebSocket (default
	// 127.0.0.1:8545; port 0 picks a free port, see Node.Addr).
	HTTPAddr string
	// BlockTime seals a block every interval, empty or not; 0 seals as soon as transactions
	// arrive.
	BlockTime time.Duration
	// MetricsAddr serves Prometheus metrics at /metrics; empty disables them.
	MetricsAddr string
	// Modules are the system modules to install (DefaultModulesFor the chain's id and Replayer
	// when nil).
	Modules []metisvm.Module
	// Replayer re-executes disputed inference steps for the Verifier module of the default set
	// (verifier/replay over a model directory); nil makes optimistic tasks unavailable.
	Replayer verifiermod.StepReplayer
	// Chain and RPC tune the parts; zero values take each package's defaults.
	Chain core.Options
	RPC   rpc.Options
	// Logger receives the node's log lines (default slog.Default()).
	Logger *slog.Logger
}

// DefaultHTTPAddr is where a dev node listens unless told otherwise, as anvil and geth do.
const DefaultHTTPAddr = "127.0.0.1:8545"

// Node is a running chain with its RPC endpoint and sealer.
type Node struct {
	cfg     Config
	log     *slog.Logger
	dir     string
	tempDir bool

	chain    *core.Chain
	rpc      *rpc.Server
	ln       net.Listener
	metricLn net.Listener
	metrics  *nodeMetrics
	agents   *AgentStream // the agent_ namespace's stream (agentapi.go)
	agentAPI *agentAPI

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error

	closeOnce sync.Once
	closeErr  error
}

// New opens the chain and binds the RPC (and metrics) listeners. Nothing runs until Start.
func New(cfg Config) (n *Node, err error) {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n = &Node{cfg: cfg, log: cfg.Logger, dir: cfg.DataDir, errc: make(chan error, 3)}
	if n.dir == "" {
		if n.dir, err = os.MkdirTemp("", "metis-node-"); err != nil {
			return nil, fmt.Errorf("node: temporary data directory: %w", err)
		}
		n.tempDir = true
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	copts := cfg.Chain
	switch {
	case cfg.Modules != nil:
		copts.Modules = cfg.Modules
	case copts.Modules == nil:
		chainID := uint64(metisvm.DevChainID)
		if g := copts.Genesis; g != nil && g.Config != nil && g.Config.ChainID != nil {
			chainID = g.Config.ChainID.Uint64()
		}
		copts.Modules = DefaultModulesFor(chainID, cfg.Replayer)
	}
	if copts.Logger == nil {
		copts.Logger = n.log
	}
	if n.chain, err = core.Open(n.dir, copts); err != nil {
		return nil, fmt.Errorf("node: open chain in %s: %w", n.dir, err)
	}
	reg := metrics.NewRegistry()
	n.metrics = newNodeMetrics(reg)
	ropts := cfg.RPC
	if ropts.Logger == nil {
		ropts.Logger = n.log
	}
	services := map[string]any{}
	for name, svc := range ropts.Services {
		services[name] = svc
	}
	ropts.Services = services
	if _, ok := ropts.Services["metis"]; !ok {
		ropts.Services["metis"] = &metisAPI{chain: n.chain}
	}
	n.registerAgentService(&ropts) // agent_ namespace (agentapi.go)
	if n.rpc, err = rpc.New(newBackend(n.chain), ropts); err != nil {
		return nil, fmt.Errorf("node: rpc: %w", err)
	}
	if n.agentAPI != nil {
		n.agentAPI.closeConn = n.rpc.CloseConn
	}
	n.metrics.rpc = n.rpc
	if n.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("node: listen on %s (is another node or anvil running? choose another with --http.addr): %w", cfg.HTTPAddr, err)
	}
	if cfg.MetricsAddr != "" {
		if n.metricLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("node: listen for metrics on %s: %w", cfg.MetricsAddr, err)
		}
	}
	return n, nil
}

// Chain returns the node's chain.
func (n *Node) Chain() *core.Chain { return n.chain }

// Addr returns the address RPC is served on (with the real port when HTTPAddr asked for 0).
func (n *Node) Addr() string { return n.ln.Addr().String() }

// HTTPURL and WSURL are the endpoints clients dial.
func (n *Node) HTTPURL() string { return "http://" + n.Addr() }
func (n *Node) WSURL() string   { return "ws://" + n.Addr() }

// MetricsAddr returns where metrics are served, or "".
func (n *Node) MetricsAddr() string {
	if n.metricLn == nil {
		return ""
	}
	return n.metricLn.Addr().String()
}

// DataDir returns the directory holding the chain.
func (n *Node) DataDir() string { return n.dir }

// Start serves RPC, metrics and the sealer in the background. Errors that stop any of them are
// reported by Wait.
func (n *Node) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.spawn(func() error {
		err := n.rpc.Serve(n.ln)
		if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	if n.metricLn != nil {
		srv := &http.Server{Handler: n.metricsHandler(), ReadHeaderTimeout: 5 * time.Second}
		n.spawn(func() error {
			if err := srv.Serve(n.metricLn); !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				return err
			}
			return nil
		})
		go func() { <-ctx.Done(); srv.Close() }()
	}
	n.spawn(func() error { return n.watchHeads(ctx) })
	sealer := consensus.NewDev(sealable{n.chain}, n.cfg.BlockTime, n.log)
	n.spawn(func() error { return sealer.Run(ctx) })
	mode := "instant"
	if n.cfg.BlockTime > 0 {
		mode = n.cfg.BlockTime.String()
	}
	head := n.chain.CurrentHeader()
	n.log.Info("metis node started", "rpc", n.HTTPURL(), "ws", n.WSURL(), "chainId", n.chain.ChainConfig().ChainID,
		"head", head.Number, "sealing", mode, "datadir", n.dir, "temporary", n.tempDir)
}

func (n *Node) spawn(f func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := f(); err != nil {
			select {
			case n.errc <- err:
			default:
			}
		}
	}()
}

// Wait blocks until ctx is done (a clean stop: nil) or a part of the node fails (its error).
// Either way the caller then calls Close.
func (n *Node) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-n.errc:
		return err
	}
}

// Close stops sealing, closes the RPC server (dropping WebSocket clients), then the chain, and
// removes a temporary data directory. Every committed block is on disk before Close returns.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		var errs []error
		if n.rpc != nil {
			errs = append(errs, n.rpc.Close())
		}
		if n.ln != nil {
			n.ln.Close()
		}
		if n.metricLn != nil {
			n.metricLn.Close()
		}
		n.wg.Wait()
		if n.chain != nil {
			errs = append(errs, n.chain.Close())
		}
		if n.tempDir {
			errs = append(errs, os.RemoveAll(n.dir))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// sealable narrows *core.Chain to what the sealer drives.
type sealable struct{ c *core.Chain }

func (s sealable) Seal(ctx context.Context) (*types.Block, error) { return s.c.Seal(ctx) }
func (s sealable) HasPending() bool {
	head := s.c.CurrentHeader()
	return len(s.c.Pool().Ordered(eip1559.CalcBaseFee(s.c.ChainConfig(), head))) > 0
}
func (s sealable) SubscribeNewTxs(ch chan<- []*types.Transaction) event.Subscription {
	return s.c.SubscribeNewTxs(ch)
}

// watchHeads feeds block metrics from the chain's head events.
func (n *Node) watchHeads(ctx context.Context) error {
	ch := make(chan core.ChainHeadEvent, 64)
	sub := n.chain.SubscribeChainHead(ch)
	defer sub.Unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-ch:
			n.metrics.block(ev.Block)
		case <-sub.Err():
			return nil
		}
	}
}

func (n *Node) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.metrics.refresh(n.chain)
		prometheus.Handler(n.metrics.reg).ServeHTTP(w, r)
	}))
	return mux
}
