package state

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/core/vm/program"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

// TestEVM runs hand-assembled contracts (SSTORE/SLOAD, TSTORE/TLOAD, LOG, CREATE2, SELFDESTRUCT
// of new and old contracts, reverted sub-calls, a contract-creation transaction, transfers)
// through go-ethereum's own state transition (core.ApplyMessage) on both StateDBs and compares
// results, state and logs after every transaction and after each block is flushed and re-opened.
// The coinbase's tips, which go-ethereum pays per transaction, are accrued as PendingFees and
// credited once at the end of the block.
func TestEVM(t *testing.T) {
	h := newHarness(t)
	var (
		sender   = common.HexToAddress("0x5e00000000000000000000000000000000000001")
		coinbase = common.HexToAddress("0xc0ffee0000000000000000000000000000000001")
		aAddr    = common.HexToAddress("0xa000000000000000000000000000000000000001")
		bAddr    = common.HexToAddress("0xb000000000000000000000000000000000000001")
		rAddr    = common.HexToAddress("0xe000000000000000000000000000000000000001")
		eoa      = common.HexToAddress("0xe0a0000000000000000000000000000000000001")
		nowhere  = common.HexToAddress("0x0000000000000000000000000000000000dead01")
	)
	child := program.New().Sstore(1, 9).Op(vm.CALLER, vm.SELFDESTRUCT).Bytes()
	childInit := program.New().Sstore(0, 42).ReturnViaCodeCopy(child).Bytes()
	child2Init := program.New().Sstore(0, 1).Op(vm.CALLER, vm.SELFDESTRUCT).Bytes()
	bCode := program.New().Sstore(4, 4).Op(vm.CALLER, vm.SELFDESTRUCT).Bytes()
	rCode := program.New().Sstore(0, 77).Tstore(0, 1).Push(0).Push(0).Op(vm.LOG0).Push(0).Push(0).Op(vm.REVERT).Bytes()
	aCode := program.New().
		Push(0).Op(vm.SLOAD).Push(1).Op(vm.ADD).Push(0).Op(vm.SSTORE). // slot0++
		Sstore(1, 0).                                                  // clear a slot (refund)
		Tstore(5, 7).
		Push(5).Op(vm.TLOAD).Push(2).Op(vm.SSTORE). // slot2 = tload(5)
		MstoreSmall([]byte{0xab, 0xcd}, 0).Push(0xfeed).Push(0xbeef).Push(32).Push(0).Op(vm.LOG2).
		Create2ThenCall(childInit, 1).              // create, then call: destructs in the same tx
		Create2(child2Init, 2).Op(vm.POP).          // destructs in its constructor
		Call(nil, bAddr, 0, 0, 0, 0, 0).Op(vm.POP). // an old contract's SELFDESTRUCT: only moves its balance
		Call(nil, rAddr, 0, 0, 0, 0, 0).Op(vm.POP). // reverted sub-call
		Push(0).Op(vm.SLOAD).Push(3).Op(vm.SSTORE).
		Op(vm.STOP).Bytes()
	deployInit := program.New().Sstore(0, 5).ReturnViaCodeCopy(aCode).Bytes()

	childAddr := crypto.CreateAddress2(aAddr, common.BigToHash(big.NewInt(1)), crypto.Keccak256(childInit))
	child2Addr := crypto.CreateAddress2(aAddr, common.BigToHash(big.NewInt(2)), crypto.Keccak256(child2Init))
	addrs := []common.Address{sender, aAddr, bAddr, rAddr, eoa, nowhere, childAddr, child2Addr}
	slots := make([]common.Hash, 6)
	for i := range slots {
		slots[i] = common.BigToHash(big.NewInt(int64(i)))
	}

	// Genesis, applied to both sides.
	for _, st := range []vm.StateDB{h.m, h.g} {
		st.AddBalance(sender, new(uint256.Int).Lsh(uint256.NewInt(1), 80), tracing.BalanceIncreaseGenesisBalance)
		for _, c := range []struct {
			addr common.Address
			code []byte
		}{{aAddr, aCode}, {bAddr, bCode}, {rAddr, rCode}} {
			st.SetNonce(c.addr, 1, tracing.NonceChangeGenesis)
			st.SetCode(c.addr, c.code, tracing.CodeChangeGenesis)
		}
		st.SetState(aAddr, slots[0], common.BigToHash(big.NewInt(10)))
		st.SetState(aAddr, slots[1], common.BigToHash(big.NewInt(20)))
		st.SetState(bAddr, slots[3], common.BigToHash(big.NewInt(1)))
		st.AddBalance(bAddr, uint256.NewInt(1000), tracing.BalanceIncreaseGenesisBalance)
	}
	h.endBlock()
	h.compareAccounts("genesis", addrs, slots)
	h.checkStore("genesis", addrs, slots)

	type txn struct {
		to    *common.Address
		value uint64
		data  []byte
		list  types.AccessList
	}
	blocks := [][]txn{
		{
			{to: &aAddr},
			{to: &aAddr, list: types.AccessList{{Address: bAddr, StorageKeys: []common.Hash{slots[4]}}}},
			{data: deployInit},
			{to: &eoa, value: 12345},
		},
		{
			{to: &aAddr},
			{to: &rAddr},
			{to: &nowhere},
			{to: &eoa, value: 1},
		},
	}
	tipCap, feeCap := uint256.NewInt(2), uint256.NewInt(9)
	for bi, block := range blocks {
		ctx := vm.BlockContext{
			CanTransfer: core.CanTransfer,
			Transfer:    core.Transfer,
			GetHash:     func(uint64) common.Hash { return common.Hash{} },
			Coinbase:    coinbase,
			GasLimit:    30_000_000,
			BlockNumber: new(big.Int).SetUint64(h.block),
			Difficulty:  new(big.Int),
			BaseFee:     big.NewInt(7),
			BlobBaseFee: big.NewInt(1),
			Random:      &common.Hash{},
		}
		mevm := vm.NewEVM(ctx, h.m, testConfig, vm.Config{})
		gevm := vm.NewEVM(ctx, h.g, testConfig, vm.Config{})
		gasPool := func() *core.GasPool { return core.NewGasPool(ctx.GasLimit) }
		coinbaseStart := h.g.GetBalance(coinbase).Clone()
		coinbaseExisted := h.m.Exist(coinbase)
		for ti, tx := range block {
			where := fmt.Sprintf("block %d tx %d", h.block, ti)
			if tx.to == nil {
				addrs = append(addrs, crypto.CreateAddress(sender, h.g.GetNonce(sender)))
			}
			msg := &core.Message{
				To: tx.to, From: sender, Nonce: h.g.GetNonce(sender), Value: uint256.NewInt(tx.value),
				GasLimit: 2_000_000, GasPrice: feeCap, GasFeeCap: feeCap, GasTipCap: tipCap,
				Data: tx.data, AccessList: tx.list,
			}
			thash := crypto.Keccak256Hash([]byte(where))
			h.m.SetTxContext(thash, ti, uint32(ti+1))
			h.g.SetTxContext(thash, ti, uint32(ti+1))
			mres, merr := core.ApplyMessage(mevm, msg, gasPool())
			gres, gerr := core.ApplyMessage(gevm, msg, gasPool())
			if fmt.Sprint(merr) != fmt.Sprint(gerr) {
				t.Fatalf("%s: ApplyMessage: metis %v, geth %v", where, merr, gerr)
			}
			if merr == nil {
				if mres.UsedGas != gres.UsedGas || fmt.Sprint(mres.Err) != fmt.Sprint(gres.Err) || !bytes.Equal(mres.ReturnData, gres.ReturnData) {
					t.Fatalf("%s: result: metis %+v, geth %+v", where, mres, gres)
				}
				t.Logf("%s: gas %d, err %v", where, mres.UsedGas, mres.Err)
			}
			h.compareLogs(where, thash)
			h.m.Finalise(testRules)
			h.g.Finalise(testRules)
			h.compareAccounts(where, addrs, slots)
			if h.m.Exist(coinbase) != coinbaseExisted || !h.m.GetBalance(coinbase).Eq(coinbaseStart) {
				t.Fatalf("%s: fee accrual touched the coinbase", where)
			}
			tips := new(uint256.Int).Sub(h.g.GetBalance(coinbase), coinbaseStart)
			if !h.m.PendingFees().Eq(tips) {
				t.Fatalf("%s: pending fees %v, geth paid the coinbase %v", where, h.m.PendingFees(), tips)
			}
		}
		switch bi {
		case 0:
			// Contract A's first two calls ran in this block: child was created, destroyed,
			// re-created and destroyed again; B survived its SELFDESTRUCT (EIP-6780).
			if !h.m.Exist(bAddr) || h.m.GetCodeSize(bAddr) == 0 || h.m.Exist(childAddr) || h.m.Exist(child2Addr) {
				t.Fatalf("EIP-6780: B exists %v (code %d), child exists %v, child2 exists %v",
					h.m.Exist(bAddr), h.m.GetCodeSize(bAddr), h.m.Exist(childAddr), h.m.Exist(child2Addr))
			}
			if got := h.m.GetState(aAddr, slots[3]); got != common.BigToHash(big.NewInt(12)) {
				t.Fatalf("A's counter: %s", got)
			}
		}
		if err := h.m.Flush(h.db); err == nil {
			t.Fatal("Flush with uncredited fees succeeded")
		}
		h.m.CreditFees(coinbase)
		h.m.Finalise(testRules)
		all := append(addrs[:len(addrs):len(addrs)], coinbase)
		h.compareAccounts(fmt.Sprintf("block %d, fees credited", h.block), all, slots)
		h.endBlock()
		h.compareAccounts(fmt.Sprintf("after block %d", h.block-1), all, slots)
		h.checkStore(fmt.Sprintf("after block %d", h.block-1), all, slots)
	}
}
