package node

import (
	"sort"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/metrics"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/rpc"
)

// nodeMetrics are the node's Prometheus metrics, in a registry of the node's own (not
// go-ethereum's global one), exported with go-ethereum's Prometheus handler. Block figures are
// counted as heads arrive; pool and RPC figures are read when /metrics is scraped.
type nodeMetrics struct {
	reg metrics.Registry
	rpc *rpc.Server

	blocks, txs, gas *metrics.Counter
	head, baseFee    *metrics.Gauge
	poolTxs          *metrics.Gauge
	wsConns, subs    *metrics.Gauge
	dropped          *metrics.Gauge

	mu      sync.Mutex
	methods map[string][2]*metrics.Gauge // calls, errors
}

func newNodeMetrics(reg metrics.Registry) *nodeMetrics {
	return &nodeMetrics{
		reg:     reg,
		blocks:  metrics.NewRegisteredCounter("chain/blocks", reg),
		txs:     metrics.NewRegisteredCounter("chain/transactions", reg),
		gas:     metrics.NewRegisteredCounter("chain/gas", reg),
		head:    metrics.NewRegisteredGauge("chain/head", reg),
		baseFee: metrics.NewRegisteredGauge("chain/basefee", reg),
		poolTxs: metrics.NewRegisteredGauge("txpool/transactions", reg),
		wsConns: metrics.NewRegisteredGauge("rpc/ws/connections", reg),
		subs:    metrics.NewRegisteredGauge("rpc/subscriptions", reg),
		dropped: metrics.NewRegisteredGauge("rpc/subscribers/dropped", reg),
		methods: make(map[string][2]*metrics.Gauge),
	}
}

func (m *nodeMetrics) block(b *types.Block) {
	m.blocks.Inc(1)
	m.txs.Inc(int64(len(b.Transactions())))
	m.gas.Inc(int64(b.GasUsed()))
	m.head.Update(b.Number().Int64())
	if b.BaseFee() != nil {
		m.baseFee.Update(b.BaseFee().Int64())
	}
}

// refresh reads the figures that are cheaper to look up than to count as they happen.
func (m *nodeMetrics) refresh(c *core.Chain) {
	m.poolTxs.Update(int64(c.Pool().Len()))
	if m.rpc == nil {
		return
	}
	st := m.rpc.Stats()
	m.wsConns.Update(st.WSConnections)
	m.subs.Update(st.Subscriptions)
	m.dropped.Update(int64(st.DroppedSubscribers))
	names := make([]string, 0, len(st.Methods))
	for name := range st.Methods {
		names = append(names, name)
	}
	sort.Strings(names)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range names {
		g, ok := m.methods[name]
		if !ok {
			g = [2]*metrics.Gauge{
				metrics.NewRegisteredGauge("rpc/calls/"+name, m.reg),
				metrics.NewRegisteredGauge("rpc/errors/"+name, m.reg),
			}
			m.methods[name] = g
		}
		ms := st.Methods[name]
		g[0].Update(int64(ms.Requests))
		g[1].Update(int64(ms.Errors))
	}
}
