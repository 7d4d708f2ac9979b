package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"gopkg.in/yaml.v3"

	"github.com/metisgo/metis/inference"
)

// A spec file describes one agent in YAML:
//
//	name: voter                      # required: letters, digits, '-', '_' (1-64)
//	model:                           # the brain
//	  engine: gguf                   # gguf (default, embedded) or ollama
//	  model: models/tiny.gguf        # a GGUF path (relative to the spec file) or an Ollama model
//	  host: http://127.0.0.1:11434   # ollama only
//	  temperature: 0                 # sampling: temperature, top_k, top_p, seed, max_tokens
//	system: You are a careful voter. # the system prompt
//	goals: [vote on every proposal with a reason]
//	tools:                           # a name, or a mapping with the name and its config
//	  - idao_vote
//	  - name: http_fetch
//	    allow_hosts: [example.org]
//	    max_bytes: 65536
//	    timeout: 10s
//	triggers:
//	  - chain: proposal_created      # or task_requested, class_created, minted, vote_cast
//	  - every: 1m                    # an interval
//	  - start: true                  # once when the agent starts
//	    prompt: introduce yourself   # what the trigger says to the model (optional)
//	policy:                          # checked before anything is signed
//	  spend_cap: 1 METIS             # per transaction: value + gas limit × fee cap (required)
//	  period_cap: 10 METIS           # per period (optional) ...
//	  period: 24h                    # ... of this length (default 24h)
//	  gas_cap: 500000                # gas limit per transaction (optional)
//	  max_gas_cost: 0.01 METIS       # gas limit × fee cap per transaction (optional)
//	  allow:                         # modules and methods (default: those of the tools)
//	    - module: idao               # dat, idao, verifier, lazai, or an address
//	      methods: [castVote, castVoteWithReason]   # names, 0x selectors, or "*"
//	    - module: dat
//	      methods: [transferToken]
//	      to: [0x70997970C51812dc3A010C7d01b50e0d17dc79C8]  # where asset-moving methods may
//	                                 # move to besides the agent (default: nowhere else)
//	      max_value: 0.5 METIS       # the most value one call of these methods may send
//	data_dir: voter-data             # the spend ledger (relative to the spec file); needed with
//	                                 # period_cap ('metis agent run' defaults it)
//	key:                             # one of:
//	  dev_account: 3                 #   a dev-chain account (0-9)
//	  # keystore: key.json           #   a go-ethereum keystore file ...
//	  # password_file: pass.txt      #   ... and its password (or password_env: VAR)
//	fallback:                        # what runs when the model cannot make a valid tool call
//	  tool: idao_vote
//	  args: {proposal_id: "1", support: abstain, reason: fallback}
//	max_steps: 4                     # model calls per trigger (default 4)
//	max_retries: 2                   # retries of an invalid tool call (default 2)
//	memory: {max_messages: 32, max_notes: 64}
//
// Amounts are METIS with decimals ("0.5", "0.5 METIS") or integers of "wei"/"gwei".

// Spec is a parsed, validated spec file.
type Spec struct {
	Name       string
	Model      ModelSpec
	System     string
	Goals      []string
	Tools      []ToolSpec
	Triggers   []TriggerSpec
	Policy     Policy
	Key        KeySpec
	Fallback   *FallbackSpec // nil: an invalid tool call ends the step with an error event
	MaxSteps   int
	MaxRetries int
	Memory     MemorySpec
	// DataDir is where the agent keeps its spend ledger (resolved against Dir); "" for none.
	DataDir string
	// Dir is the directory relative paths (model, keystore, password file) resolve against:
	// the spec file's (LoadSpec), or the working directory (ParseSpec).
	Dir string
}

// ModelSpec is the brain.
type ModelSpec struct {
	Engine   string // "gguf" or "ollama"
	Model    string // a GGUF path (resolved against Spec.Dir) or an Ollama model name
	Host     string // Ollama's address; empty: the default
	Sampling inference.Sampling
}

// ToolSpec is one tool and its configuration.
type ToolSpec struct {
	Name       string
	AllowHosts []string      // http_fetch: hosts it may fetch from (required for it)
	MaxBytes   int64         // http_fetch: response size limit (default 64 KiB)
	Timeout    time.Duration // http_fetch: request timeout (default 10s)
	Model      string        // infer: the model to run (default the brain's)
	MaxTokens  int           // infer: generation limit (default the engine's)
}

