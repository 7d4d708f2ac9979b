package main

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/metisgo/metis/idao"
)

// Building a proposal's calls from the command line: --call TARGET:METHOD[:ARGS] encodes a call
// by the target's ABI (or a signature given in full), --calldata TARGET:HEX[:VALUE] takes it
// ready-made.

// parseTarget reads a call's target: a system module's name (dat, idao, lazai) or an address.
func parseTarget(what, s string) (common.Address, error) {
	for _, m := range modules {
		if strings.EqualFold(s, m.name) {
			return m.addr, nil
		}
	}
	if !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("%s target %q: want dat, idao, lazai or an address (0x and 40 hex digits)", what, s)
	}
	return common.HexToAddress(s), nil
}

// parseCallSpec reads --call TARGET:METHOD[:ARGS]. METHOD is a method name of a system module's
// ABI, or a full signature name(type,…) for any target. ARGS are the arguments, comma-separated;
// the last takes the rest of the text, commas and colons included, so a URI needs no quoting;
// tuples are written (a,b,…), arrays [a,b,…], strings inside them "quoted".
func parseCallSpec(s string) (idao.Call, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("--call %q: %s (want TARGET:METHOD[:ARGS], e.g. lazai:setUnbondingDelay:50)", s, fmt.Sprintf(format, a...))
	}
	tgt, rest, ok := strings.Cut(s, ":")
	if !ok {
		return idao.Call{}, bad("no method")
	}
	target, err := parseTarget("--call", tgt)
	if err != nil {
		return idao.Call{}, err
	}
	// The method ends at the ':' before the arguments, or after its signature's ')'.
	sig, args := rest, ""
	hasArgs := false
	if open := strings.IndexByte(rest, '('); open >= 0 && (strings.IndexByte(rest, ':') < 0 || open < strings.IndexByte(rest, ':')) {
		end := matching(rest, open)
		if end < 0 {
			return idao.Call{}, bad("unbalanced parentheses in the signature")
		}
		sig, args = rest[:end+1], rest[end+1:]
		if args != "" {
			if args[0] != ':' {
				return idao.Call{}, bad("text after the signature")
			}
			args, hasArgs = args[1:], true
		}
	} else if i := strings.IndexByte(rest, ':'); i >= 0 {
		sig, args, hasArgs = rest[:i], rest[i+1:], true
	}
	method, err := resolveMethod(target, sig)
	if err != nil {
		return idao.Call{}, bad("%v", err)
	}
	var parts []string
	if hasArgs || len(method.Inputs) > 0 {
		parts = splitTop(args, len(method.Inputs))
	}
	if len(parts) != len(method.Inputs) {
		return idao.Call{}, bad("%s takes %d arguments, got %d", method.Sig, len(method.Inputs), len(parts))
	}
	vals := make([]any, len(parts))
	for i, p := range parts {
		v, err := abiValue(method.Inputs[i].Type, p)
		if err != nil {
			name := method.Inputs[i].Name
			if name == "" {
				name = fmt.Sprintf("argument %d", i+1)
			}
			return idao.Call{}, bad("%s (%s): %v", name, method.Inputs[i].Type, err)
		}
		vals[i] = v
	}
	packed, err := method.Inputs.Pack(vals...)
	if err != nil {
		return idao.Call{}, bad("%v", err)
	}
	return idao.Call{Target: target, Value: new(big.Int), Data: append(append([]byte{}, method.ID...), packed...)}, nil
}

