package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/metisgo/metis/internal/devnet"
)

// TestVerifyCLI walks an attest task through the CLI: three verifiers register, a task is
// requested, a receipt made by 'metis infer' is submitted, two verifiers attest, anyone
// finalizes; show and ls in text and JSON; and the named errors on the way.
func TestVerifyCLI(t *testing.T) {
	cli, net := newChainCLI(t)
	model := devnet.WriteModel(t, t.TempDir(), "tiny.gguf", 3)
	devnet.ModelClass(t, context.Background(), net.Eth, net.Keys[0], model)

	for _, a := range []string{"4", "5", "6"} {
		wantLines(t, "register", cli.ok("verifier", "register", "--dev-account", a), "registered as a verifier")
	}
	cli.fail([]string{"verifier", "register", "--dev-account", "4"}, "AlreadyVerifier")

	out := cli.ok("verify", "request", "--class", "1", "--prompt", "hi", "--model", model, "--mode", "attest", "--dev-account", "1")
	wantLines(t, "request", out, "task 1 requested (attest, class 1, fee 0.01 METIS)", "deadline")
	wantLines(t, "show", cli.ok("verify", "show", "1"), "status      requested", "verifiers   0 approve, 0 reject of 3 chosen")
	wantLines(t, "ls", cli.ok("verify", "ls"), "ID  MODE", "attest", "requested", "a result by block")

	receipt := filepath.Join(t.TempDir(), "receipt.json")
	mustMetis(t, "infer", "--engine", "gguf", "--model", model, "--max-tokens", "32", "--dev-account", "2", "--receipt-out", receipt, "hi")
	cli.fail([]string{"verify", "submit", "1", "--receipt", receipt, "--dev-account", "3"}, "BadReceipt", "not the sender")
	wantLines(t, "submit", cli.ok("verify", "submit", "1", "--receipt", receipt, "--dev-account", "2"), "result of task 1 submitted")
	cli.fail([]string{"verify", "finalize", "1"}, "TooEarly")
	cli.fail([]string{"verify", "attest", "1", "--dev-account", "7"}, "NotChosen")
	wantLines(t, "attest", cli.ok("verify", "attest", "1", "--dev-account", "4"), "task 1 approved by")
	wantLines(t, "attest", cli.ok("verify", "attest", "1", "--reject", "--dev-account", "5"), "task 1 rejected by")
	cli.fail([]string{"verify", "attest", "1", "--dev-account", "5"}, "AlreadyAttested")
	wantLines(t, "attest", cli.ok("verify", "attest", "1", "--dev-account", "6"), "task 1 approved by")
	wantLines(t, "finalize", cli.ok("verify", "finalize", "1"), "task 1 is finalized")
	cli.fail([]string{"verify", "finalize", "1"}, "WrongStatus", "finalized")
	cli.fail([]string{"verify", "challenge", "1", "--dev-account", "3"}, "WrongStatus")
	cli.fail([]string{"verify", "show", "9"}, "UnknownTask")

	show := decodeJSON[taskJSON](t, cli.ok("verify", "show", "1", "--json"))
	if show.Status != "finalized" || show.Approvals != 2 || show.Rejections != 1 || show.Prover == nil || show.Prover.Hex() != net.Addrs[2].Hex() {
		t.Errorf("show --json: %+v", show)
	}
	ls := decodeJSON[[]taskJSON](t, cli.ok("verify", "ls", "--json"))
	if len(ls) != 1 || ls[0].ID != "1" {
		t.Errorf("ls --json: %+v", ls)
	}

	wantLines(t, "unregister", cli.ok("verifier", "unregister", "--dev-account", "6"), "unbonding")
	cli.fail([]string{"verifier", "withdraw", "--dev-account", "6"}, "StillUnbonding")
	cli.fail([]string{"verify", "request", "--class", "1", "--prompt", "hi", "--mode", "attest", "--dev-account", "1"}, "NotEnoughVerifiers")
}
