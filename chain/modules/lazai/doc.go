// Package lazai is the LazAI system module at 0x…0a04: it routes every fee of the chain by a
// governed split and runs Holders Mining. Its interface is lazai/ILazAI.sol.
//
// # Fee routing
//
// Fees reach the module three ways, and each is split the moment it arrives:
//
//   - Gas fees. The EVM's COINBASE is this module, so tips accrue to it; the block builder also
//     credits it the base fees go-ethereum would burn (chain/core). After a block's last
//     transaction the chain makes an end-of-block system call, endBlock(gasFees), from
//     metisvm.SystemAddress; the module routes gasFees. As with go-ethereum's system calls,
//     that call has no receipt, so it emits no event; its figures are in [stats].
//   - The protocol cut of compute fees (the Verifier module) and data-verification fees (the DAT
//     module), paid in with routeFees(source), which anyone may call. These emit FeesRouted.
//
// A routed amount A is split by the basis points (h, v, t, b) of the current split, which sum to
// 10,000: validators get ⌊A·v/10⁴⌋, sent to the validators/sequencer recipient; the iDAO treasury
// gets ⌊A·t/10⁴⌋, sent to the iDAO module's account (0x…0a02); ⌊A·b/10⁴⌋ is burned (the module's
// balance shrinks, and so does the supply); Holders Mining gets the rest, so rounding never loses
// a wei. The split, the unbonding delay and the recipient change only by calls from the iDAO
// module's address; genesis writes [Config]'s defaults.
//
// # Holders Mining (the specification)
//
// Anyone stakes METIS with stake() (payable). Let S be the total staked and acc the accumulated
// reward per staked wei, scaled by P = 10²⁷. When the holders' part H of a routed fee arrives:
//
//   - if S = 0, H waits in "unallocated" and is added to the next distribution made while S > 0:
//     the end-of-block routing of the block in which the first stake arrives (every block's
//     routing distributes, even of zero fees). stake() itself does not distribute, so its gas
//     does not depend on whether fees are waiting;
//   - else, with carry r (a remainder in wei·P, initially 0): n = (H + unallocated)·P + r,
//     acc += ⌊n / S⌋, r = n mod S.
//
// An account with stake s that last settled at acc₀ is owed ⌊s·(acc − acc₀)/P⌋ more. Settling (on
// stake, requestUnstake and claim) moves that into its owed balance and sets acc₀ = acc. This is
// O(1) per distribution and per account, whatever the number of stakers (the Synthetix
// StakingRewards scheme). Rounding always goes against the claimant: the sum of all accounts'
// credits never exceeds the holders' parts received; what is lost is below 1 wei per account per
// settlement plus the carry r/P < S/P wei, which stays in the carry and is paid out later.
//
// requestUnstake(amount) stops amount from earning at once (it leaves S) and starts an unbonding
// of DelayBlocks blocks; a second request adds to the pending amount and restarts the delay. The
// delay is at most lazai.MaxUnbondingDelay (genesis and setUnbondingDelay revert
// BadUnbondingDelay beyond it), and the ready block is computed with checked arithmetic.
// withdraw() pays the pending amount once the block number reaches the ready block. claim() pays
// the owed rewards.
//
// Every change of an account's stake, and of S, is checkpointed at the block number of the
// change: getPastStake(account, n) and getPastTotalStake(n) return the values as of the end of
// block n, for n before the current block (as OpenZeppelin's getPastVotes); the iDAO takes voting
// power from them.
//
// # Overflow
//
// Amounts are uint256 and every sum that a caller can drive is checked: stake reverts
// StakeOverflow when the total staked would pass 2^192 − 1, what its checkpoints hold (each
// stake and each delegate's votes are parts of it, so they stay within it too); the fee figures
// (unallocated, acc, the cumulative checkpoints, the burned total) revert FeeOverflow. Stakes, unbonding amounts and rewards owed
// are held in the module's balance, so their sums fit. Splits by basis points and rewards
// (⌊s·Δacc/P⌋) are computed with 512-bit products and never overflow.
//
// # Figures
//
// The module keeps cumulative checkpoints of fees routed, of holders' rewards and of the block
// time, written only in blocks that route a fee (an idle chain writes nothing). stats(N) reports,
// over the last N blocks (at most [MaxStatsWindow]): total staked now, holders' rewards and fees
// routed in the window, the window's wall-clock span (from the last fee-paying block at or before
// its start to now, so a window opening on idle blocks counts their time too), and
// APR in basis points = rewards·10⁴·31,536,000 / (totalStaked·span), zero when nothing is staked
// or the span is zero; and, since genesis, all fees routed and burned. chain/node serves them as
// metis_holdersMining.
//
// # Gas
//
// Each method charges a fixed base (the table in [gasSchedule]) before it runs, then storage,
// logs and transfers at their EVM prices (SLOAD 2100 cold / 100 warm, SSTORE per EIP-2200/2929,
// LOG, CALL-with-value 9000 + access): deterministic for a given state and input.
package lazai
