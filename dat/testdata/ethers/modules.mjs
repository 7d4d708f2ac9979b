// The DAT (0x…0a01) and LazAI (0x…0a04) system modules driven by ethers v6, a client nobody
// here wrote, through the ABI compiled from their Solidity interfaces (dat/IDAT.sol,
// lazai/ILazAI.sol) by solc-js.
//
//   node modules.mjs <ws-url> [http-url]        (or METIS_WS_URL / METIS_HTTP_URL)
//
// Run by dat/ethers_test.go (TestModulesEthers) against a fresh dev node with the default
// modules. It first checks that the committed dat/IDAT.abi.json and lazai/ILazAI.abi.json (what
// the Go build embeds, written by `go generate`) equal the freshly compiled ABI, then sends real
// signed transactions from the dev mnemonic's accounts and checks the decoded events (from the
// receipts' logs), views (structs included) and custom-error reverts, one event per module
// received over a WebSocket subscription, and that every transaction succeeds with the gas limit
// ethers takes from eth_estimateGas (a shortfall is retried with room so the other checks still
// run, listed at the end, and fails the run). Transactions go over HTTP when an http-url is
// given, else over the WebSocket. Prints one line per check and exits non-zero on a failure.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  Contract,
  HDNodeWallet,
  Interface,
  JsonRpcProvider,
  WebSocketProvider,
  id,
  parseEther,
} from "ethers";

const require = createRequire(import.meta.url);
const solc = require("solc");

const MNEMONIC = "test test test test test test test test test test test junk";
const DAT_ADDRESS = "0x0000000000000000000000000000000000000a01";
const LAZAI_ADDRESS = "0x0000000000000000000000000000000000000a04";
const TIMEOUT_MS = 90_000;
const P = 10n ** 27n; // accRevenuePerShare precision

const wsURL = process.argv[2] ?? process.env.METIS_WS_URL;
const httpURL = process.argv[3] ?? process.env.METIS_HTTP_URL;
if (!wsURL || !/^wss?:\/\//.test(wsURL)) {
  console.error("usage: node modules.mjs <ws-url> [http-url]   (or set METIS_WS_URL [and METIS_HTTP_URL])");
  process.exit(2);
}

let checks = 0;
function ok(what) {
  checks++;
  console.log(`ok ${checks} - ${what}`);
}

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const repo = (p) => new URL(`../../../${p}`, import.meta.url);

// --- the ABI from the Solidity files ---

// compile returns the ABIs solc-js makes of the two interface files.
function compile() {
  const sources = {
    "IDAT.sol": { content: readFileSync(repo("dat/IDAT.sol"), "utf8") },
    "ILazAI.sol": { content: readFileSync(repo("lazai/ILazAI.sol"), "utf8") },
  };
  const input = { language: "Solidity", sources, settings: { outputSelection: { "*": { "*": ["abi"] } } } };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  assert.equal(errors.length, 0, `solc ${solc.version()}: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  return { dat: out.contracts["IDAT.sol"].IDAT.abi, lazai: out.contracts["ILazAI.sol"].ILazAI.abi };
}

// canonical is a JSON text of v with object keys sorted, so equal ABI entries compare equal
// whatever their key order.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

// sameABI asserts that two ABIs have the same entries, in any order.
function sameABI(committed, compiled, file) {
  const key = (e) => `${e.type} ${e.name ?? ""}`;
  const a = new Map(committed.map((e) => [canonical(e), key(e)]));
  const b = new Map(compiled.map((e) => [canonical(e), key(e)]));
  const stale = [...a].filter(([k]) => !b.has(k)).map(([, n]) => n);
  const missing = [...b].filter(([k]) => !a.has(k)).map(([, n]) => n);
  assert.ok(
    stale.length === 0 && missing.length === 0 && committed.length === compiled.length,
    `${file} is stale (run go generate): entries not in the compiled ABI: [${stale.join(", ")}]; ` +
      `compiled entries missing from it: [${missing.join(", ")}]; ${committed.length} vs ${compiled.length} entries`,
  );
}

// --- reverts ---

// expectRevert awaits p and asserts it reverts with the custom error name(args...) of iface.
// ethers decodes custom errors itself (err.revert) for calls and sends; where it only hands
// back the revert data (estimateGas), the interface decodes err.data.
async function expectRevert(p, iface, name, args, what) {
  let err;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what}: did not revert; want ${name}`);
  assert.equal(err.code, "CALL_EXCEPTION", `${what}: ${err}`);
  const revert = err.revert ?? (err.data ? iface.parseError(err.data) : null);
  assert.ok(revert, `${what}: revert not decoded (data ${err.data}): ${err}`);
  assert.equal(revert.name, name, `${what}: custom error ${revert.name}(${[...revert.args]}), want ${name}`);
  if (args) assert.deepEqual([...revert.args], args, `${what}: ${name} arguments`);
  ok(`${what} reverts ${revert.name}(${[...revert.args].join(", ")})${err.revert ? "" : " (decoded from err.data)"}`);
  return revert;
}

