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
// dir/chaindata is the chain store: blocks, receipts, transaction lookups and the log index, in
// pebble (github.com/cockroachdb/pebble/v2, the store go-ethereum uses for the same data). None
// of it needs a Merkle root, so it stays out of MetisDB. Its memory is bounded: pebble's block
// cache (Options.ChainCache, DefaultChainCache = 32 MiB, which also holds the tables' index and
// bloom filter blocks) and at most two 8 MiB memtables. Numbers are 8-byte and transaction
// indexes 4-byte big-endian, so numeric order is key order and one block's transactions (or
// receipts) are one key range:
//
//	'h' ‖ num               → header RLP
//	'n' ‖ num               → block hash (canonical; there are no forks)
//	'H' ‖ block hash        → num
//	'x' ‖ num ‖ index       → sender (20 bytes) ‖ transaction (binary encoding)
//	'r' ‖ num ‖ index       → receipt record (storedReceipt RLP)
//	't' ‖ tx hash           → num ‖ index
//	'l' ‖ num               → empty: block num has logs
//	'a' ‖ address ‖ num     → empty: address emitted a log in block num
//	'p' ‖ pos ‖ topic ‖ num → empty: a log of block num has topic at position pos (0..3)
//	0x00 "head"             → num of the head block
//	0x00 "pending"          → RLP of the block being committed (header without root, txs)
//	0x00 "config"           → the chain configuration (JSON), fixed at genesis
//
// A receipt record holds the consensus fields and what go-ethereum derives from the whole block
// on every read (cumulative gas, gas used, effective gas price, contract address, the block-wide
// index of its first log), computed once when the block is built; the sender is stored beside
// the transaction, never recovered from its signature on a read (the transactions handed out
// carry it in go-ethereum's sender cache, so types.Sender with the block's signer finds it).
// Reading one receipt or one transaction is therefore a lookup, the header, the canonical hash
// and that transaction's records: its cost does not depend on the size of its block. A body is
// the 'x' range of its block.
//
// GetLogs scans the 'a' and 'p' ranges of the queried addresses and topics (or the 'l' range
// without filters), one bounded range scan per distinct address or topic, intersects them into
// candidate blocks, then reads the candidates' receipt records and matches their logs against
// the address and topic sets. Its work is the number of addresses and topics plus the index
// entries and logs in the range, never their product.
//
// # Commit order and crash recovery
//
// MetisDB computes a root only by committing, so the state root, and with it the block hash, is
// not known before the state commit. A block is therefore committed in three steps, each durable
// (a pebble write with fsync of its log, or MetisDB's commit) before the next begins:
//
//  1. chain store: the "pending" record — the header without its root and the transactions;
//  2. state: the block's state writes, version n+1, giving the root (Chain.commitState, the one
//     place a block's state is committed);
//  3. chain store, in one atomic pebble batch: the finished block under every key above, the
//     head pointer, and the pending record deleted.
//
// Only after step 3 is the block published: the head moves, reads and receipts see it, the pool
// is reset to it, and subscribers are told. So a client never holds a receipt of a block that
// is not completely on disk. Open reconciles the two stores from what the chain store holds.
// Without a pending record the head must be at state version head+1 with the head's root. With
// one (killed between steps 1 and 3) it re-executes the block from the record on the state of
// the head and checks that gas used, receipts root, bloom and requests hash come out as
// recorded; then, with the state at version head+1 (killed between 1 and 2), it commits the
// state; with the state at head+2 (killed between 2 and 3) it checks that every state write the
// re-execution makes is exactly what that version holds. Either way it then runs step 3 with
// that root. Any other combination is reported as a corrupt store. Transactions still in the
// pool when the process died are lost (the pool is in memory); none of them had a receipt.
//
// A failed commit (disk full, I/O error) leaves the Chain refusing new blocks (ErrFailed) until
// it is reopened, which recovers as above.
//
// # Concurrency
//
// Reads (every method but Seal and Close) are safe from any goroutine: they read blocks at or
// below the published head from the chain store (whose keys, but the meta keys, are written
// once and never changed) and state snapshots, never the block or state version being written.
// Seal is serialised. Subscriptions use go-ethereum's event.Feed: Seal waits until every
// subscriber took the event, so subscribers must read promptly (and must not call Seal from the
// goroutine that receives).
package core
