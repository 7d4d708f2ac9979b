package main

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/inference"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/inference/ollama"
)

func newInferCmd() *cobra.Command {
	var (
		engineName   string
		model        string
		host         string
		sampling     inference.Sampling
		chainID      uint64
		keyHex       string
		keystoreFile string
		passwordFile string
		devAccount   int
		receiptOut   string
	)
	cmd := &cobra.Command{
		Use:   "infer --model NAME|PATH [flags] PROMPT",
		Short: "Run a model on a prompt, stream the output, and print a signed inference receipt",
		Long: `Run a language model on PROMPT with a local engine, stream its output to stdout, then
print the run's receipt as JSON: engine, model digest (sha256 of the weights), input and
output digests, sampling parameters and seed, token counts and, for gguf, the trace root,
signed as EIP-712 typed data (domain "metis-inference", version "1", --chain-id).

Engines:
  ollama  a running Ollama server (--host, else $OLLAMA_HOST, else 127.0.0.1:11434);
          --model is the name Ollama knows (ollama list)
  gguf    metis's embedded, bit-exact runner; --model is the path of a GGUF file

The receipt is signed with --key (hex private key), --keystore (a V3 key file, with
--password-file), or --dev-account N (account N of the dev chain's test mnemonic; for
testing only, everyone knows these keys). Without any of them it is printed unsigned.

Sampling defaults to greedy decoding (temperature 0) with seed 0; both are sent to the
engine explicitly.

Examples:
  metis infer --model llama3.2 --dev-account 0 "Why is the sky blue?"
  metis infer --engine ollama --host 127.0.0.1:11434 --model qwen2.5:0.5b \
      --temperature 0.7 --seed 42 --max-tokens 64 --key $KEY "Say hi"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := signingKey(keyHex, keystoreFile, passwordFile, devAccount, cmd.Flags().Changed("dev-account"))
			if err != nil {
				return err
			}
			engine, err := inferEngine(engineName, host)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			req := inference.Request{
				Model:    model,
				Prompt:   args[0],
				Sampling: sampling,
				Stream: func(chunk string) error {
					_, err := fmt.Fprint(out, chunk)
					return err
				},
			}
			resp, err := engine.Generate(cmd.Context(), req)
			if err != nil {
				return err
			}
			if !strings.HasSuffix(resp.Text, "\n") {
				fmt.Fprintln(out)
			}
			receipt, err := inference.NewReceipt(engine.Name(), req, resp, chainID, time.Now())
			if err != nil {
				return err
			}
			if key != nil {
				if err := receipt.Sign(key); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "metis: receipt not signed: pass --key, --keystore or --dev-account to sign it")
			}
			js, err := json.MarshalIndent(receipt, "", "  ")
			if err != nil {
				return err
			}
			js = append(js, '\n')
			if receiptOut != "" {
				return os.WriteFile(receiptOut, js, 0o644)
			}
			_, err = out.Write(js)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&engineName, "engine", "ollama", "inference engine: ollama or gguf")
	f.StringVar(&model, "model", "", "model name (ollama) or GGUF file path (gguf)")
	f.StringVar(&host, "host", "", "Ollama server (host:port or URL); default $OLLAMA_HOST or 127.0.0.1:11434")
	f.Float64Var(&sampling.Temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	f.Uint64Var(&sampling.Seed, "seed", 0, "sampling seed")
	f.IntVar(&sampling.MaxTokens, "max-tokens", 0, "most tokens to generate; 0 is the engine's default")
	f.IntVar(&sampling.TopK, "top-k", 0, "top-k sampling; 0 is the engine's default")
	f.Float64Var(&sampling.TopP, "top-p", 0, "nucleus sampling; 0 is the engine's default")
	f.StringSliceVar(&sampling.Stop, "stop", nil, "stop strings (repeat the flag for several)")
	f.Uint64Var(&chainID, "chain-id", devChainID, "chain id in the receipt's EIP-712 domain")
	f.StringVar(&keyHex, "key", "", "hex private key that signs the receipt")
	f.StringVar(&keystoreFile, "keystore", "", "V3 keystore file whose key signs the receipt")
	f.StringVar(&passwordFile, "password-file", "", "file holding the --keystore password")
	f.IntVar(&devAccount, "dev-account", 0, "sign with dev account N (0-9) of the test mnemonic")
	f.StringVar(&receiptOut, "receipt-out", "", "write the receipt JSON to this file instead of stdout")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// devChainID is the dev chain's id (chain/core's DevGenesis), the default receipt domain.
const devChainID = 1337

func inferEngine(name, host string) (inference.Engine, error) {
	switch name {
	case "ollama":
		return ollama.New(ollama.WithHost(host))
	case "gguf":
		return gguf.New(), nil
	}
	return nil, fmt.Errorf("unknown --engine %q: use ollama or gguf", name)
}

// signingKey picks the receipt's key from at most one of the key flags.
func signingKey(keyHex, keystoreFile, passwordFile string, devAccount int, dev bool) (*ecdsa.PrivateKey, error) {
	n := 0
	for _, set := range []bool{keyHex != "", keystoreFile != "", dev} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("give at most one of --key, --keystore and --dev-account")
	}
	switch {
	case keyHex != "":
		key, err := crypto.HexToECDSA(strings.TrimPrefix(keyHex, "0x"))
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		return key, nil
	case keystoreFile != "":
		blob, err := os.ReadFile(keystoreFile)
		if err != nil {
			return nil, fmt.Errorf("--keystore: %w", err)
		}
		var password string
		if passwordFile != "" {
			p, err := os.ReadFile(passwordFile)
			if err != nil {
				return nil, fmt.Errorf("--password-file: %w", err)
			}
			password = strings.TrimRight(string(p), "\r\n")
		}
		k, err := keystore.DecryptKey(blob, password)
		if err != nil {
			return nil, fmt.Errorf("--keystore %s: %w", keystoreFile, err)
		}
		return k.PrivateKey, nil
	case dev:
		accts := core.DevAccounts()
		if devAccount < 0 || devAccount >= len(accts) {
			return nil, fmt.Errorf("--dev-account %d: there are %d dev accounts (0-%d)", devAccount, len(accts), len(accts)-1)
		}
		return accts[devAccount].Key, nil
	}
	return nil, nil
}
