package service

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/verifier"
	"github.com/metisgo/metis/verifier/replay"
)

// Verifier is a verifier's service (see the package doc).
type Verifier struct {
	cfg Config
	// Register, when set, registers the account as a verifier at start if it is not one, with
	// Stake (nil: the module's minimum).
	Register bool
	Stake    *big.Int
	// ChallengeBond goes with each challenge (nil: the module's minimum challenger bond).
	ChallengeBond *big.Int

	engine *gguf.Engine
	models *models

	mu         sync.Mutex
	requests   map[uint64]*verifier.TaskRequested // published inputs, by task
	tasks      map[uint64]*verifierTask           // tasks with a result, not yet settled
	bisections map[uint64]*verifier.Bisected      // the latest bisection of each dispute
	moved      map[[2]uint64]bool                 // (dispute, challenger moves so far): move made
	disputes   map[uint64]bool                    // the disputes this verifier opened
	dueSince   map[uint64]uint64                  // the block a task was first seen due
	last       uint64
}

type verifierTask struct {
	id         *big.Int
	run        *Run
	abstain    bool // no run possible (no model, no input): neither attest nor challenge
	attested   bool
	checked    bool // optimistic: compared with own run
	waiting    bool // optimistic, same trace: waiting for the output reveal (logged)
	challenged bool
}

// NewVerifier returns a verifier service; Run starts it.
func NewVerifier(cfg Config) *Verifier {
	cfg.defaults()
	return &Verifier{cfg: cfg, engine: gguf.New(), models: newModels(cfg.ModelDir),
		requests: map[uint64]*verifier.TaskRequested{}, tasks: map[uint64]*verifierTask{},
		bisections: map[uint64]*verifier.Bisected{}, moved: map[[2]uint64]bool{},
		disputes: map[uint64]bool{}, dueSince: map[uint64]uint64{}}
}

// Run verifies until ctx ends; it returns nil then, and an error only for a bad configuration.
func (v *Verifier) Run(ctx context.Context) error {
	v.cfg.Logger.Info("verifier starting", "rpc", v.cfg.RPC, "models", v.cfg.ModelDir)
	return loop(ctx, v.cfg, "verifier", v.session)
}

func (v *Verifier) session(ctx context.Context, eth *ethclient.Client) error {
	s, err := newSession(ctx, v.cfg, eth)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.register(ctx, s); err != nil {
		return err
	}
	heads, headErr, unsub, err := s.subscribeHeads(ctx)
	if err != nil {
		return err
	}
	defer unsub()
	ss := newSubs()
	defer ss.close()
	requested := make(chan *verifier.TaskRequested, 64)
	submitted := make(chan *verifier.ResultSubmitted, 64)
	bisected := make(chan *verifier.Bisected, 64)
	resolved := make(chan *verifier.DisputeResolved, 64)
	for _, err := range []error{
		ss.add(s.vc.WatchTaskRequested(ctx, requested)),
		ss.add(s.vc.WatchResultSubmitted(ctx, submitted)),
		ss.add(s.vc.WatchBisected(ctx, bisected)),
		ss.add(s.vc.WatchDisputeResolved(ctx, resolved)),
	} {
		if err != nil {
			return err
		}
	}
	s.log.Info("verifier connected", "account", s.me, "chain", s.chainID, "head", s.head)

	from := since(v.last, s.head, v.cfg.Lookback)
	reqs, err := s.vc.FilterTaskRequested(ctx, from, nil)
	if err != nil {
		return err
	}
	for _, ev := range reqs {
		v.requests[ev.TaskId.Uint64()] = ev
	}
	subs, err := s.vc.FilterResultSubmitted(ctx, from, nil)
	if err != nil {
		return err
	}
	for _, ev := range subs {
		v.track(ev.TaskId)
	}
	bis, err := s.vc.FilterBisected(ctx, from, nil)
	if err != nil {
		return err
	}
	for _, ev := range bis {
		v.bisections[ev.DisputeId.Uint64()] = ev
	}
	v.tick(ctx, s)
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
			v.last = s.head
			v.tick(ctx, s)
		case ev := <-requested:
			v.requests[ev.TaskId.Uint64()] = ev
		case ev := <-submitted:
			for drained := false; !drained; {
				select {
				case r := <-requested:
					v.requests[r.TaskId.Uint64()] = r
				default:
					drained = true
				}
			}
			s.log.Info("result submitted", "task", ev.TaskId, "prover", ev.Prover, "traceRoot", short(ev.TraceRoot), "steps", ev.Steps, "windowEnd", ev.WindowEnd)
			v.track(ev.TaskId)
			v.tick(ctx, s)
		case ev := <-bisected:
			v.bisections[ev.DisputeId.Uint64()] = ev
			v.tick(ctx, s)
		case ev := <-resolved:
			if v.disputes[ev.DisputeId.Uint64()] {
				if ev.ProverWon {
					s.log.Warn("dispute lost", "task", ev.TaskId, "dispute", ev.DisputeId, "reason", ev.Reason)
				} else {
					s.log.Info("dispute won", "task", ev.TaskId, "dispute", ev.DisputeId, "reason", ev.Reason)
				}
			}
		}
	}
}

