// Package service runs the two sides of verifiable compute against a node, each as a long-lived
// loop over WebSocket subscriptions:
//
//   - Prover serves compute tasks for the GGUF models in a directory: it runs the request with
//     the deterministic gguf engine, signs the receipt, submits it with a bond, reveals the
//     output tokens of an optimistic result right after, defends the result in a dispute
//     (bisect, then proveStep at one leaf; proveToken in a token dispute) and finalizes it when
//     due.
//   - Verifier is a registered verifier: it re-runs results, attests those of attest tasks it
//     was chosen for, challenges optimistic results whose trace differs from its own and plays
//     the bisection (always the leftmost child that differs), disputes the first revealed output
//     token that differs from its own when the trace is the same (challengeToken; an output
//     never revealed is left to finalize, which rejects it), and finalizes what is due.
//
// Both reconnect when the connection drops, catch up on the events they missed from the logs,
// log every decision, and return when their context ends. They decide from the module's state
// (task, dispute) read at each new block, so a lost event or a restart costs at most a block.
package service

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

// Config is what both services need.
type Config struct {
	// RPC is the node's WebSocket URL (ws://…); subscriptions need WebSocket.
	RPC string
	// Key signs receipts, and transactions unless Signer is set.
	Key *ecdsa.PrivateKey
	// Signer, when set, signs the service's transactions instead of Key (its From must be
	// Key's address): a caller's own signing point, such as one that reports each transaction.
	Signer *bind.TransactOpts
	// ModelDir holds the GGUF files; a task's model is the file whose SHA-256 is the model
	// class's integrity hash. Subdirectories are searched too.
	ModelDir string
	// Logger receives one line per decision (default: slog.Default()).
	Logger *slog.Logger
	// Lookback is how many blocks before the head a service reads past events from when it
	// starts (default 10,000); after a reconnect it reads from the last block it saw.
	Lookback uint64
	// Reconnect is the pause before redialling a lost connection (default 1s).
	Reconnect time.Duration
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Lookback == 0 {
		c.Lookback = 10_000
	}
	if c.Reconnect == 0 {
		c.Reconnect = time.Second
	}
}

// loop runs session until ctx ends, redialling after each failure.
func loop(ctx context.Context, cfg Config, name string, session func(ctx context.Context, eth *ethclient.Client) error) error {
	if cfg.Key == nil {
		return fmt.Errorf("%s: no key", name)
	}
	for {
		err := func() error {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			eth, err := ethclient.DialContext(dctx, cfg.RPC)
			cancel()
			if err != nil {
				return fmt.Errorf("dial %s: %w", cfg.RPC, err)
			}
			defer eth.Close()
			return session(ctx, eth)
		}()
		if ctx.Err() != nil {
			cfg.Logger.Info(name + " stopped")
			return nil
		}
		cfg.Logger.Warn(name+": connection lost, reconnecting", "err", err, "in", cfg.Reconnect)
		select {
		case <-ctx.Done():
			cfg.Logger.Info(name + " stopped")
			return nil
		case <-time.After(cfg.Reconnect):
		}
	}
}

// models finds GGUF files by their SHA-256, hashing each file once (again when its size or
// modification time changes) and re-scanning the directory when a digest is not known.
type models struct {
	dir string

	mu       sync.Mutex
	files    map[string]fileStamp
	byDigest map[common.Hash]string
}

type fileStamp struct {
	size   int64
	mtime  time.Time
	digest common.Hash
}

func newModels(dir string) *models {
	return &models{dir: dir, files: map[string]fileStamp{}, byDigest: map[common.Hash]string{}}
}

// path returns the file whose SHA-256 is digest, or "" if the directory holds none.
func (m *models) path(digest common.Hash) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.byDigest[digest]; ok {
		if st, err := os.Stat(p); err == nil && st.Size() == m.files[p].size && st.ModTime().Equal(m.files[p].mtime) {
			return p, nil
		}
	}
	if err := m.scan(); err != nil {
		return "", err
	}
	return m.byDigest[digest], nil
}

var ggufMagic = []byte("GGUF")

func (m *models) scan() error {
	if m.dir == "" {
		return nil
	}
	m.byDigest = map[common.Hash]string{}
	return filepath.WalkDir(m.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		st := m.files[p]
		if st.size != info.Size() || !st.mtime.Equal(info.ModTime()) {
			st = fileStamp{size: info.Size(), mtime: info.ModTime(), digest: hashGGUF(p)}
			m.files[p] = st
		}
		if st.digest != (common.Hash{}) {
			m.byDigest[st.digest] = p
		}
		return nil
	})
}

// hashGGUF is the SHA-256 of a file that starts with the GGUF magic, zero for any other.
func hashGGUF(p string) common.Hash {
	f, err := os.Open(p)
	if err != nil {
		return common.Hash{}
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, ggufMagic) {
		return common.Hash{}
	}
	h := sha256.New()
	h.Write(magic)
	if _, err := io.Copy(h, f); err != nil {
		return common.Hash{}
	}
	return common.BytesToHash(h.Sum(nil))
}

// Run is one execution of a task's request with the gguf engine, everything a prover submits
// and defends and a verifier compares.
type Run struct {
	Request inference.Request // as published (its Model is the requester's name, not a path)
	Receipt *inference.Receipt
	Trace   *gguf.Trace
	Tree    *replay.Tree // over the trace's leaves
}

// Steps is the number of leaves of the run's trace.
func (r *Run) Steps() uint64 { return uint64(len(r.Trace.Steps)) }

