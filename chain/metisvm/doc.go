// Package metisvm runs messages (transactions, eth_call) with go-ethereum's
// core/vm at the Osaka fork and hosts the native system modules: Go code at
// fixed addresses, with a Solidity ABI, reached by ordinary transactions,
// eth_call and contract calls. It owns the chain config, the EVM wiring, the
// module host API ([Module], [Call], [Router]) and the per-message fee figures
// the block builder needs; it depends on go-ethereum's vm.StateDB interface
// only, never on a concrete state.
//
// # Fork
//
// [DevChainConfig] enables every fork through Osaka (plus the BPO1 and BPO2
// blob-parameter forks) at block 0 / time 0, mirroring Ethereum mainnet's live
// rules. Amsterdam and Bogota exist in go-ethereum v1.17.10 but are still in
// development (EIP-8037 two-dimensional gas, block access lists) and are not
// enabled. Consequences a caller sees: EIP-7825 caps a transaction's gas at
// 2^24 (16,777,216; [Host.Call] lifts the cap for eth_call), the EIP-7623 calldata
// floor applies, EIP-7702 set-code transactions are accepted, CLZ and the
// P256VERIFY precompile (0x100) exist. The Cancun/Prague system contracts
// (EIP-4788, EIP-2935, EIP-7002, EIP-7251) are the block builder's business,
// not this package's: [Host.ApplyMessage] never calls them.
//
// # Module dispatch
//
// Every module is registered in the EVM's precompile map (next to the standard
// precompiles), so top-level transactions, eth_call and CALLs from contracts
// all reach it, and the EVM itself performs the value transfer, snapshots and
// reverts. A precompile's Run gets neither caller nor value nor gas, so
// [Host.NewEVM] installs a tracer (OnEnterV2/OnExitV2, chained in front of any
// tracer the caller passes) that keeps a stack of call frames: the module sees
// the frame's caller, value, gas and static-ness. The module is executed during
// the precompile's RequiredGas step, with the frame's gas as its limit, and
// RequiredGas returns the gas the module actually charged ([Call.UseGas] and
// the EVM-priced [Call.Load], [Call.Store], [Call.Emit], ...); Run then hands
// back the result. Gas is therefore deterministic for a given state and input,
// exactly like EVM code, and an out-of-gas module call burns the frame's gas.
// A revert ([Revert], [RevertReason], any plain error) keeps the remaining gas
// and returns ABI-encoded revert data; [vm.ErrWriteProtection] (a write in a
// static context) and panics burn all gas. DELEGATECALL and CALLCODE to a
// module revert with Error("metisvm: DELEGATECALL to system module ... is
// not allowed").
//
// Installing a tracer makes go-ethereum run EVM bytecode through its table
// interpreter loop rather than the generated fast path; that is the price of
// contract→module calls seeing the right caller.
//
// Module addresses are warm in every transaction (like precompiles): the
// StateDB handed to the EVM is wrapped so that Prepare adds them to the access
// list. A module account holds its storage in its own slots ([Slot] derives
// them like Solidity mappings), so eth_getStorageAt and the state root cover
// it. [Host.InstallModules] gives each module account code 0xfe and nonce 1 at
// genesis, so it is never EIP-161-empty (and deleted with its storage) and
// Solidity's extcodesize check passes; module calls install it lazily too.
// eth_call ([Host.Call]) is not a static call: writes run and are then discarded,
// as in go-ethereum, so estimating a state-changing method works. Static
// context ([Call.ReadOnly]) comes from STATICCALL frames, [Host.StaticCall], and
// view/pure methods dispatched by a [Router].
//
// # Fees
//
// Fees are neither burned nor paid to a block producer: they accrue to the
// LazAI module. [NewBlockContext] sets the EVM's Coinbase to [LazAIAddress],
// so go-ethereum's state transition credits each transaction's tip
// (gasUsed × effective tip) with AddBalance(LazAIAddress, tip,
// tracing.BalanceIncreaseRewardTransactionFee). The chain StateDB must
// accumulate those credits instead of writing the shared account inside every
// transaction (that write would serialise parallel execution); the block
// builder credits the accumulated sum once per block. The base-fee part
// (gasUsed × baseFee) is debited from the sender and credited to no one by
// go-ethereum (the EIP-1559 burn); [Result.Fees] reports it so the block
// builder can credit it to LazAI as well ([BlockFees] sums a block). Blob
// transactions are not expected on this chain; their blob fee is not tracked.
package metisvm
