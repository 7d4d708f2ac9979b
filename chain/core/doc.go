// Package core is the Hyperion chain core's chain: genesis, block building (EIP-1559 base fee,
// block gas limit, receipts, logs and blooms), fee accounting to the LazAI module, the chain
// store on disk (blocks, receipts, transaction lookups, a log index) and the read API the
// JSON-RPC layer serves (blocks, receipts, logs, state, proofs, eth_call, gas estimation, fee
// history, subscriptions). Transactions wait in the pool of the txpool subpackage; consensus
// decides when Seal is called.
//
// # Dev chain
//
// DevGenesis is chain id 1337 with every fork through Osaka (metisvm.DevChainConfig), a 30M gas
// limit, a 1 gwei base fee, a fixed timestamp (so the genesis hash is the same everywhere),
// go-ethereum's system contracts, and 10,000 METIS for each of the ten accounts of the test
// mnemonic "test … junk" at m/44'/60'/0'/0/i. DevAccounts derives them (BIP-39 and BIP-32,
// written here: see DeriveKey).
//
// # Blocks
//
// Seal builds a block on the head: base fee by eip1559.CalcBaseFee, timestamp
// max(now, parent+1), coinbase and EVM COINBASE the LazAI module (0x…0a04), PREVRANDAO
// keccak256(parent hash) (deterministic: a dev chain has no beacon), post-merge header fields as
// go-ethereum sets them (zero difficulty, empty withdrawals, zero blob gas, zero parent beacon
// root, the requests hash). It runs go-ethereum's pre-execution system calls (EIP-4788 beacon
// root, EIP-2935 parent hash), then the pool's transactions, best tip first, each with
// metisvm.Host.ApplyMessage on one chain/state StateDB and Finalise after it; a transaction that
// does not fit the remaining gas is left for a later block, one that cannot apply is removed
// from the pool, and either way the sender's later transactions wait. Then the EIP-7002/7251
// request queues run, and the fees are credited once: the tips the StateDB accrued for the
// COINBASE (state.StateDB.PendingFees) plus the base fees go-ethereum would burn, so LazAI
// receives exactly Σ gasUsed × effectiveGasPrice per block. Nothing is burned and no
// transaction writes the LazAI balance itself.
//
// # Storage
//
// dir/state is the authenticated state (MetisDB, key layout of chain/state). Version 0 is the
// empty store, version 1 the genesis state, and in general version n+1 is the state after block
// n; the header's state root is that version's MetisDB root.
//
// dir/chain is a second MetisDB used as a plain key-value store (its root means nothing).
// Numbers are 8-byte big-endian, so numeric order is key order:
//
//	'h' ‖ num               → header RLP
//	'b' ‖ num               → body RLP (transactions, empty withdrawals)
//	'r' ‖ num               → receipts RLP (go-ethereum's storage form; derived fields are
//	                          recomputed on read with Receipts.DeriveFields)
//	'n' ‖ num               → block hash (canonical; there are no forks)
//	'H' ‖ block hash        → num
//	't' ‖ tx hash           → num ‖ index (uint32)
//	'l' ‖ num               → block bloom, only for blocks that have logs
//	'a' ‖ address ‖ num     → empty: address emitted a log in block num
//	'p' ‖ pos ‖ topic ‖ num → empty: a log of block num has topic at position pos (0..3)
//	0x00 "head"             → num of the head block
//	0x00 "pending"          → RLP of the block being committed (header without root, txs, receipts)
//	0x00 "config"           → the chain configuration (JSON), fixed at genesis
//
// GetLogs scans the 'a' and 'p' ranges of the queried addresses and topics (or the 'l' range
// without filters), intersects them into candidate blocks, checks each candidate's bloom, and
// only then reads and filters its receipts.
//
// # Commit order and crash recovery
//
// MetisDB computes a root only by committing, so the state root is not known before the state
// commit. A block is therefore committed in three steps, each a durable MetisDB commit:
//
//  1. chain/: the "pending" record — the header without its root, the transactions and the
//     receipts;
//  2. state/: the block's state writes, version n+1, giving the root;
//  3. chain/: the finished block under every key above, the head pointer, and the pending
//     record deleted.
//
// Only after step 3 is the block published: the head moves, reads and receipts see it, the pool
// is reset to it, and subscribers are told. So a client never holds a receipt of a block that
// is not completely on disk. Open finishes an interrupted block: with a pending record and the
// state at version n (killed between 1 and 2) it re-executes the block from the record on the
// state of block n−1, checks that gas used, receipts root, bloom and requests hash come out as
// recorded, and commits the state; with the state at version n+1 (killed between 2 and 3) it
// re-executes the block and checks that every state write it makes is exactly what version n+1
// holds. Either way it then runs step 3 with that root. Transactions still in the pool when the
// process died are lost (the pool is in memory); none of them had a receipt. Open also checks
// that the state version and root match the head.
//
// A failed commit (disk full, I/O error) leaves the Chain refusing new blocks (ErrFailed) until
// it is reopened, which recovers as above.
//
// # Concurrency
//
// Reads (every method but Seal and Close) are safe from any goroutine: they read the published
// head's chain store snapshot and a state snapshot, never the versions being written. Seal is
// serialised. Subscriptions use go-ethereum's event.Feed: Seal waits until every subscriber took
// the event, so subscribers must read promptly (and must not call Seal from the goroutine that
// receives).
package core