// Trigger kinds.
const (
	TriggerChain    = "chain"
	TriggerInterval = "interval"
	TriggerStart    = "start"
)

// TriggerSpec is what wakes the agent.
type TriggerSpec struct {
	Kind   string        // TriggerChain, TriggerInterval or TriggerStart
	Event  string        // chain: one of ChainEvents
	Every  time.Duration // interval
	Prompt string        // what the trigger tells the model (a default per kind when empty)
}

// ChainEvents are the chain events a trigger can wait for.
var ChainEvents = []string{"proposal_created", "vote_cast", "task_requested", "class_created", "minted"}

// KeySpec says where the agent's key is. At most one of DevAccount and Keystore is set; the
// runtime may be given the key instead (WithKey), and then the spec needs none.
type KeySpec struct {
	DevAccount   *int
	Keystore     string
	PasswordFile string
	PasswordEnv  string
}

// FallbackSpec is the action run when the model fails to make a valid tool call.
type FallbackSpec struct {
	Tool string
	Args json.RawMessage
}

// MemorySpec bounds the agent's memory.
type MemorySpec struct {
	MaxMessages int // conversation messages kept across triggers (default 32)
	MaxNotes    int // key/value notes kept (default 64)
}

// Defaults.
const (
	DefaultMaxSteps    = 4
	DefaultMaxRetries  = 2
	DefaultMaxMessages = 32
	DefaultMaxNotes    = 64
	DefaultPeriod      = 24 * time.Hour
	defaultFetchBytes  = 64 << 10
	defaultFetchTime   = 10 * time.Second
	maxSpecSize        = 1 << 20
)

// SpecError is one problem in a spec file: where it is and which field.
type SpecError struct {
	File  string // empty for ParseSpec
	Line  int
	Field string // dotted path, e.g. "policy.spend_cap" or "tools[2].name"
	Msg   string
}

func (e *SpecError) Error() string {
	file := e.File
	if file == "" {
		file = "spec"
	}
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", file, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", file, e.Line, e.Field, e.Msg)
}

// LoadSpec reads and validates a spec file; relative paths in it resolve against its directory.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("agent spec: %w", err)
	}
	s, err := parseSpec(path, data)
	if err != nil {
		return nil, err
	}
	s.Dir = filepath.Dir(path)
	return s, nil
}

// ParseSpec parses and validates a spec. All problems found are returned, joined, each a
// *SpecError naming its line and field.
func ParseSpec(data []byte) (*Spec, error) { return parseSpec("", data) }

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parseSpec(file string, data []byte) (*Spec, error) {
	if len(data) > maxSpecSize {
		return nil, &SpecError{File: file, Line: 1, Msg: fmt.Sprintf("spec is %d bytes, more than %d", len(data), maxSpecSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line, msg := 1, err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		if errors.Is(err, io.EOF) {
			msg = "empty spec"
		}
		return nil, &SpecError{File: file, Line: line, Msg: "not YAML: " + msg}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &SpecError{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	}
	p := &specParser{file: file}
	s := p.spec(&doc)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return s, nil
}

type specParser struct {
	file string
	errs []error
}

func (p *specParser) errf(n *yaml.Node, field, format string, args ...any) {
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	p.errs = append(p.errs, &SpecError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping node, calling set for each known key and reporting unknown,
// duplicate and (with required) missing ones. It returns false if n is not a mapping.
func (p *specParser) fields(n *yaml.Node, path string, handlers map[string]func(v *yaml.Node, field string), required ...string) bool {
	if n.Kind != yaml.MappingNode {
		p.errf(n, path, "want a mapping, got %s", kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errf(k, path, "keys must be plain names")
			continue
		}
		if seen[k.Value] {
			p.errf(k, field, "given twice")
			continue
		}
		seen[k.Value] = true
		h, ok := handlers[k.Value]
		if !ok {
			p.errf(k, field, "unknown field (known: %s)", strings.Join(sortedKeys(handlers), ", "))
			continue
		}
		if v.Kind == yaml.AliasNode {
			p.errf(v, field, "aliases are not supported")
			continue
		}
		h(v, field)
	}
	for _, r := range required {
		if !seen[r] {
			p.errf(n, join(path, r), "required")
		}
	}
	return true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

func (p *specParser) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, field, "want a string, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *specParser) nonEmpty(n *yaml.Node, field string) (string, bool) {
	s, ok := p.str(n, field)
	if ok && strings.TrimSpace(s) == "" {
		p.errf(n, field, "empty")
		return "", false
	}
	return s, ok
}

func (p *specParser) integer(n *yaml.Node, field string, lo, hi int64) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.errf(n, field, "not an integer: %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil || v < lo || v > hi {
		p.errf(n, field, "%s is out of range [%d, %d]", n.Value, lo, hi)
		return 0, false
	}
	return v, true
}

func (p *specParser) float(n *yaml.Node, field string, lo, hi float64) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") {
		p.errf(n, field, "not a number: %s", kindName(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		p.errf(n, field, "%s is out of range [%g, %g]", n.Value, lo, hi)
		return 0, false
	}
	return v, true
}

func (p *specParser) boolean(n *yaml.Node, field string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errf(n, field, "want true or false, got %s", kindName(n))
		return false, false
	}
	return strings.EqualFold(n.Value, "true") || n.Value == "yes" || n.Value == "on", true
}

func (p *specParser) duration(n *yaml.Node, field string, min time.Duration) (time.Duration, bool) {
	s, ok := p.str(n, field)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.errf(n, field, "not a duration: %q (want e.g. 30s, 5m, 1h)", s)
		return 0, false
	}
	if d < min {
		p.errf(n, field, "%s is shorter than %s", d, min)
		return 0, false
	}
	return d, true
}

func (p *specParser) amount(n *yaml.Node, field string) (*big.Int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, field, "not an amount: %s", kindName(n))
		return nil, false
	}
	v, err := ParseAmount(n.Value)
	if err != nil {
		p.errf(n, field, "%v", err)
		return nil, false
	}
	return v, true
}

