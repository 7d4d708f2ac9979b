// Package verifier is the Verifier system module at 0x…0a03: compute tasks, signed receipts,
// verifier attestations and optimistic disputes decided by on-chain one-step replay. Its
// interface is verifier/IVerifier.sol.
//
// # Tasks
//
// requestCompute pays a fee for an inference on a model DAT class (its integrity hash is the
// GGUF file's sha256, which the receipt's model digest must equal) and publishes the request. A
// prover submits the receipt (inference.Receipt, EIP-712-signed by the prover: the module
// recomputes the typed-data hash and recovers the signer) with a bond, before the deadline.
//
//   - Attest: n verifiers are chosen at request time, deterministically from the registered ones
//     (a partial Fisher-Yates shuffle seeded by keccak256(task id, block, requester)). Each
//     re-runs the request and attests the output digest it got. k matching attestations
//     finalize; more than n−k others reject. Either way, the verifiers on the losing side lose
//     slashCutBps of their stake to LazAI. If neither happens by the end of the window, the fee
//     and the bond go back.
//   - Optimistic (engine "gguf" only): the receipt's trace root and leaf count (checked against
//     the model: StepReplayer.StepCount) stand unless someone challenges within challengeWindow
//     blocks.
//
// Finality (finalize, which anyone calls) pays out the fee:
//
//   - protocolCutBps of it goes to LazAI (routeFees(Compute));
//   - a royalty of the class's usage fee × (prompt + output tokens), capped by what remains,
//     goes to the model class's holders (DAT.settleRevenue);
//   - the rest goes to the prover, with its bond.
//
// A task without a result by its deadline refunds the requester.
//
// # Disputes (the bisection game)
//
// A challenger bonds and disputes the trace tree's root. The disputed node covers leaves
// [lo, hi); its hash is the prover's.
//
//   - bisect (the prover): reveals the two children, which must hash to the node
//     (SHA-256(0x01 | left | right), RFC 6962; the split is at lo + the largest power of two
//     below hi − lo).
//   - choose (the challenger): picks the child it disputes. An honest challenger picks the
//     leftmost one whose hash differs from its own, so it agrees with every leaf before the one
//     it ends at.
//   - proveStep (the prover): at one leaf i, submits a one-step proof. It carries the step's
//     inputs, each proven against the trace root by a Merkle path to an earlier leaf, and prompt
//     tokens are proven against the receipt's input digest. The module re-executes the step with
//     the model weights the node holds (StepReplayer, over inference/gguf) and compares
//     SHA-256(0x00 | step hash) with the prover's leaf. An invalid proof loses like a wrong step.
//
// Each move must come within moveTimeout blocks of the previous one; otherwise finalize
// settles the dispute against the side that did not move.
//
// The tree has depth at most ⌈log₂ n⌉. So the prover makes at most ⌈log₂ n⌉ bisections plus
// one proveStep, and the challenger makes one challenge plus at most ⌈log₂ n⌉ choices: at most
// ⌈log₂ n⌉ + 1 moves per side.
//
// The loser's bond goes to the winner, minus slashCutBps to LazAI. If the prover loses, its
// result is rejected and the fee refunded. If it wins, the task is open to further challenges
// until the window ends.
//
// # What each mode proves
//
// Optimistic mode proves that the output follows bit for bit from the model and the request,
// unless nobody who re-ran it disputed it in time. It applies to inference/gguf only, whose runs
// are bit-exact and traced. Attest mode proves only that k chosen verifiers got the same output
// digest. With Ollama (llama.cpp), runs are not guaranteed reproducible, so an honest prover can
// be out-voted by honest verifiers. The mode measures agreement, not correctness.
//
// # Verifier stake
//
// Verifiers register with at least minVerifierStake. The stake is held by this module, not by
// LazAI, because the slashing happens where the dispute is decided; LazAI receives the slashed
// cut. unregisterVerifier starts an unbonding of verifierUnbonding blocks, after which
// withdrawVerifierStake pays the stake out.
package verifier
