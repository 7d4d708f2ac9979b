package agents

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ParseAmount reads an amount of METIS: a decimal number of METIS ("1", "0.25", "1.5 METIS"),
// or an integer followed by a unit: "wei", "gwei" (10^9 wei) or "metis"/"ether" (10^18 wei,
// decimals allowed). It returns wei.
func ParseAmount(s string) (*big.Int, error) {
	t := strings.TrimSpace(s)
	num, unit, _ := strings.Cut(t, " ")
	num, unit = strings.TrimSpace(num), strings.ToLower(strings.TrimSpace(unit))
	if unit == "" {
		// "100wei", "5gwei"
		for _, u := range []string{"gwei", "wei", "metis", "ether"} {
			if strings.HasSuffix(strings.ToLower(num), u) {
				num, unit = num[:len(num)-len(u)], u
				break
			}
		}
	}
	var decimals int
	switch unit {
	case "", "metis", "ether":
		decimals = 18
	case "gwei":
		decimals = 9
	case "wei":
		decimals = 0
	default:
		return nil, fmt.Errorf("not an amount: %q (unknown unit %q)", s, unit)
	}
	v, err := parseDecimal(num, decimals)
	if err != nil {
		return nil, fmt.Errorf("not an amount: %q", s)
	}
	return v, nil
}

// parseDecimal reads a non-negative decimal with at most decimals fraction digits, scaled by
// 10^decimals.
func parseDecimal(s string, decimals int) (*big.Int, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" && frac == "" || dot && frac == "" || len(s) > 100 {
		return nil, errors.New("not a number")
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return nil, errors.New("not a number")
		}
	}
	if len(frac) > decimals {
		return nil, fmt.Errorf("more than %d decimal places", decimals)
	}
	v, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", decimals-len(frac)), 10)
	if !ok {
		return nil, errors.New("not a number")
	}
	return v, nil
}

// FormatAmount writes wei as METIS with up to 18 decimals and no trailing zeros.
func FormatAmount(wei *big.Int) string {
	if wei == nil {
		return "0 METIS"
	}
	neg := wei.Sign() < 0
	s := new(big.Int).Abs(wei).String()
	if len(s) <= 18 {
		s = strings.Repeat("0", 19-len(s)) + s
	}
	whole, frac := s[:len(s)-18], strings.TrimRight(s[len(s)-18:], "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out + " METIS"
}
