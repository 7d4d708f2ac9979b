// Package state owns the chain's world state — accounts, storage and code — and implements
// go-ethereum's vm.StateDB (v1.17.10 semantics) over a MetisDB version. A StateDB reads one
// immutable MetisDB snapshot and keeps every write in memory (a per-transaction journal for
// Snapshot/RevertToSnapshot, plus the block's finalised changes) until Flush stages them into
// MetisDB's batch for the block builder to Commit.
//
// # Key layout
//
// Other packages (eth_getProof, genesis, the RPC's eth_getStorageAt) read these keys directly:
//
//	account  0x01 ‖ address(20)            → nonce uint64 BE (8) ‖ balance uint256 BE (32) ‖ codeHash (32)
//	storage  0x02 ‖ address(20) ‖ slot(32) → value (32 bytes, big-endian word); zero is never stored
//	code     0x03 ‖ codeHash(32)           → code bytes (content-addressed, never deleted)
//
// An absent account key means the account does not exist. An account without code stores
// types.EmptyCodeHash (keccak256 of nothing) as its code hash. A storage slot set to zero is a
// Delete. AccountKey, StorageKey and CodeKey build the keys; EncodeAccount and DecodeAccount the
// account value.
//
// # Lifecycle
//
//	st := state.New(snap)                 // snap: db.Snapshot(db.Version()), or any Reader
//	st.SetTxContext(txHash, i, uint32(i+1))
//	core.ApplyMessage(vm.NewEVM(ctx, st, cfg, vmcfg), msg, gp) // calls st.Prepare
//	st.Finalise(rules)                    // after each transaction
//	st.CreditFees(lazaiAddress); st.Finalise(rules)   // once per block
//	st.Flush(db); db.Commit()             // then open a new StateDB on the new version
//
// Finalise ends a transaction: self-destructed accounts and (EIP-158) touched empty accounts
// are removed, and the refund counter, transient storage (EIP-1153), access list and journal are
// reset, so a revert across Finalise is impossible. go-ethereum resets the access list and
// transient storage in Prepare only; this package does it in both places, which changes nothing
// for transactions (Prepare always runs first) and keeps system calls made between transactions
// from seeing the previous transaction's warm set. Flush writes exactly the keys whose value
// changed in the block, in sorted key order, and deletes every storage key of a destroyed
// account (found by iterating its storage prefix in the Reader).
//
// # Lazy fee accrual
//
// go-ethereum pays every transaction's priority fee to the coinbase with AddBalance(coinbase,
// fee, tracing.BalanceIncreaseRewardTransactionFee). On this chain fees go to the LazAI module,
// and a balance write to one shared account in every transaction would make every pair of
// transactions conflict under parallel (Block-STM) execution. So an AddBalance with that reason
// touches no account at all (the coinbase is neither read, created nor touched, and the call
// returns a zero previous balance); the amount is added to an accumulator, PendingFees, which the
// block builder credits once per block with CreditFees(addr). Flush refuses to run while fees are
// pending, so they cannot be dropped silently. Note that go-ethereum burns the base fee
// (gasUsed × baseFee) without any state call: crediting it too is the block builder's choice.
//
// # What is not implemented
//
// Verkle/UBT (Witness and AccessEvents return nil), the Amsterdam block-level access list
// (Finalise returns nil; EIP-8246 self-destruct rules are not applied) and the historical
// RIPEMD-160 touch exception of Ethereum mainnet, which a new chain cannot hit.
package state
