package main

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/dat"
)

func newDATCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dat",
		Short: "Anchor datasets, models and agents as Data Anchoring Tokens, and use them",
		Long: `DAT is the chain's Data Anchoring Token module (ERC-8028 draft). A class anchors one
dataset, model, agent or compute resource: its metadata URI, the hash of its content,
its usage policy, its lineage (the classes it derives from) and a usage fee. A class is
registered, then verified (by the attestations of data validators, or an iDAO vote),
then activated by its owner; only an active class mints tokens.

A token of a class carries a usage quota (its value, in the class's units), a number of
revenue shares and an optional expiry. 'metis dat use' consumes quota and pays the
class's usage fee; that fee is revenue shared by every token of the class in proportion
to its shares (and a governed fraction flows on to the parent classes' holders), which
each token's owner collects with 'metis dat claim'.

` + chainFlagsHelp,
		Example: `  # on a dev chain (metis node --dev), dev account 0 signs by default
  metis dat class create --kind dataset --metadata ipfs://bafy… --integrity-file data.tar \
      --policy https://example.org/license --usage-fee 0.001
  metis stake 1 --dev-account 4                      # validators need a 1 METIS stake
  metis dat validator register --dev-account 4
  metis dat class attest 1 --dev-account 4           # one approval verifies on a dev chain
  metis dat class activate 1
  metis dat mint 1 --to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --value 100 --shares 10
  metis dat use 1 30 --dev-account 1                 # pays 30 × 0.001 METIS
  metis dat show 1
  metis dat claim 1 --dev-account 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := addChainFlags(cmd)
	cmd.AddCommand(
		newDATClassCmd(f),
		newDATValidatorCmd(f),
		newDATMintCmd(f),
		newDATUseCmd(f),
		newDATTransferCmd(f),
		newDATClaimCmd(f),
		newDATShowCmd(f),
		newDATLsCmd(f),
	)
	return cmd
}

// datConn connects and makes a DAT client, signing when sign is set.
func datConn(ctx context.Context, f *chainFlags, sign bool) (*conn, *dat.Client, error) {
	c, err := f.connect(ctx, sign)
	if err != nil {
		return nil, nil, err
	}
	return c, dat.NewClient(c.eth, c.signer()), nil
}

// datHint explains the DAT module's errors. units formats a quota amount in the class's units
// (nil: as a plain integer), for the errors that carry one.
func datHint(units func(*big.Int) string) revertHint {
	if units == nil {
		units = func(v *big.Int) string { return v.String() }
	}
	return func(name string, a []any) string {
		switch name {
		case "ClassNotFound":
			return fmt.Sprintf("class %s does not exist (metis dat class ls lists them)", argBig(a, 0))
		case "TokenNotFound":
			return fmt.Sprintf("token %s does not exist (metis dat ls --owner ADDR lists an account's)", argBig(a, 0))
		case "NotClassOwner":
			return fmt.Sprintf("%s does not own class %s: sign as its owner (--key, --dev-account)", argAddr(a, 1), argBig(a, 0))
		case "NotMinter":
			return fmt.Sprintf("%s may not mint in class %s: only its owner and the operators it names may", argAddr(a, 1), argBig(a, 0))
		case "NotTokenOwner":
			return fmt.Sprintf("%s neither owns token %s nor is approved for its class", argAddr(a, 1), argBig(a, 0))
		case "NotGovernance":
			return "only the iDAO (governance) may do this"
		case "NotValidator":
			return fmt.Sprintf("%s is not a registered data validator: stake (metis stake 1) and run 'metis dat validator register'", argAddr(a, 0))
		case "AlreadyValidator":
			return fmt.Sprintf("%s is already a data validator", argAddr(a, 0))
		case "AlreadyAttested":
			return fmt.Sprintf("%s has already attested class %s", argAddr(a, 1), argBig(a, 0))
		case "InsufficientValidatorStake":
			return fmt.Sprintf("a data validator needs %s METIS staked in Holders Mining and has %s: run 'metis stake AMOUNT' first",
				formatUnits(argBig(a, 1), metisDecimals), formatUnits(argBig(a, 0), metisDecimals))
		case "BadStatus":
			return statusHint(argBig(a, 0), dat.Status(argBig(a, 1).Uint64()))
		case "BadParent":
			return fmt.Sprintf("class %s cannot be a parent: it does not exist, was revoked, or is listed twice", argBig(a, 0))
		case "TooManyParents":
			return fmt.Sprintf("%s parents, at most %s", argBig(a, 0), argBig(a, 1))
		case "StringTooLong":
			return fmt.Sprintf("a URI of %s bytes, at most %s", argBig(a, 0), argBig(a, 1))
		case "WrongFee":
			return fmt.Sprintf("sent %s METIS, the call costs %s METIS (the fee changed since it was read? run it again)",
				formatUnits(argBig(a, 0), metisDecimals), formatUnits(argBig(a, 1), metisDecimals))
		case "QuotaExceeded":
			return fmt.Sprintf("token %s has %s units left, asked for %s", argBig(a, 0), units(argBig(a, 1)), units(argBig(a, 2)))
		case "TokenExpired":
			return fmt.Sprintf("token %s expired at %s", argBig(a, 0), formatTime(argBig(a, 1).Uint64()))
		case "BadExpiry":
			return fmt.Sprintf("expiry %s is not in the future (or, for settleExpired, not yet reached)", formatTime(argBig(a, 0).Uint64()))
		case "ClassMismatch":
			return fmt.Sprintf("the tokens are of classes %s and %s: value moves only between tokens of one class", argBig(a, 0), argBig(a, 1))
		case "ZeroAddress":
			return "the address is zero"
		case "ZeroAmount":
			return "the amount must be more than zero"
		case "ZeroShares":
			return "a token needs at least one share (--shares)"
		case "NothingToClaim":
			return fmt.Sprintf("token %s has no revenue to claim yet (it earns when its class is used or paid)", argBig(a, 0))
		case "BadParams":
			return "invalid parameters"
		}
		return ""
	}
}

// statusHint says what a class in status st can and cannot do next.
func statusHint(id *big.Int, st dat.Status) string {
	switch st {
	case dat.StatusRegistered:
		return fmt.Sprintf("class %s is registered, not yet verified: data validators attest it (metis dat class attest %s) or the iDAO verifies it", id, id)
	case dat.StatusVerified:
		return fmt.Sprintf("class %s is verified but not active: its owner runs 'metis dat class activate %s'", id, id)
	case dat.StatusActive:
		return fmt.Sprintf("class %s is already active", id)
	case dat.StatusDeprecated:
		return fmt.Sprintf("class %s is deprecated: it mints no new tokens", id)
	case dat.StatusRevoked:
		return fmt.Sprintf("class %s was revoked", id)
	}
	return fmt.Sprintf("class %s is %s", id, st)
}

// formatTime prints a unix time; 0 is "never".
func formatTime(unix uint64) string {
	if unix == 0 {
		return "never"
	}
	return time.Unix(int64(unix), 0).UTC().Format(time.RFC3339)
}

// parseExpiry reads --expires: a unix time in seconds, or a duration from now such as 720h,
// 90m or 30d (d, days, is added to Go's units because nobody writes 720h for a month).
func parseExpiry(s string, now time.Time) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if allDigits(s) {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("--expires %q: %w", s, err)
		}
		return v, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok && allDigits(days) && days != "" {
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("--expires %q: %w", s, err)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("--expires %q: want a duration from now (30d, 12h, 90m) or a unix time in seconds", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("--expires %q: the duration must be positive", s)
	}
	return uint64(now.Add(d).Unix()), nil
}

// classUnits formats and parses quota amounts in a class's units (unitDecimals).
func classUnits(decimals uint8) func(*big.Int) string {
	return func(v *big.Int) string { return formatUnits(v, decimals) }
}

func parseQuota(what, s string, decimals uint8) (*big.Int, error) {
	v, err := parseUnits(s, decimals)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w (the class has %d unit decimals)", what, s, err, decimals)
	}
	return v, nil
}

// parseIDs reads repeated or comma-separated ids (--parent 1 --parent 2, --parent 1,2).
func parseIDs(what string, ss []string) ([]*big.Int, error) {
	ids := []*big.Int{}
	for _, s := range ss {
		for _, part := range strings.Split(s, ",") {
			id, err := parseID(what, strings.TrimSpace(part))
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func idList(ids []*big.Int) string {
	if len(ids) == 0 {
		return "none"
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.String()
	}
	return strings.Join(parts, ", ")
}

// classJSON is a class in --json output: ids and counters as numbers, uint256 amounts as decimal
// strings (wei for money), so that no JSON reader rounds them.
type classJSON struct {
	ID                 *big.Int       `json:"id"`
	Kind               string         `json:"kind"`
	Status             string         `json:"status"`
	Owner              common.Address `json:"owner"`
	MetadataURI        string         `json:"metadataURI"`
	IntegrityHash      common.Hash    `json:"integrityHash"`
	PolicyURI          string         `json:"policyURI"`
	UnitDecimals       uint8          `json:"unitDecimals"`
	UsageFee           string         `json:"usageFee"`
	Parents            []*big.Int     `json:"parents"`
	TotalShares        string         `json:"totalShares"`
	TotalRevenue       string         `json:"totalRevenue"`
	AccRevenuePerShare string         `json:"accRevenuePerShare"`
	Approvals          uint32         `json:"approvals"`
	Rejections         uint32         `json:"rejections"`
	CreatedAt          uint64         `json:"createdAtBlock"`
}

func toClassJSON(c dat.ClassInfo) classJSON {
	parents := c.Parents
	if parents == nil {
		parents = []*big.Int{}
	}
	return classJSON{
		ID: c.Id, Kind: dat.Kind(c.Kind).String(), Status: dat.Status(c.Status).String(), Owner: c.Owner,
		MetadataURI: c.MetadataURI, IntegrityHash: c.IntegrityHash, PolicyURI: c.PolicyURI,
		UnitDecimals: c.UnitDecimals, UsageFee: c.UsageFee.String(), Parents: parents,
		TotalShares: c.TotalShares.String(), TotalRevenue: c.TotalRevenue.String(),
		AccRevenuePerShare: c.AccRevenuePerShare.String(),
		Approvals:          c.Approvals, Rejections: c.Rejections, CreatedAt: c.CreatedAt,
	}
}

// tokenJSON is a token in --json output (value in the class's smallest units).
type tokenJSON struct {
	ID             *big.Int       `json:"id"`
	ClassID        *big.Int       `json:"classId"`
	Owner          common.Address `json:"owner"`
	Value          string         `json:"value"`
	ShareRatio     string         `json:"shareRatio"`
	ExpireAt       uint64         `json:"expireAt"`
	Expired        bool           `json:"expired"`
	PendingRevenue string         `json:"pendingRevenue"`
}

func toTokenJSON(t dat.TokenInfo) tokenJSON {
	return tokenJSON{
		ID: t.Id, ClassID: t.ClassId, Owner: t.Owner, Value: t.Value.String(),
		ShareRatio: t.ShareRatio.String(), ExpireAt: t.ExpireAt, Expired: t.Expired,
		PendingRevenue: t.PendingRevenue.String(),
	}
}
