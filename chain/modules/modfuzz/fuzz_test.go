package modfuzz

import (
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/chain/modules/internal/modtest"
	"github.com/metisgo/metis/chain/node"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
)

var modules = []struct {
	addr common.Address
	abi  *abi.ABI
}{{dat.Address, dat.ABI}, {idao.Address, idao.ABI}, {lazai.Address, lazai.ABI}}

// FuzzModuleCalldata sends arbitrary calldata (and value) to each module, as any transaction
// may: every input must end in success or a revert, never a panic in module code (which the host
// turns into a failed call, hiding the bug) and never a host error. The first byte picks the
// module; the rest is the calldata. The seeds are well-formed calls of every method with
// plausible arguments, so mutations reach the handlers, not only the decoder.
func FuzzModuleCalldata(f *testing.F) {
	for mi, m := range modules {
		for _, method := range m.abi.Methods {
			args := make([]any, len(method.Inputs))
			ok := true
			for i, in := range method.Inputs {
				v, good := sample(in.Type)
				if !good {
					ok = false
					break
				}
				args[i] = v
			}
			if !ok {
				continue
			}
			data, err := m.abi.Pack(method.Name, args...)
			if err != nil {
				continue
			}
			f.Add(append([]byte{byte(mi)}, data...), uint64(0))
			f.Add(append([]byte{byte(mi)}, data...), uint64(1e16))
		}
	}
	accts := modtest.Accounts(1)
	mods := node.DefaultModules()
	f.Fuzz(func(t *testing.T, in []byte, value uint64) {
		if len(in) == 0 {
			return
		}
		m := modules[int(in[0])%len(modules)]
		env, err := modtest.New(mods, accts) // a fresh state per input keeps runs reproducible
		if err != nil {
			t.Fatal(err)
		}
		res, err := env.Apply(accts[0], m.addr, new(big.Int).SetUint64(value), in[1:])
		if err != nil {
			return // a consensus error (the sender cannot pay the value): not the module's input
		}
		if res.Err != nil && strings.Contains(res.Err.Error(), "panicked") {
			t.Fatalf("module %s panicked on %x: %v", m.addr, in[1:], res.Err)
		}
	})
}

// sample returns a plausible value of an ABI type for the seeds.
func sample(t abi.Type) (any, bool) {
	switch t.T {
	case abi.UintTy:
		switch t.Size {
		case 8:
			return uint8(1), true
		case 16:
			return uint16(1000), true
		case 32:
			return uint32(1), true
		case 64:
			return uint64(1), true
		}
		return big.NewInt(1), true
	case abi.BoolTy:
		return true, true
	case abi.AddressTy:
		return common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"), true
	case abi.StringTy:
		return "ipfs://x", true
	case abi.BytesTy:
		return []byte{1, 2, 3}, true
	case abi.FixedBytesTy:
		if t.Size == 32 {
			return [32]byte{1}, true
		}
	case abi.SliceTy:
		switch t.Elem.T {
		case abi.UintTy:
			return []*big.Int{big.NewInt(1)}, true
		case abi.AddressTy:
			return []common.Address{lazai.Address}, true
		case abi.BytesTy:
			return [][]byte{{1}}, true
		}
	case abi.TupleTy:
		v := reflect.New(t.TupleType).Elem()
		for i, et := range t.TupleElems {
			ev, ok := sample(*et)
			if !ok {
				return nil, false
			}
			v.Field(i).Set(reflect.ValueOf(ev))
		}
		return v.Interface(), true
	}
	return nil, false
}
