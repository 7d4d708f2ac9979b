package verifier

import (
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/verifier/replay"
)

// ErrNoModel is what a StepReplayer's errors wrap when the node does not hold the receipt's
// model (verifier/replay's sentinel): submitResult then reverts ModelUnavailable rather than
// BadReceipt.
var ErrNoModel = replay.ErrNoModel

// StepReplayer is how the module re-executes one step of a disputed run: the node holds the
// model weights (located by the model DAT's integrity hash, the GGUF file's sha256, in its model
// directory) and verifier/replay implements this over inference/gguf. A nil StepReplayer makes
// optimistic tasks unavailable (submitResult reverts ModelUnavailable).
type StepReplayer interface {
	// StepCount is the number of leaves of the trace of the run the receipt describes (its
	// model, prompt and output token counts); an error wrapping ErrNoModel if the model is not
	// held here, another error if the receipt cannot describe a run of it.
	StepCount(r *inference.Receipt) (uint64, error)
	// ReplayStep checks a one-step proof for leaf index of a trace of steps leaves whose root
	// is r.TraceRoot — the step's inputs, each proven against the root (or, for prompt tokens,
	// against r.InputDigest) — re-executes the step, and returns the recomputed step hash (the
	// leaf's preimage: the RFC 6962 leaf is SHA-256(0x00 | step hash)). An error means the proof
	// itself is invalid.
	ReplayStep(r *inference.Receipt, steps, index uint64, proof []byte) ([32]byte, error)
	// CheckOutput checks a prover's reveal of the run's output tokens: req hashes to
	// r.InputDigest (and has the receipt's sampling and prompt length), there are r.OutputTokens
	// tokens, the engine would have ended the run exactly at the last one, and the response it
	// would have built from them has r.OutputDigest. An error wrapping ErrNoModel if the model is
	// not held here; any other error refuses the reveal.
	CheckOutput(r *inference.Receipt, req inference.Request, tokens []uint32) error
	// OutputToken checks that record is the state record of the output step that sampled output
	// token k of the run, proven by path to be that leaf of the trace of steps leaves whose root
	// is r.TraceRoot, and returns the token that step sampled. An error means the proof is
	// invalid.
	OutputToken(r *inference.Receipt, steps, k uint64, record []byte, path [][32]byte) (uint32, error)
}
