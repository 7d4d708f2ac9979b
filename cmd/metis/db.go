package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/metisdb"
)

func newDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Inspect and exercise MetisDB, the chain's versioned, authenticated store",
		Long: `MetisDB is the key-value store under the Hyperion chain core. Every Commit turns
the staged writes into a new numbered version with a Merkle root; any retained version
can be read (MVCC), and any key can be proven present or absent at a version with a
proof that anyone can check against the root, with no database at hand.

A database is a directory holding one file, data.mdb. Opening it checks every record's
checksum and recomputes the root, so a DB that opens is a DB that is intact.

Keys and values on the command line are text, or hex when they start with 0x:
  greeting        the 8 bytes "greeting"
  0x00ff          the 2 bytes 0x00 0xff

Start with 'metis db demo': it runs everything below against a million keys.`,
		Example: `  metis db demo
  metis db put ./mydb alice 100 bob 50
  metis db get ./mydb alice
  metis db get ./mydb alice --version 1
  metis db proof ./mydb alice
  metis db del ./mydb bob
  metis db info ./mydb
  metis db verify ./mydb`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newDBDemoCmd(),
		newDBInfoCmd(),
		newDBGetCmd(),
		newDBPutCmd(),
		newDBDelCmd(),
		newDBProofCmd(),
		newDBVerifyCmd(),
	)
	return cmd
}

// openDB opens the MetisDB in dir. Unless create is set, a directory without a data file is an
// error rather than a new, empty database, so a mistyped path is not silently created.
func openDB(dir string, create bool) (*metisdb.DB, error) {
	if !create {
		if _, err := os.Stat(filepath.Join(dir, metisdb.DataFile)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("no MetisDB in %s (no %s)", dir, metisdb.DataFile)
			}
			return nil, err
		}
	}
	return metisdb.Open(dir, &metisdb.Options{})
}

// parseBytes reads a key or value from the command line: 0x-prefixed hex, or else text as is.
// openKeyAt parses the KEY argument, opens the database in dir and resolves --version (the
// latest version when the flag is unset): the common start of the commands that read one key.
func openKeyAt(dir, keyArg string, version func() (uint64, bool)) (*metisdb.DB, []byte, uint64, error) {
	key, err := parseBytes(keyArg)
	if err != nil {
		return nil, nil, 0, err
	}
	db, err := openDB(dir, false)
	if err != nil {
		return nil, nil, 0, err
	}
	v, at := version()
	if !at {
		v = db.Version()
	}
	return db, key, v, nil
}

func parseBytes(s string) ([]byte, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("%q: bad hex after 0x (write text without the 0x prefix): %w", s, err)
		}
		return b, nil
	}
	return []byte(s), nil
}

// formatBytes shows b as text when it is printable UTF-8 and does not itself look like hex,
// and as 0x-hex otherwise, so what it prints can be pasted back as an argument.
func formatBytes(b []byte) string {
	if printable(b) && !strings.HasPrefix(string(b), "0x") {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

func printable(b []byte) bool {
	if len(b) == 0 || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// versionFlag adds --version N to cmd; the returned func gives the version asked for, or ok
// false when the flag was not given (meaning: the latest version).
func versionFlag(cmd *cobra.Command) func() (v uint64, ok bool) {
	var v uint64
	cmd.Flags().Uint64Var(&v, "version", 0, "read at this committed version instead of the latest")
	return func() (uint64, bool) { return v, cmd.Flags().Changed("version") }
}

// field prints one aligned "label  value" line.
func field(w io.Writer, label string, format string, args ...any) {
	fmt.Fprintf(w, "%-11s %s\n", label, fmt.Sprintf(format, args...))
}

// commas formats n with thousands separators: 1000000 -> "1,000,000".
func commas(n int64) string {
	if n < 0 {
		return "-" + commas(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// size formats a byte count in binary units: "1.5 MiB".
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
