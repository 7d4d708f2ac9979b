package service

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"

	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

// Fault makes a Prover lie, for tests of the dispute game only: the trace it commits to (and
// defends) has the hash of leaf Step changed, so its receipt's trace root is not the run's. An
// honest challenger's bisection ends at that leaf and the module's replay of it refutes the
// prover. Never set it outside tests.
type Fault struct {
	// Step is the leaf whose hash is changed; past the end of a trace, the last leaf.
	Step int
}

// apply returns a copy of the run whose trace has leaf f.Step's hash changed, its receipt's trace
// root set to the changed tree's root (the receipt must then be signed again).
func (f *Fault) apply(r *Run) *Run {
	tr := *r.Trace
	tr.Steps = append([]gguf.Step(nil), r.Trace.Steps...)
	i := min(max(f.Step, 0), len(tr.Steps)-1)
	tr.Steps[i].Hash[0] ^= 0xff
	tree := replay.NewTree(replay.Leaves(&tr))
	tr.Root = tree.Root()
	rc := *r.Receipt
	rc.TraceRoot = tr.Root
	rc.Signature, rc.Signer = nil, [20]byte{}
	return &Run{Request: r.Request, Receipt: &rc, Trace: &tr, Tree: tree}
}

// Prover serves compute tasks for the models in Config.ModelDir (see the package doc).
type Prover struct {
	cfg Config
	// Bond goes with each result (nil: the module's minimum prover bond).
	Bond *big.Int
	// Fault, for tests only, makes the prover lie about one step of every trace (see Fault).
	Fault *Fault

	engine *gguf.Engine
	models *models

	mu      sync.Mutex
	tasks   map[uint64]*proverTask // the tasks this prover submitted results for, until settled
	mine    map[uint64]bool        // every task this prover submitted a result for
	skipped map[uint64]bool        // tasks it decided not to serve
	moved   map[[2]uint64]bool     // (dispute, prover moves so far): the move is made
	last    uint64                 // the last block seen, where a reconnect catches up from
}

type proverTask struct {
	id       *big.Int
	run      *Run
	optimist bool // optimistic mode: the output is to be revealed
	revealed bool
}

// NewProver returns a prover; Run starts it.
func NewProver(cfg Config) *Prover {
	cfg.defaults()
	return &Prover{cfg: cfg, engine: gguf.New(), models: newModels(cfg.ModelDir),
		tasks: map[uint64]*proverTask{}, mine: map[uint64]bool{}, skipped: map[uint64]bool{}, moved: map[[2]uint64]bool{}}
}

// Run serves until ctx ends; it returns nil then, and an error only for a bad configuration.
func (p *Prover) Run(ctx context.Context) error {
	p.cfg.Logger.Info("prover starting", "rpc", p.cfg.RPC, "models", p.cfg.ModelDir, "fault", p.Fault != nil)
	return loop(ctx, p.cfg, "prover", p.session)
}

// subs merges the errors of several subscriptions.
type subs struct {
	list []event.Subscription
	errc chan error
}

func newSubs() *subs { return &subs{errc: make(chan error, 32)} }

func (ss *subs) add(sub event.Subscription, err error) error {
	if err != nil {
		return err
	}
	ss.list = append(ss.list, sub)
	go func() {
		select {
		case ss.errc <- subErr(<-sub.Err()):
		default:
		}
	}()
	return nil
}

func (ss *subs) close() {
	for _, s := range ss.list {
		s.Unsubscribe()
	}
}