func (p *specParser) strings(n *yaml.Node, field string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, field, "want a list, got %s", kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, e := range n.Content {
		s, good := p.nonEmpty(e, fmt.Sprintf("%s[%d]", field, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (p *specParser) spec(doc *yaml.Node) *Spec {
	s := &Spec{MaxSteps: DefaultMaxSteps, MaxRetries: DefaultMaxRetries,
		Memory: MemorySpec{MaxMessages: DefaultMaxMessages, MaxNotes: DefaultMaxNotes},
		Model:  ModelSpec{Engine: "gguf"}, Policy: Policy{Period: DefaultPeriod}}
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.errf(root, "", "empty spec")
			return s
		}
		root = root.Content[0]
	}
	var fallbackNode *yaml.Node
	p.fields(root, "", map[string]func(*yaml.Node, string){
		"name": func(v *yaml.Node, f string) {
			if n, ok := p.str(v, f); ok {
				if !nameRE.MatchString(n) {
					p.errf(v, f, "%q: want 1-64 letters, digits, '-' or '_'", n)
				}
				s.Name = n
			}
		},
		"model":  func(v *yaml.Node, f string) { p.model(v, f, &s.Model) },
		"system": func(v *yaml.Node, f string) { s.System, _ = p.str(v, f) },
		"goals":  func(v *yaml.Node, f string) { s.Goals, _ = p.strings(v, f) },
		"tools":  func(v *yaml.Node, f string) { s.Tools = p.tools(v, f) },
		"triggers": func(v *yaml.Node, f string) {
			s.Triggers = p.triggers(v, f)
		},
		"policy":   func(v *yaml.Node, f string) { p.policy(v, f, &s.Policy) },
		"data_dir": func(v *yaml.Node, f string) { s.DataDir, _ = p.nonEmpty(v, f) },
		"key":      func(v *yaml.Node, f string) { p.key(v, f, &s.Key) },
		"fallback": func(v *yaml.Node, f string) { fallbackNode = v; s.Fallback = p.fallback(v, f) },
		"max_steps": func(v *yaml.Node, f string) {
			if n, ok := p.integer(v, f, 1, 64); ok {
				s.MaxSteps = int(n)
			}
		},
		"max_retries": func(v *yaml.Node, f string) {
			if n, ok := p.integer(v, f, 0, 16); ok {
				s.MaxRetries = int(n)
			}
		},
		"memory": func(v *yaml.Node, f string) {
			p.fields(v, f, map[string]func(*yaml.Node, string){
				"max_messages": func(v *yaml.Node, f string) {
					if n, ok := p.integer(v, f, 0, 4096); ok {
						s.Memory.MaxMessages = int(n)
					}
				},
				"max_notes": func(v *yaml.Node, f string) {
					if n, ok := p.integer(v, f, 0, 4096); ok {
						s.Memory.MaxNotes = int(n)
					}
				},
			})
		},
	}, "name", "model", "policy")

	// Cross-field checks.
	if s.Fallback != nil && s.Fallback.Tool != "" {
		found := false
		for _, t := range s.Tools {
			found = found || t.Name == s.Fallback.Tool
		}
		if !found {
			p.errf(fallbackNode, "fallback.tool", "%q is not one of the agent's tools", s.Fallback.Tool)
		} else if b := builtinTool(s.Fallback.Tool); b != nil {
			if err := validateArgs(b.schema, s.Fallback.Args); err != nil {
				p.errf(fallbackNode, "fallback.args", "%v", err)
			}
		}
	}
	return s
}

func (p *specParser) model(n *yaml.Node, path string, m *ModelSpec) {
	p.fields(n, path, map[string]func(*yaml.Node, string){
		"engine": func(v *yaml.Node, f string) {
			if e, ok := p.str(v, f); ok {
				if e != "gguf" && e != "ollama" {
					p.errf(v, f, "%q: want gguf or ollama", e)
				}
				m.Engine = e
			}
		},
		"model": func(v *yaml.Node, f string) { m.Model, _ = p.nonEmpty(v, f) },
		"host":  func(v *yaml.Node, f string) { m.Host, _ = p.nonEmpty(v, f) },
		"temperature": func(v *yaml.Node, f string) {
			m.Sampling.Temperature, _ = p.float(v, f, 0, 100)
		},
		"top_p": func(v *yaml.Node, f string) { m.Sampling.TopP, _ = p.float(v, f, 0, 1) },
		"top_k": func(v *yaml.Node, f string) {
			if k, ok := p.integer(v, f, 0, 1<<20); ok {
				m.Sampling.TopK = int(k)
			}
		},
		"seed": func(v *yaml.Node, f string) {
			if k, ok := p.integer(v, f, 0, math.MaxInt64); ok {
				m.Sampling.Seed = uint64(k)
			}
		},
		"max_tokens": func(v *yaml.Node, f string) {
			if k, ok := p.integer(v, f, 0, 1<<20); ok {
				m.Sampling.MaxTokens = int(k)
			}
		},
	}, "model")
	if m.Host != "" && m.Engine != "ollama" {
		p.errf(n, path+".host", "only for engine ollama")
	}
}

func (p *specParser) tools(n *yaml.Node, path string) []ToolSpec {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, path, "want a list of tools, got %s", kindName(n))
		return nil
	}
	var out []ToolSpec
	seen := map[string]bool{}
	for i, e := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		var ts ToolSpec
		nameNode := e
		switch e.Kind {
		case yaml.ScalarNode:
			ts.Name, _ = p.nonEmpty(e, f)
		case yaml.MappingNode:
			var cfg []*yaml.Node // config keys, checked once the name is known
			handlers := map[string]func(*yaml.Node, string){
				"name": func(v *yaml.Node, ff string) { nameNode = v; ts.Name, _ = p.nonEmpty(v, ff) },
				"allow_hosts": func(v *yaml.Node, ff string) {
					cfg = append(cfg, v)
					ts.AllowHosts, _ = p.strings(v, ff)
				},
				"max_bytes": func(v *yaml.Node, ff string) {
					cfg = append(cfg, v)
					ts.MaxBytes, _ = p.integer(v, ff, 1, 16<<20)
				},
				"timeout": func(v *yaml.Node, ff string) {
					cfg = append(cfg, v)
					ts.Timeout, _ = p.duration(v, ff, time.Millisecond)
				},
				"model": func(v *yaml.Node, ff string) { cfg = append(cfg, v); ts.Model, _ = p.nonEmpty(v, ff) },
				"max_tokens": func(v *yaml.Node, ff string) {
					cfg = append(cfg, v)
					if k, ok := p.integer(v, ff, 1, 1<<20); ok {
						ts.MaxTokens = int(k)
					}
				},
			}
			p.fields(e, f, handlers, "name")
			// Which config keys the named tool takes.
			if b := builtinTool(ts.Name); b != nil {
				for i := 0; i+1 < len(e.Content); i += 2 {
					k := e.Content[i].Value
					if k == "name" || handlers[k] == nil {
						continue
					}
					if !contains(b.config, k) {
						p.errf(e.Content[i], join(f, k), "tool %s takes no %s", ts.Name, k)
					}
				}
			}
		default:
			p.errf(e, f, "want a tool name or a mapping, got %s", kindName(e))
			continue
		}
		if ts.Name == "" {
			continue
		}
		if builtinTool(ts.Name) == nil {
			p.errf(nameNode, f+".name", "unknown tool %q (known: %s)", ts.Name, strings.Join(builtinNames(), ", "))
			continue
		}
		if seen[ts.Name] {
			p.errf(nameNode, f+".name", "tool %q listed twice", ts.Name)
			continue
		}
		seen[ts.Name] = true
		if ts.Name == "http_fetch" {
			if len(ts.AllowHosts) == 0 {
				p.errf(e, f+".allow_hosts", "required for http_fetch (the hosts it may fetch from)")
			}
			if ts.MaxBytes == 0 {
				ts.MaxBytes = defaultFetchBytes
			}
			if ts.Timeout == 0 {
				ts.Timeout = defaultFetchTime
			}
		}
		out = append(out, ts)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *specParser) triggers(n *yaml.Node, path string) []TriggerSpec {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, path, "want a list of triggers, got %s", kindName(n))
		return nil
	}
	var out []TriggerSpec
	for i, e := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		var t TriggerSpec
		kinds := 0
		ok := p.fields(e, f, map[string]func(*yaml.Node, string){
			"chain": func(v *yaml.Node, ff string) {
				kinds++
				t.Kind = TriggerChain
				if ev, ok := p.str(v, ff); ok {
					if !contains(ChainEvents, ev) {
						p.errf(v, ff, "unknown chain event %q (known: %s)", ev, strings.Join(ChainEvents, ", "))
					}
					t.Event = ev
				}
			},
			"every": func(v *yaml.Node, ff string) {
				kinds++
				t.Kind = TriggerInterval
				t.Every, _ = p.duration(v, ff, 10*time.Millisecond)
			},
			"start": func(v *yaml.Node, ff string) {
				kinds++
				t.Kind = TriggerStart
				if b, ok := p.boolean(v, ff); ok && !b {
					p.errf(v, ff, "only start: true means something")
				}
			},
			"prompt": func(v *yaml.Node, ff string) { t.Prompt, _ = p.str(v, ff) },
		})
		if !ok {
			continue
		}
		if kinds != 1 {
			p.errf(e, f, "want exactly one of chain, every and start")
			continue
		}
		out = append(out, t)
	}
	return out
}

