// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Verifier system module (0x0000000000000000000000000000000000000a03)
/// @notice Verifiable compute. A requester pays for an inference on a model DAT; a prover submits
/// the signed receipt with a bond. Mode Attest: k of n verifiers, chosen deterministically per
/// task among the registered ones, re-run it and attest the output digest. Mode Optimistic (the
/// deterministic gguf engine only): a challenge window; a challenger bonds and bisects the
/// receipt's trace (a Merkle tree over step hashes) with the prover, move by move, each move
/// before a deadline; at one step the prover proves that step's inputs against the trace root
/// and the module re-executes the step itself. The prover also reveals the output tokens, which
/// the module checks against the receipt's output digest and ending; anyone may dispute one of
/// them against the trace (challengeToken / proveToken). The loser's bond goes to the winner,
/// minus a governed cut to LazAI. Implemented natively in Go (chain/modules/verifier).
interface IVerifier {
    enum Mode {
        Attest,
        Optimistic
    }

    enum TaskStatus {
        None,
        Requested, // waiting for a result
        Submitted, // result in; attestations or the challenge window running
        Challenged, // a bisection game is running
        Finalized, // the fee paid the prover, the model DAT recorded usage
        Rejected, // the result lost (attest majority or a dispute); the fee went back
        Expired // no result before the deadline; the fee went back
    }

    /// The receipt fields the module checks (inference.Receipt, signed as EIP-712 typed data by
    /// the prover; the module recomputes the typed-data hash and recovers the signer).
    struct Receipt {
        string engine;
        string model;
        bytes32 modelDigest;
        bytes32 inputDigest;
        string temperature;
        uint64 topK;
        string topP;
        string seed;
        uint64 maxTokens;
        string[] stop;
        bytes32 outputDigest;
        uint64 promptTokens;
        uint64 outputTokens;
        bytes32 traceRoot;
        uint64 timestamp;
        uint64 chainId;
        bytes signature;
    }

    struct TaskInfo {
        uint256 id;
        address requester;
        uint256 modelClassId;
        bytes32 modelDigest; // the class's integrity hash: the GGUF file's sha256
        bytes32 inputDigest;
        Mode mode;
        uint256 fee;
        uint64 deadline; // block by which a result must be submitted
        TaskStatus status;
        address prover;
        bytes32 outputDigest;
        bytes32 traceRoot;
        uint64 steps; // leaves of the trace tree
        uint256 proverBond;
        uint64 windowEnd; // optimistic: last block a challenge is accepted
        address[] verifiers; // attest: the chosen n
        uint32 approvals;
        uint32 rejections;
        uint256 disputeId; // the running or last dispute (0: none)
        bytes32 outputTokensHash; // optimistic: sha256 of the revealed output tokens (u32 LE each); 0: not revealed
    }

    struct DisputeInfo {
        uint256 id;
        uint256 taskId;
        address challenger;
        uint256 bond;
        uint64 lo; // the disputed subtree covers leaves [lo, hi)
        uint64 hi;
        bytes32 node; // the prover's hash of that subtree
        bool proverToMove; // whose move it is
        uint64 moveDeadline; // the block by which that move must be made
        uint32 proverMoves;
        uint32 challengerMoves;
        bool resolved;
        bool proverWon;
        bool outputToken; // a token dispute (challengeToken) rather than a bisection
        uint64 tokenIndex; // a token dispute: the output token k disputed (leaf lo is its output step)
    }

    struct Params {
        uint256 minProverBond;
        uint256 minChallengerBond;
        uint64 challengeWindow; // blocks after submission
        uint64 moveTimeout; // blocks per move
        uint32 attestN;
        uint32 attestK;
        uint16 protocolCutBps; // of the fee, to LazAI
        uint16 slashCutBps; // of a forfeited bond, to LazAI
        uint256 minVerifierStake;
        uint64 verifierUnbonding; // blocks
    }

    error NotGovernance(address caller);
    error BadParams();
    error UnknownTask(uint256 taskId);
    error UnknownDispute(uint256 disputeId);
    error WrongStatus(uint256 taskId, TaskStatus status);
    error DeadlinePassed(uint64 deadline, uint64 blockNumber);
    error TooEarly(uint64 blockNumber, uint64 until);
    error WindowClosed(uint64 windowEnd, uint64 blockNumber);
    error BadBond(uint256 sent, uint256 required);
    error BadReceipt(string reason);
    error NotChosen(uint256 taskId, address verifier);
    error AlreadyAttested(uint256 taskId, address verifier);
    error NotYourMove(uint256 disputeId, address caller);
    error MoveTimedOut(uint256 disputeId, uint64 deadline);
    error BadMove(string reason);
    error NotVerifier(address account);
    error AlreadyVerifier(address account);
    error InsufficientStake(uint256 sent, uint256 required);
    error StillUnbonding(uint64 readyAt, uint64 blockNumber);
    error NotEnoughVerifiers(uint256 registered, uint256 needed);
    error ModelUnavailable(bytes32 modelDigest);
    error ZeroAmount();
    error NotProver(uint256 taskId, address caller);
    error AlreadyRevealed(uint256 taskId);
    error OutputNotRevealed(uint256 taskId);
    error BadOutput(string reason);
    /// requestCompute of a class that does not exist: DAT's error, passed through as DAT raises it.
    error ClassNotFound(uint256 classId);

