// Package agents is the agent runtime: an agent is a key, a brain (any langchaingo llms.Model,
// by default the embedded GGUF engine through inference/llm), tools over the DAT, LazAI, iDAO
// and Verifier clients, local inference and HTTP fetch, triggers (chain events over WebSocket,
// intervals), a bounded memory, and a policy enforced at the signing point, described by a YAML
// spec file (spec.go) and run by 'metis agent run'.
//
// Every step is an agent event (agents/event), signed by the agent's key and handed to the
// Publishers the agent was given: started, thought, tool_call, inference (with the signed
// receipt), tx_sent, tx_mined, refused, error, stopped.
//
// The policy (policy.go) is enforced by the signer the agent's module clients are built with (a
// bind.TransactOpts whose Signer checks before the key signs): each transaction any of them
// builds, whoever calls it and with whatever context, passes through it complete (recipient,
// selector, arguments, value, gas limit, fee cap) before it is signed, and a refused one is
// never signed: the agent emits refused with the reason instead. What it signs is recorded in
// the agent's data dir (ledger.go), so the period cap survives restarts. Tools also check their
// module and method before they start, so a forbidden call is refused before any RPC; the
// signer is the authority.
//
// Weak models are expected: a reply that tries to call a tool and fails (unknown tool, arguments
// that are not JSON or violate the tool's JSON Schema) is shown its error and retried, a bounded
// number of times, after which the spec's fallback action runs. Nothing a model says can crash
// the agent: a panic in a step is recovered and becomes an error event.
package agents
