// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title LazAI system module (0x0000000000000000000000000000000000000a04)
/// @notice Routes every fee of the chain by a governed split (Holders Mining, validators and
/// sequencer, iDAO treasury, burn) and runs Holders Mining: stake METIS, earn the holders' share
/// of fees, unstake after an unbonding delay. Stake is checkpointed per block for iDAO voting.
/// Implemented natively in Go (chain/modules/lazai); this file is its interface and ABI source.
interface ILazAI {
    /// Basis points of every routed fee; the four parts sum to 10,000.
    struct Split {
        uint16 holdersBps;
        uint16 validatorsBps;
        uint16 treasuryBps;
        uint16 burnBps;
    }

    /// Figures over the last `blocks` blocks (see stats).
    struct Stats {
        uint256 totalStaked;
        uint256 holderRewards; // fees routed to Holders Mining in the window
        uint256 routed; // all fees routed in the window
        uint64 fromBlock;
        uint64 toBlock;
        uint64 span; // wall-clock seconds between the window's first and last block
        uint256 aprBps; // holderRewards / totalStaked, annualised over span, in basis points
        uint256 totalRouted; // since genesis
        uint256 totalBurned; // since genesis
    }

    /// Where a routed fee came from.
    enum FeeSource {
        Gas, // base fee and tips of a block's transactions (routed by the chain at block end)
        Compute, // protocol cut of compute fees (Verifier)
        DataVerification, // DAT class verification fees
        Other
    }

    error NotGovernance(address caller); // setters accept the iDAO module only
    error NotSystem(address caller); // endBlock is called by the chain only
    error BadSplit(uint256 totalBps);
    error ZeroAmount();
    error ZeroAddress();
    error InsufficientStake(uint256 staked, uint256 requested);
    error NothingToWithdraw();
    error StillUnbonding(uint64 readyAt, uint64 blockNumber);
    error NothingToClaim();
    error FutureBlock(uint64 blockNumber, uint64 current);
    error BadWindow(uint64 blocks);
    error TooManyRecipients(uint256 count, uint256 max);
    /// setUnbondingDelay (or genesis) beyond the bound (see the Go package's MaxUnbondingDelay).
    error BadUnbondingDelay(uint64 blocks, uint64 max);
    /// stake would take the total staked past 2^192 − 1 (stakes are checkpointed in 192 bits).
    error StakeOverflow(uint256 totalStaked, uint256 amount);
    /// A routed fee the module's figures cannot hold (cumulative checkpoints past 2^192 − 1).
    error FeeOverflow(uint256 amount);

    event FeesRouted(
        uint64 indexed blockNumber,
        FeeSource indexed source,
        uint256 amount,
        uint256 toHolders,
        uint256 toValidators,
        uint256 toTreasury,
        uint256 burned
    );
    event SplitChanged(uint16 holdersBps, uint16 validatorsBps, uint16 treasuryBps, uint16 burnBps);
    event UnbondingDelayChanged(uint64 blocks);
    event ValidatorsRecipientChanged(address recipient);
    event Staked(address indexed account, uint256 amount, uint256 stake);
    event UnstakeRequested(address indexed account, uint256 amount, uint256 stake, uint64 readyAt);
    event Withdrawn(address indexed account, uint256 amount);
    event RewardClaimed(address indexed account, uint256 amount);
    event DelegateChanged(address indexed delegator, address indexed fromDelegate, address indexed toDelegate);
    event DelegateVotesChanged(address indexed delegate, uint256 previousVotes, uint256 newVotes);

    // Fee routing.
    /// Routes msg.value by the split now. Anyone may pay in (the Verifier and DAT modules do).
    function routeFees(FeeSource source) external payable;
    /// As routeFees, but the validators' part goes to these accounts in equal parts (the first
    /// takes the rounding remainder) instead of the validators recipient: the DAT module pays
    /// the data validators who attested a class this way.
    function routeFeesTo(FeeSource source, address[] calldata validators) external payable;
    /// Called by the chain (from the system address) after each block's transactions with the
    /// block's gas fees, already credited to this module's balance.
    function endBlock(uint256 gasFees) external;

    // Holders Mining.
    function stake() external payable;
    function requestUnstake(uint256 amount) external;
    function withdraw() external returns (uint256 amount);
    function claim() external returns (uint256 amount);

    // Voting power for the root iDAO (as OpenZeppelin's Votes): an account's stake counts for its
    // delegate, which is the account itself until it delegates.
    function delegate(address delegatee) external;

    // Governance: only the iDAO module (0x…0a02) may call these.
    function setSplit(Split calldata split) external;
    function setUnbondingDelay(uint64 blocks) external;
    function setValidatorsRecipient(address recipient) external;

    // Views.
    function split() external view returns (Split memory);
    function unbondingDelay() external view returns (uint64);
    function validatorsRecipient() external view returns (address);
    function stakeOf(address account) external view returns (uint256);
    function totalStaked() external view returns (uint256);
    function pendingRewards(address account) external view returns (uint256);
    function unbonding(address account) external view returns (uint256 amount, uint64 readyAt);
    function getPastStake(address account, uint64 blockNumber) external view returns (uint256);
    function getPastTotalStake(uint64 blockNumber) external view returns (uint256);
    function stats(uint64 blocks) external view returns (Stats memory);
    function delegates(address account) external view returns (address);
    function getVotes(address account) external view returns (uint256);
    function getPastVotes(address account, uint64 blockNumber) external view returns (uint256);
}
