// Package nodejs runs the end-to-end scripts that drive a node with JavaScript clients from npm
// (ethers, solc-js) in tests: it finds node and the script's node_modules, skips the test when
// they are missing (fails it when CI=true, which must not silently skip), runs the script with a
// deadline and streams its output into the test log.
package nodejs

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Script is one script in a directory with its own package.json and lockfile.
type Script struct {
	Dir      string        // the directory holding the script and its node_modules
	Name     string        // the script file, e.g. "e2e.mjs"
	Packages []string      // npm packages it needs installed in Dir
	Install  string        // the command that installs them, shown when they are missing
	Timeout  time.Duration // how long it may run
}

// Run runs the script with args, or skips (fails under CI=true) when node or a package is
// missing, and fails the test if the script fails or times out.
func (s Script) Run(t *testing.T, args ...string) {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI must run this test: install it with `%s`", why, s.Install)
		}
		t.Skipf("%s; install it with `%s`", why, s.Install)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		missing("node (Node.js) is not on PATH")
	}
	for _, pkg := range s.Packages {
		if _, err := os.Stat(filepath.Join(s.Dir, "node_modules", pkg, "package.json")); err != nil {
			missing(pkg + " is not installed in " + s.Dir)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, append([]string{s.Name}, args...)...)
	cmd.Dir = s.Dir
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64*1024), 1<<20)
			for sc.Scan() {
				t.Log(sc.Text())
			}
		}()
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			t.Fatalf("node %s did not finish in %s: %v", s.Name, s.Timeout, err)
		}
		t.Fatalf("node %s: %v (its output is above)", s.Name, err)
	}
}
