// End-to-end test of a metis dev node with ethers v6, a client nobody here wrote.
//
//   node e2e.mjs <http-url> <ws-url>        (or METIS_HTTP_URL / METIS_WS_URL)
//
// Run by chain/node/ethers_test.go (TestEthers) against a fresh node. Prints one line per check
// and exits non-zero at the first failure.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  ContractFactory,
  Contract,
  HDNodeWallet,
  JsonRpcProvider,
  Transaction,
  Wallet,
  WebSocketProvider,
  decodeRlp,
  encodeRlp,
  concat,
  getBytes,
  hexlify,
  keccak256,
  parseEther,
  randomBytes,
  toBeHex,
  zeroPadValue,
  AbiCoder,
  dataSlice,
  id,
} from "ethers";

const MNEMONIC = "test test test test test test test test test test test junk";
const CHAIN_ID = 1337n;
const ACCOUNTS = 10;
const FUNDS = parseEther("10000");
const TIMEOUT_MS = 60_000;

const httpURL = process.argv[2] ?? process.env.METIS_HTTP_URL;
const wsURL = process.argv[3] ?? process.env.METIS_WS_URL;
if (!httpURL || !wsURL) {
  console.error("usage: node e2e.mjs <http-url> <ws-url>   (or set METIS_HTTP_URL and METIS_WS_URL)");
  process.exit(2);
}

const store = JSON.parse(readFileSync(new URL("../Store.json", import.meta.url), "utf8"));

let checks = 0;
function ok(what) {
  checks++;
  console.log(`ok ${checks} - ${what}`);
}

