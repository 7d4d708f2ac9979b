package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/metisdb"
)

func newDBPutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "put DIR KEY VALUE [KEY VALUE]...",
		Short: "Set keys and commit them as one new version",
		Long: `Put stages every KEY VALUE pair and commits them together as one new version of
the database in DIR, creating it if it does not exist. It prints the new version and
its Merkle root. The commit is durable when put returns (the file is fsynced).

Keys and values are text, or hex when they start with 0x. An empty value is allowed.`,
		Example: `  metis db put ./mydb alice 100
  metis db put ./mydb alice 90 bob 60 0xc0ffee 0x01`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 || len(args)%2 == 0 {
				return fmt.Errorf("want DIR and KEY VALUE pairs, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pairs := args[1:]
			kvs := make([][]byte, len(pairs))
			for i, s := range pairs {
				b, err := parseBytes(s)
				if err != nil {
					return err
				}
				kvs[i] = b
			}
			return commitWrites(cmd, args[0], len(kvs)/2, func(db *metisdb.DB) error {
				for i := 0; i < len(kvs); i += 2 {
					if err := db.Set(kvs[i], kvs[i+1]); err != nil {
						return fmt.Errorf("set %s: %w", formatBytes(kvs[i]), err)
					}
				}
				return nil
			})
		},
	}
}

func newDBDelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "del DIR KEY...",
		Short: "Delete keys and commit as one new version",
		Long: `Del stages a delete of every KEY and commits them together as one new version of
the database in DIR, then prints the new version and its root. Deleting a key that is
not there is not an error. Older versions still hold the key until they are pruned:
'metis db get DIR KEY --version N' reads it there.`,
		Example: `  metis db del ./mydb bob
  metis db del ./mydb alice 0xc0ffee`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys := make([][]byte, 0, len(args)-1)
			for _, s := range args[1:] {
				b, err := parseBytes(s)
				if err != nil {
					return err
				}
				keys = append(keys, b)
			}
			return commitWrites(cmd, args[0], len(keys), func(db *metisdb.DB) error {
				for _, k := range keys {
					if err := db.Delete(k); err != nil {
						return fmt.Errorf("delete %s: %w", formatBytes(k), err)
					}
				}
				return nil
			})
		},
	}
}

// commitWrites opens (or creates) the DB in dir, stages writes with stage, commits one version
// and prints it.
func commitWrites(cmd *cobra.Command, dir string, n int, stage func(*metisdb.DB) error) error {
	db, err := openDB(dir, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := stage(db); err != nil {
		return err
	}
	version, root, err := db.Commit()
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w := cmd.OutOrStdout()
	writes := "writes"
	if n == 1 {
		writes = "write"
	}
	field(w, "version", "%d (%d %s)", version, n, writes)
	field(w, "root", "%s", root)
	return db.Close()
}
