package rpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Defaults of Options.
const (
	DefaultMaxRequestBytes         = 5 << 20 // HTTP body and WebSocket message
	DefaultMaxBatchItems           = 1000
	DefaultMaxBatchResponseBytes   = 25 << 20
	DefaultMaxSubscriptionsPerConn = 128
	DefaultSubscriptionBuffer      = 256
	DefaultGasCap                  = 50_000_000
	DefaultCallTimeout             = 5 * time.Second
	DefaultMaxLogBlockRange        = 100_000
	DefaultMaxLogResults           = 10_000
	DefaultLogQueryLimit           = 1000 // go-ethereum's default
	DefaultRequestTimeout          = 30 * time.Second
)

// Options configure a Server. Zero values select the defaults above.
type Options struct {
	// ClientVersion is the answer of web3_clientVersion. Default
	// "metis/<module version>/<go version>", e.g. "metis/v0.1.0/go1.26.8".
	ClientVersion string
	// CORSOrigins are the browser origins allowed to call over HTTP (CORS) and to open a
	// WebSocket (Origin check): "*" or exact origins such as "http://localhost:3000".
	// Default ["*"], right for a dev node; narrow it when the port is reachable by others.
	CORSOrigins []string
	// MaxRequestBytes bounds an HTTP request body and a WebSocket message.
	MaxRequestBytes int
	// MaxBatchItems bounds the calls in one batch; MaxBatchResponseBytes the bytes of one
	// batch's responses (go-ethereum's rpc.Server.SetBatchLimits).
	MaxBatchItems         int
	MaxBatchResponseBytes int
	// MaxSubscriptionsPerConn bounds the live subscriptions of one WebSocket connection;
	// eth_subscribe beyond it fails with ErrTooManySubscriptions (code -32005).
	MaxSubscriptionsPerConn int
	// SubscriptionBuffer is how many events (a head, one block's matching logs, one batch
	// of pool transactions) may wait for one subscription. A subscriber that falls further
	// behind is dropped: its connection is closed. Chain events are never held up by a client.
	SubscriptionBuffer int
	// GasCap caps the gas of eth_call and eth_estimateGas (and is their default gas).
	GasCap uint64
	// CallTimeout bounds one eth_call execution and one whole eth_estimateGas search.
	CallTimeout time.Duration
	// MaxLogBlockRange bounds toBlock-fromBlock+1 of eth_getLogs; MaxLogResults the logs it
	// returns. Both fail with code -32005 when exceeded.
	MaxLogBlockRange uint64
	MaxLogResults    int
	// LogQueryLimit bounds the addresses, and the topics in any one position, of an
	// eth_getLogs filter or a logs subscription, as go-ethereum's --rpc.logquerylimit does
	// (same default and message: "exceed max addresses or topics per search position",
	// code -32602 here).
	LogQueryLimit int
	// RequestTimeout bounds one call. Over HTTP it is the server's write timeout, from which
	// go-ethereum's rpc package answers "request timed out" (-32002) 100 ms before it. A
	// WebSocket call has no such deadline in go-ethereum, so the calls that can run long here
	// (eth_getLogs, eth_feeHistory, eth_getProof) are given RequestTimeout themselves and
	// answer the same error when it passes. eth_call and eth_estimateGas have CallTimeout.
	RequestTimeout time.Duration
	// Logger receives the server's log lines; default slog.Default().
	Logger *slog.Logger
	// Services are further namespaces to serve, by name (chain/node adds "metis", whose
	// methods read the system modules); each is registered like go-ethereum's rpc.API.
	Services map[string]any
}

