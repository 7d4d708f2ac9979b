// Package ollamatest runs a real Ollama server for tests: it finds the binary built by
// scripts/install-ollama.sh, starts `ollama serve` on a free loopback port with its own models
// directory and HOME, waits until it answers, creates models from GGUF files, and kills the
// server and its runners when the test (or test binary) is done.
//
// A missing binary skips the test with instructions, except under CI=true where it fails: CI must
// never pass by skipping the tests that matter.
package ollamatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
)

// Version is the Ollama release the tests are written against (see scripts/install-ollama.sh).
const Version = "v0.6.8"

// installHint is what a developer without the binary needs to read.
const installHint = "ollama " + Version + " not found; build it once with scripts/install-ollama.sh " +
	"(go install github.com/ollama/ollama@" + Version + ", cgo, a few minutes) or point METIS_OLLAMA at an ollama binary"

// Binary returns the path of the ollama binary: $METIS_OLLAMA, then the cache path that
// scripts/install-ollama.sh builds into, then ollama on PATH.
func Binary() (string, error) {
	if p := os.Getenv("METIS_OLLAMA"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("METIS_OLLAMA=%s: %w", p, err)
		}
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "metis", "ollama-"+Version, "bin", "ollama")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("ollama"); err == nil {
		return p, nil
	}
	return "", errors.New(installHint)
}

// requireBinary returns the binary or ends the test: Skip normally, Fatal under CI=true.
func requireBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := Binary()
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true: %v", err)
	}
	tb.Skip(err)
	return ""
}

// Server is a running `ollama serve`.
type Server struct {
	// Host is host:port, the form OLLAMA_HOST takes.
	Host string
	// URL is the server's base URL, http://Host.
	URL *url.URL

	bin     string
	dir     string // HOME, OLLAMA_MODELS and the log live here
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited

	mu      sync.Mutex
	created map[string]bool // model names created by Create, so a shared server creates each once
}

// Start starts a server for this test alone and stops it in tb's cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := requireBinary(tb)
	s, err := start(bin, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

var shared struct {
	mu      sync.Mutex
	inMain  bool
	dir     string
	s       *Server
	err     error
	started bool
}

// Main runs a test binary's tests and then stops the server that Shared started, if any. Call it
// from TestMain: os.Exit(ollamatest.Main(m)) would skip deferred cleanup, so Main exits itself.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	if shared.s != nil {
		shared.s.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// Shared returns the test binary's one shared server, starting it on first use. Starting Ollama
// and loading a model costs about a second each, so the tests of a package share a server (and,
// through Create, their models). The package must call Main from TestMain, which stops it.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin := requireBinary(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		tb.Fatal("ollamatest.Shared needs TestMain to call ollamatest.Main(m), which stops the server")
	}
	if !shared.started {
		shared.started = true
		shared.dir, shared.err = os.MkdirTemp("", "metis-ollamatest-")
		if shared.err == nil {
			shared.s, shared.err = start(bin, shared.dir)
		}
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.s
}

// freePort asks the kernel for a free loopback port. Another process could take it before
// Ollama binds it; start retries in that case.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin, dir string) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startOnce(bin, dir)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func startOnce(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	home := filepath.Join(dir, "home")
	models := filepath.Join(dir, "models")
	for _, d := range []string{home, models} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// The server logs to a file, not a pipe: with a pipe, Wait also waits for every process
	// holding its write end, and a runner that outlives the server would hang Stop.
	logf, err := os.CreateTemp(dir, "serve-*.log")
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	s := &Server{
		Host:    host,
		URL:     &url.URL{Scheme: "http", Host: host},
		bin:     bin,
		dir:     dir,
		logPath: logf.Name(),
		done:    make(chan struct{}),
		created: map[string]bool{},
	}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.env()
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	// A process group of its own, so Stop kills the runner subprocesses (llama.cpp) with the
	// server; Pdeathsig takes the server down if the test binary dies without cleaning up.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("ollamatest: start %s serve: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(60 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// env is the environment of the server and of `ollama` client commands: nothing from the