// --- logs ---

// events decodes a receipt's logs emitted by contract's address with its interface.
function events(rcpt, contract) {
  const addr = contract.target.toLowerCase();
  return rcpt.logs.filter((l) => l.address.toLowerCase() === addr).map((l) => contract.interface.parseLog(l));
}

// one returns the single decoded event called name among evs.
function one(evs, name) {
  const found = evs.filter((e) => e?.name === name);
  assert.equal(found.length, 1, `want one ${name} event, got [${evs.map((e) => e?.name)}]`);
  return found[0];
}

// shortfalls lists the transactions that ran out of gas at the limit ethers took from
// eth_estimateGas (see send).
const shortfalls = [];

// send calls method of contract (args may end with overrides such as { value }) as ethers does
// by default, with the gas limit from eth_estimateGas, waits for it and asserts it succeeded.
// If it ran out of gas at the estimated limit, the node's estimate is too low for what the mined
// transaction needs: that is recorded (the script fails at the end, listing every case) and the
// transaction is sent again with room, so the remaining checks still run.
async function send(contract, method, ...args) {
  const fn = contract.getFunction(method);
  const hasOverrides = args.length > fn.fragment.inputs.length;
  const params = hasOverrides ? args.slice(0, -1) : args;
  const overrides = hasOverrides ? args[args.length - 1] : {};
  const tx = await fn.send(...params, overrides);
  let rcpt;
  try {
    rcpt = await tx.wait();
  } catch (e) {
    const r = e.receipt;
    if (!(e.code === "CALL_EXCEPTION" && r?.status === 0 && r.gasUsed === tx.gasLimit)) throw e;
    const retry = await fn.send(...params, { ...overrides, gasLimit: tx.gasLimit + 1_000_000n });
    rcpt = await retry.wait();
    shortfalls.push(`${method}: eth_estimateGas said ${tx.gasLimit}, ran out of gas in block ${r.blockNumber}; mined with room it used ${rcpt.gasUsed} (block ${rcpt.blockNumber})`);
    console.log(`not ok - ${method}: ran out of gas at the eth_estimateGas limit ${tx.gasLimit}; it needs ${rcpt.gasUsed}`);
  }
  assert.equal(rcpt.status, 1, `${method}: transaction ${rcpt.hash} failed`);
  return rcpt;
}

const fee = (rcpt) => rcpt.gasUsed * rcpt.gasPrice;