// withTimeout fails with a message naming what it waited for.
function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// rejects sends a raw transaction and asserts the node answers with a JSON-RPC error whose
// message contains want.
async function rejects(http, raw, want, what) {
  let err;
  try {
    const hash = await http.send("eth_sendRawTransaction", [raw]);
    assert.fail(`${what}: the node accepted it (hash ${hash}); want an error containing "${want}"`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  const rpc = err.error ?? err.info?.error;
  assert.ok(rpc, `${what}: not a JSON-RPC error: ${err.message ?? err}`);
  assert.equal(typeof rpc.code, "number", `${what}: error without a numeric code: ${JSON.stringify(rpc)}`);
  assert.ok(
    String(rpc.message).includes(want),
    `${what}: error message ${JSON.stringify(rpc.message)} does not contain ${JSON.stringify(want)}`,
  );
  ok(`${what} rejected: ${rpc.code} ${rpc.message}`);
}

async function main(http, ws) {
  // --- chain id, over both transports ---
  const net = await http.getNetwork();
  assert.equal(net.chainId, CHAIN_ID, "chain id over HTTP");
  assert.equal((await ws.getNetwork()).chainId, CHAIN_ID, "chain id over WebSocket");
  assert.equal(BigInt(await http.send("eth_chainId", [])), CHAIN_ID);
  ok(`chain id ${net.chainId} over HTTP and WebSocket`);

  // --- the funded mnemonic accounts ---
  const wallets = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    wallets.push(HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`));
  }
  assert.equal(wallets[0].address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "account 0 of the test mnemonic");
  const accounts = await http.send("eth_accounts", []);
  assert.deepEqual(
    accounts.map((a) => a.toLowerCase()),
    wallets.map((w) => w.address.toLowerCase()),
    "eth_accounts lists the mnemonic's accounts in order",
  );
  for (const w of wallets) {
    assert.equal(await http.getBalance(w.address), FUNDS, `balance of ${w.address}`);
  }
  ok(`eth_accounts = the ${ACCOUNTS} mnemonic accounts, each funded with 10000 ETH`);

  const signer = wallets[0].connect(http);
  const to = wallets[1].address;

  // --- subscriptions over WebSocket: heads now, logs after the deploy ---
  const heads = [];
  let headWaiter = null;
  await ws.on("block", (n) => {
    heads.push(n);
    if (headWaiter && n >= headWaiter.n) headWaiter.resolve(n);
  });
  const headAtLeast = (n) =>
    heads.some((h) => h >= n)
      ? Promise.resolve()
      : withTimeout(new Promise((resolve) => (headWaiter = { n, resolve })), 15_000, `a "block" event for block ${n}`);

  // --- transfers: EIP-1559 and legacy ---
  const fee = await http.getFeeData();
  assert.ok(fee.maxFeePerGas > 0n && fee.maxPriorityFeePerGas >= 0n && fee.gasPrice > 0n, `fee data ${fee}`);
  const before = await http.getBalance(to);
  let tx = await signer.sendTransaction({ to, value: parseEther("1") });
  assert.equal(tx.type, 2, "ethers picks EIP-1559 when the node reports a base fee");
  let rcpt = await tx.wait();
  assert.equal(rcpt.status, 1);
  assert.equal(rcpt.type, 2);
  assert.equal(rcpt.gasUsed, 21000n);
  ok(`EIP-1559 transfer mined in block ${rcpt.blockNumber} (${tx.hash})`);

  tx = await signer.sendTransaction({ to, value: parseEther("2"), type: 0, gasPrice: fee.gasPrice });
  assert.equal(tx.type, 0);
  rcpt = await tx.wait();
  assert.equal(rcpt.status, 1);
  assert.equal(rcpt.type, 0);
  const got = await http.getTransaction(tx.hash);
  assert.equal(got.type, 0);
  assert.equal(got.gasPrice, fee.gasPrice);
  assert.equal(got.chainId, CHAIN_ID, "legacy transaction is EIP-155 protected");
  assert.equal(await http.getBalance(to), before + parseEther("3"));
  ok(`legacy transfer mined in block ${rcpt.blockNumber}; recipient balance +3 ETH`);

  const block = await http.getBlock(rcpt.blockNumber, true);
  assert.equal(block.hash, rcpt.blockHash);
  assert.ok(block.baseFeePerGas > 0n, "block has a base fee");
  assert.ok(block.prefetchedTransactions.some((t) => t.hash === tx.hash));
  ok(`block ${block.number} has the transaction and base fee ${block.baseFeePerGas}`);

  // --- deploy ---
  const factory = new ContractFactory(store.abi, store.bytecode, signer);
  const deployed = await factory.deploy();
  await deployed.waitForDeployment();
  const addr = await deployed.getAddress();
  const deployRcpt = await deployed.deploymentTransaction().wait();
  assert.equal(deployRcpt.contractAddress, addr);
  assert.ok((await http.getCode(addr)).length > 2, "code at the contract address");
  ok(`Store deployed at ${addr}`);

  // Log subscription over WebSocket, through the contract's own event API.
  const wsStore = new Contract(addr, store.abi, ws);
  const seen = [];
  let logWaiter = null;
  await wsStore.on("Stored", (by, key, value, payload) => {
    seen.push({ by, key, value, log: payload.log });
    if (logWaiter) logWaiter();
  });
  const storedEvent = () =>
    seen.length > 0
      ? Promise.resolve()
      : withTimeout(new Promise((resolve) => (logWaiter = resolve)), 15_000, 'the "Stored" event over WebSocket');

  // --- estimate gas, call, decode the event ---
  const c = deployed.connect(signer);
  const gas = await c.set.estimateGas(7n, 42n);
  assert.ok(gas > 21000n && gas < 200000n, `estimateGas(set) = ${gas}`);
  assert.equal(await http.estimateGas({ from: signer.address, to, value: 1n }), 21000n);
  ok(`estimateGas: set(7, 42) = ${gas}, plain transfer = 21000`);

  tx = await c.set(7n, 42n);
  rcpt = await tx.wait();
  assert.equal(rcpt.status, 1);
  assert.ok(rcpt.gasUsed <= gas, `gas used ${rcpt.gasUsed} within the estimate ${gas}`);
  assert.equal(rcpt.logs.length, 1);
  const parsed = c.interface.parseLog(rcpt.logs[0]);
  assert.equal(parsed.name, "Stored");
  assert.equal(parsed.args.by, signer.address);
  assert.equal(parsed.args.key, 7n);
  assert.equal(parsed.args.value, 42n);
  ok(`set(7, 42) mined; receipt log decodes to Stored(${parsed.args.by}, 7, 42)`);

  assert.equal(await c.get(7n), 42n);
  assert.equal(await c.values(7n), 42n);
  assert.equal(await c.count(), 1n);
  assert.equal(await c.get(8n), 0n);
  ok("calls: get(7) = 42, values(7) = 42, count() = 1, get(8) = 0");

  // --- reverts: Error(string) and a custom error, decoded by ethers with the ABI ---
  try {
    await c.set.staticCall(1n, 0n);
    assert.fail("set(1, 0) did not revert");
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.code, "CALL_EXCEPTION", `${e}`);
    assert.equal(e.reason, "zero value", `revert reason of ${e}`);
    assert.equal(e.revert?.name, "Error");
    assert.deepEqual([...e.revert.args], ["zero value"]);
  }
  ok('eth_call revert decoded: Error("zero value")');

  const big = parseEther("2");
  for (const [how, f] of [
    ["eth_call", () => c.set.staticCall(1n, big)],
    ["eth_estimateGas", () => c.set.estimateGas(1n, big)],
  ]) {
    try {
      await f();
      assert.fail(`${how}: set(1, 2e18) did not revert`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.equal(e.code, "CALL_EXCEPTION", `${how}: ${e}`);
      // ethers decodes custom errors itself for calls and sends but not for estimateGas, where
      // it hands back the revert data; the contract's interface decodes that.
      const revert = e.revert ?? c.interface.parseError(e.data);
      assert.equal(revert?.name, "TooLarge", `${how}: custom error of ${e}`);
      assert.deepEqual([...revert.args], [big, parseEther("1")]);
    }
    ok(`${how} revert decoded: TooLarge(2e18, 1e18)`);
  }

  // A mined revert: the receipt has status 0 and ethers reports CALL_EXCEPTION.
  tx = await c.set(3n, 0n, { gasLimit: 100000n });
  try {
    await tx.wait();
    assert.fail("a reverting transaction was mined with status 1");
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.code, "CALL_EXCEPTION", `${e}`);
    assert.equal(e.receipt?.status, 0);
  }
  ok("reverting transaction mined with status 0");

  // --- logs subscription, getLogs, storage ---
  await storedEvent();
  assert.equal(seen[0].by, signer.address);
  assert.equal(seen[0].key, 7n);
  assert.equal(seen[0].value, 42n);
  assert.equal(seen[0].log.transactionHash, rcpt.hash);
  ok('contract.on("Stored") over WebSocket delivered Stored(7, 42)');

  const logs = await http.getLogs({
    address: addr,
    topics: [c.interface.getEvent("Stored").topicHash, zeroPadValue(signer.address, 32), zeroPadValue(toBeHex(7n), 32)],
    fromBlock: 0,
    toBlock: "latest",
  });
  assert.equal(logs.length, 1);
  assert.equal(logs[0].transactionHash, rcpt.hash);
  assert.equal(logs[0].blockHash, rcpt.blockHash);
  const filtered = await c.queryFilter(c.filters.Stored(null, 7n), 0, "latest");
  assert.equal(filtered.length, 1);
  assert.equal(filtered[0].args.value, 42n);
  assert.equal((await http.getLogs({ address: addr, topics: [id("Nope()")], fromBlock: 0 })).length, 0);
  ok("eth_getLogs by address and topics, and contract.queryFilter, find the event");

  // Store's layout: values is slot 0 (a mapping), count is slot 1.
  assert.equal(BigInt(await http.getStorage(addr, 1)), 1n, "count slot");
  const slot = keccak256(AbiCoder.defaultAbiCoder().encode(["uint256", "uint256"], [7n, 0n]));
  assert.equal(BigInt(await http.getStorage(addr, slot)), 42n, "values[7] slot");
  assert.equal(BigInt(await http.getStorage(addr, 1, deployRcpt.blockNumber)), 0n, "count at the deploy block");
  ok("eth_getStorageAt: count = 1 (0 at the deploy block), values[7] = 42");

  // --- fee history ---
  const latest = await http.getBlockNumber();
  const fh = await http.send("eth_feeHistory", ["0x4", "latest", [25, 75]]);
  assert.equal(BigInt(fh.oldestBlock), BigInt(Math.max(0, latest - 3)));
  const nBlocks = Math.min(4, latest + 1);
  assert.equal(fh.baseFeePerGas.length, nBlocks + 1, "baseFeePerGas has one more entry (the next block)");
  assert.equal(fh.gasUsedRatio.length, nBlocks);
  assert.equal(fh.reward.length, nBlocks);
  for (const r of fh.reward) assert.equal(r.length, 2);
  const lastBlock = await http.getBlock(latest);
  assert.equal(BigInt(fh.baseFeePerGas[nBlocks - 1]), lastBlock.baseFeePerGas);
  ok(`eth_feeHistory: ${nBlocks} blocks from ${fh.oldestBlock}, next base fee ${BigInt(fh.baseFeePerGas[nBlocks])}`);

  // --- newHeads over WebSocket saw the latest block ---
  await headAtLeast(latest);
  ok(`provider.on("block") over WebSocket reached block ${latest} (${heads.length} events)`);

  // --- rejections, as JSON-RPC errors ---
  const nonce = await http.getTransactionCount(signer.address, "pending");
  const head = await http.getBlock("latest");
  const base = {
    type: 2,
    chainId: CHAIN_ID,
    nonce,
    to,
    value: 1n,
    gasLimit: 21000n,
    maxPriorityFeePerGas: 1n,
    maxFeePerGas: head.baseFeePerGas * 2n + 1n,
  };
  const sign = (w, fields) => w.signTransaction(Transaction.from({ ...base, ...fields }));

  await rejects(http, await sign(wallets[0], { chainId: 1n }), "invalid sender", "wrong chain id (1)");
  await rejects(http, await sign(wallets[0], { type: 0, chainId: 5n, gasPrice: head.baseFeePerGas * 2n, maxFeePerGas: null, maxPriorityFeePerGas: null }), "invalid sender", "legacy tx with wrong chain id (5)");
  await rejects(http, await sign(wallets[0], { nonce: 0 }), "nonce too low", "nonce too low");
  const empty = Wallet.createRandom();
  await rejects(http, await sign(empty, { nonce: 0 }), "insufficient funds for gas * price + value", "insufficient funds (empty wallet)");
  await rejects(http, await sign(wallets[2], { nonce: 0, value: FUNDS }), "insufficient funds for gas * price + value", "insufficient funds (value = whole balance)");
  await rejects(http, await sign(wallets[0], { gasLimit: 20000n }), "intrinsic gas too low", "intrinsic gas too low (20000)");
  await rejects(http, await sign(wallets[0], { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }), "max fee per gas less than block base fee", "fee cap below base fee");
  await rejects(http, await sign(wallets[0], { data: hexlify(randomBytes(128 * 1024 + 1)), gasLimit: 25_000_000n }), "oversized data", "oversize transaction (128 KiB + 1 of data)");

  // A tampered signature: s replaced by secp256k1n - 1, which no valid signature has.
  const good = await sign(wallets[0], {});
  const fields = decodeRlp(dataSlice(good, 1));
  fields[fields.length - 1] = toBeHex(0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140n);
  await rejects(http, concat(["0x02", encodeRlp(fields)]), "invalid sender", "tampered signature (high s)");
  // And one whose r is changed: it recovers to some other, unfunded, address or none at all.
  const fields2 = decodeRlp(dataSlice(good, 1));
  const r = getBytes(fields2[fields2.length - 2]);
  r[r.length - 1] ^= 1;
  fields2[fields2.length - 2] = hexlify(r);
  const tamperedR = concat(["0x02", encodeRlp(fields2)]);
  let who;
  try {
    who = Transaction.from(tamperedR).from;
  } catch {
    who = null;
  }
  assert.notEqual(who, wallets[0].address, "a tampered r does not recover the signer");
  await rejects(http, tamperedR, who ? "insufficient funds" : "invalid sender", `tampered signature (r changed; recovers ${who ?? "nothing"})`);

  // The good transaction still goes through: none of the above used up the nonce.
  // Poll for the receipt rather than provider.waitForTransaction: that checks the receipt once,
  // then waits for a *later* block, and on a chain that seals one block per transaction the
  // block may be sealed between the two, after which no further block ever comes.
  const hash = await http.send("eth_sendRawTransaction", [good]);
  rcpt = await withTimeout((async () => {
    for (;;) {
      const r = await http.getTransactionReceipt(hash);
      if (r) return r;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })(), 15_000, `the receipt of ${hash}`);
  assert.equal(rcpt.status, 1);
  assert.equal(rcpt.from, wallets[0].address);
  ok(`the untampered raw transaction is accepted and mined (nonce ${nonce})`);
}

// cacheTimeout -1: ethers otherwise serves repeated identical requests (such as the pending nonce)
// from a 250 ms cache, which is stale on a chain that seals a block per transaction.
const http = new JsonRpcProvider(httpURL, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });

const ws = new WebSocketProvider(wsURL, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });


let code = 0;
const t0 = Date.now();
try {
  await withTimeout(main(http, ws), TIMEOUT_MS, "the whole test");
  console.log(`PASS: ${checks} checks in ${Date.now() - t0} ms (ethers ${(await import("ethers")).version})`);
} catch (e) {
  code = 1;
  console.error(`FAIL after ${checks} checks: ${e?.stack ?? e}`);
  if (e?.info) console.error(`  info: ${JSON.stringify(e.info, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`);
} finally {
  try {
    await ws.removeAllListeners();
    http.destroy();
    await ws.destroy();
  } catch (e) {
    console.error(`closing providers: ${e}`);
  }
}
process.exit(code);
