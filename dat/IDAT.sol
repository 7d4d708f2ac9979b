// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title DAT system module (0x0000000000000000000000000000000000000a01)
/// @notice Data Anchoring Tokens after the ERC-8028 draft: classes anchor a dataset, model, agent
/// or compute resource (metadata, integrity hash, policy, lineage); tokens of a class carry a usage
/// quota (value), a share of the class's revenue (shareRatio) and an expiry. Revenue accumulates
/// per share in O(1) whatever the number of holders; a governed fraction of a derived class's
/// revenue flows to its parents' holders. Implemented natively in Go (chain/modules/dat).
interface IDAT {
    enum Kind {
        Dataset,
        Model,
        Agent,
        Compute
    }

    /// registered → verified → active → deprecated; revoked from any state but revoked.
    enum Status {
        None,
        Registered,
        Verified,
        Active,
        Deprecated,
        Revoked
    }

    struct ClassParams {
        Kind kind;
        string metadataURI;
        bytes32 integrityHash; // Merkle root of the content
        string policyURI;
        uint8 unitDecimals;
        uint256 usageFee; // wei per unit of value consumed by recordUsage
        uint256[] parents; // lineage: classes this one derives from
    }

    struct ClassInfo {
        uint256 id;
        Kind kind;
        Status status;
        address owner;
        string metadataURI;
        bytes32 integrityHash;
        string policyURI;
        uint8 unitDecimals;
        uint256 usageFee;
        uint256[] parents;
        uint256 totalShares; // shares of unexpired tokens
        uint256 totalRevenue; // all revenue this class received (its own and from children)
        uint256 accRevenuePerShare; // scaled by 1e27
        uint32 approvals; // validator attestations for verification
        uint32 rejections;
        uint64 createdAt; // block number
    }

    struct TokenInfo {
        uint256 id;
        uint256 classId;
        address owner;
        uint256 value; // remaining usage quota
        uint256 shareRatio; // revenue shares
        uint64 expireAt; // unix seconds; 0 = never
        bool expired;
        uint256 pendingRevenue;
    }

    struct Params {
        uint256 verificationFee; // paid with createClass, routed to validators through LazAI
        uint256 validatorMinStake; // Holders Mining stake a data validator needs
        uint32 approvalThreshold; // k of the k-of-n attestations
        uint16 lineageBps; // fraction of a derived class's revenue paid to its parents
    }

    error ClassNotFound(uint256 classId);
    error TokenNotFound(uint256 tokenId);
    error NotClassOwner(uint256 classId, address caller);
    error NotMinter(uint256 classId, address caller);
    error NotTokenOwner(uint256 tokenId, address caller);
    error NotGovernance(address caller);
    error NotValidator(address caller);
    error AlreadyValidator(address account);
    error AlreadyAttested(uint256 classId, address validator);
    error InsufficientValidatorStake(uint256 stake, uint256 required);
    error BadStatus(uint256 classId, Status status);
    error BadParent(uint256 parentId);
    error TooManyParents(uint256 count, uint256 max);
    error StringTooLong(uint256 length, uint256 max);
    error WrongFee(uint256 sent, uint256 required);
    error QuotaExceeded(uint256 tokenId, uint256 value, uint256 requested);
    error TokenExpired(uint256 tokenId, uint64 expireAt);
    error BadExpiry(uint64 expireAt);
    error ClassMismatch(uint256 fromClassId, uint256 toClassId);
    error ZeroAddress();
    error ZeroAmount();
    error ZeroShares();
    error NothingToClaim(uint256 tokenId);
    error BadParams();
    error NotCommunity(uint256 classId, address caller);
    error BadCommunityCall(bytes4 selector);
    error FutureBlock(uint64 blockNumber, uint64 current);
    /// transferValue would take the receiving token's value past 2^256 − 1.
    error ValueOverflow(uint256 tokenId, uint256 value, uint256 amount);
    /// mint would take the class's total shares past 2^192 − 1 (they are checkpointed in 192 bits).
    error SharesOverflow(uint256 classId, uint256 totalShares, uint256 shares);
    /// Revenue a class's figures cannot hold (total revenue past 2^256 − 1, revenue per share
    /// past its 192-bit checkpoints).
    error RevenueOverflow(uint256 classId, uint256 amount);
    /// attest by the class's owner, or an approval by one it named to act or vote for it in the
    /// class (an operator, an approved operator of its tokens, its class delegate).
    error SelfAttestation(uint256 classId, address attester);