// resolveMethod finds sig (a name, or name(types)) in the target module's ABI, or builds a
// method from a full signature.
func resolveMethod(target common.Address, sig string) (abi.Method, error) {
	m := knownModule(target)
	name, types, full := strings.Cut(sig, "(")
	if name == "" {
		return abi.Method{}, errors.New("no method name")
	}
	if m != nil {
		if meth, ok := m.abi.Methods[name]; ok {
			if !full || meth.Sig == strings.ReplaceAll(sig, " ", "") {
				return meth, nil
			}
		} else if !full {
			names := make([]string, 0, len(m.abi.Methods))
			for n, meth := range m.abi.Methods {
				if !meth.IsConstant() {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			return abi.Method{}, fmt.Errorf("%s has no method %q; its methods: %s", m.name, name, strings.Join(names, ", "))
		}
	}
	if !full {
		return abi.Method{}, fmt.Errorf("%s is not a system module: give the full signature, %s(type,…)", target.Hex(), name)
	}
	inner := strings.TrimSuffix(types, ")")
	ms, err := parseTypeList(strings.ReplaceAll(inner, " ", ""))
	if err != nil {
		return abi.Method{}, fmt.Errorf("signature %s: %w", sig, err)
	}
	inputs := make(abi.Arguments, len(ms))
	for i, am := range ms {
		t, err := abi.NewType(am.Type, "", am.Components)
		if err != nil {
			return abi.Method{}, fmt.Errorf("signature %s: %w", sig, err)
		}
		inputs[i] = abi.Argument{Name: fmt.Sprintf("arg%d", i), Type: t}
	}
	return abi.NewMethod(name, name, abi.Function, "nonpayable", false, false, inputs, nil), nil
}

// parseTypeList reads "uint256,(uint16,address)[],string" into argument types.
func parseTypeList(s string) ([]abi.ArgumentMarshaling, error) {
	if s == "" {
		return nil, nil
	}
	var out []abi.ArgumentMarshaling
	for i, part := range splitTop(s, 0) {
		name := fmt.Sprintf("f%d", i)
		if strings.HasPrefix(part, "(") {
			end := matching(part, 0)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parentheses in %q", part)
			}
			comps, err := parseTypeList(part[1:end])
			if err != nil {
				return nil, err
			}
			out = append(out, abi.ArgumentMarshaling{Name: name, Type: "tuple" + part[end+1:], Components: comps})
			continue
		}
		if part == "" {
			return nil, errors.New("an empty type")
		}
		out = append(out, abi.ArgumentMarshaling{Name: name, Type: part})
	}
	return out, nil
}

// matching is the index of the bracket closing the one at s[open], or -1.
func matching(s string, open int) int {
	depth, quoted := 0, false
	for i := open; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTop splits s at the commas outside brackets and quotes; with max > 0, into at most max
// parts, the last taking the rest. An empty s is no parts.
func splitTop(s string, max int) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var parts []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			quoted = !quoted
		case quoted:
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0 && (max <= 0 || len(parts) < max-1):
			parts = append(parts, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(s[start:]))
}

// abiValue converts text to the Go value go-ethereum's abi packs for type t: integers in
// decimal or 0x hex, addresses (or dat, idao, lazai), true/false, bytes in hex, strings as is
// (or "quoted"), tuples (a,b), arrays [a,b].
func abiValue(t abi.Type, s string) (any, error) {
	v, err := abiReflect(t, strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	return v.Interface(), nil
}

func abiReflect(t abi.Type, s string) (reflect.Value, error) {
	switch t.T {
	case abi.IntTy, abi.UintTy:
		n, ok := parseInt(s)
		if !ok {
			return reflect.Value{}, fmt.Errorf("%q is not an integer", s)
		}
		lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), uint(t.Size)) // [lo, hi)
		if t.T == abi.IntTy {
			hi.Rsh(hi, 1)
			lo.Neg(hi)
		}
		if n.Cmp(lo) < 0 || n.Cmp(hi) >= 0 {
			return reflect.Value{}, fmt.Errorf("%s is out of range", n)
		}
		typ := t.GetType()
		if typ == reflect.TypeOf((*big.Int)(nil)) {
			return reflect.ValueOf(n), nil
		}
		v := reflect.New(typ).Elem()
		if t.T == abi.IntTy {
			v.SetInt(n.Int64())
		} else {
			v.SetUint(n.Uint64())
		}
		return v, nil
	case abi.BoolTy:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q: want true or false", s)
		}
		return reflect.ValueOf(b), nil
	case abi.StringTy:
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			u, err := strconv.Unquote(s)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("%s: %v", s, err)
			}
			s = u
		}
		return reflect.ValueOf(s), nil
	case abi.AddressTy:
		a, err := parseTarget("address", s)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(a), nil
	case abi.BytesTy, abi.FixedBytesTy:
		b, err := hexutil.Decode(ensure0x(s))
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q: want 0x and hex digits", s)
		}
		if t.T == abi.BytesTy {
			return reflect.ValueOf(b), nil
		}
		if len(b) != t.Size {
			return reflect.Value{}, fmt.Errorf("%d bytes, want %d", len(b), t.Size)
		}
		v := reflect.New(t.GetType()).Elem()
		reflect.Copy(v, reflect.ValueOf(b))
		return v, nil
	case abi.SliceTy, abi.ArrayTy:
		inner, ok := bracketed(s, '[', ']')
		if !ok {
			return reflect.Value{}, fmt.Errorf("%q: want [a,b,…]", s)
		}
		elems := splitTop(inner, 0)
		var v reflect.Value
		if t.T == abi.SliceTy {
			v = reflect.MakeSlice(t.GetType(), len(elems), len(elems))
		} else {
			if len(elems) != t.Size {
				return reflect.Value{}, fmt.Errorf("%d elements, want %d", len(elems), t.Size)
			}
			v = reflect.New(t.GetType()).Elem()
		}
		for i, e := range elems {
			ev, err := abiReflect(*t.Elem, e)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("element %d: %w", i+1, err)
			}
			v.Index(i).Set(ev)
		}
		return v, nil
	case abi.TupleTy:
		inner, ok := bracketed(s, '(', ')')
		if !ok {
			return reflect.Value{}, fmt.Errorf("%q: want (a,b,…)", s)
		}
		elems := splitTop(inner, 0)
		if len(elems) != len(t.TupleElems) {
			return reflect.Value{}, fmt.Errorf("%d fields, want %d (%s)", len(elems), len(t.TupleElems), strings.Join(t.TupleRawNames, ", "))
		}
		v := reflect.New(t.GetType()).Elem()
		for i, e := range elems {
			ev, err := abiReflect(*t.TupleElems[i], e)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("%s: %w", t.TupleRawNames[i], err)
			}
			v.Field(i).Set(ev)
		}
		return v, nil
	}
	return reflect.Value{}, fmt.Errorf("type %s is not supported on the command line: use --calldata", t)
}