    event TaskRequested(
        uint256 indexed taskId, address indexed requester, uint256 indexed modelClassId, Mode mode, uint256 fee, uint64 deadline, bytes32 inputDigest, string input
    );
    event VerifiersChosen(uint256 indexed taskId, address[] verifiers);
    event ResultSubmitted(uint256 indexed taskId, address indexed prover, bytes32 outputDigest, bytes32 traceRoot, uint64 steps, uint64 windowEnd);
    event Attested(uint256 indexed taskId, address indexed verifier, bool approve);
    event Challenged(uint256 indexed taskId, uint256 indexed disputeId, address indexed challenger, uint256 bond);
    event Bisected(uint256 indexed disputeId, uint64 lo, uint64 hi, bytes32 left, bytes32 right);
    event Chosen(uint256 indexed disputeId, uint64 lo, uint64 hi, bool left);
    event StepReplayed(uint256 indexed disputeId, uint64 step, bytes32 claimed, bytes32 replayed);
    event DisputeResolved(uint256 indexed disputeId, uint256 indexed taskId, bool proverWon, string reason);
    event TaskFinalized(uint256 indexed taskId, address indexed prover, uint256 paid, uint256 protocolCut);
    event TaskRejected(uint256 indexed taskId, string reason);
    event TaskExpired(uint256 indexed taskId, uint256 refund);
    event VerifierRegistered(address indexed verifier, uint256 stake);
    event VerifierUnbonding(address indexed verifier, uint64 readyAt);
    event VerifierWithdrawn(address indexed verifier, uint256 amount);
    event Slashed(address indexed account, uint256 amount, string reason);
    /// tokens are published so that anyone can compare them with their own run and find the
    /// first token that differs.
    event OutputRevealed(uint256 indexed taskId, bytes32 tokensHash, uint32[] tokens);
    event TokenProved(uint256 indexed disputeId, uint64 k, uint32 revealed, uint32 traced);

    // Verifiers (stake held by this module, slashable, with an unbonding delay).
    function registerVerifier() external payable;
    function unregisterVerifier() external;
    function withdrawVerifierStake() external;

    // Tasks.
    /// input is the inference request (inference.Request JSON), published in the event for
    /// provers and not stored; inputDigest = inference.InputDigest of it, which the receipt must
    /// match. msg.value is the fee.
    function requestCompute(uint256 modelClassId, bytes32 inputDigest, string calldata input, Mode mode, uint64 deadline)
        external
        payable
        returns (uint256 taskId);
    /// msg.value is the prover's bond. steps is the number of leaves of the trace tree.
    function submitResult(uint256 taskId, Receipt calldata receipt, uint64 steps) external payable;
    function attest(uint256 taskId, bytes32 outputDigest) external;
    /// Finalizes an attested or unchallenged result, rejects a refuted one, refunds an expired
    /// task, or settles a dispute whose mover missed its deadline. Anyone may call it.
    function finalize(uint256 taskId) external;

    // Optimistic disputes.
    /// msg.value is the challenger's bond.
    function challenge(uint256 taskId) external payable returns (uint256 disputeId);
    /// The prover reveals the two children of the disputed node.
    function bisect(uint256 disputeId, bytes32 left, bytes32 right) external;
    /// The challenger picks the child it disputes (the leftmost one it disagrees with).
    function choose(uint256 disputeId, bool left) external;
    /// At one leaf: the prover proves the step's inputs (verifier.OneStepProof encoding) and the
    /// module re-executes the step; a mismatch, or an invalid proof, loses.
    function proveStep(uint256 disputeId, bytes calldata proof) external;

    // Output reveal and token disputes (optimistic): the trace root does not commit to the output
    // text, so the prover reveals the sampled tokens and anyone may dispute one of them.
    /// The prover, once, while the task is Submitted or Challenged and the window is open:
    /// tokens are the run's sampled output tokens, request the inference request (JSON) the
    /// task's input digest commits to. The module checks that the request matches the receipt
    /// (input digest, sampling, prompt length), that there are outputTokens tokens, that the
    /// engine would have ended the run exactly at the last one, and that the response it would
    /// have built from them has the receipt's output digest; otherwise BadOutput. The window is
    /// extended to at least moveTimeout blocks after the reveal. finalize rejects an optimistic
    /// result whose output was not revealed.
    function revealOutput(uint256 taskId, uint32[] calldata tokens, string calldata request) external;
    /// msg.value is the challenger's bond. Claims that the trace's output step for output token
    /// k (position promptTokens - 1 + k) sampled another token than the revealed tokens[k].
    function challengeToken(uint256 taskId, uint64 k) external payable returns (uint256 disputeId);
    /// The prover, within moveTimeout: the state record of that output step and its RFC 6962
    /// audit path against the trace root, with the revealed tokens again (checked against the
    /// stored hash). The record's sampled token equal to tokens[k] wins; anything else loses.
    function proveToken(uint256 disputeId, uint32[] calldata tokens, bytes calldata record, bytes32[] calldata path) external;

    function setParams(Params calldata p) external; // iDAO

    function params() external view returns (Params memory);
    function taskCount() external view returns (uint256);
    function task(uint256 taskId) external view returns (TaskInfo memory);
    function dispute(uint256 disputeId) external view returns (DisputeInfo memory);
    function verifiers() external view returns (address[] memory);
    function verifierStake(address account) external view returns (uint256 stake, uint64 readyAt, bool active);
}
