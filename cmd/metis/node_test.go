package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNodeSubprocess runs `metis node --dev` as its own process (this test binary re-executed),
// talks to it over HTTP, stops it with SIGINT, and checks it exits cleanly and removes its
// temporary data directory.
func TestNodeSubprocess(t *testing.T) {
	if os.Getenv("METIS_NODE_CHILD") == "1" {
		os.Exit(run([]string{"node", "--dev", "--http.addr", "127.0.0.1:0", "--no-keys"}, os.Stdout, os.Stderr))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNodeSubprocess$")
	cmd.Env = append(os.Environ(), "METIS_NODE_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	var url, dir string
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(30 * time.Second)
	for (url == "" || dir == "") && sc.Scan() && time.Now().Before(deadline) {
		line := sc.Text()
		if m := regexp.MustCompile(`JSON-RPC\s+(http://\S+)`).FindStringSubmatch(line); m != nil {
			url = m[1]
		}
		if m := regexp.MustCompile(`data\s+(\S+)`).FindStringSubmatch(line); m != nil {
			dir = m[1]
		}
	}
	if url == "" || dir == "" {
		t.Fatalf("no banner; stderr:\n%s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)

	resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"result":"0x539"`) {
		t.Fatalf("eth_chainId answered %s", body)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("data directory %s: %v", dir, err)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node did not stop on SIGINT")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary data directory %s still there (%v)", dir, err)
	}
}

func TestNodeRequiresDev(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"node"}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "metis node --dev") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