func (o Options) withDefaults() Options {
	if o.ClientVersion == "" {
		v := "v0.0.0-dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		o.ClientVersion = fmt.Sprintf("metis/%s/%s", v, runtime.Version())
	}
	if o.CORSOrigins == nil {
		o.CORSOrigins = []string{"*"}
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxBatchItems <= 0 {
		o.MaxBatchItems = DefaultMaxBatchItems
	}
	if o.MaxBatchResponseBytes <= 0 {
		o.MaxBatchResponseBytes = DefaultMaxBatchResponseBytes
	}
	if o.MaxSubscriptionsPerConn <= 0 {
		o.MaxSubscriptionsPerConn = DefaultMaxSubscriptionsPerConn
	}
	if o.SubscriptionBuffer <= 0 {
		o.SubscriptionBuffer = DefaultSubscriptionBuffer
	}
	if o.GasCap == 0 {
		o.GasCap = DefaultGasCap
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MaxLogBlockRange == 0 {
		o.MaxLogBlockRange = DefaultMaxLogBlockRange
	}
	if o.MaxLogResults <= 0 {
		o.MaxLogResults = DefaultMaxLogResults
	}
	if o.LogQueryLimit <= 0 {
		o.LogQueryLimit = DefaultLogQueryLimit
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server serves JSON-RPC over HTTP and WebSocket on one port: a request that asks for a
// WebSocket upgrade is handed to the WebSocket handler, anything else is one HTTP JSON-RPC
// request (or batch). It is an http.Handler; Serve runs it on a listener.
type Server struct {
	backend Backend
	opts    Options
	log     *slog.Logger
	rpc     *gethrpc.Server
	ws      http.Handler
	hub     *hub
	conns   *connRegistry
	stats   stats

	mu      sync.Mutex
	servers []*http.Server
	closed  bool
}

// New builds a server over backend and subscribes to its chain-head and new-transaction
// feeds. Close releases them.
func New(backend Backend, opts Options) (*Server, error) {
	if backend == nil {
		return nil, errors.New("rpc: nil backend")
	}
	if backend.ChainConfig() == nil || backend.ChainConfig().ChainID == nil {
		return nil, errors.New("rpc: backend has no chain config or chain ID")
	}
	opts = opts.withDefaults()
	s := &Server{
		backend: backend,
		opts:    opts,
		log:     opts.Logger,
		rpc:     gethrpc.NewServer(),
		conns:   newConnRegistry(),
	}
	s.rpc.SetHTTPBodyLimit(opts.MaxRequestBytes)
	s.rpc.SetWebsocketReadLimit(int64(opts.MaxRequestBytes))
	s.rpc.SetBatchLimits(opts.MaxBatchItems, opts.MaxBatchResponseBytes)
	apis := map[string]any{
		"eth":    &ethAPI{s: s, b: backend},
		"net":    &netAPI{s: s},
		"web3":   &web3API{s: s},
		"txpool": &txpoolAPI{s: s},
	}
	for name, api := range opts.Services {
		if _, taken := apis[name]; taken {
			return nil, fmt.Errorf("rpc: service %q would replace a built-in namespace", name)
		}
		apis[name] = api
	}
	for name, api := range apis {
		if err := s.rpc.RegisterName(name, api); err != nil {
			s.rpc.Stop()
			return nil, fmt.Errorf("rpc: register %s: %w", name, err)
		}
	}
	s.ws = s.rpc.WebsocketHandler(opts.CORSOrigins)
	s.hub = newHub(s)
	return s, nil
}

// bounded gives a call that can run long the request time limit: the one go-ethereum's rpc
// package derives for HTTP calls (ctx is then returned as it is, with a no-op cancel), or
// Options.RequestTimeout for WebSocket and in-process calls, which have none.
func (s *Server) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := gethrpc.ContextRequestTimeout(ctx); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.RequestTimeout)
}

// timedOut turns err into go-ethereum's "request timed out" (-32002) when it is ctx's deadline
// passing.
func timedOut(ctx context.Context, err error) error {
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)) {
		return errTimeout
	}
	return err
}

// Stats returns a snapshot of the request, error and subscription counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Serve accepts connections on ln and serves them until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	// go-ethereum's node timeouts. The rpc package derives each HTTP request's deadline
	// from WriteTimeout; a hijacked WebSocket connection has its deadlines cleared.
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.opts.RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops serving: listeners from Serve are closed, every connection (WebSocket ones
// included) is dropped and the backend feeds are released. It is safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	servers := s.servers
	s.mu.Unlock()
	var err error
	for _, hs := range servers {
		err = errors.Join(err, hs.Close())
	}
	s.rpc.Stop()
	s.conns.closeAll()
	s.hub.close()
	return err
}