func parseInt(s string) (*big.Int, bool) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	base := 10
	if h, ok := strings.CutPrefix(strings.ToLower(digits), "0x"); ok {
		digits, base = h, 16
	}
	if digits == "" || strings.HasPrefix(digits, "+") || strings.HasPrefix(digits, "-") {
		return nil, false
	}
	n, ok := new(big.Int).SetString(digits, base)
	if ok && neg {
		n.Neg(n)
	}
	return n, ok
}

func bracketed(s string, open, close byte) (string, bool) {
	if len(s) < 2 || s[0] != open || s[len(s)-1] != close || matching(s, 0) != len(s)-1 {
		return "", false
	}
	return s[1 : len(s)-1], true
}

func ensure0x(s string) string {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return s
	}
	return "0x" + s
}

// parseCalldata reads --calldata TARGET:HEX[:VALUE], VALUE in METIS (wei with --wei).
func parseCalldata(f *chainFlags, s string) (idao.Call, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return idao.Call{}, fmt.Errorf("--calldata %q: want TARGET:HEX[:VALUE]", s)
	}
	target, err := parseTarget("--calldata", parts[0])
	if err != nil {
		return idao.Call{}, err
	}
	data, err := hexutil.Decode(ensure0x(parts[1]))
	if err != nil && parts[1] != "" && parts[1] != "0x" {
		return idao.Call{}, fmt.Errorf("--calldata %q: %q is not 0x and hex digits", s, parts[1])
	}
	value := new(big.Int)
	if len(parts) == 3 {
		if value, err = f.parseAmount("--calldata value", parts[2]); err != nil {
			return idao.Call{}, err
		}
	}
	return idao.Call{Target: target, Value: value, Data: data}, nil
}

// formatABIValue prints a decoded argument: integers in decimal, bytes in hex, strings quoted,
// tuples {name: value, …}, arrays [a, b].
func formatABIValue(v any) string {
	switch x := v.(type) {
	case *big.Int:
		return x.String()
	case common.Address:
		return x.Hex()
	case []byte:
		return hexutil.Encode(x)
	case string:
		return strconv.Quote(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 { // bytesN
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return hexutil.Encode(b)
		}
		fallthrough
	case reflect.Slice:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = formatABIValue(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Struct:
		parts := make([]string, rv.NumField())
		for i := range parts {
			name := rv.Type().Field(i).Tag.Get("json")
			if name == "" {
				name = rv.Type().Field(i).Name
			}
			parts[i] = name + ": " + formatABIValue(rv.Field(i).Interface())
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}
