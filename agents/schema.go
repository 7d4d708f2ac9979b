package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// schema is the subset of JSON Schema the agent's tools use: type (a name or a list of names),
// properties, required, additionalProperties: false, enum, pattern, items, minimum, maximum and
// maxLength. A model sees the schema itself; the agent checks arguments against it before a tool
// runs, so that a malformed call is shown its error and retried rather than half-executed.
type schema struct {
	Type                 typeList           `json:"type"`
	Description          string             `json:"description,omitempty"`
	Properties           map[string]*schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties *bool              `json:"additionalProperties,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	Items                *schema            `json:"items,omitempty"`
	Minimum              *float64           `json:"minimum,omitempty"`
	Maximum              *float64           `json:"maximum,omitempty"`
	MaxLength            *int               `json:"maxLength,omitempty"`

	re *regexp.Regexp
}

type typeList []string

func (t *typeList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = typeList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*t = many
	return nil
}

func (t typeList) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

// compileSchema parses a schema and its patterns.
func compileSchema(raw string) (*schema, error) {
	var s schema
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return nil, err
	}
	return &s, s.compile()
}

func (s *schema) compile() error {
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return err
		}
		s.re = re
	}
	for _, p := range s.Properties {
		if err := p.compile(); err != nil {
			return err
		}
	}
	if s.Items != nil {
		return s.Items.compile()
	}
	return nil
}

// maxArgsSize bounds the arguments of one tool call.
const maxArgsSize = 64 << 10

// validateArgs checks that args is one JSON object that satisfies s.
func validateArgs(s *schema, args json.RawMessage) error {
	if len(args) > maxArgsSize {
		return fmt.Errorf("arguments are %d bytes, more than %d", len(args), maxArgsSize)
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("arguments are not JSON: %v", err)
	}
	if dec.More() {
		return errors.New("arguments are more than one JSON value")
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("arguments must be a JSON object")
	}
	return s.validate(v, "")
}

func typeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil || !strings.ContainsAny(string(x), ".eE") {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func (s *schema) validate(v any, path string) error {
	name := path
	if name == "" {
		name = "arguments"
	}
	if len(s.Type) > 0 {
		t := typeOf(v)
		ok := false
		for _, want := range s.Type {
			ok = ok || want == t || (want == "number" && t == "integer")
		}
		if !ok {
			return fmt.Errorf("%s: want %s, got %s", name, strings.Join(s.Type, " or "), t)
		}
	}
	if len(s.Enum) > 0 {
		ok := false
		for _, e := range s.Enum {
			ok = ok || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !ok {
			return fmt.Errorf("%s: %v is not one of %v", name, v, s.Enum)
		}
	}
	switch x := v.(type) {
	case string:
		if s.MaxLength != nil && len(x) > *s.MaxLength {
			return fmt.Errorf("%s: longer than %d characters", name, *s.MaxLength)
		}
		if s.re != nil && !s.re.MatchString(x) {
			return fmt.Errorf("%s: %q does not match %s", name, x, s.Pattern)
		}
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if s.Minimum != nil && f < *s.Minimum {
			return fmt.Errorf("%s: %s is less than %g", name, x, *s.Minimum)
		}
		if s.Maximum != nil && f > *s.Maximum {
			return fmt.Errorf("%s: %s is more than %g", name, x, *s.Maximum)
		}
	case []any:
		if s.Items != nil {
			for i, e := range x {
				if err := s.Items.validate(e, fmt.Sprintf("%s[%d]", name, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				return fmt.Errorf("%s: missing required %q", name, r)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p, ok := s.Properties[k]
			if !ok {
				if s.AdditionalProperties != nil && !*s.AdditionalProperties {
					return fmt.Errorf("%s: unknown argument %q", name, k)
				}
				continue
			}
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			if err := p.validate(x[k], sub); err != nil {
				return err
			}
		}
	}
	return nil
}