func (p *specParser) key(n *yaml.Node, path string, k *KeySpec) {
	p.fields(n, path, map[string]func(*yaml.Node, string){
		"dev_account": func(v *yaml.Node, f string) {
			if i, ok := p.integer(v, f, 0, 9); ok {
				ii := int(i)
				k.DevAccount = &ii
			}
		},
		"keystore":      func(v *yaml.Node, f string) { k.Keystore, _ = p.nonEmpty(v, f) },
		"password_file": func(v *yaml.Node, f string) { k.PasswordFile, _ = p.nonEmpty(v, f) },
		"password_env":  func(v *yaml.Node, f string) { k.PasswordEnv, _ = p.nonEmpty(v, f) },
	})
	switch {
	case k.DevAccount != nil && k.Keystore != "":
		p.errf(n, path, "give dev_account or keystore, not both")
	case k.DevAccount == nil && k.Keystore == "" && n.Kind == yaml.MappingNode:
		p.errf(n, path, "want dev_account or keystore")
	case k.Keystore == "" && (k.PasswordFile != "" || k.PasswordEnv != ""):
		p.errf(n, path, "a password without a keystore")
	case k.PasswordFile != "" && k.PasswordEnv != "":
		p.errf(n, path, "give password_file or password_env, not both")
	}
}

