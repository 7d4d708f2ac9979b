package agents

import (
	"context"
	"fmt"
	"math/big"
	"testing"

	"github.com/tmc/langchaingo/llms"

	"github.com/metisgo/metis/agents/event"
	"github.com/metisgo/metis/internal/devnet"
	"github.com/metisgo/metis/lazai"
)

// BenchmarkAgentStep is one agent step with a node: a chain trigger goes to the model, which
// decides to call lazai_stake; the call is validated, checked by the policy, signed, sent and
// waited for, and every step is a signed event. The model answers instantly (a fixed reply,
// the same one TestAgentTriggerSendsTx gets from a real GGUF file), so the figure excludes
// inference. Baseline "direct": the same transaction through the typed client (estimate, sign,
// send, wait), no agent. "refused": the policy refuses at the signing point (after the
// estimate), nothing is sent. "gguf": the same step with the scripted GGUF model on the
// embedded engine, inference included, for scale.
func BenchmarkAgentStep(b *testing.B) {
	net := devnet.Start(b, devnet.Options{})
	ctx := context.Background()
	const reply = `{"name": "lazai_stake", "arguments": {"amount": "100 wei"}}`
	instant := fakeModel(func([]llms.MessageContent) (*llms.ContentResponse, error) {
		return &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: reply}}}, nil
	})
	nop := PublisherFunc(func(context.Context, *event.Event) error { return nil })
	trigger := Trigger{Kind: TriggerChain, Event: "class_created",
		Data: map[string]any{"ClassId": "1", "Owner": net.Addrs[0].Hex(), "Kind": 0, "block": 12}}
	// No memory: every step sees the same prompt (a long memory would outgrow the tiny model's
	// context).
	newBench := func(b *testing.B, acct int, policy string, opts ...Option) *Agent {
		s := spec(b, scriptedModel(b, reply), fmt.Sprintf("tools: [lazai_stake]\nmax_steps: 1\npolicy: %s\n"+
			"key: {dev_account: %d}\nmemory: {max_messages: 0}\n", policy, acct))
		a, err := New(ctx, s, net.Eth, append([]Option{WithPublisher(nop)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		return a
	}

	b.Run("path=direct", func(b *testing.B) {
		c := lazai.NewClient(net.Eth, net.Signer(1))
		for b.Loop() {
			if _, err := c.Stake(ctx, big.NewInt(100)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=agent", func(b *testing.B) {
		a := newBench(b, 2, "{spend_cap: 1}", WithModel(instant))
		for b.Loop() {
			if err := a.Handle(ctx, trigger); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=refused", func(b *testing.B) {
		a := newBench(b, 3, "{spend_cap: 1, gas_cap: 21000}", WithModel(instant))
		for b.Loop() {
			if err := a.Handle(ctx, trigger); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=gguf", func(b *testing.B) {
		a := newBench(b, 4, "{spend_cap: 1}")
		for b.Loop() {
			if err := a.Handle(ctx, trigger); err != nil {
				b.Fatal(err)
			}
		}
	})
}