func (p *Prover) session(ctx context.Context, eth *ethclient.Client) error {
	s, err := newSession(ctx, p.cfg, eth)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	heads, headErr, unsub, err := s.subscribeHeads(ctx)
	if err != nil {
		return err
	}
	defer unsub()
	ss := newSubs()
	defer ss.close()
	requested := make(chan *verifier.TaskRequested, 64)
	challenged := make(chan *verifier.Challenged, 64)
	chosen := make(chan *verifier.Chosen, 64)
	resolved := make(chan *verifier.DisputeResolved, 64)
	finalized := make(chan *verifier.TaskFinalized, 64)
	for _, err := range []error{
		ss.add(s.vc.WatchTaskRequested(ctx, requested)),
		ss.add(s.vc.WatchChallenged(ctx, challenged)),
		ss.add(s.vc.WatchChosen(ctx, chosen)),
		ss.add(s.vc.WatchDisputeResolved(ctx, resolved)),
		ss.add(s.vc.WatchTaskFinalized(ctx, finalized)),
	} {
		if err != nil {
			return err
		}
	}
	s.log.Info("prover connected", "account", s.me, "chain", s.chainID, "head", s.head)

	// Catch up: tasks requested while away (served if still open; this prover's own results
	// re-run, so that it can defend them after a restart).
	past, err := s.vc.FilterTaskRequested(ctx, since(p.last, s.head, p.cfg.Lookback), nil)
	if err != nil {
		return err
	}
	for _, ev := range past {
		p.serve(ctx, s, ev)
	}
	p.tick(ctx, s)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-headErr():
			return subErr(err)
		case err := <-ss.errc:
			return err
		case h := <-heads:
			s.head = h.Number.Uint64()
			p.last = s.head
			p.tick(ctx, s)
		case ev := <-requested:
			p.serve(ctx, s, ev)
		case ev := <-challenged:
			if p.tasks[ev.TaskId.Uint64()] != nil {
				s.log.Info("result challenged", "task", ev.TaskId, "dispute", ev.DisputeId, "challenger", ev.Challenger, "bond", ev.Bond)
				p.tick(ctx, s)
			}
		case ev := <-chosen:
			if p.ours(ctx, s, ev.DisputeId) {
				s.log.Info("challenger chose", "dispute", ev.DisputeId, "left", ev.Left, "range", fmt.Sprintf("[%d,%d)", ev.Lo, ev.Hi))
				p.tick(ctx, s)
			}
		case ev := <-resolved:
			if p.mine[ev.TaskId.Uint64()] {
				if ev.ProverWon {
					s.log.Info("dispute won", "task", ev.TaskId, "dispute", ev.DisputeId, "reason", ev.Reason)
				} else {
					s.log.Warn("dispute lost", "task", ev.TaskId, "dispute", ev.DisputeId, "reason", ev.Reason)
				}
			}
		case ev := <-finalized:
			if ev.Prover == s.me {
				s.log.Info("task paid", "task", ev.TaskId, "paid", ev.Paid, "protocolCut", ev.ProtocolCut)
			}
		}
	}
}

// ours reports whether a dispute is over one of this prover's tasks.
func (p *Prover) ours(ctx context.Context, s *session, disputeID *big.Int) bool {
	d, err := s.vc.Dispute(ctx, disputeID)
	return err == nil && p.mine[d.TaskId.Uint64()]
}

