package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/metisgo/metis/agents"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/verifier/replay"
)

// UpConfig is what Up runs: a dev node and the fleet on it.
type UpConfig struct {
	// HTTPAddr serves the node's JSON-RPC over HTTP and WebSocket (default node.DefaultHTTPAddr).
	HTTPAddr string
	// DataDir keeps the chain, the model and the agents' files; empty: a temporary directory
	// removed when Up returns.
	DataDir string
	// BlockTime seals a block every interval (default 1s), so that voting periods, timelocks
	// and challenge windows, counted in blocks, pass by themselves.
	BlockTime time.Duration
	// Ollama and OllamaHost: see Config.
	Ollama, OllamaHost string
	// Out receives the live log; Logger the node's and the services' log lines (default none).
	Out    io.Writer
	Logger *slog.Logger
	// Started, if set, is called once the node serves RPC, before the agents start.
	Started func(n *node.Node)
}

// ModelFile is the name of the tiny GGUF model Up writes in its model directory.
const ModelFile = "tiny.gguf"

// WriteTinyModel writes the small GGUF model (random weights of gguf.TinyParams, the byte
// vocabulary) the model agent serves as dir/ModelFile, unless it is there, and returns its path.
// The same seed gives the same file, so a restart with the same directory anchors the same model.
func WriteTinyModel(dir string) (string, error) {
	path := filepath.Join(dir, ModelFile)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), 7).WriteFile(path); err != nil {
		return "", err
	}
	return path, nil
}

// Up starts a dev node whose Verifier module replays from a model directory holding a tiny
// model made on the spot, runs the fleet on it until ctx ends, and closes the node.
func Up(ctx context.Context, cfg UpConfig) (err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BlockTime == 0 {
		cfg.BlockTime = time.Second
	}
	work := cfg.DataDir
	if work == "" {
		if work, err = os.MkdirTemp("", "metis-up-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	chainDir := filepath.Join(work, "chain")
	modelDir := filepath.Join(work, "models")
	model, err := WriteTinyModel(modelDir)
	if err != nil {
		return fmt.Errorf("up: writing the model: %w", err)
	}
	agentDir := filepath.Join(work, "agents")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		return err
	}
	n, err := node.New(node.Config{DataDir: chainDir, HTTPAddr: cfg.HTTPAddr, BlockTime: cfg.BlockTime,
		Replayer: replay.New(modelDir), Logger: cfg.Logger})
	if err != nil {
		return err
	}
	n.Start()
	defer func() {
		if cerr := n.Close(); err == nil {
			err = cerr
		}
	}()
	if cfg.Started != nil {
		cfg.Started(n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodeErr := make(chan error, 1)
	go func() { nodeErr <- n.Wait(ctx) }()
	fleetErr := make(chan error, 1)
	go func() {
		fleetErr <- Run(ctx, Config{RPC: n.WSURL(), ModelDir: modelDir, Model: model, WorkDir: agentDir,
			Ollama: cfg.Ollama, OllamaHost: cfg.OllamaHost, Out: cfg.Out, Logger: cfg.Logger,
			Publisher: agents.PublisherFunc(n.Agents().PublishLocal)})
	}()
	select {
	case err = <-fleetErr:
		cancel()
		<-nodeErr
	case err = <-nodeErr:
		cancel()
		<-fleetErr
	}
	if ctx.Err() != nil && err == context.Canceled {
		err = nil
	}
	return err
}
