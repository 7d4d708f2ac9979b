package rpc

import (
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of the server's counters, ready to be exported as Prometheus counters
// and gauges by the node.
type Stats struct {
	// Methods counts, per JSON-RPC method that reached this package, the calls and the
	// calls that returned an error. Unknown methods and arguments the server could not
	// decode are answered by go-ethereum's rpc package before that and are not counted.
	Methods map[string]MethodStats
	// WSConnections is the number of open WebSocket connections.
	WSConnections int64
	// Subscriptions is the number of live subscriptions.
	Subscriptions int64
	// DroppedSubscribers counts connections closed because a subscription's buffer
	// overflowed or a notification could not be written (slow or dead consumer).
	DroppedSubscribers uint64
}

// MethodStats counts the calls of one method.
type MethodStats struct {
	Requests uint64
	Errors   uint64
}

type methodCounter struct {
	requests, errors atomic.Uint64
}

type stats struct {
	methods       sync.Map // string -> *methodCounter
	wsConns       atomic.Int64
	subscriptions atomic.Int64
	dropped       atomic.Uint64
}

// track counts one call of method; errp points at the method's named error result and is
// read when the deferred call runs. A nil errp counts a method that cannot fail.
func (s *stats) track(method string, errp *error) {
	c, ok := s.methods.Load(method)
	if !ok {
		c, _ = s.methods.LoadOrStore(method, new(methodCounter))
	}
	mc := c.(*methodCounter)
	mc.requests.Add(1)
	if errp != nil && *errp != nil {
		mc.errors.Add(1)
	}
}

func (s *stats) snapshot() Stats {
	out := Stats{
		Methods:            make(map[string]MethodStats),
		WSConnections:      s.wsConns.Load(),
		Subscriptions:      s.subscriptions.Load(),
		DroppedSubscribers: s.dropped.Load(),
	}
	s.methods.Range(func(k, v any) bool {
		mc := v.(*methodCounter)
		out.Methods[k.(string)] = MethodStats{Requests: mc.requests.Load(), Errors: mc.errors.Load()}
		return true
	})
	return out
}