// serve runs and submits a requested task whose model is held here, or, for a task this
// prover already submitted (a restart), re-runs it to be able to defend it.
func (p *Prover) serve(ctx context.Context, s *session, ev *verifier.TaskRequested) {
	id := ev.TaskId.Uint64()
	if p.tasks[id] != nil || p.skipped[id] {
		return
	}
	skip := func(msg string, args ...any) {
		p.skipped[id] = true
		s.log.Info("task skipped: "+msg, append([]any{"task", ev.TaskId}, args...)...)
	}
	t, err := s.vc.Task(ctx, ev.TaskId)
	if err != nil {
		s.log.Warn("reading task", "task", ev.TaskId, "err", err)
		return
	}
	restore := false
	switch st := verifier.Status(t.Status); {
	case st == verifier.StatusRequested:
		if s.head+1 > t.Deadline {
			skip("its deadline passed", "deadline", t.Deadline)
			return
		}
	case t.Prover == s.me && (st == verifier.StatusSubmitted || st == verifier.StatusChallenged):
		restore = true
	default:
		p.skipped[id] = true
		return
	}
	req, err := ev.Request()
	if err != nil {
		skip("bad input", "err", err)
		return
	}
	class, err := s.dc.Class(ctx, ev.ModelClassId)
	if err != nil {
		s.log.Warn("reading the model class", "task", ev.TaskId, "class", ev.ModelClassId, "err", err)
		return
	}
	path, err := p.models.path(class.IntegrityHash)
	if err != nil {
		s.log.Warn("scanning the model directory", "err", err)
		return
	}
	if path == "" {
		skip("no local model with its class's integrity hash", "class", ev.ModelClassId, "sha256", short(class.IntegrityHash))
		return
	}
	s.log.Info("running task", "task", ev.TaskId, "mode", verifier.Mode(ev.Mode), "class", ev.ModelClassId, "model", path, "restart", restore)
	run, err := execute(ctx, p.engine, path, req, s.chainID)
	if err != nil {
		skip("the engine failed", "err", err)
		return
	}
	if p.Fault != nil {
		run = p.Fault.apply(run)
		s.log.Warn("FAULT INJECTION: committing to a tampered trace", "task", ev.TaskId, "step", min(max(p.Fault.Step, 0), len(run.Trace.Steps)-1))
	}
	if restore {
		if run.Receipt.TraceRoot != t.TraceRoot {
			skip("re-run after a restart gives another trace root than the one submitted", "submitted", short(t.TraceRoot), "now", short(run.Receipt.TraceRoot))
			return
		}
		p.tasks[id] = &proverTask{id: ev.TaskId, run: run, optimist: verifier.Mode(t.Mode) == verifier.ModeOptimistic,
			revealed: t.OutputTokensHash != [32]byte{}}
		p.mine[id] = true
		return
	}
	if err := run.Receipt.Sign(p.cfg.Key); err != nil {
		skip("signing the receipt", "err", err)
		return
	}
	r, err := s.vc.SubmitResult(ctx, ev.TaskId, run.Receipt, run.Steps(), p.Bond)
	if err != nil {
		skip("submitResult failed", "err", err)
		return
	}
	pt := &proverTask{id: ev.TaskId, run: run, optimist: verifier.Mode(t.Mode) == verifier.ModeOptimistic}
	p.tasks[id] = pt
	p.mine[id] = true
	s.log.Info("result submitted", "task", ev.TaskId, "output", short(run.Receipt.OutputDigest), "traceRoot", short(run.Receipt.TraceRoot),
		"steps", run.Steps(), "tokens", run.Receipt.OutputTokens, "tx", r.TxHash, "block", r.BlockNumber)
	p.reveal(ctx, s, pt)
}

// reveal reveals the output tokens of an optimistic result (the trace root does not commit to
// them: an unrevealed output is rejected at the window's end).
func (p *Prover) reveal(ctx context.Context, s *session, pt *proverTask) {
	if !pt.optimist || pt.revealed {
		return
	}
	tokens := replay.OutputTokens(pt.run.Trace)
	r, err := s.vc.RevealOutput(ctx, pt.id, tokens, pt.run.Request)
	switch name := verifier.ErrorName(err); {
	case err == nil:
		pt.revealed = true
		s.log.Info("output revealed", "task", pt.id, "tokens", len(tokens), "tx", r.TxHash, "gas", r.GasUsed)
	case name == "AlreadyRevealed":
		pt.revealed = true
	case name != "":
		pt.revealed = true // refused: not retried
		s.log.Error("output reveal refused", "task", pt.id, "err", err)
	default:
		s.log.Warn("output reveal failed, retrying at the next block", "task", pt.id, "err", err)
	}
}

// tick acts on the state of every task this prover submitted: defends disputes, finalizes
// what is due, forgets what is settled.
func (p *Prover) tick(ctx context.Context, s *session) {
	for id, pt := range p.tasks {
		t, err := s.vc.Task(ctx, pt.id)
		if err != nil {
			s.log.Warn("reading task", "task", pt.id, "err", err)
			continue
		}
		switch st := verifier.Status(t.Status); st {
		case verifier.StatusFinalized, verifier.StatusRejected, verifier.StatusExpired:
			s.log.Info("task settled", "task", pt.id, "status", st)
			delete(p.tasks, id)
			continue
		}
		if pt.optimist && !pt.revealed && t.OutputTokensHash == [32]byte{} && s.head+1 <= t.WindowEnd {
			p.reveal(ctx, s, pt)
		}
		d, err := s.dispute(ctx, t)
		if err != nil {
			s.log.Warn("reading dispute", "task", pt.id, "err", err)
			continue
		}
		if verifier.Status(t.Status) == verifier.StatusChallenged && d != nil && !d.Resolved && d.ProverToMove && s.head+1 <= d.MoveDeadline {
			p.move(ctx, s, pt, d)
			continue
		}
		if due, why := finalizeDue(t, s.params, d, s.head); due {
			s.finalize(ctx, pt.id, why)
		}
	}
}

