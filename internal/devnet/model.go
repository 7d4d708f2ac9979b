package devnet

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/inference/gguf"
	"github.com/metisgo/metis/lazai"
)

// WriteModel writes a small GGUF model with random weights (gguf.RandomLlama of
// gguf.TinyParams(F32), the byte vocabulary, seed) as dir/name and returns its path.
func WriteModel(tb testing.TB, dir, name string, seed uint64) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := gguf.RandomLlama(gguf.TinyParams(gguf.F32), gguf.ByteVocab(), seed).WriteFile(path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// ModelClass anchors the GGUF file at path as a verified model DAT class (integrity hash: the
// file's sha256), owned by key (funded), and returns its id. A class's owner may not attest it,
// so a dev account other than key's (9, or 8 if key is 9's) stakes 1 METIS in LazAI, registers
// as a data validator (unless it is one) and attests the class, which verifies it on a dev
// chain; this works with the real iDAO as well as with the Governor.
func ModelClass(tb testing.TB, ctx context.Context, eth *ethclient.Client, key *ecdsa.PrivateKey, path string) *big.Int {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	chainID := big.NewInt(metisvm.DevChainID)
	owner := dat.NewClient(eth, bind.NewKeyedTransactor(key, chainID))
	accts := core.DevAccounts()
	validatorKey := accts[9].Key
	if accts[9].Address == owner.From() {
		validatorKey = accts[8].Key
	}
	validator := dat.NewClient(eth, bind.NewKeyedTransactor(validatorKey, chainID))
	if ok, err := validator.IsValidator(ctx, validator.From()); err != nil {
		tb.Fatal(err)
	} else if !ok {
		lz := lazai.NewClient(eth, bind.NewKeyedTransactor(validatorKey, chainID))
		if _, err := lz.Stake(ctx, big.NewInt(params.Ether)); err != nil {
			tb.Fatal(err)
		}
		if _, err := validator.RegisterValidator(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	id, _, err := owner.CreateClass(ctx, dat.ClassParams{Kind: uint8(dat.Model), MetadataURI: "file://" + filepath.Base(path),
		IntegrityHash: sha256.Sum256(raw), UsageFee: big.NewInt(1e12)})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := validator.Attest(ctx, id, true); err != nil {
		tb.Fatal(err)
	}
	return id
}
