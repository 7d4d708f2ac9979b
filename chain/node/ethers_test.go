package node

import (
	"testing"
	"time"

	"github.com/metisgo/metis/internal/nodejs"
)

// ethersDir holds the ethers v6 end-to-end script and its npm lockfile.
const ethersDir = "testdata/ethers"

// TestEthers runs testdata/ethers/e2e.mjs, which drives a fresh node over HTTP and WebSocket
// with ethers v6 from npm: a client nobody here wrote. It needs node and `npm ci` in ethersDir;
// without them it skips locally and fails in CI (CI=true), which must not silently skip it.
func TestEthers(t *testing.T) {
	script := nodejs.Script{Dir: ethersDir, Name: "e2e.mjs", Packages: []string{"ethers"},
		Install: "cd chain/node/testdata/ethers && npm ci", Timeout: 90 * time.Second}
	n := startNode(t, t.TempDir())
	defer n.Close()
	script.Run(t, n.HTTPURL(), n.WSURL())
}