// execute runs req on the GGUF file at path. The engine is given the path; the receipt names the
// request as published, so its input digest is the task's.
func execute(ctx context.Context, engine *gguf.Engine, path string, req inference.Request, chainID uint64) (*Run, error) {
	local := req
	local.Model, local.Stream = path, nil
	var (
		resp *inference.Response
		tr   *gguf.Trace
		err  error
	)
	if len(req.Messages) > 0 {
		resp, tr, err = engine.ChatTrace(ctx, local)
	} else {
		resp, tr, err = engine.GenerateTrace(ctx, local)
	}
	if err != nil {
		return nil, err
	}
	rc, err := inference.NewReceipt(engine.Name(), req, resp, chainID, time.Now())
	if err != nil {
		return nil, err
	}
	return &Run{Request: req, Receipt: rc, Trace: tr, Tree: replay.NewTree(replay.Leaves(tr))}, nil
}

// session is what one connection of either service holds.
type session struct {
	cfg     Config
	log     *slog.Logger
	eth     *ethclient.Client
	vc      *verifier.Client
	dc      *dat.Client
	me      common.Address
	chainID uint64
	params  verifier.Params
	head    uint64
}

func newSession(ctx context.Context, cfg Config, eth *ethclient.Client) (*session, error) {
	id, err := eth.ChainID(ctx)
	if err != nil {
		return nil, err
	}
	signer := cfg.Signer
	if signer == nil {
		signer = bind.NewKeyedTransactor(cfg.Key, id)
	} else if signer.From != crypto.PubkeyToAddress(cfg.Key.PublicKey) {
		return nil, fmt.Errorf("the signer's account %s is not the key's %s", signer.From, crypto.PubkeyToAddress(cfg.Key.PublicKey))
	}
	vc := verifier.NewClient(eth, signer)
	dc := dat.NewClient(eth, nil)
	p, err := vc.Params(ctx)
	if err != nil {
		return nil, fmt.Errorf("verifier params: %w", err)
	}
	head, err := eth.BlockNumber(ctx)
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, log: cfg.Logger, eth: eth, vc: vc, dc: dc,
		me: crypto.PubkeyToAddress(cfg.Key.PublicKey), chainID: id.Uint64(), params: p, head: head}, nil
}

// since is the first block to read past events from: from the last block seen before a
// reconnect, else Lookback blocks before the head.
func since(last, head, lookback uint64) uint64 {
	if last > 0 {
		return last
	}
	if head > lookback {
		return head - lookback
	}
	return 0
}

// finalizeDue reports whether finalize would settle the task at the next block, and why.
func finalizeDue(t verifier.TaskInfo, p verifier.Params, d *verifier.DisputeInfo, head uint64) (bool, string) {
	next := head + 1
	switch verifier.Status(t.Status) {
	case verifier.StatusSubmitted:
		if verifier.Mode(t.Mode) == verifier.ModeAttest {
			switch {
			case t.Approvals >= p.AttestK:
				return true, fmt.Sprintf("%d of %d attestations approve", t.Approvals, p.AttestK)
			case t.Rejections > p.AttestN-p.AttestK:
				return true, fmt.Sprintf("%d attestations reject", t.Rejections)
			}
		}
		if next > t.WindowEnd {
			return true, fmt.Sprintf("the window ended at block %d", t.WindowEnd)
		}
	case verifier.StatusChallenged:
		if d != nil && !d.Resolved && next > d.MoveDeadline {
			who := "challenger"
			if d.ProverToMove {
				who = "prover"
			}
			return true, fmt.Sprintf("the %s missed its move deadline (block %d)", who, d.MoveDeadline)
		}
	}
	return false, ""
}

// finalize sends finalize, treating a race lost to someone else's finalize as done.
func (s *session) finalize(ctx context.Context, id *big.Int, why string) {
	r, err := s.vc.Finalize(ctx, id)
	switch name := verifier.ErrorName(err); {
	case err == nil:
		s.log.Info("finalized", "task", id, "why", why, "tx", r.TxHash, "block", r.BlockNumber)
	case name == "WrongStatus" || name == "TooEarly":
		s.log.Debug("finalize not needed", "task", id, "err", err)
	default:
		// A finalize that raced another one in the same block fails when mined.
		if t, terr := s.vc.Task(ctx, id); terr == nil && verifier.Status(t.Status) != verifier.StatusSubmitted && verifier.Status(t.Status) != verifier.StatusChallenged {
			s.log.Debug("finalize not needed: settled meanwhile", "task", id, "status", verifier.Status(t.Status))
			return
		}
		s.log.Warn("finalize failed", "task", id, "err", err)
	}
}

// dispute reads the task's current dispute (nil when it has none).
func (s *session) dispute(ctx context.Context, t verifier.TaskInfo) (*verifier.DisputeInfo, error) {
	if t.DisputeId == nil || t.DisputeId.Sign() == 0 {
		return nil, nil
	}
	d, err := s.vc.Dispute(ctx, t.DisputeId)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// subscribeHeads subscribes to new blocks.
func (s *session) subscribeHeads(ctx context.Context) (chan *types.Header, func() <-chan error, func(), error) {
	ch := make(chan *types.Header, 64)
	sub, err := s.eth.SubscribeNewHead(ctx, ch)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("subscribe to new heads: %w", err)
	}
	return ch, sub.Err, sub.Unsubscribe, nil
}

// errClosed is a subscription that ended without an error.
var errClosed = errors.New("subscription closed")

func subErr(err error) error {
	if err == nil {
		return errClosed
	}
	return err
}

func short(h [32]byte) string { return common.Hash(h).Hex()[:10] + "…" }
