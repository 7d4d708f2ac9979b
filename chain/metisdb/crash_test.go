package metisdb_test

// Crash test: a child process (this test binary re-executed with -test.run=^TestCrashChild$)
// commits deterministic batches with fdatasync on and reports each returned Commit on stdout;
// the parent kills it with SIGKILL at random moments, reopens the store and checks it against
// its own replay of the same deterministic batches, with roots from the independent mdlRoot.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metisgo/metis/chain/metisdb"
)

const (
	crashChildEnv  = "METISDB_CRASH_CHILD"
	crashParentEnv = "METISDB_CRASH_PARENT"
	crashKeySpace  = 2000
)

type crashOp struct {
	key string
	val []byte
	del bool
}

// crashBatch is the content of version v: a pure function of v.
func crashBatch(v uint64) []crashOp {
	r := rand.New(rand.NewPCG(v, 0x637261736821))
	n := 20 + r.IntN(181)
	big := -1
	if r.IntN(4) == 0 {
		big = r.IntN(n) // about one version in four carries a 32-64 KiB value: long pwrites tear
	}
	ops := make([]crashOp, n)
	for i := range ops {
		key := fmt.Sprintf("key-%04d", r.IntN(crashKeySpace))
		if r.IntN(5) == 0 {
			ops[i] = crashOp{key: key, del: true}
			continue
		}
		var size int
		switch x := r.IntN(100); {
		case i == big:
			size = 32<<10 + r.IntN(32<<10)
		case x < 3:
			size = 0
		case x < 85:
			size = 1 + r.IntN(200)
		default:
			size = 200 + r.IntN(4000)
		}
		val := make([]byte, size)
		tag := fmt.Sprintf("v%d/%d:", v, i)
		copy(val, tag)
		for j := len(tag); j < size; j += 8 {
			x := r.Uint64()
			for b := 0; b < 8 && j+b < size; b++ {
				val[j+b] = byte(x >> (8 * b))
			}
		}
		ops[i] = crashOp{key: key, val: val}
	}
	return ops
}

func crashApply(ref map[string]string, v uint64) {
	for _, op := range crashBatch(v) {
		if op.del {
			delete(ref, op.key)
		} else {
			ref[op.key] = string(op.val)
		}
	}
}

// TestCrashChild is the process TestCrashKill kills; it does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashKill")
	}
	die := func(code int, format string, args ...any) {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		os.Exit(code)
	}
	parent, _ := strconv.Atoi(os.Getenv(crashParentEnv))
	deadline := time.Now().Add(2 * time.Minute)
	db, err := metisdb.Open(dir, nil) // fdatasync on: real durability
	if err != nil {
		die(3, "Open: %v", err)
	}
	root := db.Root()
	os.Stdout.Write([]byte(fmt.Sprintf("ready %d %x\n", db.Version(), root[:])))
	for {
		// Never outlive the parent (it may have died without killing us).
		if os.Getppid() != parent || time.Now().After(deadline) {
			die(5, "parent gone or deadline passed")
		}
		v := db.Version() + 1
		for _, op := range crashBatch(v) {
			var err error
			if op.del {
				err = db.Delete([]byte(op.key))
			} else {
				err = db.Set([]byte(op.key), op.val)
			}
			if err != nil {
				die(4, "staging version %d: %v", v, err)
			}
		}
		got, root, err := db.Commit()
		if err != nil || got != v {
			die(4, "Commit = %d, %v; want version %d", got, err, v)
		}
		os.Stdout.Write([]byte(fmt.Sprintf("committed %d %x\n", got, root[:])))
	}
}

// crashNoticeCounter is a slog.Handler counting warnings, such as Open discarding a torn tail.
type crashNoticeCounter struct{ n atomic.Int64 }

func (c *crashNoticeCounter) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn
}
func (c *crashNoticeCounter) Handle(context.Context, slog.Record) error {
	c.n.Add(1)
	return nil
}
func (c *crashNoticeCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *crashNoticeCounter) WithGroup(string) slog.Handler      { return c }

type crashRun struct {
	ready    bool
	readyVer uint64
	last     uint64 // last version the child reported committed (0 if none)
	roots    map[uint64]metisdb.Hash
	lines    int
}

func crashParseLine(line string) (kind string, v uint64, root metisdb.Hash, err error) {
	f := strings.Fields(line)
	if len(f) != 3 || (f[0] != "ready" && f[0] != "committed") {
		return "", 0, root, fmt.Errorf("unexpected line %q", line)
	}
	if v, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return "", 0, root, fmt.Errorf("line %q: %v", line, err)
	}
	b, err := hex.DecodeString(f[2])
	if err != nil || len(b) != 32 {
		return "", 0, root, fmt.Errorf("line %q: bad root", line)
	}
	copy(root[:], b)
	return f[0], v, root, nil
}

