package core

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	gethcore "github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/holiman/uint256"

	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/chain/state"
)

// Seal builds the next block from the pool, commits it and publishes it as the new head: the
// base fee follows EIP-1559 from the parent, transactions are taken from Pool().Ordered within
// the block gas limit (a sender's later transactions are skipped once one fails; transactions
// that cannot apply are removed from the pool), and the block's fees are credited to the LazAI
// module once. An empty pool seals an empty block. ctx aborts the build before anything is
// written.
func (c *Chain) Seal(ctx context.Context) (*types.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.failed != nil {
		return nil, fmt.Errorf("%w: %v", ErrFailed, c.failed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := c.view.Load()
	header := c.nextHeader(v.block.Header())
	ex, err := c.execute(ctx, v, header, c.pool.Ordered(header.BaseFee), true)
	if err != nil {
		return nil, err
	}
	if len(ex.drop) > 0 {
		c.pool.Remove(ex.drop...)
	}
	return c.commit(ex)
}

// nextHeader returns the header of the block after parent, without the fields execution sets.
func (c *Chain) nextHeader(parent *types.Header) *types.Header {
	t := uint64(c.opts.Clock().Unix())
	if t <= parent.Time {
		t = parent.Time + 1
	}
	gasLimit := c.opts.GasLimit
	if gasLimit == 0 {
		gasLimit = parent.GasLimit
	}
	parentHash := parent.Hash()
	h := &types.Header{
		ParentHash: parentHash,
		UncleHash:  types.EmptyUncleHash,
		Coinbase:   metisvm.LazAIAddress,
		Number:     new(big.Int).Add(parent.Number, common.Big1),
		GasLimit:   gasLimit,
		Time:       t,
		Difficulty: new(big.Int),
		// PREVRANDAO: a dev chain has no randomness beacon; this is deterministic, not random.
		MixDigest: crypto.Keccak256Hash(parentHash[:]),
		BaseFee:   eip1559.CalcBaseFee(c.config, parent),
	}
	setForkFields(c.config, h)
	return h
}

// executed is a block run on a StateDB: everything but the state root.
type executed struct {
	header   *types.Header
	txs      []*types.Transaction
	senders  []common.Address // of txs
	receipts types.Receipts
	st       *state.StateDB
	fees     *uint256.Int  // credited to LazAI
	drop     []common.Hash // build: transactions to remove from the pool
	logs     []*types.Log  // every log of the block, in order
}

// getHash answers BLOCKHASH from the chain store of v.
func (c *Chain) getHash(v *view) vm.GetHashFunc {
	head := v.block
	return func(n uint64) common.Hash {
		if n == head.NumberU64() {
			return head.Hash()
		}
		if n > head.NumberU64() {
			return common.Hash{}
		}
		h, err := v.chain.canonical(n)
		if err != nil {
			return common.Hash{}
		}
		return h
	}
}

func (c *Chain) blockContext(v *view, h *types.Header) vm.BlockContext {
	return metisvm.NewBlockContext(metisvm.BlockInfo{
		Number:   h.Number.Uint64(),
		Time:     h.Time,
		GasLimit: h.GasLimit,
		BaseFee:  h.BaseFee,
		Random:   h.MixDigest,
		GetHash:  c.getHash(v),
	})
}

// execute runs header's block on the state of v's head. In build mode txs are candidates: those
// that do not fit or fail are left out (and listed in drop if they can never apply). Otherwise
// (replay) every transaction must apply. It fills in the header's GasUsed, TxHash, ReceiptHash,
// Bloom and RequestsHash; the receipts lack the block hash.
func (c *Chain) execute(ctx context.Context, v *view, header *types.Header, txs []*types.Transaction, build bool) (*executed, error) {
	parent := v.block
	snap, err := c.stateDB.Snapshot(parent.NumberU64() + 1)
	if err != nil {
		return nil, fmt.Errorf("core: state of block %d: %w", parent.NumberU64(), err)
	}
	st := state.New(snap)
	num := header.Number.Uint64()
	rules := c.config.Rules(header.Number, true, header.Time)
	evm := c.host.NewEVM(c.blockContext(v, header), st, vm.Config{})

	// Pre-execution system calls, as go-ethereum (core.PreExecution): EIP-4788 and EIP-2935.
	if header.ParentBeaconRoot != nil {
		gethcore.ProcessBeaconBlockRoot(*header.ParentBeaconRoot, evm, nil)
	}
	if rules.IsPrague {
		gethcore.ProcessParentBlockHash(header.ParentHash, evm, nil)
	}

	ex := &executed{header: header, st: st}
	signer := types.MakeSigner(c.config, header.Number, header.Time)
	gp := gethcore.NewGasPool(header.GasLimit)
	baseFees := new(big.Int)
	skip := make(map[common.Address]bool)
	for _, tx := range txs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if build && gp.Available(false) < params.TxGas {
			break
		}
		msg, err := gethcore.TransactionToMessage(tx, signer, header.BaseFee)
		if err != nil {
			if !build {
				return nil, fmt.Errorf("core: tx %d (%s): %w", len(ex.txs), tx.Hash(), err)
			}
			ex.drop = append(ex.drop, tx.Hash())
			continue
		}
		if skip[msg.From] {
			continue
		}
		if build && tx.Gas() > header.GasLimit { // can never fit (the gas limit was lowered)
			ex.drop = append(ex.drop, tx.Hash())
			skip[msg.From] = true
			continue
		}
		i := len(ex.txs)
		st.SetTxContext(tx.Hash(), i, uint32(i+1))
		snapID, gpSnap := st.Snapshot(), gp.Snapshot()
		res, err := c.host.ApplyMessage(evm, msg, gp)
		if err != nil {
			if !build {
				return nil, fmt.Errorf("core: tx %d (%s): %w", i, tx.Hash(), err)
			}
			st.RevertToSnapshot(snapID)
			gp.Set(gpSnap)
			skip[msg.From] = true
			if !errors.Is(err, gethcore.ErrGasLimitReached) {
				c.log.Debug("core: dropping transaction", "hash", tx.Hash(), "err", err)
				ex.drop = append(ex.drop, tx.Hash())
			}
			continue
		}
		st.Finalise(rules)
		r := &types.Receipt{
			Type:              tx.Type(),
			CumulativeGasUsed: gp.CumulativeUsed(),
			TxHash:            tx.Hash(),
			GasUsed:           res.UsedGas,
			EffectiveGasPrice: new(big.Int).Set(res.GasPrice),
			BlockNumber:       new(big.Int).SetUint64(num),
			TransactionIndex:  uint(i),
			Status:            types.ReceiptStatusSuccessful,
		}
		if res.Failed() {
			r.Status = types.ReceiptStatusFailed
		}
		if tx.To() == nil {
			r.ContractAddress = crypto.CreateAddress(msg.From, tx.Nonce())
		}
		r.Logs = st.GetLogs(tx.Hash(), num, common.Hash{}, header.Time)
		if r.Logs == nil {
			r.Logs = []*types.Log{}
		}
		r.Bloom = types.CreateBloom(r)
		ex.txs = append(ex.txs, tx)
		ex.senders = append(ex.senders, msg.From)
		ex.receipts = append(ex.receipts, r)
		ex.logs = append(ex.logs, r.Logs...)
		baseFees.Add(baseFees, res.Fees.BaseFees)
	}

	// Post-execution system calls (core.PostExecution): the EIP-7002/7251 request queues, where
	// deployed (the dev genesis deploys them; a custom genesis may not).
	if rules.IsPrague {
		requests := [][]byte{}
		if err := gethcore.ParseDepositLogs(&requests, ex.logs, c.config); err != nil {
			return nil, fmt.Errorf("core: %w", err)
		}
		idx := uint32(len(ex.txs) + 1)
		if st.GetCodeSize(params.WithdrawalQueueAddress) > 0 {
			if err := gethcore.ProcessWithdrawalQueue(&requests, rules, evm, idx, nil); err != nil {
				return nil, fmt.Errorf("core: %w", err)
			}
		}
		if st.GetCodeSize(params.ConsolidationQueueAddress) > 0 {
			if err := gethcore.ProcessConsolidationQueue(&requests, rules, evm, idx, nil); err != nil {
				return nil, fmt.Errorf("core: %w", err)
			}
		}
		rh := types.CalcRequestsHash(requests)
		header.RequestsHash = &rh
	}

	// Fees, once per block: the tips the StateDB accrued for the COINBASE plus the base fees
	// go-ethereum burns, all to the LazAI module.
	if baseFees.Sign() > 0 {
		st.AddBalance(metisvm.LazAIAddress, uint256.MustFromBig(baseFees), tracing.BalanceIncreaseRewardTransactionFee)
	}
	ex.fees = st.CreditFees(metisvm.LazAIAddress)
	// Then the modules' end-of-block system calls: LazAI routes the fees it was just credited.
	// A failing system call is reverted and logged, as go-ethereum treats its own; it must not
	// make the chain unable to build blocks.
	// ex.fees holds tips and base fees together (the base fees were credited just above).
	blockFees := metisvm.Fees{Tips: new(big.Int).Sub(ex.fees.ToBig(), baseFees), BaseFees: baseFees}
	if err := c.host.EndBlock(evm, blockFees); err != nil {
		c.log.Error("core: end-of-block system call failed", "block", num, "err", err)
	}
	st.Finalise(rules)
	if err := st.Error(); err != nil {
		return nil, fmt.Errorf("core: execute block %d: %w", num, err)
	}

	header.GasUsed = gp.CumulativeUsed()
	header.TxHash = types.DeriveSha(types.Transactions(ex.txs), trie.NewStackTrie(nil))
	header.ReceiptHash = types.DeriveSha(ex.receipts, trie.NewStackTrie(nil))
	header.Bloom = types.MergeBloom(ex.receipts)
	return ex, nil
}

// commit makes an executed block durable and publishes it: (1) the pending record in the chain
// store, (2) the state commit, (3) the finished block in the chain store. See the package doc.
func (c *Chain) commit(ex *executed) (*types.Block, error) {
	raw, err := rlp.EncodeToBytes(&pendingBlock{Header: ex.header, Txs: ex.txs})
	if err != nil {
		return nil, fmt.Errorf("core: encode block: %w", err)
	}
	if err := c.store.db.Set(keyPending, raw, c.store.write); err != nil {
		c.failed = err
		return nil, fmt.Errorf("core: commit pending block: %w", err)
	}
	if err := c.runHook(stagePending); err != nil {
		return nil, err
	}
	root, err := c.commitState(ex.st)
	if err != nil {
		c.failed = err
		return nil, err
	}
	if err := c.runHook(stageState); err != nil {
		return nil, err
	}
	return c.finish(ex, root, true)
}

// commitState makes a block's state writes durable as the next state version and returns its
// root. It is the only place a block's state is committed (Seal and crash recovery).
func (c *Chain) commitState(st *state.StateDB) (common.Hash, error) {
	if err := st.Flush(c.stateDB); err != nil {
		c.stateDB.Discard()
		return common.Hash{}, fmt.Errorf("core: flush state: %w", err)
	}
	_, root, err := c.stateDB.Commit()
	if err != nil {
		return common.Hash{}, fmt.Errorf("core: commit state: %w", err)
	}
	return common.Hash(root), nil
}

func (c *Chain) runHook(stage string) error {
	if c.hook == nil {
		return nil
	}
	if err := c.hook(stage); err != nil {
		c.failed = err
		return err
	}
	return nil
}

// finish writes the block with its state root into the chain store (dropping the pending record),
// publishes it as the head, resets the pool and, if announce, notifies subscribers.
func (c *Chain) finish(ex *executed, root common.Hash, announce bool) (*types.Block, error) {
	header := types.CopyHeader(ex.header)
	header.Root = root
	var body types.Body
	body.Transactions = ex.txs
	if header.WithdrawalsHash != nil {
		body.Withdrawals = []*types.Withdrawal{}
	}
	block := types.NewBlockWithHeader(header).WithBody(body)
	hash := block.Hash()
	for _, r := range ex.receipts {
		r.BlockHash = hash
		for _, l := range r.Logs {
			l.BlockHash = hash
		}
	}
	batch := c.store.db.NewBatch()
	defer batch.Close()
	if err := writeBlock(batch, block, ex.receipts, ex.senders); err != nil {
		c.failed = err
		return nil, err
	}
	if err := batch.Delete(keyPending, nil); err != nil {
		c.failed = err
		return nil, fmt.Errorf("core: stage block: %w", err)
	}
	if err := batch.Commit(c.store.write); err != nil {
		c.failed = err
		return nil, fmt.Errorf("core: commit block %d: %w", block.NumberU64(), err)
	}
	c.view.Store(&view{block: block, chain: c.store})
	if c.pool != nil {
		c.pool.Reset(block.Header(), c.stateReader(block.NumberU64()))
	}
	if announce {
		c.headFeed.Send(ChainHeadEvent{Block: block, Receipts: ex.receipts})
		if len(ex.logs) > 0 {
			c.logsFeed.Send(ex.logs)
		}
	}
	return block, nil
}