// ServeHTTP routes a WebSocket upgrade to the WebSocket handler and anything else to the
// HTTP JSON-RPC handler, with CORS.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isWebsocket(r) {
		s.serveWS(w, r)
		return
	}
	if !s.cors(w, r) {
		return
	}
	// go-ethereum rejects a declared Content-Length over the limit with 413 but silently
	// truncates a chunked body; give both the same clear answer.
	if r.ContentLength < 0 && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxRequestBytes)+1))
		if err != nil {
			http.Error(w, "cannot read request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > s.opts.MaxRequestBytes {
			http.Error(w, fmt.Sprintf("request body too large (limit %d bytes)", s.opts.MaxRequestBytes), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	s.rpc.ServeHTTP(w, r)
}

// isWebsocket reports whether r asks for a WebSocket upgrade (as go-ethereum's node does).
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// cors sets the CORS headers of an allowed origin and answers preflight requests. It
// reports whether the request still needs serving.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	allowed := origin != "" && s.originAllowed(origin)
	if allowed {
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			} else {
				h.Set("Access-Control-Allow-Headers", "Content-Type")
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
		} else {
			http.Error(w, "origin not allowed", http.StatusForbidden)
		}
		return false
	}
	return true
}

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.opts.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// serveWS serves one WebSocket connection; it returns when the connection ends. The
// hijacked network connection is registered under its remote address (which go-ethereum
// reports as the PeerInfo of every call on it), so that subscriptions can be counted per
// connection and a slow subscriber's connection can be closed.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	hw := &hijackWriter{ResponseWriter: w, s: s}
	s.ws.ServeHTTP(hw, r)
	if hw.conn != nil {
		s.conns.remove(hw.conn)
		s.stats.wsConns.Add(-1)
	}
}

// hijackWriter records the connection gorilla/websocket hijacks.
type hijackWriter struct {
	http.ResponseWriter
	s    *Server
	conn *wsConn
}

func (hw *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(hw.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	hw.conn = hw.s.conns.add(c)
	if hw.conn == nil { // the server is closing
		c.Close()
		return nil, nil, net.ErrClosed
	}
	hw.s.stats.wsConns.Add(1)
	return c, brw, nil
}

func (hw *hijackWriter) Unwrap() http.ResponseWriter { return hw.ResponseWriter }

// wsConn is one live WebSocket connection.
type wsConn struct {
	key  string
	conn net.Conn
	mu   sync.Mutex
	subs int
}

// acquire takes one of the connection's subscription slots.
func (c *wsConn) acquire(limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs >= limit {
		return false
	}
	c.subs++
	return true
}

func (c *wsConn) release() {
	c.mu.Lock()
	c.subs--
	c.mu.Unlock()
}

type connRegistry struct {
	mu     sync.Mutex
	conns  map[string]*wsConn
	closed bool
}

func newConnRegistry() *connRegistry { return &connRegistry{conns: make(map[string]*wsConn)} }

func (r *connRegistry) add(c net.Conn) *wsConn {
	wc := &wsConn{key: c.RemoteAddr().String(), conn: c}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.conns[wc.key] = wc
	return wc
}

func (r *connRegistry) get(key string) *wsConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns[key]
}

func (r *connRegistry) remove(wc *wsConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns[wc.key] == wc {
		delete(r.conns, wc.key)
	}
}

// CloseConn closes the WebSocket connection whose remote address is remoteAddr (as
// go-ethereum's rpc.PeerInfo reports it), the way the server closes a subscriber it drops for
// falling behind; services of other namespaces (chain/node's agent_) use it for theirs. It
// reports whether such a connection was open.
func (s *Server) CloseConn(remoteAddr string) bool {
	wc := s.conns.get(remoteAddr)
	if wc == nil {
		return false
	}
	wc.conn.Close()
	return true
}

func (r *connRegistry) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, wc := range r.conns {
		wc.conn.Close()
	}
}