func (p *specParser) fallback(n *yaml.Node, path string) *FallbackSpec {
	fb := &FallbackSpec{}
	p.fields(n, path, map[string]func(*yaml.Node, string){
		"tool": func(v *yaml.Node, f string) { fb.Tool, _ = p.nonEmpty(v, f) },
		"args": func(v *yaml.Node, f string) {
			if v.Kind != yaml.MappingNode {
				p.errf(v, f, "want a mapping of arguments, got %s", kindName(v))
				return
			}
			val, err := yamlToJSON(v, 0)
			if err != nil {
				p.errf(v, f, "%v", err)
				return
			}
			b, err := json.Marshal(val)
			if err != nil {
				p.errf(v, f, "%v", err)
				return
			}
			fb.Args = b
		},
	}, "tool")
	if fb.Args == nil {
		fb.Args = json.RawMessage("{}")
	}
	return fb
}

// yamlToJSON converts a node into JSON values: mappings with string keys, lists, and scalars by
// their resolved tag. Aliases are refused (they could expand without bound).
func yamlToJSON(n *yaml.Node, depth int) (any, error) {
	if depth > 32 {
		return nil, errors.New("nested too deeply")
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be plain names", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: %q given twice", k.Line, k.Value)
			}
			v, err := yamlToJSON(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := yamlToJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				// Hex, octal and huge integers stay strings, exactly as written.
				return n.Value, nil
			}
			return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: aliases are not supported", n.Line)
}

