// Package ollamatest runs a real Ollama server for tests anywhere in metis, like net/http/httptest
// for HTTP: Start gives a test its own `ollama serve` on a free loopback port with a temporary
// models directory, and Server.Create makes models from GGUF files. It is the public face of
// inference/internal/ollamatest (which tests under inference/ use directly, sharing one server
// per test binary through Shared and Main); see there for how the binary is found and when a
// missing one skips or fails a test.
package ollamatest

import (
	"testing"

	"github.com/metisgo/metis/inference/internal/ollamatest"
)

// Server is a running `ollama serve`.
type Server = ollamatest.Server

// Version is the Ollama release the tests are written against.
const Version = ollamatest.Version

// Binary returns the path of the ollama binary ($METIS_OLLAMA, the install script's cache path,
// then PATH).
func Binary() (string, error) { return ollamatest.Binary() }

// Start starts a server for this test alone and stops it in tb's cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return ollamatest.Start(tb)
}