// register makes the account a verifier if it is not one and Register is set.
func (v *Verifier) register(ctx context.Context, s *session) error {
	st, err := s.vc.VerifierStake(ctx, s.me)
	if err != nil {
		return err
	}
	switch {
	case st.Active:
		s.log.Info("registered verifier", "account", s.me, "stake", st.Stake)
	case !v.Register:
		s.log.Warn("not a registered verifier: attest tasks will not choose this account (metis verifier register)", "account", s.me)
	default:
		r, err := s.vc.RegisterVerifier(ctx, v.Stake)
		if err != nil {
			return fmt.Errorf("registering as a verifier: %w", err)
		}
		s.log.Info("registered as a verifier", "account", s.me, "tx", r.TxHash, "block", r.BlockNumber)
	}
	return nil
}

func (v *Verifier) track(id *big.Int) {
	if v.tasks[id.Uint64()] == nil {
		v.tasks[id.Uint64()] = &verifierTask{id: id}
	}
}

// tick acts on the state of every tracked task.
func (v *Verifier) tick(ctx context.Context, s *session) {
	for id, vt := range v.tasks {
		t, err := s.vc.Task(ctx, vt.id)
		if err != nil {
			s.log.Warn("reading task", "task", vt.id, "err", err)
			continue
		}
		switch st := verifier.Status(t.Status); st {
		case verifier.StatusFinalized, verifier.StatusRejected, verifier.StatusExpired:
			s.log.Info("task settled", "task", vt.id, "status", st)
			delete(v.tasks, id)
			delete(v.requests, id)
			delete(v.dueSince, id)
			continue
		case verifier.StatusSubmitted:
			if verifier.Mode(t.Mode) == verifier.ModeAttest {
				v.attest(ctx, s, vt, t)
			} else {
				v.check(ctx, s, vt, t)
			}
		}
		d, err := s.dispute(ctx, t)
		if err != nil {
			s.log.Warn("reading dispute", "task", vt.id, "err", err)
			continue
		}
		if verifier.Status(t.Status) == verifier.StatusChallenged && d != nil && !d.Resolved && !d.ProverToMove &&
			d.Challenger == s.me && s.head+1 <= d.MoveDeadline {
			v.choose(ctx, s, vt, d)
			continue
		}
		due, why := finalizeDue(t, s.params, d, s.head)
		if !due {
			delete(v.dueSince, id)
			continue
		}
		// The prover finalizes its own results, and the side that wins a timeout its dispute;
		// others step in only when nobody did for finalizeGrace blocks, so that they do not
		// all race to send the same transaction.
		first, seen := v.dueSince[id]
		if !seen {
			v.dueSince[id], first = s.head, s.head
		}
		if (d != nil && d.Challenger == s.me && d.ProverToMove) || s.head >= first+finalizeGrace {
			s.finalize(ctx, vt.id, why)
		}
	}
}

// finalizeGrace is how many blocks a verifier leaves a due task to its prover before it
// finalizes it itself.
const finalizeGrace = 3

