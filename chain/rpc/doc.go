// Package rpc serves the chain over Ethereum JSON-RPC, HTTP and WebSocket on one port, on
// go-ethereum's own rpc server: the eth_, net_, web3_ and txpool_ namespaces with
// go-ethereum's JSON shapes and error codes, so ethers, viem, cast, MetaMask and ethclient
// work unchanged. It reads the chain through the consumer-side Backend interface and owns the
// request limits, CORS, subscription fan-out (a slow WebSocket subscriber is dropped, never
// waited for) and request counters.
//
// Choices worth knowing: "pending", "safe" and "finalized" name the head (instant finality),
// except that eth_getTransactionCount "pending" counts pooled transactions; eth_getProof
// returns MetisDB proofs (see AccountResult); eth_estimateGas (at the head: in the pending
// block's context), eth_getLogs (at most Options.MaxLogBlockRange blocks and
// Options.LogQueryLimit addresses or topics per position) and eth_feeHistory check their
// arguments here and are computed by the backend (chain/core), so that there is one
// implementation of each; receipts likewise come from the backend with every field derived and
// are only marshalled here; eth_getLogs, eth_feeHistory and eth_getProof stop at
// Options.RequestTimeout over WebSocket as over HTTP; state and block overrides of eth_call are
// rejected.
package rpc
