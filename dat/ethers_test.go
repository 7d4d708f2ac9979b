package dat_test

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

	"github.com/metisgo/metis/internal/devnet"
)

// modulesEthersDir holds the ethers v6 script that drives the DAT and LazAI modules, and its npm
// lockfile.
const modulesEthersDir = "testdata/ethers"

// TestModulesEthers runs testdata/ethers/modules.mjs against a fresh dev node: it compiles
// IDAT.sol and ../lazai/ILazAI.sol with solc-js, checks that the committed ABI JSON files equal
// the compiled ABI, then calls both modules with ethers v6 from npm (a client nobody here wrote)
// through that ABI, decoding their events, structs and custom errors, and receives a module event
// over a WebSocket subscription. It needs node and `npm ci` in modulesEthersDir; without them it
// skips locally and fails in CI (CI=true), which must not silently skip it.
func TestModulesEthers(t *testing.T) {
	install := "cd dat/testdata/ethers && npm ci"
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI must run this test: install it with `%s`", why, install)
		}
		t.Skipf("%s; install it with `%s`", why, install)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		missing("node (Node.js) is not on PATH")
	}
	for _, pkg := range []string{"ethers", "solc"} {
		if _, err := os.Stat(filepath.Join(modulesEthersDir, "node_modules", pkg, "package.json")); err != nil {
			missing(pkg + " is not installed in dat/" + modulesEthersDir)
		}
	}

	net := devnet.Start(t, devnet.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "modules.mjs", net.Node.WSURL(), net.Node.HTTPURL())
	cmd.Dir = modulesEthersDir
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
			t.Fatalf("node modules.mjs did not finish in time: %v", err)
		}
		t.Fatalf("node modules.mjs: %v (its output is above)", err)
	}
}