// ensureRun re-runs the task's request on the local model, once.
func (v *Verifier) ensureRun(ctx context.Context, s *session, vt *verifierTask, t verifier.TaskInfo) *Run {
	if vt.run != nil || vt.abstain {
		return vt.run
	}
	abstain := func(msg string, args ...any) *Run {
		vt.abstain = true
		s.log.Info("abstaining: "+msg, append([]any{"task", vt.id}, args...)...)
		return nil
	}
	ev := v.requests[vt.id.Uint64()]
	if ev == nil {
		// The TaskRequested event may still be queued behind ResultSubmitted, or older than the
		// blocks read at start: look it up.
		past, err := s.vc.FilterTaskRequested(ctx, 0, nil, vt.id)
		if err != nil {
			s.log.Warn("looking up the task's request", "task", vt.id, "err", err)
			return nil
		}
		if len(past) == 0 {
			return abstain("no TaskRequested event for it")
		}
		ev = past[len(past)-1]
		v.requests[vt.id.Uint64()] = ev
	}
	req, err := ev.Request()
	if err != nil {
		return abstain("bad input", "err", err)
	}
	path, err := v.models.path(t.ModelDigest)
	if err != nil {
		s.log.Warn("scanning the model directory", "err", err)
		return nil
	}
	if path == "" {
		return abstain("no local model with the task's model digest", "sha256", short(t.ModelDigest))
	}
	run, err := execute(ctx, v.engine, path, req, s.chainID)
	if err != nil {
		return abstain("the engine failed", "err", err)
	}
	s.log.Info("re-ran task", "task", vt.id, "model", path, "output", short(run.Receipt.OutputDigest), "traceRoot", short(run.Receipt.TraceRoot), "steps", run.Steps())
	vt.run = run
	return run
}

// attest attests an attest task this verifier was chosen for, with the output digest it got.
func (v *Verifier) attest(ctx context.Context, s *session, vt *verifierTask, t verifier.TaskInfo) {
	if vt.attested || !slices.Contains(t.Verifiers, s.me) {
		return
	}
	run := v.ensureRun(ctx, s, vt, t)
	if run == nil {
		return
	}
	vt.attested = true
	digest := [32]byte(run.Receipt.OutputDigest)
	r, err := s.vc.Attest(ctx, vt.id, digest)
	switch {
	case err == nil:
		s.log.Info("attested", "task", vt.id, "approve", digest == t.OutputDigest, "output", short(digest), "tx", r.TxHash)
	case verifier.ErrorName(err) == "AlreadyAttested":
	case verifier.ErrorName(err) == "":
		vt.attested = false // retried at the next block
		s.log.Warn("attest failed", "task", vt.id, "err", err)
	default:
		s.log.Warn("attest refused", "task", vt.id, "err", err)
	}
}

// check compares an optimistic result with this verifier's own run and challenges it if the
// trace differs, while the window is open.
func (v *Verifier) check(ctx context.Context, s *session, vt *verifierTask, t verifier.TaskInfo) {
	if vt.checked || t.Prover == s.me {
		return
	}
	run := v.ensureRun(ctx, s, vt, t)
	if run == nil {
		return
	}
	if run.Receipt.TraceRoot == t.TraceRoot && run.Steps() == t.Steps {
		// The same trace. It does not commit to the output: the prover reveals the sampled
		// tokens, and a token that differs from this run's is disputed by itself.
		v.checkTokens(ctx, s, vt, t, run)
		return
	}
	vt.checked = true
	if s.head+1 > t.WindowEnd {
		s.log.Warn("result differs from own run, but the challenge window closed", "task", vt.id, "windowEnd", t.WindowEnd)
		return
	}
	id, r, err := s.vc.Challenge(ctx, vt.id, v.ChallengeBond)
	if err != nil {
		if verifier.ErrorName(err) == "" {
			vt.checked = false // retried at the next block
		}
		s.log.Warn("challenge failed", "task", vt.id, "err", err)
		return
	}
	vt.challenged = true
	v.disputes[id.Uint64()] = true
	s.log.Info("challenged", "task", vt.id, "dispute", id, "theirs", short(t.TraceRoot), "mine", short(run.Receipt.TraceRoot),
		"steps", fmt.Sprintf("%d/%d", t.Steps, run.Steps()), "tx", r.TxHash)
}

