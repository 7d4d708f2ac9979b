package state

import (
	"encoding/binary"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	gstate "github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/vm"
)

const benchSlots = 4096

func benchSlot(i int) common.Hash {
	var h common.Hash
	binary.BigEndian.PutUint64(h[24:], uint64(i)*0x9e3779b97f4a7c15)
	return h
}

// benchState builds a contract with benchSlots slots on both sides and commits it.
func benchState(b *testing.B) (*harness, common.Address) {
	h := newHarness(b)
	a := common.HexToAddress("0xbe0c")
	for _, st := range []vm.StateDB{h.m, h.g} {
		st.SetNonce(a, 1, tracing.NonceChangeGenesis)
		st.SetCode(a, []byte{0x00}, tracing.CodeChangeGenesis)
		for i := range benchSlots {
			st.SetState(a, benchSlot(i), common.Hash{31: byte(i | 1)})
		}
	}
	h.endBlock()
	return h, a
}

// BenchmarkGetState reads storage slots through the vm.StateDB interface: "cold" is the first
// read of a slot in a block (a new StateDB every benchSlots reads), "hot" a slot already read.
// The baseline is go-ethereum's StateDB over its in-memory database, in the same run.
func BenchmarkGetState(b *testing.B) {
	h, a := benchState(b)
	root := h.g.IntermediateRoot(testRules)
	openGeth := func() vm.StateDB {
		g, err := gstate.New(root, h.gdb)
		if err != nil {
			b.Fatal(err)
		}
		return g
	}
	impls := []struct {
		name string
		open func() vm.StateDB
	}{
		{"metis", func() vm.StateDB { return h.open() }},
		{"geth", openGeth},
	}
	for _, impl := range impls {
		b.Run("cold/"+impl.name, func(b *testing.B) {
			var st vm.StateDB
			i := 0
			for b.Loop() {
				if i%benchSlots == 0 {
					st = impl.open()
				}
				st.GetState(a, benchSlot(i%benchSlots))
				i++
			}
		})
		b.Run("hot/"+impl.name, func(b *testing.B) {
			st := impl.open()
			for i := range benchSlots {
				st.GetState(a, benchSlot(i))
			}
			i := 0
			for b.Loop() {
				st.GetState(a, benchSlot(i%benchSlots))
				i++
			}
		})
	}
}
