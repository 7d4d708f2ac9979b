// Command minimal-agent is the smallest agent: a spec built in code, a key, a brain, one tool,
// and one step on a dev node. Its brain is a few lines of Go that always decide to stake 1
// METIS (--ollama MODEL thinks with a real Ollama model instead); the agents runtime validates
// the call, checks it against the policy, signs and sends it, and prints each event.
//
//	go run ./examples/minimal-agent --rpc ws://127.0.0.1:8545
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/agents"
	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/lazai"
)

// stakeBrain is a langchaingo model that answers every prompt with one tool call.
type stakeBrain struct{}

func (stakeBrain) GenerateContent(context.Context, []llms.MessageContent, ...llms.CallOption) (*llms.ContentResponse, error) {
	return &llms.ContentResponse{Choices: []*llms.ContentChoice{{ToolCalls: []llms.ToolCall{{
		ID: "call_1", Type: "function",
		FunctionCall: &llms.FunctionCall{Name: "lazai_stake", Arguments: `{"amount": "1"}`},
	}}}}}, nil
}

func (b stakeBrain) Call(ctx context.Context, prompt string, opts ...llms.CallOption) (string, error) {
	return llms.GenerateFromSinglePrompt(ctx, b, prompt, opts...)
}

func main() {
	rpc := flag.String("rpc", "ws://127.0.0.1:8545", "node JSON-RPC URL")
	account := flag.Int("dev-account", 9, "dev account the agent signs with")
	ollama := flag.String("ollama", "", "an Ollama model to think with instead of the fixed brain")
	flag.Parse()
	if err := run(*rpc, *account, *ollama); err != nil {
		log.Fatal(err)
	}
}

func run(rpc string, account int, ollama string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eth, err := ethclient.DialContext(ctx, rpc)
	if err != nil {
		return err
	}
	defer eth.Close()

	model := "{engine: gguf, model: none}" // replaced by WithModel below
	if ollama != "" {
		model = fmt.Sprintf("{engine: ollama, model: %q}", ollama)
	}
	spec, err := agents.ParseSpec([]byte(`
name: minimal
model: ` + model + `
system: You grow your stake in Holders Mining, 1 METIS at a time.
tools: [lazai_stake]
policy: {spend_cap: 2 METIS, gas_cap: 500000}
max_steps: 1
`))
	if err != nil {
		return err
	}
	key := core.DevAccounts()[account].Key
	opts := []agents.Option{agents.WithKey(key),
		agents.WithPublisher(agents.PublisherFunc(func(_ context.Context, e *event.Event) error {
			fmt.Printf("%-9s %s\n", e.Kind, e.Data)
			return nil
		}))}
	if ollama == "" {
		opts = append(opts, agents.WithModel(stakeBrain{}))
	}
	a, err := agents.New(ctx, spec, eth, opts...)
	if err != nil {
		return err
	}
	defer a.Close()
	lz := lazai.NewClient(eth, nil)
	before, err := lz.StakeOf(ctx, a.Address())
	if err != nil {
		return err
	}
	if err := a.Handle(ctx, agents.Trigger{Kind: agents.TriggerStart, Prompt: "Stake 1 METIS."}); err != nil {
		return err
	}
	after, err := lz.StakeOf(ctx, a.Address())
	if err != nil {
		return err
	}
	fmt.Printf("agent %s staked: %s -> %s\n", crypto.PubkeyToAddress(key.PublicKey).Hex(), agents.FormatAmount(before), agents.FormatAmount(after))
	if after.Cmp(before) <= 0 {
		fmt.Fprintln(os.Stderr, "the agent did not stake")
		os.Exit(1)
	}
	return nil
}
