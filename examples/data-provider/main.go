// Command data-provider anchors a local file as a dataset DAT class and mints a token of it:
// the class's integrity hash is the file's SHA-256; a data validator stakes, registers and
// attests it (on a dev chain, --validator N plays that part with dev account N; -1 waits for
// one), the provider activates the class and mints itself a token.
//
//	go run ./examples/data-provider --rpc ws://127.0.0.1:8545 --file data.csv
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/dat"
	"github.com/metisgo/metis/lazai"
)

func main() {
	rpc := flag.String("rpc", "ws://127.0.0.1:8545", "node JSON-RPC URL")
	file := flag.String("file", "", "the dataset file to anchor (required)")
	account := flag.Int("dev-account", 1, "dev account of the data provider")
	validator := flag.Int("validator", 2, "dev account that verifies the class as a data validator; -1 waits for another validator")
	value := flag.Int64("value", 1000, "units of the minted token")
	flag.Parse()
	if *file == "" {
		log.Fatal("--file is required")
	}
	if err := run(*rpc, *file, *account, *validator, *value); err != nil {
		log.Fatal(err)
	}
}

func run(rpc, file string, account, validator int, value int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eth, err := ethclient.DialContext(ctx, rpc)
	if err != nil {
		return err
	}
	defer eth.Close()
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	chainID, err := eth.ChainID(ctx)
	if err != nil {
		return err
	}
	accts := core.DevAccounts()
	if account == validator {
		return fmt.Errorf("the provider (dev account %d) cannot verify its own class: give --validator another account", account)
	}
	// The clients sign with go-ethereum's keyed signer (any bind.TransactOpts signer will do).
	provider := dat.NewClient(eth, bind.NewKeyedTransactor(accts[account].Key, chainID))
	id, r, err := provider.CreateClass(ctx, dat.ClassParams{Kind: uint8(dat.Dataset),
		MetadataURI: "file://" + filepath.Base(file), IntegrityHash: sum, UsageFee: big.NewInt(params.GWei)})
	if err != nil {
		return fmt.Errorf("createClass: %w", err)
	}
	fmt.Printf("class %s created for %s (sha256 %x) in block %s\n", id, file, sum[:8], r.BlockNumber)

	if validator >= 0 {
		if err := verify(ctx, eth, bind.NewKeyedTransactor(accts[validator].Key, chainID), id); err != nil {
			return err
		}
	}
	for {
		c, err := provider.Class(ctx, id)
		if err != nil {
			return err
		}
		if dat.Status(c.Status) == dat.StatusVerified {
			break
		}
		fmt.Printf("class %s is %s; waiting for a validator\n", id, dat.Status(c.Status))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	if _, err := provider.ActivateClass(ctx, id); err != nil {
		return fmt.Errorf("activateClass: %w", err)
	}
	token, r, err := provider.Mint(ctx, id, provider.From(), big.NewInt(value), big.NewInt(10), 0)
	if err != nil {
		return fmt.Errorf("mint: %w", err)
	}
	fmt.Printf("class %s active; token %s minted to %s (%d units) in block %s\n", id, token, provider.From().Hex(), value, r.BlockNumber)
	return nil
}

// verify has an account stake, register as a data validator if it is not one, and attest.
func verify(ctx context.Context, eth *ethclient.Client, signer *bind.TransactOpts, id *big.Int) error {
	v := dat.NewClient(eth, signer)
	if ok, err := v.IsValidator(ctx, signer.From); err != nil {
		return err
	} else if !ok {
		p, err := v.Params(ctx)
		if err != nil {
			return err
		}
		lz := lazai.NewClient(eth, signer)
		if _, err := lz.Stake(ctx, p.ValidatorMinStake); err != nil {
			return fmt.Errorf("validator stake: %w", err)
		}
		if _, err := v.RegisterValidator(ctx); err != nil {
			return fmt.Errorf("registerValidator: %w", err)
		}
	}
	if _, err := v.Attest(ctx, id, true); err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	fmt.Printf("validator %s attested class %s\n", signer.From.Hex(), id)
	return nil
}
