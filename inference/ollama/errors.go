package ollama

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/ollama/ollama/api"
)

// Sentinel errors, for errors.Is. The errors returned are *ServerNotRunningError and
// *ModelNotFoundError, which carry the details and say what to do.
var (
	ErrServerNotRunning = errors.New("ollama server not running")
	ErrModelNotFound    = errors.New("model not found")
)

// ServerNotRunningError is returned when nothing answers at the server's address.
type ServerNotRunningError struct {
	Host string
	Err  error // the dial error
}

func (e *ServerNotRunningError) Error() string {
	return fmt.Sprintf("ollama: no server at %s (%v): start one with `ollama serve`, "+
		"or point OLLAMA_HOST (or --host) at the one you run", e.Host, e.Err)
}

// Is makes errors.Is(err, ErrServerNotRunning) true.
func (e *ServerNotRunningError) Is(target error) bool { return target == ErrServerNotRunning }

func (e *ServerNotRunningError) Unwrap() error { return e.Err }

// ModelNotFoundError is returned when the server does not have the model.
type ModelNotFoundError struct {
	Model string
	Err   error // the server's answer
}

func (e *ModelNotFoundError) Error() string {
	return fmt.Sprintf("ollama: model %q not found on the server: download it with `ollama pull %s` "+
		"(or make it from a GGUF file with `ollama create %s -f Modelfile`)", e.Model, e.Model, e.Model)
}

// Is makes errors.Is(err, ErrModelNotFound) true.
func (e *ModelNotFoundError) Is(target error) bool { return target == ErrModelNotFound }

func (e *ModelNotFoundError) Unwrap() error { return e.Err }

// wrap classifies an error from a request. An error answer carries its HTTP status
// (api.StatusError), 404 meaning the model is missing; an error that arrives mid-stream is a
// plain message, so one that looks like "not found" is confirmed with /api/show.
func (e *Engine) wrap(ctx context.Context, model string, err error) error {
	if ctx.Err() != nil {
		// Cancelled or timed out: say so first, keep the cause for errors.Is(err, context.Canceled).
		return fmt.Errorf("ollama: %s: %w", model, errors.Join(ctx.Err(), err))
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return &ServerNotRunningError{Host: e.base.String(), Err: err}
	}
	var se api.StatusError
	if errors.As(err, &se) {
		if se.StatusCode == http.StatusNotFound {
			return &ModelNotFoundError{Model: model, Err: err}
		}
		return fmt.Errorf("ollama: %s: %w", model, err)
	}
	if strings.Contains(err.Error(), "not found") {
		if _, serr := e.client.Show(ctx, &api.ShowRequest{Model: model}); serr != nil {
			if errors.As(serr, &se) && se.StatusCode == http.StatusNotFound {
				return &ModelNotFoundError{Model: model, Err: err}
			}
		}
	}
	return fmt.Errorf("ollama: %s: %w", model, err)
}
