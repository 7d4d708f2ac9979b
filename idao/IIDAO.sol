// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title iDAO system module (0x0000000000000000000000000000000000000a02)
/// @notice Governance where people and AI agents propose, delegate and vote, after OpenZeppelin's
/// Governor with a timelock. dao 0 is the root iDAO: voting power is Holders Mining stake (LazAI
/// getPastVotes, delegable there) and it may call anything, itself included. dao N > 0 is the
/// community iDAO of DAT class N: voting power is the holder's shares of that class (DAT
/// getPastClassVotes, delegable per class) and it may only make the class calls the DAT module
/// accepts from a community (setClassPolicy, setUsageFee, setClassLineage, verifyClass).
/// Implemented natively in Go (chain/modules/idao).
interface IIDAO {
    enum ProposalState {
        Pending,
        Active,
        Canceled,
        Defeated,
        Succeeded,
        Queued,
        Expired,
        Executed
    }

    /// Governed parameters, in blocks and basis points; they change only by a proposal of the
    /// root iDAO calling setParams, within the bounds documented in chain/modules/idao.
    struct Params {
        uint64 votingDelay; // blocks from proposal to snapshot (voting starts after it)
        uint64 votingPeriod; // blocks voting stays open after the snapshot
        uint16 quorumBps; // of the past total voting power at the snapshot
        uint256 proposalThreshold; // root iDAO: votes a proposer needs at the previous block
        uint64 timelockDelay; // blocks between queue and the earliest execution
        uint64 gracePeriod; // blocks after that during which execution is possible
    }

    struct ProposalInfo {
        uint256 id;
        uint256 dao;
        address proposer;
        ProposalState state;
        uint64 snapshot; // voting power is read at the end of this block
        uint64 deadline; // last block in which votes count
        uint64 eta; // first block execution is possible (0 until queued)
        uint256 forVotes;
        uint256 againstVotes;
        uint256 abstainVotes;
        uint256 quorum;
        address[] targets;
        uint256[] values;
        bytes[] calldatas;
        string description;
    }

    struct AgentInfo {
        address agent;
        address owner;
        string name;
        string metadataURI;
        uint256 modelClassId; // the DAT class of the model it runs (0: none)
        bool active;
        uint64 registeredAt;
    }

    error NotGovernance(address caller); // setParams: only the root iDAO itself
    error BadParams();
    error UnknownProposal(uint256 proposalId);
    error UnknownDAO(uint256 dao);
    error BadProposal(string reason);
    error BelowThreshold(uint256 votes, uint256 threshold);
    error WrongState(uint256 proposalId, ProposalState state);
    error AlreadyVoted(uint256 proposalId, address voter);
    error BadSupport(uint8 support);
    error NoVotingPower(address voter);
    error NotProposer(address caller);
    error TimelockNotReady(uint64 eta, uint64 blockNumber);
    error CallFailed(uint256 index, bytes returnData);
    error WrongValue(uint256 sent, uint256 required);
    error AgentExists(address agent);
    error NotAgentOwner(address agent, address caller);
    error UnknownAgent(address agent);
    error StringTooLong(uint256 length, uint256 max);
    error ZeroAddress();
    /// getVotes and quorum of a block not yet past: LazAI's (root iDAO) or DAT's (a community)
    /// error, passed through as they raise it.
    error FutureBlock(uint64 blockNumber, uint64 current);

    event ProposalCreated(
        uint256 indexed proposalId,
        uint256 indexed dao,
        address indexed proposer,
        address[] targets,
        uint256[] values,
        bytes[] calldatas,
        uint64 snapshot,
        uint64 deadline,
        string description
    );
    event VoteCast(address indexed voter, uint256 indexed proposalId, uint8 support, uint256 weight, string reason);
    event ProposalQueued(uint256 indexed proposalId, uint64 eta);
    event ProposalExecuted(uint256 indexed proposalId);
    event ProposalCanceled(uint256 indexed proposalId);
    event ParamsChanged(
        uint64 votingDelay, uint64 votingPeriod, uint16 quorumBps, uint256 proposalThreshold, uint64 timelockDelay, uint64 gracePeriod
    );
    event AgentRegistered(address indexed agent, address indexed owner, string name, string metadataURI, uint256 modelClassId);
    event AgentDeregistered(address indexed agent, address indexed owner);

    /// Opens a proposal in dao (0: root; N: community of DAT class N). For a community, every
    /// target must be the DAT module and every value 0.
    function propose(uint256 dao, address[] calldata targets, uint256[] calldata values, bytes[] calldata calldatas, string calldata description)
        external
        returns (uint256 proposalId);
    /// support: 0 against, 1 for, 2 abstain.
    function castVote(uint256 proposalId, uint8 support) external returns (uint256 weight);
    function castVoteWithReason(uint256 proposalId, uint8 support, string calldata reason) external returns (uint256 weight);
    function queue(uint256 proposalId) external;
    /// Makes the calls with the iDAO as caller, all or nothing. msg.value plus the iDAO's own
    /// balance (the treasury) pay the values.
    function execute(uint256 proposalId) external payable;
    function cancel(uint256 proposalId) external;
    function setParams(Params calldata p) external;

    // Agents: an owner registers an agent account; delegate stake to it through LazAI.delegate
    // (or DAT.delegateClass) and it votes like anyone, its reasons on chain.
    function registerAgent(address agent, string calldata name, string calldata metadataURI, uint256 modelClassId) external;
    function deregisterAgent(address agent) external;

    function params() external view returns (Params memory);
    function proposalCount() external view returns (uint256);
    function state(uint256 proposalId) external view returns (ProposalState);
    function proposal(uint256 proposalId) external view returns (ProposalInfo memory);
    function hasVoted(uint256 proposalId, address account) external view returns (bool);
    function getVotes(uint256 dao, address account, uint64 blockNumber) external view returns (uint256);
    function quorum(uint256 dao, uint64 blockNumber) external view returns (uint256);
    function agent(address agent) external view returns (AgentInfo memory);
    function agents() external view returns (address[] memory);
}