    event ClassCreated(uint256 indexed classId, address indexed owner, Kind kind, bytes32 integrityHash, uint256[] parents);
    event ClassStatusChanged(uint256 indexed classId, Status from, Status to);
    event ClassOperatorSet(uint256 indexed classId, address indexed operator, bool allowed);
    event Attested(uint256 indexed classId, address indexed validator, bool approve);
    event ValidatorRegistered(address indexed validator);
    event ValidatorRemoved(address indexed validator);
    event ProofAdded(uint256 indexed classId, address indexed by, bytes32 proofHash, string uri);
    event Minted(uint256 indexed tokenId, uint256 indexed classId, address indexed to, uint256 value, uint256 shareRatio, uint64 expireAt);
    event TokenTransferred(uint256 indexed tokenId, address indexed from, address indexed to);
    event ValueTransferred(uint256 indexed fromTokenId, uint256 indexed toTokenId, uint256 amount);
    event ApprovalForClass(address indexed owner, uint256 indexed classId, address indexed operator, bool approved);
    event UsageRecorded(uint256 indexed tokenId, uint256 indexed classId, address indexed user, uint256 amount, uint256 fee);
    event RevenueSettled(uint256 indexed classId, address indexed payer, uint256 amount, uint256 toParents);
    event RevenueClaimed(uint256 indexed tokenId, address indexed to, uint256 amount);
    event TokenExpiredSettled(uint256 indexed tokenId, uint256 shares, uint256 redistributed);
    event ClassPolicyChanged(uint256 indexed classId, string policyURI);
    event UsageFeeChanged(uint256 indexed classId, uint256 usageFee);
    event ClassLineageChanged(uint256 indexed classId, uint16 lineageBps);
    event ClassDelegateChanged(uint256 indexed classId, address indexed delegator, address indexed toDelegate);
    event ClassVotesChanged(uint256 indexed classId, address indexed delegate, uint256 previousVotes, uint256 newVotes);
    event ParamsChanged(uint256 verificationFee, uint256 validatorMinStake, uint32 approvalThreshold, uint16 lineageBps);

    // Classes and their lifecycle.
    /// Registers a class owned by msg.sender; msg.value must equal params().verificationFee.
    function createClass(ClassParams calldata p) external payable returns (uint256 classId);
    function setClassOperator(uint256 classId, address operator, bool allowed) external;
    function activateClass(uint256 classId) external; // owner: verified → active
    function deprecateClass(uint256 classId) external; // owner: active → deprecated (no new mints)
    function revokeClass(uint256 classId) external; // iDAO
    function verifyClass(uint256 classId) external; // iDAO: registered → verified by vote
    function addProof(uint256 classId, bytes32 proofHash, string calldata uri) external; // owner or validator

    // Data validators (stake through LazAI's Holders Mining).
    function registerValidator() external;
    function removeValidator(address validator) external; // iDAO, or the validator itself
    function attest(uint256 classId, bool approve) external;

    // Tokens.
    function mint(uint256 classId, address to, uint256 value, uint256 shareRatio, uint64 expireAt) external returns (uint256 tokenId);
    function transferToken(uint256 tokenId, address to) external;
    function transferValue(uint256 fromTokenId, uint256 toTokenId, uint256 amount) external;
    function approveForClass(uint256 classId, address operator, bool approved) external;
    /// Consumes amount of the token's quota; msg.value must equal amount × usageFee and is the
    /// class's revenue.
    function recordUsage(uint256 tokenId, uint256 amount) external payable;
    /// Pays msg.value to the class's holders (and its parents' holders, lineageBps of it).
    function settleRevenue(uint256 classId) external payable;
    function claim(uint256 tokenId) external returns (uint256 amount);
    /// Stops an expired token's shares from earning; anyone may call it.
    function settleExpired(uint256 tokenId) external;

    // Governance.
    function setParams(Params calldata p) external; // iDAO

    // Community iDAOs. Each class is governed by its holders (voting power: shares, delegable
    // per class). The iDAO module runs a passed community proposal's call through
    // executeAsCommunity(classId, data); the class setters accept only that path, for that class.
    function executeAsCommunity(uint256 classId, bytes calldata data) external returns (bytes memory);
    function setClassPolicy(uint256 classId, string calldata policyURI) external;
    function setUsageFee(uint256 classId, uint256 usageFee) external;
    /// Overrides params().lineageBps for this class's payments to its parents.
    function setClassLineage(uint256 classId, uint16 lineageBps) external;
    function delegateClass(uint256 classId, address delegatee) external;

    // Views.
    function params() external view returns (Params memory);
    function classCount() external view returns (uint256);
    function tokenCount() external view returns (uint256);
    function classInfo(uint256 classId) external view returns (ClassInfo memory);
    function tokenInfo(uint256 tokenId) external view returns (TokenInfo memory);
    function pendingRevenue(uint256 tokenId) external view returns (uint256);
    function tokensOf(address owner) external view returns (uint256[] memory);
    function isValidator(address account) external view returns (bool);
    function isApprovedForClass(address owner, uint256 classId, address operator) external view returns (bool);
    function classDelegates(uint256 classId, address account) external view returns (address);
    function sharesOf(uint256 classId, address owner) external view returns (uint256);
    function getClassVotes(uint256 classId, address account) external view returns (uint256);
    function getPastClassVotes(uint256 classId, address account, uint64 blockNumber) external view returns (uint256);
    function getPastTotalShares(uint256 classId, uint64 blockNumber) external view returns (uint256);
}
