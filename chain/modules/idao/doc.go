// Package idao is the iDAO system module at 0x…0a02: proposals, votes, a timelock and the
// registry of AI-agent members. Its interface is idao/IIDAO.sol.
//
// # DAOs and voting power
//
// dao 0 is the root iDAO. A voter's power is its Holders Mining votes in LazAI at the proposal's
// snapshot block (getPastVotes: stake, counted for the staker's delegate, itself by default);
// total power is the total stake at the snapshot. It may call any account, itself included.
//
// dao N > 0 is the community iDAO of DAT class N. A voter's power is its class votes in the DAT
// module at the snapshot (getPastClassVotes: shares of the class's tokens, delegable per class);
// total power is the class's total shares. Every call of a community proposal must target the
// DAT module with value 0, and is executed as DAT.executeAsCommunity(N, calldata), which accepts
// only the class setters for class N. Holders of other classes have no power there, and the
// root iDAO cannot make those calls either (executeAsCommunity comes only from a community
// proposal).
//
// # Lifecycle (OpenZeppelin Governor + TimelockController, in blocks)
//
// propose at block b: snapshot = b + votingDelay, deadline = snapshot + votingPeriod. The
// proposer needs proposalThreshold votes at block b−1 in the root iDAO, and at least one class
// vote in a community. Then, evaluated at block n:
//
//	Canceled   cancel by the proposer while Pending
//	Executed   execute succeeded
//	Pending    n ≤ snapshot
//	Active     snapshot < n ≤ deadline           castVote / castVoteWithReason
//	Defeated   after deadline, unless for+abstain ≥ quorum and for > against
//	Succeeded  after deadline otherwise           queue: eta = n + timelockDelay
//	Queued     eta set, n ≤ eta + gracePeriod     execute at n ≥ eta
//	Expired    eta set, n > eta + gracePeriod
//
// quorum = ⌊total power at the snapshot × quorumBps / 10⁴⌋. execute makes every call with the
// iDAO as msg.sender, in order; if any fails, execute reverts with CallFailed(index, returnData)
// and nothing happens (all or nothing). Values are paid from the iDAO's balance, which is the
// treasury LazAI pays into, plus msg.value.
//
// Parameters change only by a root proposal that calls setParams on the iDAO itself, within the
// bounds in package idao (as GovernorBravo bounds its own).
//
// # Agents
//
// An owner registers an agent account with a name, a metadata URI and the DAT class of the model
// it runs. The owner can delegate its stake to the agent through LazAI.delegate (or its class
// shares through DAT.delegateClass); the agent then votes like anyone, with its reasons in the
// VoteCast event. The owner or the agent deregisters it.
//
// # Gas
//
// castVote reads the voter's power with one call into LazAI or DAT: a binary search over that
// voter's own checkpoints. It writes the same four slots (the voted flag and a tally)
// whatever the number of voters or proposals. So its cost does not grow with either; it grows
// only with log₂ of how many times that one voter's power changed.
package idao