// developer's own Ollama (models, keys, host) leaks in.
func (s *Server) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OLLAMA_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+filepath.Join(s.dir, "home"),
		"OLLAMA_HOST="+s.Host,
		"OLLAMA_MODELS="+filepath.Join(s.dir, "models"),
		// One request at a time per model: parallel slots share a batch, and batching is one of
		// the conditions under which llama.cpp's output stops being reproducible.
		"OLLAMA_NUM_PARALLEL=1",
		"OLLAMA_NOPRUNE=1",
	)
}

// waitReady polls the version endpoint until it answers, the process exits, or the timeout.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.done:
			return fmt.Errorf("ollamatest: ollama serve exited before it was ready:\n%s", s.Log())
		default:
		}
		resp, err := client.Get(s.URL.String() + "/api/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ollamatest: ollama serve not ready after %v (last error %v):\n%s", timeout, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server and its runners. It is idempotent.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	// Negative pid: the whole process group, the server and its llama.cpp runners, whether or not
	// the server is still alive (a runner can outlive it).
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// Scratch returns a directory that lives as long as the server, for files the tests make once
// per server (models to Create): a shared server outlives any single test's TempDir.
func (s *Server) Scratch() string {
	d := filepath.Join(s.dir, "scratch")
	_ = os.MkdirAll(d, 0o755)
	return d
}

// Log returns what the server has written to stdout and stderr so far (the last 64 KiB).
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	return tail(string(b), 64<<10)
}

// CPUTime returns the processor time (user plus system) used so far by the server and the
// llama.cpp runners it started: every live process of the server's process group, read from
// /proc. Benchmarks compare it with their own process's CPU time, which on a loaded machine is a
// steadier measure of work than wall time. It returns an error where /proc is not available.
func (s *Server) CPUTime() (time.Duration, error) {
	pgid := s.cmd.Process.Pid
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("ollamatest: %w", err)
	}
	var ticks int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone
		}
		// Fields after the parenthesised command name: state ppid pgrp ... utime(12) stime(13).
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	// Linux reports these in clock ticks of USER_HZ, 100 per second on every architecture Go runs.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Client returns an Ollama API client for the server.
func (s *Server) Client() *api.Client { return api.NewClient(s.URL, http.DefaultClient) }

// Create makes model name from the GGUF file at ggufPath with `ollama create`, using a Modelfile
// "FROM ./<file>" followed by modelfileExtra (TEMPLATE, PARAMETER... lines). On a shared server a
// name is created once; later calls with the same name return at once, so give different models
// different names.
//
// Unless modelfileExtra sets num_thread, Create adds "PARAMETER num_thread 1". llama.cpp's worker
// threads spin at a barrier after every operation; when go test runs packages in parallel on a
// small machine, a two-thread runner whose second thread loses its core took 1-8 s for 16 tokens
// of a tiny model instead of 10-80 ms, which one thread takes under the same load.
func (s *Server) Create(tb testing.TB, name, ggufPath, modelfileExtra string) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created[name] {
		return
	}
	if err := s.create(name, ggufPath, modelfileExtra); err != nil {
		tb.Fatal(err)
	}
	s.created[name] = true
}

func (s *Server) create(name, ggufPath, modelfileExtra string) error {
	abs, err := filepath.Abs(ggufPath)
	if err != nil {
		return err
	}
	// The Modelfile and the GGUF file sit side by side in a directory of their own, because
	// FROM resolves relative to the Modelfile and `ollama create` uploads what it names.
	work, err := os.MkdirTemp(s.dir, "create-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	file := filepath.Base(abs)
	if err := os.Symlink(abs, filepath.Join(work, file)); err != nil {
		return err
	}
	modelfile := "FROM ./" + file + "\n" + modelfileExtra + "\n"
	if !strings.Contains(modelfileExtra, "num_thread") {
		modelfile += "PARAMETER num_thread 1\n"
	}
	if err := os.WriteFile(filepath.Join(work, "Modelfile"), []byte(modelfile), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, "create", name, "-f", "Modelfile")
	cmd.Dir = work
	cmd.Env = s.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ollamatest: ollama create %s: %w\n%s\nserver log:\n%s", name, err, out, tail(s.Log(), 4000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
