// Command subscribe follows a node over WebSocket: the agents' signed events (agent_subscribe,
// after the most recent ones from agent_recent) and the chain's new blocks, DAT classes and
// iDAO proposals, one line each, until --count agent events arrived or --for passed.
//
//	go run ./examples/subscribe --rpc ws://127.0.0.1:8545 --for 1m
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/agents/fleet"
	"github.com/metisgo/metis/agents/stream"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/idao"
)

func main() {
	url := flag.String("rpc", "ws://127.0.0.1:8545", "node WebSocket URL")
	count := flag.Int("count", 0, "stop after this many agent events (0: no limit)")
	dur := flag.Duration("for", time.Minute, "stop after this long (0: no limit)")
	kinds := flag.String("kind", "", "only agent events of this kind (started, thought, tool_call, tx_sent, tx_mined, ...)")
	flag.Parse()
	if err := run(*url, *count, *dur, *kinds); err != nil {
		log.Fatal(err)
	}
}

func run(url string, count int, dur time.Duration, kind string) error {
	ctx := context.Background()
	if dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dur)
		defer cancel()
	}
	rc, err := rpc.DialContext(ctx, url)
	if err != nil {
		return err
	}
	defer rc.Close()
	eth := ethclient.NewClient(rc)
	var f event.Filter
	if kind != "" {
		f.Kinds = []event.Kind{event.Kind(kind)}
	}

	// Subscribe first, then print what happened before: nothing falls in between (a few
	// events may show twice).
	events := make(chan *event.Event, 256)
	sub, err := stream.Subscribe(ctx, rc, f, events)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	heads := make(chan *types.Header, 16)
	hsub, err := eth.SubscribeNewHead(ctx, heads)
	if err != nil {
		return err
	}
	defer hsub.Unsubscribe()
	dc := dat.NewClient(eth, nil)
	classes := make(chan *dat.ClassCreated, 16)
	csub, err := dc.WatchClassCreated(ctx, classes)
	if err != nil {
		return err
	}
	defer csub.Unsubscribe()
	gc := idao.NewClient(eth, nil)
	proposals := make(chan *idao.ProposalCreated, 16)
	psub, err := gc.WatchProposalCreated(ctx, proposals)
	if err != nil {
		return err
	}
	defer psub.Unsubscribe()

	recent, err := stream.Recent(ctx, rc, f, 20)
	if err != nil {
		return err
	}
	for _, e := range recent {
		fmt.Println("recent  " + fleet.Line(e))
	}
	n := 0
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("done: %d agent events\n", n)
			return nil
		case err := <-sub.Err():
			return fmt.Errorf("agent events: %w", err)
		case err := <-hsub.Err():
			return fmt.Errorf("new heads: %w", err)
		case e := <-events:
			fmt.Println("agent   " + fleet.Line(e))
			if n++; count > 0 && n >= count {
				fmt.Printf("done: %d agent events\n", n)
				return nil
			}
		case h := <-heads:
			fmt.Printf("block   %d  gas used %d\n", h.Number, h.GasUsed)
		case c := <-classes:
			fmt.Printf("dat     class %s created by %s\n", c.ClassId, c.Owner.Hex())
		case p := <-proposals:
			fmt.Printf("idao    proposal %s by %s: %s\n", p.ProposalId, p.Proposer.Hex(), p.Description)
		}
	}
}
