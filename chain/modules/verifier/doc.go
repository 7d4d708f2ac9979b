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
// until the window ends, which is extended to at least moveTimeout blocks after the dispute: a
// slow dispute, perhaps opened by the prover's accomplice, must not run the window out under
// an honest challenger.
//
// # Output reveal and token disputes
//
// The trace root commits to every step of the run, including the token each output step
// sampled, but not to the receipt's output digest, its output token count, or why the run
// ended. So an optimistic result also needs its output revealed:
//
//   - revealOutput (the prover, once, while the window is open, also during a dispute): the
//     sampled tokens and the request. StepReplayer.CheckOutput (verifier/replay, over
//     gguf.Model.ResponseOf, the engine's own ending and text logic without the forward passes)
//     checks the following. The request hashes to the input digest, carries the receipt's
//     sampling and gives PromptTokens. There are OutputTokens tokens. The run ends exactly at
//     the last one: an end-of-generation token, a stop string, maxTokens (0: the engine's
//     default) or the full context, and none of these earlier. The response the engine builds
//     from them (detokenized, cut at the stop string, parsed as a tool call) has the receipt's
//     output digest. Otherwise the reveal reverts BadOutput. The module stores sha256 of the
//     tokens (u32 little-endian each) and publishes the tokens in OutputRevealed. It extends
//     the window to at least moveTimeout blocks after the reveal.
//   - finalize rejects an optimistic result whose output was never revealed (the fee back, the
//     bond to the requester minus slashCutBps).
//   - challengeToken (anyone but the prover, with a bond): claims that the trace's output step
//     for token k, at position PromptTokens−1+k, sampled another token than tokens[k].
//   - proveToken (the prover, within moveTimeout): the revealed tokens again (checked against
//     the stored hash), the output step's state record and its audit path to leaf
//     Layout.OutputIndex(PromptTokens−1+k) (StepReplayer.OutputToken). If the record's sampled
//     token is tokens[k], the prover wins. Any other token, or an invalid record or path,
//     loses, as does a missed deadline.
//
// A token dispute takes one move per side. It reuses the dispute storage, marked as a token
// dispute, with [lo, lo+1) the output step's leaf. Bisection makes the trace honest, token
// disputes make the revealed tokens the trace's, and the reveal check makes the output digest,
// the token count and the ending follow from those tokens.
//
// # What each mode proves
//
// Optimistic mode proves that the output follows bit for bit from the model, the request and the
// receipt's sampling parameters, unless nobody who re-ran it disputed it in time: the trace by
// bisection, the output text by the reveal and token disputes. It applies to inference/gguf only, whose runs
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
