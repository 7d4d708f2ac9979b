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
}
