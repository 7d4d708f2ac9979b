package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/metisgo/metis/chain/metisdb"
)

// metis runs the CLI in-process and returns its exit code, stdout and stderr.
func metis(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// mustMetis runs the CLI and fails the test unless it exits 0.
func mustMetis(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := metis(t, args...)
	if code != 0 {
		t.Fatalf("metis %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

var rootRE = regexp.MustCompile(`root\s+(0x[0-9a-f]{64})`)

func rootOf(t *testing.T, out string) string {
	t.Helper()
	m := rootRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no root in output:\n%s", out)
	}
	return m[1]
}

func TestDBRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")

	out := mustMetis(t, "db", "put", dir, "alice", "100", "bob", "50", "0x00ff", "0xc0ffee")
	if !strings.Contains(out, "version     1 (3 writes)") {
		t.Errorf("put output:\n%s", out)
	}
	root1 := rootOf(t, out)

	if got := mustMetis(t, "db", "get", dir, "alice"); got != "100\n" {
		t.Errorf("get alice = %q, want 100", got)
	}
	if got := mustMetis(t, "db", "get", dir, "0x00ff"); got != "0xc0ffee\n" {
		t.Errorf("get 0x00ff = %q, want 0xc0ffee (binary values print as hex)", got)
	}
	if got := mustMetis(t, "db", "get", dir, "alice", "--hex"); got != "0x313030\n" {
		t.Errorf("get --hex alice = %q", got)
	}

	out = mustMetis(t, "db", "put", dir, "alice", "90")
	root2 := rootOf(t, out)
	if root2 == root1 {
		t.Error("root did not change after a put")
	}
	out = mustMetis(t, "db", "del", dir, "bob")
	if !strings.Contains(out, "version     3") {
		t.Errorf("del output:\n%s", out)
	}

	// Old versions stay readable through snapshots.
	if got := mustMetis(t, "db", "get", dir, "alice", "--version", "1"); got != "100\n" {
		t.Errorf("get alice@1 = %q, want 100", got)
	}
	if got := mustMetis(t, "db", "get", dir, "bob", "--version", "2"); got != "50\n" {
		t.Errorf("get bob@2 = %q, want 50", got)
	}
	code, _, errOut := metis(t, "db", "get", dir, "bob")
	if code != 1 || !strings.HasPrefix(errOut, "metis: ") || !strings.Contains(errOut, "not found") {
		t.Errorf("get deleted key: exit %d, stderr %q; want 1 and metis: …not found", code, errOut)
	}

	out = mustMetis(t, "db", "proof", dir, "alice")
	for _, want := range []string{"inclusion", "value       90", "verified    yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("proof alice: missing %q in\n%s", want, out)
		}
	}
	out = mustMetis(t, "db", "proof", dir, "bob")
	if !strings.Contains(out, "absence") || !strings.Contains(out, "verified    yes") {
		t.Errorf("proof bob (deleted):\n%s", out)
	}
	out = mustMetis(t, "db", "proof", dir, "bob", "--version", "2")
	if !strings.Contains(out, "inclusion") || !strings.Contains(out, "verified    yes") || rootOf(t, out) != root2 {
		t.Errorf("proof bob@2 (root %s):\n%s", root2, out)
	}

	out = mustMetis(t, "db", "info", dir)
	for _, want := range []string{"version     3", "oldest      0", "keys        2"} {
		if !strings.Contains(out, want) {
			t.Errorf("info: missing %q in\n%s", want, out)
		}
	}
	if out := mustMetis(t, "db", "verify", dir); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("verify: %q", out)
	}
}

func TestDBGetMissingKey(t *testing.T) {
	dir := t.TempDir()
	mustMetis(t, "db", "put", dir, "a", "1")
	code, out, errOut := metis(t, "db", "get", dir, "nope")
	if code == 0 {
		t.Fatalf("get of a missing key exited 0, stdout %q", out)
	}
	if want := "metis: key nope not found at version 1\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	if strings.Contains(errOut+out, "Usage:") {
		t.Error("a runtime error printed the usage")
	}
}

func TestDBMistakes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no database", []string{"db", "info", filepath.Join(dir, "missing")}, "no MetisDB in"},
		{"odd pairs", []string{"db", "put", dir, "k"}, "KEY VALUE pairs"},
		{"bad hex", []string{"db", "get", dir, "0xzz"}, "bad hex"},
		{"unknown command", []string{"db", "frob"}, "unknown command"},
		{"empty key", []string{"db", "put", dir, "0x", "v"}, "empty key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := metis(t, tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want non-zero and %q", code, errOut, tc.want)
			}
		})
	}
}

func TestDBVerifyCorruption(t *testing.T) {
	dir := t.TempDir()
	args := []string{"db", "put", dir}
	for i := range 50 {
		args = append(args, fmt.Sprintf("key-%02d", i), strings.Repeat("value ", 20))
	}
	mustMetis(t, args...)
	if out := mustMetis(t, "db", "verify", dir); !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("verify before corruption: %q", out)
	}

	path := filepath.Join(dir, metisdb.DataFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= 4200 {
		t.Fatalf("%s is %d bytes; the test needs more than 4200", path, len(data))
	}
	data[4200] ^= 0x40
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := metis(t, "db", "verify", dir)
	if code != 1 {
		t.Fatalf("verify of a corrupt db: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.HasPrefix(errOut, "metis: ") || !strings.Contains(errOut, "corrupt") || !strings.Contains(errOut, metisdb.DataFile) {
		t.Errorf("stderr = %q; want metis: …corrupt…%s…", errOut, metisdb.DataFile)
	}
}

func TestDBDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	out := mustMetis(t, "db", "demo", "--keys", "20000", "--batch", "1000", "--dir", dir)
	first := out
	for _, want := range []string{
		"100%  version 20",
		"every value as written",
		"absent, as at version 1",
		"inclusion", "absence", "with a changed value: rejected",
		"Prune(20): oldest version now 20",
		"root as before",
		"\nOK: 20,000 keys in 20 durable versions",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}

	// The kept directory is a normal database.
	out = mustMetis(t, "db", "info", dir)
	if !strings.Contains(out, "keys        20,000") || !strings.Contains(out, "oldest      20") {
		t.Errorf("info after demo:\n%s", out)
	}

	// Same seed, same root, whichever directory.
	out2 := mustMetis(t, "db", "demo", "--keys", "20000", "--batch", "1000")
	proveRE := regexp.MustCompile(`prove at version 20, root (0x[0-9a-f]{64})`)
	r1, r2 := proveRE.FindStringSubmatch(first), proveRE.FindStringSubmatch(out2)
	if r1 == nil || r2 == nil || r1[1] != r2[1] {
		t.Errorf("two demos with the same seed: roots %q and %q differ", r1, r2)
	}
}

func TestVersion(t *testing.T) {
	out := mustMetis(t, "version")
	if !strings.HasPrefix(out, "metis   ") || !strings.Contains(out, "go      go1.") {
		t.Errorf("version output:\n%s", out)
	}
}

func TestHelp(t *testing.T) {
	out := mustMetis(t, "db", "--help")
	for _, want := range []string{"metis db demo", "Available Commands:", "proof"} {
		if !strings.Contains(out, want) {
			t.Errorf("db --help lacks %q", want)
		}
	}
}