async function main(provider, ws) {
  // --- the committed ABI is the Solidity files' ABI ---
  const compiled = compile();
  sameABI(JSON.parse(readFileSync(repo("dat/IDAT.abi.json"), "utf8")), compiled.dat, "dat/IDAT.abi.json");
  sameABI(JSON.parse(readFileSync(repo("lazai/ILazAI.abi.json"), "utf8")), compiled.lazai, "lazai/ILazAI.abi.json");
  const datIface = new Interface(compiled.dat);
  const lazaiIface = new Interface(compiled.lazai);
  ok(
    `solc ${solc.version()}: IDAT (${compiled.dat.length} entries) and ILazAI (${compiled.lazai.length}) ` +
      `equal the committed *.abi.json`,
  );

  const w = [];
  for (let i = 0; i < 10; i++) w.push(HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).connect(provider));
  assert.equal(w[0].address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "account 0 of the test mnemonic");
  for (const addr of [DAT_ADDRESS, LAZAI_ADDRESS]) {
    assert.ok((await provider.getCode(addr)).length > 2, `no code at ${addr}`);
  }
  const lazai = (i) => new Contract(LAZAI_ADDRESS, lazaiIface, w[i]);
  const dat = (i) => new Contract(DAT_ADDRESS, datIface, w[i]);

  // --- WebSocket subscriptions, through the contracts' own event API ---
  const subscribed = {};
  const waiters = {};
  const arrived = (name) =>
    subscribed[name]?.length
      ? Promise.resolve(subscribed[name][0])
      : withTimeout(new Promise((resolve) => (waiters[name] = resolve)), 15_000, `the "${name}" event over WebSocket`);
  const listen = async (contract, name) => {
    subscribed[name] = [];
    await contract.on(name, (...args) => {
      const payload = args[args.length - 1];
      const ev = { args: args.slice(0, -1), log: payload.log };
      subscribed[name].push(ev);
      waiters[name]?.(ev);
    });
  };
  await listen(new Contract(LAZAI_ADDRESS, lazaiIface, ws), "Staked");

  // ===================== LazAI =====================
  const split = await lazai(0).split();
  assert.deepEqual(split.toObject(), { holdersBps: 5000n, validatorsBps: 2000n, treasuryBps: 2000n, burnBps: 1000n });
  assert.equal(await lazai(0).unbondingDelay(), 100n);
  ok("LazAI split() = {5000, 2000, 2000, 1000} bps, unbondingDelay() = 100 blocks");

  // stake
  const staker = w[1].address;
  const total0 = await lazai(0).totalStaked();
  let rcpt = await send(lazai(1), "stake", { value: parseEther("5") });
  const stakeBlock = rcpt.blockNumber;
  let ev = one(events(rcpt, lazai(1)), "Staked");
  assert.deepEqual([ev.args.account, ev.args.amount, ev.args.stake], [staker, parseEther("5"), parseEther("5")]);
  assert.equal(await lazai(0).stakeOf(staker), parseEther("5"));
  assert.equal(await lazai(0).totalStaked(), total0 + parseEther("5"));
  ok(`stake(5 METIS) in block ${stakeBlock}: Staked(${ev.args.account}, 5e18, 5e18); stakeOf and totalStaked agree`);

  const sub = await arrived("Staked");
  assert.deepEqual(sub.args, [staker, parseEther("5"), parseEther("5")]);
  assert.equal(sub.log.transactionHash, rcpt.hash);
  ok('contract.on("Staked") over WebSocket delivered Staked(staker, 5e18, 5e18)');

  // routeFees: the split, decoded from FeesRouted
  const pending0 = await lazai(0).pendingRewards(staker);
  const routed = parseEther("1");
  rcpt = await send(lazai(2), "routeFees", 3, { value: routed }); // FeeSource.Other
  ev = one(events(rcpt, lazai(2)), "FeesRouted");
  const fr = ev.args;
  assert.equal(fr.blockNumber, BigInt(rcpt.blockNumber), "FeesRouted.blockNumber (indexed uint64)");
  assert.equal(fr.source, 3n, "FeesRouted.source (indexed enum)");
  assert.equal(fr.amount, routed);
  assert.equal(fr.toValidators, (routed * 2000n) / 10000n);
  assert.equal(fr.toTreasury, (routed * 2000n) / 10000n);
  assert.equal(fr.burned, (routed * 1000n) / 10000n);
  assert.equal(fr.toHolders, routed - fr.toValidators - fr.toTreasury - fr.burned);
  ok(`routeFees(Other, 1 METIS): FeesRouted(block ${fr.blockNumber}, Other, 1e18 → holders ${fr.toHolders}, validators ${fr.toValidators}, treasury ${fr.toTreasury}, burned ${fr.burned})`);

  // The staker holds all the stake, so earns all of the holders' part (less < 1 wei of rounding),
  // and the gas fees' holders' part besides.
  const pending1 = await lazai(0).pendingRewards(staker);
  assert.ok(pending1 - pending0 >= fr.toHolders - 1n, `pendingRewards grew by ${pending1 - pending0}, want ≥ ${fr.toHolders - 1n}`);
  ok(`pendingRewards(staker) grew by ${pending1 - pending0} ≥ the holders' part`);

  const st = await lazai(0).stats(10n);
  assert.equal(st.totalStaked, await lazai(0).totalStaked(), "stats.totalStaked");
  assert.ok(st.routed >= routed, `stats.routed ${st.routed} ≥ 1e18`);
  assert.ok(st.holderRewards >= fr.toHolders, `stats.holderRewards ${st.holderRewards}`);
  assert.ok(st.totalRouted >= st.routed, "stats.totalRouted ≥ routed");
  assert.ok(st.totalBurned >= fr.burned, "stats.totalBurned ≥ burned");
  assert.ok(st.toBlock >= BigInt(rcpt.blockNumber), `stats.toBlock ${st.toBlock}`);
  assert.equal(st.fromBlock, st.toBlock > 10n ? st.toBlock - 10n : 0n, "a window of the last 10 blocks (from genesis while shorter)");
  assert.equal(typeof st.aprBps, "bigint");
  assert.equal(typeof st.span, "bigint");
  ok(`stats(10) decoded: totalStaked ${st.totalStaked}, routed ${st.routed}, holderRewards ${st.holderRewards}, blocks ${st.fromBlock}–${st.toBlock}, span ${st.span}s, APR ${st.aprBps} bps`);

  // claim the rewards
  const bal0 = await provider.getBalance(staker);
  rcpt = await send(lazai(1), "claim");
  ev = one(events(rcpt, lazai(1)), "RewardClaimed");
  assert.equal(ev.args.account, staker);
  assert.ok(ev.args.amount >= pending1, `claimed ${ev.args.amount} ≥ pending ${pending1}`);
  assert.equal(await provider.getBalance(staker), bal0 + ev.args.amount - fee(rcpt), "balance after claim");
  ok(`claim(): RewardClaimed(${ev.args.amount}) paid to the staker`);

  // unstake, then withdraw too early
  rcpt = await send(lazai(1), "requestUnstake", parseEther("1"));
  ev = one(events(rcpt, lazai(1)), "UnstakeRequested");
  const readyAt = BigInt(rcpt.blockNumber) + 100n;
  assert.deepEqual([ev.args.account, ev.args.amount, ev.args.stake, ev.args.readyAt], [staker, parseEther("1"), parseEther("4"), readyAt]);
  const ub = await lazai(0).unbonding(staker);
  assert.deepEqual([ub.amount, ub.readyAt], [parseEther("1"), readyAt]);
  assert.equal(await lazai(0).stakeOf(staker), parseEther("4"));
  ok(`requestUnstake(1e18): UnstakeRequested(stake 4e18, readyAt ${readyAt}); unbonding() = (1e18, ${readyAt})`);

  let rev = await expectRevert(lazai(1).withdraw.staticCall(), lazaiIface, "StillUnbonding", null, "withdraw() (eth_call)");
  assert.equal(rev.args.readyAt, readyAt);
  assert.ok(rev.args.blockNumber >= BigInt(rcpt.blockNumber) && rev.args.blockNumber < readyAt, `StillUnbonding.blockNumber ${rev.args.blockNumber}`);
  rev = await expectRevert(lazai(1).withdraw(), lazaiIface, "StillUnbonding", null, "withdraw() (send)");
  assert.equal(rev.args.readyAt, readyAt);
  await expectRevert(lazai(3).withdraw(), lazaiIface, "NothingToWithdraw", [], "withdraw() with nothing unbonding");

  // checkpoints
  assert.equal(await lazai(0).getPastStake(staker, stakeBlock), parseEther("5"));
  assert.equal(await lazai(0).getPastStake(staker, stakeBlock - 1), 0n);
  assert.equal(await lazai(0).getPastTotalStake(stakeBlock), total0 + parseEther("5"));
  const head = BigInt(await provider.getBlockNumber());
  rev = await expectRevert(lazai(0).getPastStake(staker, head + 1000n), lazaiIface, "FutureBlock", null, "getPastStake(a future block)");
  assert.equal(rev.args.blockNumber, head + 1000n);
  ok(`getPastStake/getPastTotalStake at block ${stakeBlock} = 5e18, before it 0`);

  // governance only
  const newSplit = { holdersBps: 2500, validatorsBps: 2500, treasuryBps: 2500, burnBps: 2500 };
  await expectRevert(lazai(0).setSplit(newSplit), lazaiIface, "NotGovernance", [w[0].address], "setSplit() by a dev account");
  await expectRevert(lazai(0).setUnbondingDelay(1n), lazaiIface, "NotGovernance", [w[0].address], "setUnbondingDelay() by a dev account");
  await expectRevert(lazai(2).routeFees(0, { value: 0n }), lazaiIface, "ZeroAmount", [], "routeFees() without value");
  await expectRevert(lazai(2).requestUnstake(1n), lazaiIface, "InsufficientStake", [0n, 1n], "requestUnstake() with no stake");

  // ===================== DAT =====================
  const params = await dat(0).params();
  assert.deepEqual(params.toObject(), {
    verificationFee: parseEther("0.01"),
    validatorMinStake: parseEther("1"),
    approvalThreshold: 1n,
    lineageBps: 1000n,
  });
  ok("DAT params() = {verificationFee 0.01, validatorMinStake 1, approvalThreshold 1, lineageBps 1000}");

  const owner = w[3].address;
  const usageFee = parseEther("0.001");
  const integrityHash = id("metis ethers test dataset");
  const classParams = {
    kind: 0, // Dataset
    metadataURI: "ipfs://bafy-metis-ethers-dataset",
    integrityHash,
    policyURI: "https://example.org/policy",
    unitDecimals: 3,
    usageFee,
    parents: [],
  };
  await expectRevert(dat(3).createClass(classParams, { value: 1n }), datIface, "WrongFee", [1n, params.verificationFee], "createClass() with the wrong fee");

  rcpt = await send(dat(3), "createClass", classParams, { value: params.verificationFee });
  const createdAt = BigInt(rcpt.blockNumber);
  let evs = events(rcpt, dat(3));
  ev = one(evs, "ClassCreated");
  const classId = ev.args.classId;
  assert.deepEqual([ev.args.owner, ev.args.kind, ev.args.integrityHash, [...ev.args.parents]], [owner, 0n, integrityHash, []]);
  ev = one(evs, "ClassStatusChanged");
  assert.deepEqual([...ev.args], [classId, 0n, 1n], "None → Registered");
  assert.equal(await dat(0).classCount(), classId);
  ok(`createClass(value = verificationFee): ClassCreated(${classId}, owner, Dataset, integrityHash, []) + ClassStatusChanged(None → Registered)`);

  // A derived class: the parents array in the event.
  rcpt = await send(dat(3), "createClass", { ...classParams, kind: 1, parents: [classId] }, { value: params.verificationFee });
  ev = one(events(rcpt, dat(3)), "ClassCreated");
  assert.deepEqual([ev.args.kind, [...ev.args.parents]], [1n, [classId]]);
  ok(`a derived Model class ${ev.args.classId}: ClassCreated decodes parents [${[...ev.args.parents]}]`);
  await expectRevert(dat(3).createClass({ ...classParams, parents: [999n] }, { value: params.verificationFee }), datIface, "BadParent", [999n], "createClass() with an unknown parent");

  // The validator path: stake through LazAI, register, attest.
  const validator = w[4].address;
  await expectRevert(dat(4).registerValidator(), datIface, "InsufficientValidatorStake", [0n, params.validatorMinStake], "registerValidator() without stake");
  await expectRevert(dat(4).attest(classId, true), datIface, "NotValidator", [validator], "attest() by a non-validator");
  await send(lazai(4), "stake", { value: params.validatorMinStake });
  rcpt = await send(dat(4), "registerValidator");
  assert.equal(one(events(rcpt, dat(4)), "ValidatorRegistered").args.validator, validator);
  assert.equal(await dat(0).isValidator(validator), true);
  ok(`stake(1 METIS) via LazAI, registerValidator(): ValidatorRegistered(${validator})`);
  await expectRevert(dat(4).registerValidator(), datIface, "AlreadyValidator", [validator], "registerValidator() twice");

  rcpt = await send(dat(4), "attest", classId, true);
  evs = events(rcpt, dat(4));
  ev = one(evs, "Attested");
  assert.deepEqual([...ev.args], [classId, validator, true]);
  ev = one(evs, "ClassStatusChanged");
  assert.deepEqual([...ev.args], [classId, 1n, 2n], "Registered → Verified");
  // The held verification fee goes to LazAI as DataVerification fees: its event, in the same receipt.
  ev = one(events(rcpt, lazai(4)), "FeesRouted");
  assert.deepEqual([ev.args.source, ev.args.amount], [2n, params.verificationFee]);
  ok(`attest(${classId}, true): Attested + ClassStatusChanged(Registered → Verified) + LazAI FeesRouted(DataVerification, ${ev.args.amount})`);

  // Minting: only the owner or an operator, only while active.
  await expectRevert(dat(5).mint(classId, w[5].address, 1n, 1n, 0n), datIface, "NotMinter", [classId, w[5].address], "mint() by a non-owner");
  await expectRevert(dat(3).mint(classId, w[5].address, 1n, 1n, 0n), datIface, "BadStatus", [classId, 2n], "mint() while Verified");
  await expectRevert(dat(5).activateClass(classId), datIface, "NotClassOwner", [classId, w[5].address], "activateClass() by a non-owner");
  rcpt = await send(dat(3), "activateClass", classId);
  assert.deepEqual([...one(events(rcpt, dat(3)), "ClassStatusChanged").args], [classId, 2n, 3n]);
  ok(`activateClass(${classId}): ClassStatusChanged(Verified → Active)`);

  await listen(new Contract(DAT_ADDRESS, datIface, ws), "Minted");
  const [holderA, holderB] = [w[5].address, w[6].address];
  rcpt = await send(dat(3), "mint", classId, holderA, 100n, 3n, 0n);
  ev = one(events(rcpt, dat(3)), "Minted");
  const tokenA = ev.args.tokenId;
  assert.deepEqual([...ev.args], [tokenA, classId, holderA, 100n, 3n, 0n]);
  ok(`mint(${classId}, A, 100, 3 shares, no expiry): Minted(${tokenA}, ${classId}, A, 100, 3, 0)`);
  const minted = await arrived("Minted");
  assert.deepEqual(minted.args, [tokenA, classId, holderA, 100n, 3n, 0n]);
  assert.equal(minted.log.transactionHash, rcpt.hash);
  ok(`contract.on("Minted") over WebSocket delivered Minted(${tokenA}, ...)`);

  rcpt = await send(dat(3), "mint", classId, holderB, 50n, 1n, 0n);
  const tokenB = one(events(rcpt, dat(3)), "Minted").args.tokenId;
  await expectRevert(dat(3).mint(classId, holderA, 1n, 1n, 1n), datIface, "BadExpiry", [1n], "mint() expiring in the past");

  // Usage: the exact fee, a hard quota.
  const used = 10n;
  rcpt = await send(dat(5), "recordUsage", tokenA, used, { value: used * usageFee });
  ev = one(events(rcpt, dat(5)), "UsageRecorded");
  assert.deepEqual([...ev.args], [tokenA, classId, holderA, used, used * usageFee]);
  ok(`recordUsage(${tokenA}, 10, value 10 × usageFee): UsageRecorded(${tokenA}, ${classId}, A, 10, ${ev.args.fee})`);
  rev = await expectRevert(dat(5).recordUsage(tokenA, 91n, { value: 91n * usageFee }), datIface, "QuotaExceeded", [tokenA, 90n, 91n], "recordUsage() past the quota");
  assert.deepEqual([rev.args.tokenId, rev.args.value, rev.args.requested], [tokenA, 90n, 91n], "QuotaExceeded by name");
  await expectRevert(dat(5).recordUsage(tokenA, 1n, { value: 0n }), datIface, "WrongFee", [0n, usageFee], "recordUsage() without the fee");
  await expectRevert(dat(6).recordUsage(tokenA, 1n, { value: usageFee }), datIface, "NotTokenOwner", [tokenA, holderB], "recordUsage() of another's token");

  // Revenue: per share, exactly as the module's documented arithmetic says.
  const revenue = parseEther("1");
  rcpt = await send(dat(7), "settleRevenue", classId, { value: revenue });
  ev = one(events(rcpt, dat(7)), "RevenueSettled");
  assert.deepEqual([...ev.args], [classId, w[7].address, revenue, 0n]);
  ok(`settleRevenue(${classId}, 1 METIS): RevenueSettled(${classId}, payer, 1e18, toParents 0)`);
  await expectRevert(dat(7).settleRevenue(classId, { value: 0n }), datIface, "ZeroAmount", [], "settleRevenue() without value");

  const shares = 4n;
  const n1 = used * usageFee * P;
  const acc1 = n1 / shares;
  const acc = acc1 + (revenue * P + (n1 % shares)) / shares;
  const wantA = (3n * acc) / P;
  const wantB = acc / P;
  assert.equal(await dat(0).pendingRevenue(tokenA), wantA, "pendingRevenue(A)");
  assert.equal(await dat(0).pendingRevenue(tokenB), wantB, "pendingRevenue(B)");
  assert.ok(wantA + wantB <= revenue + used * usageFee);

  const ci = await dat(0).classInfo(classId);
  assert.deepEqual([...ci.parents], []);
  assert.deepEqual({ ...ci.toObject(), parents: [] }, {
    id: classId,
    kind: 0n,
    status: 3n,
    owner,
    metadataURI: classParams.metadataURI,
    integrityHash,
    policyURI: classParams.policyURI,
    unitDecimals: 3n,
    usageFee,
    parents: [],
    totalShares: shares,
    totalRevenue: revenue + used * usageFee,
    accRevenuePerShare: acc,
    approvals: 1n,
    rejections: 0n,
    createdAt,
  });
  ok(`classInfo(${classId}) decoded: Active, 4 shares, totalRevenue ${ci.totalRevenue}, accRevenuePerShare ${ci.accRevenuePerShare}, createdAt ${ci.createdAt}`);

  let ti = await dat(0).tokenInfo(tokenA);
  assert.deepEqual(ti.toObject(), {
    id: tokenA,
    classId,
    owner: holderA,
    value: 90n,
    shareRatio: 3n,
    expireAt: 0n,
    expired: false,
    pendingRevenue: wantA,
  });
  assert.deepEqual([...(await dat(0).tokensOf(holderA))], [tokenA]);
  ok(`tokenInfo(${tokenA}) decoded: value 90, 3 shares, pendingRevenue ${wantA}; tokensOf(A) = [${tokenA}]`);

  // Claim.
  await expectRevert(dat(6).claim(tokenA), datIface, "NotTokenOwner", [tokenA, holderB], "claim() of another's token");
  const balA = await provider.getBalance(holderA);
  rcpt = await send(dat(5), "claim", tokenA);
  ev = one(events(rcpt, dat(5)), "RevenueClaimed");
  assert.deepEqual([...ev.args], [tokenA, holderA, wantA]);
  assert.equal(await provider.getBalance(holderA), balA + wantA - fee(rcpt), "A's balance after claim");
  ok(`claim(${tokenA}): RevenueClaimed(${tokenA}, A, ${wantA}), paid`);
  await expectRevert(dat(5).claim(tokenA), datIface, "NothingToClaim", [tokenA], "claim() twice");
  ti = await dat(0).tokenInfo(tokenA);
  assert.equal(ti.pendingRevenue, 0n);

  // Not found.
  await expectRevert(dat(0).classInfo(12345n), datIface, "ClassNotFound", [12345n], "classInfo() of no class");
  await expectRevert(dat(0).tokenInfo(12345n), datIface, "TokenNotFound", [12345n], "tokenInfo() of no token");
  await expectRevert(dat(0).verifyClass(classId), datIface, "NotGovernance", [w[0].address], "verifyClass() by a dev account");

  // ethers sends with eth_estimateGas's answer as the gas limit: it must be enough.
  assert.equal(
    shortfalls.length,
    0,
    `${shortfalls.length} transaction(s) ran out of gas at the limit eth_estimateGas gave:\n  ${shortfalls.join("\n  ")}`,
  );
  ok("every transaction succeeded with the gas limit eth_estimateGas gave");
}

const provider = httpURL
  ? new JsonRpcProvider(httpURL, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
  : null;
// cacheTimeout -1: ethers otherwise serves repeated identical requests (such as the pending nonce)
// from a 250 ms cache, which is stale on a chain that seals a block per transaction.
const ws = new WebSocketProvider(wsURL, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });

let code = 0;
const t0 = Date.now();
try {
  await withTimeout(main(provider ?? ws, ws), TIMEOUT_MS, "the whole test");
  console.log(
    `PASS: ${checks} checks of the DAT and LazAI modules in ${Date.now() - t0} ms ` +
      `(ethers ${(await import("ethers")).version}, solc ${solc.version()})`,
  );
} catch (e) {
  code = 1;
  console.error(`FAIL after ${checks} checks: ${e?.stack ?? e}`);
  if (e?.info) console.error(`  info: ${JSON.stringify(e.info, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`);
} finally {
  try {
    await ws.removeAllListeners();
    provider?.destroy();
    await ws.destroy();
  } catch (e) {
    console.error(`closing providers: ${e}`);
  }
}
process.exit(code);
