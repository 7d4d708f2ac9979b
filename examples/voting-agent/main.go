// Command voting-agent is an iDAO member agent that votes on a proposal with a reason recorded
// on chain. It waits until the proposal (--proposal, default the newest) is open, then runs one
// step of the agents runtime: its brain reads the proposal and decides (a few lines of Go
// here that vote --support with --reason; --ollama MODEL asks a real model instead), the
// runtime checks the call against the policy, which allows only castVote and
// castVoteWithReason, and signs it.
//
//	go run ./examples/voting-agent --rpc ws://127.0.0.1:8545 --dev-account 7 --reason "raises the APR"
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/agents"
	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/idao"
)

// voteBrain votes support on proposal with reason, whatever it is asked.
type voteBrain struct {
	proposal        *big.Int
	support, reason string
}

func (b voteBrain) GenerateContent(context.Context, []llms.MessageContent, ...llms.CallOption) (*llms.ContentResponse, error) {
	args, _ := json.Marshal(map[string]string{"proposal_id": b.proposal.String(), "support": b.support, "reason": b.reason})
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{ToolCalls: []llms.ToolCall{{
		ID: "call_1", Type: "function", FunctionCall: &llms.FunctionCall{Name: "idao_vote", Arguments: string(args)},
	}}}}}, nil
}

func (b voteBrain) Call(ctx context.Context, prompt string, opts ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, b, prompt, opts...)
}

func main() {
	rpc := flag.String("rpc", "ws://127.0.0.1:8545", "node JSON-RPC URL")
	account := flag.Int("dev-account", 7, "dev account the agent signs with")
	proposal := flag.Uint64("proposal", 0, "proposal to vote on (0: the newest)")
	support := flag.String("support", "for", "for, against or abstain")
	reason := flag.String("reason", "It makes Holders Mining more rewarding.", "the reason recorded with the vote")
	ollama := flag.String("ollama", "", "an Ollama model to decide instead of the fixed brain")
	flag.Parse()
	if err := run(*rpc, *account, *proposal, *support, *reason, *ollama); err != nil {
		log.Fatal(err)
	}
}

func run(rpc string, account int, proposal uint64, support, reason, ollama string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eth, err := ethclient.DialContext(ctx, rpc)
	if err != nil {
		return err
	}
	defer eth.Close()
	gov := idao.NewClient(eth, nil)
	if proposal == 0 {
		if proposal, err = gov.ProposalCount(ctx); err != nil {
			return err
		}
		if proposal == 0 {
			return fmt.Errorf("there is no proposal to vote on")
		}
	}
	id := new(big.Int).SetUint64(proposal)
	for {
		st, err := gov.State(ctx, id)
		if err != nil {
			return err
		}
		if st == idao.Active {
			break
		}
		if st != idao.Pending {
			return fmt.Errorf("proposal %s is %s", id, st)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	p, err := gov.Proposal(ctx, id)
	if err != nil {
		return err
	}

	model := "{engine: gguf, model: none}" // replaced by WithModel below
	if ollama != "" {
		model = fmt.Sprintf("{engine: ollama, model: %q}", ollama)
	}
	spec, err := agents.ParseSpec([]byte(`
name: voter
model: ` + model + `
system: You are a member of the iDAO. You vote on every proposal and always give your reason.
tools: [idao_vote]
policy: {spend_cap: 0.1 METIS, gas_cap: 500000}
max_steps: 1
`))
	if err != nil {
		return err
	}
	opts := []agents.Option{agents.WithKey(core.DevAccounts()[account].Key),
		agents.WithPublisher(agents.PublisherFunc(func(_ context.Context, e *event.Event) error {
			fmt.Printf("%-9s %s\n", e.Kind, e.Data)
			return nil
		}))}
	if ollama == "" {
		opts = append(opts, agents.WithModel(voteBrain{proposal: id, support: support, reason: reason}))
	}
	a, err := agents.New(ctx, spec, eth, opts...)
	if err != nil {
		return err
	}
	defer a.Close()
	prompt := fmt.Sprintf("Proposal %s is open for votes: %q. Vote %s on it with the reason %q.", id, p.Description, support, reason)
	if err := a.Handle(ctx, agents.Trigger{Kind: "proposal", Data: map[string]any{"proposal_id": id.String()}, Prompt: prompt}); err != nil {
		return err
	}
	voted, err := gov.HasVoted(ctx, id, a.Address())
	if err != nil {
		return err
	}
	if !voted {
		return fmt.Errorf("agent %s did not vote on proposal %s", a.Address().Hex(), id)
	}
	p, _ = gov.Proposal(ctx, id)
	fmt.Printf("voted %s on proposal %s: for %s, against %s, abstain %s\n", support, id, p.ForVotes, p.AgainstVotes, p.AbstainVotes)
	return nil
}
