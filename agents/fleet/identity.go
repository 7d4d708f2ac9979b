package fleet

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/metisgo/metis/agents"
	"github.com/metisgo/metis/agents/event"
)

// identity is one agent of the fleet as the event stream knows it: a name and a key, whose
// events (from the agents runtime and from the services it runs) are numbered in one sequence,
// signed and handed to the publishers.
type identity struct {
	name string
	key  *ecdsa.PrivateKey
	addr common.Address
	pubs []agents.Publisher

	mu  sync.Mutex // events are numbered, signed and published in order
	seq uint64
}

func newIdentity(name string, key *ecdsa.PrivateKey, pubs ...agents.Publisher) *identity {
	return &identity{name: name, key: key, addr: crypto.PubkeyToAddress(key.PublicKey), pubs: pubs}
}

// Publish takes an event of the agents runtime, renumbers it in the identity's sequence, signs
// it again and publishes it, so that a runtime agent and a service can share one identity.
func (id *identity) Publish(ctx context.Context, e *event.Event) error {
	c := *e
	c.Name = id.name
	return id.publish(ctx, &c)
}

// emit publishes a new event of the identity's own (a service's).
func (id *identity) emit(ctx context.Context, kind event.Kind, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		raw, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	_ = id.publish(ctx, &event.Event{Name: id.name, Kind: kind, Time: time.Now().UnixMilli(), Data: raw})
}

func (id *identity) publish(ctx context.Context, e *event.Event) error {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.seq++
	e.Seq = id.seq
	if err := e.Sign(id.key); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var first error
	for _, p := range id.pubs {
		if err := p.Publish(pctx, e); err != nil && first == nil {
			first = err
		}
	}
	return first
}