// checkTokens compares the revealed output tokens of a result whose trace is this verifier's
// with its own, and disputes the first one that differs. Until the prover reveals them it
// waits: finalize rejects an output not revealed by the window's end.
func (v *Verifier) checkTokens(ctx context.Context, s *session, vt *verifierTask, t verifier.TaskInfo, run *Run) {
	if t.OutputTokensHash == [32]byte{} {
		if !vt.waiting {
			vt.waiting = true
			s.log.Info("same trace as own run; waiting for the output reveal", "task", vt.id, "windowEnd", t.WindowEnd)
		}
		return
	}
	mine := replay.OutputTokens(run.Trace)
	if replay.TokensHash(mine) == t.OutputTokensHash {
		vt.checked = true
		s.log.Info("result agrees with own run", "task", vt.id, "traceRoot", short(t.TraceRoot), "tokens", len(mine))
		return
	}
	theirs, err := s.vc.RevealedOutput(ctx, vt.id)
	if err != nil || theirs == nil {
		s.log.Warn("reading the revealed output", "task", vt.id, "err", err)
		return // retried at the next block
	}
	k := firstDiff(mine, theirs)
	vt.checked = true
	if s.head+1 > t.WindowEnd {
		s.log.Warn("revealed output differs from own run, but the challenge window closed", "task", vt.id, "token", k)
		return
	}
	id, r, err := s.vc.ChallengeToken(ctx, vt.id, uint64(k), v.ChallengeBond)
	if err != nil {
		if verifier.ErrorName(err) == "" {
			vt.checked = false // retried at the next block
		}
		s.log.Warn("token challenge failed", "task", vt.id, "token", k, "err", err)
		return
	}
	vt.challenged = true
	v.disputes[id.Uint64()] = true
	s.log.Info("challenged token", "task", vt.id, "dispute", id, "token", k, "theirs", tokenAt(theirs, k), "mine", tokenAt(mine, k), "tx", r.TxHash)
}

// firstDiff is the first index where a and b differ (the shorter length if one is a prefix).
func firstDiff(a, b []uint32) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func tokenAt(ts []uint32, k int) any {
	if k < len(ts) {
		return ts[k]
	}
	return "none"
}

// choose picks, after the prover's bisection of dispute d, the leftmost child whose hash differs
// from this verifier's.
func (v *Verifier) choose(ctx context.Context, s *session, vt *verifierTask, d *verifier.DisputeInfo) {
	key := [2]uint64{d.Id.Uint64(), uint64(d.ChallengerMoves)}
	if v.moved[key] {
		return
	}
	b := v.bisections[d.Id.Uint64()]
	if b == nil || b.Lo != d.Lo || b.Hi != d.Hi {
		return // the Bisected event is on its way
	}
	if vt.run == nil {
		s.log.Error("challenger without its own run", "dispute", d.Id)
		return
	}
	mid := replay.Split(d.Lo, d.Hi)
	mine, err := vt.run.Tree.NodeHash(int(d.Lo), int(mid))
	// A left child beyond this verifier's own leaves differs by definition.
	left := err != nil || mine != b.Left
	r, err := s.vc.Choose(ctx, d.Id, left)
	if err != nil {
		s.log.Warn("choose failed", "dispute", d.Id, "err", err)
		if verifier.ErrorName(err) == "" && !errors.Is(err, context.Canceled) {
			return
		}
	} else {
		side, rng := "right", fmt.Sprintf("[%d,%d)", mid, d.Hi)
		if left {
			side, rng = "left", fmt.Sprintf("[%d,%d)", d.Lo, mid)
		}
		s.log.Info("chose", "dispute", d.Id, "task", vt.id, "side", side, "range", rng, "tx", r.TxHash)
	}
	v.moved[key] = true
}
