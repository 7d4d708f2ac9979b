package gguf

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDeterminism builds cmd internal/detrun (runs of models in every tensor type — F32, F16, Q8_0,
// Q4_0, Q4_K, Q5_K, Q6_K — of both architectures and both tokenizers, big enough to split matrix
// multiplications across goroutines, greedy and seeded, with their trace roots) for
// this machine and for the other architecture, amd64 <-> arm64, and requires the same fingerprint
// from: the native binary under GOMAXPROCS=1 and 2, a native build with GOAMD64=v3 (other instruction
// selection) when the CPU supports it, and the foreign binary run through qemu-user under
// GOMAXPROCS=1 and 2. The arm64 build is the one with teeth: Go fuses x*y+z into FMADD there, and
// dropping a single float32(...) conversion from dotF32 changes the F32 trace roots.
//
// Without qemu-user the cross-architecture half is skipped, except under CI=true, where it fails.
func TestDeterminism(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and emulates binaries; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the fingerprint program: %v", err)
	}
	dir := t.TempDir()
	build := func(name string, env ...string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		cmd := exec.Command(goBin, "build", "-o", out, "./internal/detrun")
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, b)
		}
		return out
	}
	run := func(label string, argv []string, procs string) string {
		t.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", label, err, stderr.String())
		}
		return string(out)
	}
	native := build("detrun-native")
	want := run("native GOMAXPROCS=1", []string{native}, "1")
	if n := strings.Count(want, "root "); n != 42 {
		t.Fatalf("fingerprint has %d runs, want 42:\n%s", n, want)
	}
	compare := func(label, got string) {
		t.Helper()
		if got != want {
			t.Errorf("%s differs from native GOMAXPROCS=1:\n%s", label, diffLines(want, got))
		} else {
			t.Logf("%s: identical (%d bytes)", label, len(got))
		}
	}
	compare("native GOMAXPROCS=2", run("native GOMAXPROCS=2", []string{native}, "2"))
	if runtime.GOARCH == "amd64" && cpuHas("fma", "avx2", "bmi2") {
		v3 := build("detrun-v3", "GOAMD64=v3")
		compare("GOAMD64=v3 GOMAXPROCS=2", run("v3", []string{v3}, "2"))
	}

	other, qemu := "arm64", "qemu-aarch64-static"
	if runtime.GOARCH == "arm64" {
		other, qemu = "amd64", "qemu-x86_64-static"
	}
	var emu string
	emu, err = exec.LookPath(qemu)
	if err != nil {
		emu, err = exec.LookPath(strings.TrimSuffix(qemu, "-static"))
	}
	if err != nil {
		msg := qemu + " not found: install Debian's qemu-user-static (apt-get install -y qemu-user-static) to compare against GOARCH=" + other
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip(msg)
	}
	foreign := build("detrun-"+other, "GOARCH="+other)
	for _, procs := range []string{"1", "2"} {
		compare("GOARCH="+other+" (qemu) GOMAXPROCS="+procs, run(other, []string{emu, foreign}, procs))
	}
}

// TestDeterminismInProcess repeats runs in one process under GOMAXPROCS 1 and 2 and checks that
// outputs and trace roots repeat exactly (cheap; runs with -short too).
func TestDeterminismInProcess(t *testing.T) {
	p := LlamaParams{Dim: 256, Layers: 1, Heads: 8, KVHeads: 2, FFN: 512, Context: 64, RopeTheta: 500000, NormEps: 1e-6, Type: F32}
	m, err := LoadBytes(writeBytes(t, RandomLlama(p, ByteVocab(), 5)))
	if err != nil {
		t.Fatal(err)
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var roots [][32]byte
	for _, procs := range []int{1, 2, 1, 2} {
		runtime.GOMAXPROCS(procs)
		tr, err := m.Run(context.Background(), m.Vocab.Encode("determinism", true), SamplingParams{Temperature: 0.7, TopK: 20}, 99, 16, nil)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, tr.Root)
	}
	for i, r := range roots {
		if r != roots[0] {
			t.Fatalf("run %d: root %x, run 0: %x", i, r, roots[0])
		}
	}
}

func cpuHas(flags ...string) bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "flags") {
			continue
		}
		have := map[string]bool{}
		for _, f := range strings.Fields(line) {
			have[f] = true
		}
		for _, f := range flags {
			if !have[f] {
				return false
			}
		}
		return true
	}
	return false
}

// diffLines shows the first differing lines.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)) && len(out) < 6; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
	}
	return strings.Join(out, "\n")
}