func (p *specParser) policy(n *yaml.Node, path string, pol *Policy) {
	p.fields(n, path, map[string]func(*yaml.Node, string){
		"spend_cap": func(v *yaml.Node, f string) {
			if a, ok := p.amount(v, f); ok {
				pol.SpendCap = a
			}
		},
		"period_cap": func(v *yaml.Node, f string) {
			if a, ok := p.amount(v, f); ok {
				pol.PeriodCap = a
			}
		},
		"period": func(v *yaml.Node, f string) {
			if d, ok := p.duration(v, f, time.Second); ok {
				pol.Period = d
			}
		},
		"gas_cap": func(v *yaml.Node, f string) {
			if g, ok := p.integer(v, f, 21000, 1<<40); ok {
				pol.GasCap = uint64(g)
			}
		},
		"max_gas_cost": func(v *yaml.Node, f string) {
			if a, ok := p.amount(v, f); ok {
				pol.MaxGasCost = a
			}
		},
		"allow": func(v *yaml.Node, f string) { pol.Allow = p.allow(v, f) },
	}, "spend_cap")
}

func (p *specParser) allow(n *yaml.Node, path string) []Allow {
	if n.Kind != yaml.SequenceNode {
		p.errf(n, path, "want a list of {module, methods}, got %s", kindName(n))
		return nil
	}
	out := []Allow{}
	for i, e := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		var a Allow
		var methodsNode, toNode *yaml.Node
		var methods []string
		ok := p.fields(e, f, map[string]func(*yaml.Node, string){
			"to": func(v *yaml.Node, ff string) {
				toNode = v
				list, ok := p.strings(v, ff)
				if !ok {
					return
				}
				for i, s := range list {
					if !common.IsHexAddress(s) {
						p.errf(v, fmt.Sprintf("%s[%d]", ff, i), "%q is not a 0x address", s)
						continue
					}
					a.To = append(a.To, common.HexToAddress(s))
				}
			},
			"max_value": func(v *yaml.Node, ff string) {
				if amt, ok := p.amount(v, ff); ok {
					a.MaxValue = amt
				}
			},
			"module": func(v *yaml.Node, ff string) {
				s, ok := p.nonEmpty(v, ff)
				if !ok {
					return
				}
				if m := moduleByName(s); m != nil {
					a.Module, a.Address = m.name, m.address
				} else if common.IsHexAddress(s) {
					a.Address = common.HexToAddress(s)
					if m := moduleByAddress(a.Address); m != nil {
						a.Module = m.name
					}
				} else {
					p.errf(v, ff, "%q: want dat, idao, verifier, lazai or a 0x address", s)
				}
			},
			"methods": func(v *yaml.Node, ff string) {
				methodsNode = v
				methods, _ = p.strings(v, ff)
			},
		}, "module", "methods")
		if !ok || (a.Address == common.Address{}) || methodsNode == nil {
			continue
		}
		if err := a.setMethods(methods); err != nil {
			p.errf(methodsNode, f+".methods", "%v", err)
			continue
		}
		if toNode != nil && !a.movesAssets() {
			p.errf(toNode, f+".to", "none of these methods moves assets to an address (those that do: %s)", moverNames())
			continue
		}
		out = append(out, a)
	}
	return out
}
