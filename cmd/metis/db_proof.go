package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/metisdb"
)

func newDBProofCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proof DIR KEY",
		Short: "Build a Merkle proof that a key is present (with its value) or absent",
		Long: `Proof builds a proof about KEY at the latest version (or --version N) of the
database in DIR, prints it as hex, and verifies it against that version's root.

If the key is present, the proof shows that it holds exactly its value (inclusion); if
not, that no value is there (absence). Anyone holding the root can check the proof
with metisdb.VerifyProof and nothing else: no database, no trust in whoever sent it.
This is what eth_getProof returns for chain state.

A proof is the path from the key's position in a sparse Merkle tree to the root: one
sibling hash per level (empty siblings cost one bit), about log2(keys) hashes.`,
		Example: `  metis db proof ./mydb alice
  metis db proof ./mydb nobody --version 2`,
		Args: cobra.ExactArgs(2),
	}
	version := versionFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		db, key, v, err := openKeyAt(args[0], args[1], version)
		if err != nil {
			return err
		}
		defer db.Close()
		snap, err := db.Snapshot(v)
		if err != nil {
			return err
		}
		root := snap.Root()
		value, err := snap.Get(key)
		switch {
		case errors.Is(err, metisdb.ErrNotFound):
			value = nil // absent: VerifyProof takes a nil value as "prove absence"
		case err != nil:
			return err
		case value == nil:
			value = []byte{} // present and empty
		}
		p, err := snap.Proof(key)
		if err != nil {
			return fmt.Errorf("proof: %w", err)
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		field(w, "key", "%s", formatBytes(key))
		field(w, "version", "%d", v)
		field(w, "root", "%s", root)
		if value != nil {
			field(w, "kind", "inclusion")
			field(w, "value", "%s", formatBytes(value))
		} else {
			field(w, "kind", "absence")
		}
		field(w, "depth", "%d", len(p.Siblings))
		field(w, "size", "%d bytes", len(enc))
		field(w, "proof", "0x%x", enc)
		if err := metisdb.VerifyProof(root, key, value, p); err != nil {
			return fmt.Errorf("proof does not verify: %w", err)
		}
		field(w, "verified", "yes")
		return db.Close()
	}
	return cmd
}