// crashOnce starts a child on dir and kills it after waitCommits reported commits plus sleep
// (waitCommits < 0: without waiting for it to open the store). It returns what the child
// reported before it died.
func crashOnce(t *testing.T, dir string, waitCommits int, sleep time.Duration) crashRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashParentEnv+"="+strconv.Itoa(os.Getpid()))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4096)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		close(lines)
	}()
	run := crashRun{roots: map[uint64]metisdb.Hash{}}
	var bad []string
	handle := func(line string) {
		kind, v, root, err := crashParseLine(line)
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case kind == "ready":
			run.ready, run.readyVer = true, v
		default:
			if run.lines == 0 && run.ready && v != run.readyVer+1 || run.lines > 0 && v != run.last+1 {
				bad = append(bad, fmt.Sprintf("child reported version %d after %d (ready at %d)", v, run.last, run.readyVer))
			}
			run.last = v
			run.roots[v] = root
			run.lines++
		}
	}
	killed := func() {
		if err := cmd.Process.Kill(); err != nil {
			t.Logf("kill: %v", err)
		}
		for line := range lines { // every line written before the kill counts as reported
			handle(line)
		}
		err := cmd.Wait()
		if ps := cmd.ProcessState; ps == nil || ps.Success() || ps.ExitCode() != -1 {
			// ExitCode is -1 only when the process was terminated by a signal.
			t.Fatalf("child did not die of the kill: %v\nstderr:\n%s", err, stderr.String())
		}
	}
	if waitCommits >= 0 {
		timeout := time.After(30 * time.Second)
	wait:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					cmd.Wait()
					t.Fatalf("child exited before it was killed\nstderr:\n%s", stderr.String())
				}
				handle(line)
				if run.ready && run.lines >= waitCommits {
					break wait
				}
			case <-timeout:
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child reported %d commits in 30s, waited for %d\nstderr:\n%s", run.lines, waitCommits, stderr.String())
			}
		}
	}
	time.Sleep(sleep)
	killed()
	if len(bad) > 0 {
		t.Fatalf("bad child output: %v\nstderr:\n%s", bad, stderr.String())
	}
	return run
}

func TestCrashKill(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs SIGKILL and flock")
	}
	kills := 200
	if mdlRace() {
		kills = 50 // the race-instrumented child is slow to start; the 200-kill run is the plain one
	}
	if testing.Short() {
		kills = 30
	}
	if s := os.Getenv("METISDB_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("METISDB_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (METISDB_CRASH_SEED), %d kills", seed, kills)
	r := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	dir := t.TempDir()

	ref := map[string]string{} // contents of refVersion, replayed from crashBatch
	refVersion := uint64(0)
	inFlight, early, start := 0, 0, time.Now()
	var notices crashNoticeCounter // how often the parent's Open cut an unfinished commit
	for i := 0; i < kills; i++ {
		wait := r.IntN(5) // reported commits to wait for
		if r.IntN(10) == 0 {
			wait = -1 // kill during start-up or Open (which may be truncating a torn tail)
			early++
		}
		sleep := time.Duration(r.IntN(5001)) * time.Microsecond
		run := crashOnce(t, dir, wait, sleep)
		if run.ready && run.readyVer != refVersion {
			t.Fatalf("kill %d: child opened at version %d, the parent last saw %d", i, run.readyVer, refVersion)
		}
		last := refVersion
		if run.lines > 0 {
			last = run.last
		}

		db, err := metisdb.Open(dir, &metisdb.Options{Logger: slog.New(&notices)})
		if err != nil {
			t.Fatalf("kill %d (seed %d): reopen after the child reported version %d: %v", i, seed, last, err)
		}
		got := db.Version()
		// A commit whose head slot reached the page cache just before the kill is durable even
		// though the child never got to report it: the store may be one version ahead of the
		// last report, never more, never behind.
		if got != last && got != last+1 {
			db.Close()
			t.Fatalf("kill %d (seed %d): reopened at version %d, child last reported %d", i, seed, got, last)
		}
		if got == last+1 {
			inFlight++
		}
		for ; refVersion < got; refVersion++ {
			crashApply(ref, refVersion+1)
		}
		want := mdlRoot(ref)
		if root := db.Root(); root != want {
			db.Close()
			t.Fatalf("kill %d (seed %d): version %d root %s, reference %s", i, seed, got, root, want)
		}
		if rep, ok := run.roots[got]; ok && rep != want {
			db.Close()
			t.Fatalf("kill %d (seed %d): child reported root %s for version %d, reference %s", i, seed, rep, got, want)
		}
		snap, err := db.Snapshot(got)
		if err != nil {
			db.Close()
			t.Fatalf("kill %d: Snapshot(%d): %v", i, got, err)
		}
		if err := mdlCheckRange(snap, ref, nil, nil); err != nil {
			db.Close()
			t.Fatalf("kill %d (seed %d): %v", i, seed, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fi, _ := os.Stat(dir + "/data.mdb")
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	t.Logf("%d kills (%d before Open finished) in %v; final version %d, %d keys, file %d bytes; %d times the unreported in-flight commit had landed; %d notices from Open (unfinished commits cut)",
		kills, early, time.Since(start).Round(time.Millisecond), refVersion, len(ref), size, inFlight, notices.n.Load())
}
