package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/metisdb"
)

func newDBInfoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info DIR",
		Short: "Show the version, retained versions, root, key count and size of a database",
		Long: `Info opens the database in DIR (which checks it in full, like 'metis db verify') and
prints what it holds:

  version   the latest committed version (0 is the empty store)
  oldest    the oldest version still readable; Prune moves it up
  root      the Merkle root of the latest version
  keys      live keys at the latest version (and keys ever written)
  file      size of data.mdb; pruning does not shrink it yet
  tree      nodes of the latest version's Merkle tree, held in memory
  index     memory of the key indexes`,
		Example: `  metis db info ./mydb`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openDB(args[0], false)
			if err != nil {
				return err
			}
			defer db.Close()
			st := db.Stats()
			w := cmd.OutOrStdout()
			field(w, "dir", "%s", args[0])
			field(w, "version", "%d", st.Version)
			field(w, "oldest", "%d", st.Oldest)
			field(w, "root", "%s", db.Root())
			field(w, "keys", "%s (%s ever written)", commas(int64(st.Keys)), commas(int64(st.IndexedKeys)))
			field(w, "file", "%s (%s bytes)", size(st.FileBytes), commas(st.FileBytes))
			field(w, "tree", "%s inner nodes, %s leaves", commas(int64(st.InnerNodes)), commas(int64(st.Leaves)))
			field(w, "index", "%s in memory", size(st.IndexBytes))
			return db.Close()
		},
	}
}

func newDBGetCmd() *cobra.Command {
	var asHex bool
	cmd := &cobra.Command{
		Use:   "get DIR KEY",
		Short: "Print the value of a key, at the latest or an older version",
		Long: `Get prints the value of KEY in the database in DIR. KEY is text, or hex when it
starts with 0x. The value is printed as text when it is printable, as 0x-hex
otherwise (or always with --hex).

With --version N it reads the key as it was at version N, through a snapshot: MetisDB
keeps every version from 'oldest' (see 'metis db info') to the latest.

A key that is not there prints an error and exits with status 1.`,
		Example: `  metis db get ./mydb alice
  metis db get ./mydb alice --version 3
  metis db get ./mydb 0x00ff --hex`,
		Args: cobra.ExactArgs(2),
	}
	version := versionFlag(cmd)
	cmd.Flags().BoolVar(&asHex, "hex", false, "print the value as 0x-hex even when it is text")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		db, key, v, err := openKeyAt(args[0], args[1], version)
		if err != nil {
			return err
		}
		defer db.Close()
		value, err := getAt(db, key, v)
		if errors.Is(err, metisdb.ErrNotFound) {
			return fmt.Errorf("key %s not found at version %d", formatBytes(key), v)
		}
		if err != nil {
			return err
		}
		out := formatBytes(value)
		if asHex {
			out = fmt.Sprintf("0x%x", value)
		}
		fmt.Fprintln(cmd.OutOrStdout(), out)
		return nil
	}
	return cmd
}

// getAt reads key at version v: from the live DB at the latest version, else from a snapshot.
func getAt(db *metisdb.DB, key []byte, v uint64) (value []byte, err error) {
	if v == db.Version() {
		value, err = db.Get(key)
	} else {
		var snap *metisdb.Snapshot
		if snap, err = db.Snapshot(v); err != nil {
			return nil, err
		}
		value, err = snap.Get(key)
	}
	if err == nil && value == nil {
		value = []byte{} // present but empty: VerifyProof reads a nil value as "absent"
	}
	return value, err
}

func newDBVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR",
		Short: "Check every checksum of a database and recompute its root",
		Long: `Verify opens the database in DIR the way every Open does: it reads the head,
decodes every record up to the last committed byte checking its CRC-32C, rebuilds the
Merkle tree and compares the root with the one the last commit recorded. It prints OK,
or the corruption found, naming the file and byte offset, and exits with status 1.

Bytes after the last commit (a commit that never returned, e.g. after a crash) are not
corruption: Open drops them, as the durability contract says.`,
		Example: `  metis db verify ./mydb`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openDB(args[0], false)
			if err != nil {
				return err
			}
			defer db.Close()
			st := db.Stats()
			fmt.Fprintf(cmd.OutOrStdout(), "OK: %s: version %d, root %s, %s keys, %s\n",
				args[0], st.Version, db.Root(), commas(int64(st.Keys)), size(st.FileBytes))
			return db.Close()
		},
	}
}
