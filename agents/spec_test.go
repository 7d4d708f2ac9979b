package agents

import (
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/metisgo/metis/idao"
	"github.com/metisgo/metis/lazai"
)

func TestLoadSpec(t *testing.T) {
	s, err := LoadSpec(filepath.Join("testdata", "voter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "voter-1" || s.Model.Engine != "gguf" || s.Model.Sampling.TopK != 40 ||
		s.Model.Sampling.Seed != 7 || s.Model.Sampling.MaxTokens != 96 || s.Model.Sampling.TopP != 0.9 {
		t.Errorf("name/model: %+v", s.Model)
	}
	if got := s.path(s.Model.Model); got != filepath.Join("testdata", "models", "brain.gguf") {
		t.Errorf("model path %s", got)
	}
	if len(s.Goals) != 2 || len(s.Tools) != 4 || len(s.Triggers) != 3 {
		t.Errorf("goals %d tools %d triggers %d", len(s.Goals), len(s.Tools), len(s.Triggers))
	}
	fetch := s.Tools[2]
	if fetch.Name != "http_fetch" || len(fetch.AllowHosts) != 2 || fetch.MaxBytes != 4096 || fetch.Timeout != 3*time.Second {
		t.Errorf("http_fetch %+v", fetch)
	}
	if s.Tools[3].MaxTokens != 32 || s.Tools[0].MaxBytes != 0 {
		t.Errorf("tool config %+v", s.Tools)
	}
	if tr := s.Triggers; tr[0].Kind != TriggerChain || tr[0].Event != "proposal_created" || tr[0].Prompt == "" ||
		tr[1].Kind != TriggerInterval || tr[1].Every != 5*time.Minute || tr[2].Kind != TriggerStart {
		t.Errorf("triggers %+v", tr)
	}
	p := s.Policy
	if p.SpendCap.Cmp(big.NewInt(5e17)) != 0 || p.PeriodCap.Cmp(big.NewInt(2e18)) != 0 || p.Period != time.Hour ||
		p.GasCap != 400000 || p.MaxGasCost.Cmp(big.NewInt(1e14)) != 0 {
		t.Errorf("policy %+v", p)
	}
	if len(p.Allow) != 3 || p.Allow[0].Address != idao.Address || p.Allow[1].Address != lazai.Address || p.Allow[1].Module != "lazai" {
		t.Errorf("allow %+v", p.Allow)
	}
	if d := p.Allow[2]; len(d.To) != 1 || d.To[0] != common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8") ||
		d.MaxValue == nil || d.MaxValue.Sign() != 0 {
		t.Errorf("delegate rule %+v", d)
	}
	if s.DataDir != "voter-data" || s.DataPath() != filepath.Join("testdata", "voter-data") {
		t.Errorf("data dir %q (%q)", s.DataDir, s.DataPath())
	}
	var sel [4]byte
	copy(sel[:], idao.ABI.Methods["castVote"].ID)
	if !p.Allow[0].allows(idao.Address, sel) || p.Allow[1].allows(idao.Address, sel) {
		t.Error("allow rules do not match castVote as they should")
	}
	if s.Key.Keystore != "keys/voter.json" || s.Key.PasswordEnv != "VOTER_PASSWORD" || s.Key.DevAccount != nil {
		t.Errorf("key %+v", s.Key)
	}
	if s.Fallback == nil || s.Fallback.Tool != "remember" || string(s.Fallback.Args) != `{"key":"last_error","value":"no valid vote"}` {
		t.Errorf("fallback %+v", s.Fallback)
	}
	if s.MaxSteps != 3 || s.MaxRetries != 1 || s.Memory.MaxMessages != 16 || s.Memory.MaxNotes != 8 {
		t.Errorf("limits %d %d %+v", s.MaxSteps, s.MaxRetries, s.Memory)
	}
}

func TestParseSpecDefaults(t *testing.T) {
	s, err := ParseSpec([]byte("name: a\nmodel: {model: m.gguf}\npolicy: {spend_cap: 1 wei}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Model.Engine != "gguf" || s.MaxSteps != DefaultMaxSteps || s.MaxRetries != DefaultMaxRetries ||
		s.Memory.MaxMessages != DefaultMaxMessages || s.Policy.Period != DefaultPeriod || s.Policy.Allow != nil ||
		s.Fallback != nil || s.Policy.SpendCap.Cmp(big.NewInt(1)) != 0 {
		t.Errorf("defaults: %+v", s)
	}
}

// TestSpecErrors is acceptance 3: every malformed field is reported with its line and field.
func TestSpecErrors(t *testing.T) {
	const head = "name: a\nmodel: {model: m.gguf}\npolicy: {spend_cap: 1}\n" // lines 1-3
	for _, tc := range []struct {
		name, spec, want string
	}{
		{"yaml syntax", "name: a\nmodel: [\n", "spec:2: not YAML"},
		{"empty", "", "spec:1: not YAML: empty spec"},
		{"not a mapping", "- a\n- b\n", "spec:1: want a mapping, got a list"},
		{"two documents", head + "---\nname: b\n", "spec:4: more than one YAML document"},
		{"missing name", "model: {model: m}\npolicy: {spend_cap: 1}\n", "spec:1: name: required"},
		{"missing model", "name: a\npolicy: {spend_cap: 1}\n", "spec:1: model: required"},
		{"missing policy", "name: a\nmodel: {model: m}\n", "spec:1: policy: required"},
		{"unknown field", head + "colour: blue\n", "spec:4: colour: unknown field"},
		{"duplicate field", head + "name: b\n", "spec:4: name: given twice"},
		{"bad name", "name: 'a b'\nmodel: {model: m}\npolicy: {spend_cap: 1}\n", `spec:1: name: "a b": want 1-64`},
		{"name not a string", "name: [a]\nmodel: {model: m}\npolicy: {spend_cap: 1}\n", "spec:1: name: want a string, got a list"},
		{"model engine", "name: a\nmodel:\n  engine: gpt\n  model: m\npolicy: {spend_cap: 1}\n", `spec:3: model.engine: "gpt": want gguf or ollama`},
		{"model missing", "name: a\nmodel:\n  engine: gguf\npolicy: {spend_cap: 1}\n", "spec:3: model.model: required"},
		{"model temperature", "name: a\nmodel:\n  model: m\n  temperature: hot\npolicy: {spend_cap: 1}\n", `spec:4: model.temperature: not a number: "hot"`},
		{"model top_p range", "name: a\nmodel:\n  model: m\n  top_p: 1.5\npolicy: {spend_cap: 1}\n", "spec:4: model.top_p: 1.5 is out of range"},
		{"model top_k", "name: a\nmodel:\n  model: m\n  top_k: -1\npolicy: {spend_cap: 1}\n", "spec:4: model.top_k: -1 is out of range"},
		{"model seed", "name: a\nmodel:\n  model: m\n  seed: 1.5\npolicy: {spend_cap: 1}\n", "spec:4: model.seed: not an integer"},
		{"model max_tokens", "name: a\nmodel:\n  model: m\n  max_tokens: lots\npolicy: {spend_cap: 1}\n", "spec:4: model.max_tokens: not an integer"},
		{"model host on gguf", "name: a\nmodel:\n  model: m\n  host: http://x\npolicy: {spend_cap: 1}\n", "spec:3: model.host: only for engine ollama"},
		{"model unknown key", "name: a\nmodel:\n  model: m\n  temp: 1\npolicy: {spend_cap: 1}\n", "spec:4: model.temp: unknown field"},
		{"system not text", head + "system: {a: b}\n", "spec:4: system: want a string, got a mapping"},
		{"goals not list", head + "goals: {a: b}\n", "spec:4: goals: want a list, got a mapping"},
		{"goal empty", head + "goals:\n  - ok\n  - ''\n", "spec:6: goals[1]: empty"},
		{"tools not list", head + "tools: idao_vote\n", "spec:4: tools: want a list of tools"},
		{"unknown tool", head + "tools:\n  - idao_vote\n  - rm_rf\n", `spec:6: tools[1].name: unknown tool "rm_rf"`},
		{"unknown tool in mapping", head + "tools:\n  - name: launch\n", `spec:5: tools[0].name: unknown tool "launch"`},
		{"tool twice", head + "tools:\n  - remember\n  - remember\n", `spec:6: tools[1].name: tool "remember" listed twice`},
		{"tool config not taken", head + "tools:\n  - name: idao_vote\n    max_bytes: 10\n", "spec:6: tools[0].max_bytes: tool idao_vote takes no max_bytes"},
		{"tool unknown config", head + "tools:\n  - name: infer\n    colour: red\n", "spec:6: tools[0].colour: unknown field"},
		{"tool no name", head + "tools:\n  - max_tokens: 3\n", "spec:5: tools[0].name: required"},
		{"fetch without hosts", head + "tools:\n  - http_fetch\n", "spec:5: tools[0].allow_hosts: required for http_fetch"},
		{"fetch max_bytes", head + "tools:\n  - name: http_fetch\n    allow_hosts: [a]\n    max_bytes: 0\n", "spec:7: tools[0].max_bytes: 0 is out of range"},
		{"fetch timeout", head + "tools:\n  - name: http_fetch\n    allow_hosts: [a]\n    timeout: soon\n", `spec:7: tools[0].timeout: not a duration: "soon"`},
		{"tool list item", head + "tools:\n  - [a]\n", "spec:5: tools[0]: want a tool name or a mapping"},
		{"triggers not list", head + "triggers: {every: 1s}\n", "spec:4: triggers: want a list of triggers"},
		{"trigger event", head + "triggers:\n  - chain: block_mined\n", `spec:5: triggers[0].chain: unknown chain event "block_mined"`},
		{"trigger every", head + "triggers:\n  - every: often\n", `spec:5: triggers[0].every: not a duration: "often"`},
		{"trigger every short", head + "triggers:\n  - every: 1ns\n", "spec:5: triggers[0].every: 1ns is shorter than 10ms"},
		{"trigger two kinds", head + "triggers:\n  - every: 1s\n    chain: minted\n", "spec:5: triggers[0]: want exactly one of chain, every and start"},
		{"trigger no kind", head + "triggers:\n  - prompt: hi\n", "spec:5: triggers[0]: want exactly one of chain, every and start"},
		{"trigger start false", head + "triggers:\n  - start: false\n", "spec:5: triggers[0].start: only start: true"},
		{"trigger start not bool", head + "triggers:\n  - start: yes please\n", "spec:5: triggers[0].start: want true or false"},
		{"trigger unknown", head + "triggers:\n  - cron: '* * *'\n", "spec:5: triggers[0].cron: unknown field"},
		{"spend_cap", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: lots\n", `spec:4: policy.spend_cap: not an amount: "lots"`},
		{"spend_cap missing", "name: a\nmodel: {model: m}\npolicy:\n  gas_cap: 100000\n", "spec:4: policy.spend_cap: required"},
		{"spend_cap unit", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 3 dogecoin\n", `spec:4: policy.spend_cap: not an amount: "3 dogecoin"`},
		{"spend_cap negative", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: -1\n", `spec:4: policy.spend_cap: not an amount: "-1"`},
		{"spend_cap decimals", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1.5 wei\n", `spec:4: policy.spend_cap: not an amount: "1.5 wei"`},
		{"period_cap", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  period_cap: [1]\n", "spec:5: policy.period_cap: not an amount: a list"},
		{"period", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  period: 1d\n", `spec:5: policy.period: not a duration: "1d"`},
		{"period short", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  period: 10ms\n", "spec:5: policy.period: 10ms is shorter than 1s"},
		{"gas_cap", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  gas_cap: 100\n", "spec:5: policy.gas_cap: 100 is out of range"},
		{"gas_cap text", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  gas_cap: much\n", `spec:5: policy.gas_cap: not an integer: "much"`},
		{"max_gas_cost", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  max_gas_cost: cheap\n", `spec:5: policy.max_gas_cost: not an amount: "cheap"`},
		{"allow not list", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow: dat\n", "spec:5: policy.allow: want a list"},
		{"allow module", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: bank\n      methods: ['*']\n", `spec:6: policy.allow[0].module: "bank": want dat, idao`},
		{"allow method", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: dat\n      methods: [mint, steal]\n", `spec:7: policy.allow[0].methods: module dat has no method "steal"`},
		{"allow selector", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: dat\n      methods: ['0x1234']\n", `spec:7: policy.allow[0].methods: "0x1234" is not a 4-byte selector`},
		{"allow address method name", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: '0x00000000000000000000000000000000000000ff'\n      methods: [mint]\n", `spec:7: policy.allow[0].methods: "mint": at a plain address`},
		{"allow no methods", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: dat\n", "spec:6: policy.allow[0].methods: required"},
		{"allow empty methods", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: dat\n      methods: []\n", "spec:7: policy.allow[0].methods: no methods"},
		{"allow to not an address", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: dat\n      methods: [transferToken]\n      to: [bob]\n", `spec:8: policy.allow[0].to[0]: "bob" is not a 0x address`},
		{"allow to without movers", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: lazai\n      methods: [stake]\n      to: ['0x00000000000000000000000000000000000000ff']\n", "spec:8: policy.allow[0].to: none of these methods moves assets"},
		{"allow max_value", "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: 1\n  allow:\n    - module: lazai\n      methods: [stake]\n      max_value: all\n", `spec:8: policy.allow[0].max_value: not an amount: "all"`},
		{"data_dir empty", head + "data_dir: ''\n", "spec:4: data_dir: empty"},
		{"key both", head + "key:\n  dev_account: 1\n  keystore: k.json\n", "spec:5: key: give dev_account or keystore, not both"},
		{"key none", head + "key:\n  password_env: X\n", "spec:5: key: want dev_account or keystore"},
		{"key account range", head + "key:\n  dev_account: 10\n", "spec:5: key.dev_account: 10 is out of range [0, 9]"},
		{"key passwords", head + "key:\n  keystore: k\n  password_env: X\n  password_file: f\n", "spec:5: key: give password_file or password_env, not both"},
		{"key not mapping", head + "key: 0xabc\n", `spec:4: key: want a mapping, got "0xabc"`},
		{"fallback tool not listed", head + "tools: [remember]\nfallback:\n  tool: idao_vote\n", `spec:6: fallback.tool: "idao_vote" is not one of the agent's tools`},
		{"fallback args schema", head + "tools: [lazai_stake]\nfallback:\n  tool: lazai_stake\n  args: {amount: 1, extra: 2}\n", `spec:6: fallback.args: arguments: unknown argument "extra"`},
		{"fallback args missing", head + "tools: [lazai_stake]\nfallback:\n  tool: lazai_stake\n", `spec:6: fallback.args: arguments: missing required "amount"`},
		{"fallback args not mapping", head + "tools: [remember]\nfallback:\n  tool: remember\n  args: [1]\n", "spec:7: fallback.args: want a mapping of arguments"},
		{"fallback no tool", head + "fallback:\n  args: {}\n", "spec:5: fallback.tool: required"},
		{"max_steps", head + "max_steps: 0\n", "spec:4: max_steps: 0 is out of range [1, 64]"},
		{"max_retries", head + "max_retries: many\n", `spec:4: max_retries: not an integer: "many"`},
		{"memory", head + "memory:\n  max_messages: -3\n", "spec:5: memory.max_messages: -3 is out of range"},
		{"memory unknown", head + "memory:\n  forever: true\n", "spec:5: memory.forever: unknown field"},
		{"alias", head + "goals: &g [a]\nsystem: *g\n", "spec:5: system: aliases are not supported"},
		{"merge key", head + "memory:\n  <<: {max_notes: 1}\n", "spec:5: memory.<<: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.spec))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.spec)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
			var se *SpecError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Errorf("not a *SpecError with a line: %#v", err)
			}
		})
	}
}

func TestSpecErrorsAll(t *testing.T) {
	// Every problem is reported, not just the first, and LoadSpec names the file.
	dir := t.TempDir()
	path := filepath.Join(dir, "spec.yaml")
	writeFile(t, path, "name: a\nmodel: {model: m}\npolicy:\n  spend_cap: lots\n  gas_cap: x\nmax_steps: 0\n")
	_, err := LoadSpec(path)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{path + `:4: policy.spend_cap: not an amount: "lots"`, path + ":5: policy.gas_cap:", path + ":6: max_steps:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]string{
		"1": "1000000000000000000", "0.5": "500000000000000000", "1.5 METIS": "1500000000000000000",
		"2 metis": "2000000000000000000", "100 wei": "100", "100wei": "100", "3 gwei": "3000000000",
		"0.000000000000000001": "1", "1 ether": "1000000000000000000", ".5": "500000000000000000",
	} {
		got, err := ParseAmount(in)
		if err != nil || got.String() != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1", "1.", "1.5 wei", "0.0000000000000000001", "1e18", "1 2", "1 btc", "0x10"} {
		if v, err := ParseAmount(in); err == nil {
			t.Errorf("%q accepted as %v", in, v)
		}
	}
	if got := FormatAmount(big.NewInt(15e17)); got != "1.5 METIS" {
		t.Errorf("format %s", got)
	}
}

// FuzzParseSpec: no input makes the parser panic or hang, and every error names a line.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"name: a\nmodel: {model: m}\npolicy: {spend_cap: 1}\n",
		"name: a\nmodel: {model: m, engine: ollama, host: h}\npolicy: {spend_cap: 1, allow: [{module: dat, methods: ['*']}]}\ntools: [remember, {name: http_fetch, allow_hosts: [x]}]\ntriggers: [{every: 1s}, {chain: minted}]\nfallback: {tool: remember, args: {key: a, value: b}}\n",
		"a: &x [*x]\n", "- - - -\n", "{", "name: !!binary AAAA\n", "key: {dev_account: 0x7}\n",
	} {
		f.Add([]byte(s))
	}
	if b, err := readFile(filepath.Join("testdata", "voter.yaml")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data)
		if err != nil {
			for _, e := range unjoin(err) {
				var se *SpecError
				if !errors.As(e, &se) || se.Line < 1 {
					t.Fatalf("error without a line: %v", e)
				}
			}
			return
		}
		if s.Name == "" || s.Policy.SpendCap == nil || s.Model.Model == "" || s.MaxSteps < 1 {
			t.Fatalf("accepted an incomplete spec: %+v", s)
		}
	})
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
