// Package dat is the DAT system module at 0x…0a01: Data Anchoring Tokens after the ERC-8028
// draft. Its interface is dat/IDAT.sol; the Go types and client are in package dat.
//
// # Classes and their lifecycle
//
// A class anchors a dataset, model, agent or compute resource: metadataURI, integrityHash (the
// content's Merkle root), policyURI, unitDecimals, a usage fee per unit, and parent classes
// (lineage, at most 16, each existing and not revoked). createClass pays the data-verification
// fee (params.verificationFee), which the module holds until the class is decided.
//
//	Registered ──k approvals or iDAO verifyClass──► Verified ──owner activateClass──► Active
//	Active ──owner deprecateClass──► Deprecated        (any but Revoked) ──iDAO revokeClass──► Revoked
//	Registered ──k rejections──► Revoked
//
// Data validators register with registerValidator while their Holders Mining stake in LazAI is at
// least params.validatorMinStake (the module asks LazAI's stakeOf), and attest once per class.
// The class's owner may not attest it (SelfAttestation), nor may those the owner named to act or
// vote for it in the class approve it: its operators, the approved operators of its tokens of
// the class, and its class delegate. Their rejections stand, because the owner names them alone:
// refusing them would let an owner silence the validators it expects to reject its class.
// When a class is decided, its verification fee is paid to LazAI with
// routeFeesTo(DataVerification, attesters): LazAI's split applies, and its validators' part goes
// to the validators who attested the class, in equal parts (to LazAI's validators recipient when
// governance decided without attestations). Every transition emits ClassStatusChanged.
//
// # Tokens
//
// The class owner and its operators mint tokens to anyone while the class is Active. A token has
// a value (usage quota, in the class's units), a shareRatio (its shares of the class's revenue)
// and an optional expiry (unix seconds). recordUsage consumes quota — never below zero — and its
// payment (amount × usageFee, exactly) is class revenue. transferToken moves a token with what it
// has earned; transferValue moves quota between two tokens of one class. approveForClass lets an
// operator move and use all of the caller's tokens of a class. An expired token cannot be used or
// give quota, and stops earning at its expiry.
//
// # Overflow
//
// Token values and shares are numbers a minter chooses, so every sum of them is checked:
// transferValue reverts ValueOverflow rather than wrap the receiving token's value, and mint
// reverts SharesOverflow rather than take the class's total shares past 2^192 − 1, what its
// checkpoints hold (each holder's shares and each delegate's votes are parts of that total, so
// they stay within it too). Revenue figures (total revenue, unallocated revenue, acc) revert
// RevenueOverflow; recordUsage's fee
// (amount × usageFee) reverts WrongFee when it overflows. Lineage splits and earnings are
// computed with 512-bit products and never overflow.
//
// # Revenue (O(1) per settlement, whatever the number of holders)
//
// Revenue V paid to a class (settleRevenue, or a usage fee) is split: if the class has parents,
// ⌊V·params.lineageBps/10⁴⌋ goes to them in equal parts (the first parent takes the rounding
// remainder) and is distributed to each parent's holders; the rest goes to the class's own
// holders. Lineage is one level: a parent's part is not passed further up. Distribution is the
// Holders Mining scheme of chain/modules/lazai per class: with T the class's unexpired shares,
// acc += ⌊(R·P + carry)/T⌋ (P = 10²⁷), carry = the remainder; with T = 0 the revenue waits in
// the class's unallocated balance for the next distribution. A token with s shares earns
// ⌊s·(acc − acc₀)/P⌋ since its acc₀; claims never exceed revenue received.
//
// Expiry without iteration: each distribution checkpoints acc by block time. A token that
// expired at E earns up to acc as of the last distribution before E (a binary search over the
// checkpoints at claim time). Its shares stay in T until someone calls settleExpired (claim,
// transfer and the views do it implicitly for that token): then its shares leave T, and what was
// distributed to them after E is redistributed to the class's remaining holders. So
// settleRevenue is O(1) and an expired token never earns after its expiry; the price is that
// revenue distributed between an expiry and its settlement reaches the remaining holders at
// settlement time instead of at once.
//
// # Gas
//
// A fixed base per method ([gasSchedule]) plus storage, logs, transfers and the LazAI calls at
// their EVM prices: deterministic for a given state and input. settleRevenue touches a constant
// number of slots per class (plus one per parent), so its cost does not depend on the number of
// holders.
package dat