// move makes the prover's move in dispute d: bisect the disputed node, or prove the one step.
func (p *Prover) move(ctx context.Context, s *session, pt *proverTask, d *verifier.DisputeInfo) {
	key := [2]uint64{d.Id.Uint64(), uint64(d.ProverMoves)}
	if p.moved[key] {
		return
	}
	tree := pt.run.Tree
	lo, hi := int(d.Lo), int(d.Hi)
	if d.OutputToken {
		if err := p.proveToken(ctx, s, pt, d); err != nil && verifier.ErrorName(err) == "" && !errors.Is(err, context.Canceled) {
			return // retried at the next block
		}
		p.moved[key] = true
		return
	}
	if mine, err := tree.NodeHash(lo, hi); err != nil || mine != d.Node {
		s.log.Error("the disputed node is not this prover's", "dispute", d.Id, "range", fmt.Sprintf("[%d,%d)", lo, hi), "err", err)
		p.moved[key] = true
		return
	}
	var err error
	if hi-lo >= 2 {
		mid, left, right, cerr := tree.Children(lo, hi)
		if cerr != nil {
			s.log.Error("bisect", "dispute", d.Id, "err", cerr)
			p.moved[key] = true
			return
		}
		_, err = s.vc.Bisect(ctx, d.Id, left, right)
		if err == nil {
			s.log.Info("bisected", "dispute", d.Id, "task", d.TaskId, "range", fmt.Sprintf("[%d,%d)", lo, hi), "split", mid,
				"left", short(left), "right", short(right))
		}
	} else {
		proof, perr := replay.NewProof(pt.run.Trace, tree, pt.run.Request, lo)
		var enc []byte
		if perr == nil {
			enc, perr = proof.MarshalBinary()
		}
		if perr != nil {
			s.log.Error("building the one-step proof", "dispute", d.Id, "step", lo, "err", perr)
			p.moved[key] = true
			return
		}
		rc, serr := s.vc.ProveStep(ctx, d.Id, enc)
		if err = serr; err == nil {
			s.log.Info("proved step", "dispute", d.Id, "task", d.TaskId, "step", lo, "proofBytes", len(enc), "tx", rc.TxHash, "gas", rc.GasUsed)
		}
	}
	if err != nil {
		s.log.Warn("move failed", "dispute", d.Id, "err", err)
		if verifier.ErrorName(err) == "" && !errors.Is(err, context.Canceled) {
			return // not refused by the module: retried at the next block
		}
	}
	p.moved[key] = true
}

// proveToken answers a token dispute with the state record of the disputed output step.
// A nil error or one the module raised is final; others (the connection) are retried.
func (p *Prover) proveToken(ctx context.Context, s *session, pt *proverTask, d *verifier.DisputeInfo) error {
	rec, path, err := replay.TokenProof(pt.run.Trace, pt.run.Tree, int(d.TokenIndex))
	if err != nil {
		s.log.Error("building the token proof", "dispute", d.Id, "token", d.TokenIndex, "err", err)
		return nil
	}
	r, err := s.vc.ProveToken(ctx, d.Id, replay.OutputTokens(pt.run.Trace), rec, path)
	if err != nil {
		s.log.Warn("proveToken failed", "dispute", d.Id, "err", err)
		return err
	}
	s.log.Info("proved token", "dispute", d.Id, "task", d.TaskId, "token", d.TokenIndex, "tx", r.TxHash, "gas", r.GasUsed)
	return nil
}
