package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/spf13/cobra"

	"github.com/metisgo/metis/chain/core"
	"github.com/metisgo/metis/chain/metisvm"
	"github.com/metisgo/metis/internal/chaintx"
)

// The flags every command that talks to a node shares (metis dat …, stake, unstake, withdraw,
// rewards), how they become a connection and a signing key, and the parsing and printing of
// METIS amounts.

// defaultRPC is where 'metis node --dev' listens; WebSocket so that one dial serves calls,
// transactions and, later, event subscriptions.
const defaultRPC = "ws://127.0.0.1:8545"

// chainFlagsHelp is the paragraph the Long help of every chain command ends with.
const chainFlagsHelp = `Connection and signing (flags shared by every chain command):
  --rpc URL         the node, ws:// or http:// (default ws://127.0.0.1:8545, or $METIS_RPC)
  --key HEX         the private key that signs transactions (or $METIS_KEY)
  --dev-account N   sign as dev account N (0-9) of the dev chain's funded test accounts
With no key at all, a command that sends a transaction to a dev chain (chain id 1337)
signs as dev account 0; on any other chain it asks for a key. Commands that only read
need no key. Amounts are in METIS and take decimals (1.5, 0.001); --wei reads and
prints them as integers of wei instead. --json prints machine output, where amounts are
wei as decimal strings.`

// chainFlags are the values of the shared flags.
type chainFlags struct {
	rpc        string
	keyHex     string
	devAccount int
	json       bool
	wei        bool
	cmd        *cobra.Command // the command the flags were added to, for Changed
}

// addChainFlags adds the shared flags to cmd as persistent flags, so that they work after any
// subcommand ('metis dat mint 1 --to … --dev-account 2').
func addChainFlags(cmd *cobra.Command) *chainFlags {
	f := &chainFlags{cmd: cmd}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.rpc, "rpc", defaultRPC, "node JSON-RPC URL, ws:// or http:// (env METIS_RPC)")
	pf.StringVar(&f.keyHex, "key", "", "hex private key that signs transactions (env METIS_KEY)")
	pf.IntVar(&f.devAccount, "dev-account", 0, "sign as dev account N (0-9) of the dev chain; the default on chain id 1337 when no key is given")
	pf.BoolVar(&f.json, "json", false, "print machine-readable JSON (amounts in wei, as decimal strings)")
	pf.BoolVar(&f.wei, "wei", false, "read and print amounts as integers of wei instead of METIS")
	return f
}

// url is --rpc, or $METIS_RPC when the flag was not given.
func (f *chainFlags) url() string {
	if !f.cmd.PersistentFlags().Changed("rpc") {
		if env := os.Getenv("METIS_RPC"); env != "" {
			return env
		}
	}
	return f.rpc
}

// conn is a connection to a node and, when one was asked for, the key that signs.
type conn struct {
	url     string
	eth     *ethclient.Client
	chainID *big.Int
	key     *ecdsa.PrivateKey // nil: read-only
	from    common.Address    // the signer, or the default account of a read-only command
	// keyless is set when from is the default dev account 0 rather than a key the user gave.
	keyless bool
}

// dialTimeout bounds the dial and first call, so that a wrong --rpc fails fast rather than
// hanging on a black-holed address.
const dialTimeout = 10 * time.Second

// connect dials the node. With sign, it resolves the signing key (erroring if there is none);
// without, it still resolves a key if one was given, so that "my tokens" mean the signer's, and
// otherwise defaults the account to dev account 0 on a dev chain.
func (f *chainFlags) connect(ctx context.Context, sign bool) (*conn, error) {
	url := f.url()
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	eth, err := ethclient.DialContext(dctx, url)
	if err != nil {
		return nil, nodeError(url, err)
	}
	id, err := eth.ChainID(dctx)
	if err != nil {
		eth.Close()
		return nil, nodeError(url, err)
	}
	c := &conn{url: url, eth: eth, chainID: id}
	key, dflt, err := f.key(id, sign)
	if err != nil {
		eth.Close()
		return nil, err
	}
	if key != nil {
		c.from = crypto.PubkeyToAddress(key.PublicKey)
		if sign {
			c.key = key
		}
	}
	c.keyless = dflt
	return c, nil
}

func (c *conn) close() { c.eth.Close() }

// signer is the module clients' signer of the connection's key (nil: read-only).
func (c *conn) signer() *bind.TransactOpts {
	if c.key == nil {
		return nil
	}
	return bind.NewKeyedTransactor(c.key, c.chainID)
}

// key picks the key: --key, else --dev-account, else $METIS_KEY, else dev account 0 on the dev
// chain (dflt reports that last case). The explicit flags beat the environment, as flags
// usually do.
func (f *chainFlags) key(chainID *big.Int, required bool) (key *ecdsa.PrivateKey, dflt bool, err error) {
	dev := f.cmd.PersistentFlags().Changed("dev-account")
	switch {
	case f.keyHex != "" && dev:
		return nil, false, errors.New("give --key or --dev-account, not both")
	case f.keyHex != "":
		key, err = parseKey("--key", f.keyHex)
	case dev:
		key, err = devKey(f.devAccount)
	case os.Getenv("METIS_KEY") != "":
		key, err = parseKey("$METIS_KEY", os.Getenv("METIS_KEY"))
	case chainID.Cmp(big.NewInt(metisvm.DevChainID)) == 0:
		// Everyone knows the dev accounts' keys; using one by default is only safe, and only
		// convenient, on the dev chain.
		key, err = devKey(0)
		dflt = true
	case required:
		err = fmt.Errorf("this command sends a transaction: give --key HEX or set METIS_KEY (chain id %s is not the dev chain, so there is no default dev account)", chainID)
	}
	return key, dflt, err
}

func parseKey(what, s string) (*ecdsa.PrivateKey, error) {
	k, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if err != nil {
		return nil, fmt.Errorf("%s: not a hex private key: %w", what, err)
	}
	return k, nil
}

func devKey(i int) (*ecdsa.PrivateKey, error) {
	accts := core.DevAccounts()
	if i < 0 || i >= len(accts) {
		return nil, fmt.Errorf("--dev-account %d: there are %d dev accounts (0-%d)", i, len(accts), len(accts)-1)
	}
	return accts[i].Key, nil
}

// account is addr if given, else the connection's own account; read-only commands on a
// non-dev chain without a key need addr.
func (c *conn) account(addr, what string) (common.Address, error) {
	if addr != "" {
		return parseAddress(what, addr)
	}
	if c.from == (common.Address{}) {
		return common.Address{}, fmt.Errorf("which account? give %s ADDR, or a key (--key, $METIS_KEY)", what)
	}
	return c.from, nil
}

func parseAddress(what, s string) (common.Address, error) {
	if !common.IsHexAddress(s) {
		return common.Address{}, fmt.Errorf("%s %q: not an address (0x and 40 hex digits)", what, s)
	}
	return common.HexToAddress(s), nil
}

// nodeError turns a failure to reach the node into advice.
func nodeError(url string, err error) error {
	if refused(err) {
		return fmt.Errorf("no node at %s: start one with `metis node --dev` (or point --rpc / $METIS_RPC at yours)", url)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s within %s: is --rpc right?", url, dialTimeout)
	}
	return fmt.Errorf("%s: %w", url, err)
}

// metisDecimals: METIS, like ether, has 18 decimals (1 METIS = 10^18 wei).
const metisDecimals = 18

// parseAmount reads a METIS amount ("1.5", "0.001", "2") as wei, or an integer of wei with
// --wei.
func (f *chainFlags) parseAmount(what, s string) (*big.Int, error) {
	if f.wei {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok || v.Sign() < 0 {
			return nil, fmt.Errorf("%s %q: with --wei, give a whole number of wei", what, s)
		}
		return v, nil
	}
	v, err := parseUnits(s, metisDecimals)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w (amounts are in METIS, e.g. 1.5; --wei for wei)", what, s, err)
	}
	return v, nil
}

// amount prints wei as METIS ("1.5 METIS"), or as "N wei" with --wei.
func (f *chainFlags) amount(wei *big.Int) string {
	if f.wei {
		return wei.String() + " wei"
	}
	return formatUnits(wei, metisDecimals) + " METIS"
}

// parseUnits reads a non-negative decimal with at most decimals fractional digits as an integer
// scaled by 10^decimals: parseUnits("1.5", 18) = 1.5e18. It is exact (no floating point).
func parseUnits(s string, decimals uint8) (*big.Int, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return nil, errors.New("not a number")
	}
	if !allDigits(whole) || !allDigits(frac) {
		return nil, errors.New("not a non-negative decimal number")
	}
	if len(frac) > int(decimals) {
		if decimals == 0 {
			return nil, errors.New("want a whole number")
		}
		return nil, fmt.Errorf("more than %d decimal places", decimals)
	}
	v, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", int(decimals)-len(frac)), 10)
	if !ok {
		return nil, errors.New("not a number")
	}
	return v, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// formatUnits prints v scaled down by 10^decimals with no trailing zeros: formatUnits(1.5e18,
// 18) = "1.5", and prints back exactly what parseUnits reads.
func formatUnits(v *big.Int, decimals uint8) string {
	if v == nil {
		v = new(big.Int)
	}
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if decimals > 0 {
		if len(s) <= int(decimals) {
			s = strings.Repeat("0", int(decimals)-len(s)+1) + s
		}
		cut := len(s) - int(decimals)
		whole, frac := s[:cut], strings.TrimRight(s[cut:], "0")
		s = whole
		if frac != "" {
			s += "." + frac
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}

// parseID reads a class or token id.
func parseID(what, s string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() <= 0 {
		return nil, fmt.Errorf("%s %q: want a positive integer id", what, s)
	}
	return v, nil
}

// txOut is what every transaction-sending command reports in --json.
type txOut struct {
	From    common.Address `json:"from"`
	Tx      common.Hash    `json:"tx"`
	Block   uint64         `json:"block"`
	GasUsed uint64         `json:"gasUsed"`
}

func newTxOut(from common.Address, r *types.Receipt) txOut {
	return txOut{From: from, Tx: r.TxHash, Block: r.BlockNumber.Uint64(), GasUsed: r.GasUsed}
}

// printJSON writes v as indented JSON.
func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(append(b, '\n'))
	return err
}

// printTx prints the human footer of a transaction.
func printTx(cmd *cobra.Command, c *conn, r *types.Receipt) {
	w := cmd.OutOrStdout()
	from := c.from.Hex()
	if c.keyless {
		from += " (dev account 0)"
	}
	field(w, "from", "%s", from)
	field(w, "tx", "%s (block %d, gas %s)", r.TxHash, r.BlockNumber, commas(int64(r.GasUsed)))
}

// revertHint explains a module's named error in words ("" if it has nothing to add); args are
// the error's decoded arguments.
type revertHint func(name string, args []any) string

// explain turns a module error into "Name: hint" (keeping the raw call in the message for
// anyone reading logs), and a connection failure into advice; other errors pass through.
func explain(c *conn, err error, hint revertHint) error {
	if err == nil {
		return nil
	}
	var re *chaintx.RevertError
	if errors.As(err, &re) && re.Name != "" {
		call := re.Name
		if len(re.Args) > 0 {
			parts := make([]string, len(re.Args))
			for i, a := range re.Args {
				parts[i] = fmt.Sprint(a)
			}
			call += "(" + strings.Join(parts, ", ") + ")"
		}
		if h := hint(re.Name, re.Args); h != "" {
			return fmt.Errorf("%s: %s [reverted with %s]", re.Name, h, call)
		}
		return fmt.Errorf("%s: the module refused the call [reverted with %s]", re.Name, call)
	}
	if c != nil && refused(err) {
		return nodeError(c.url, err) // the node went away after the dial
	}
	return err
}

// refused reports a connection refused. The WebSocket dialer does not always wrap the errno,
// hence the text match as well.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection refused")
}

// argBig and argAddr read a decoded error argument, tolerating a shape they do not expect (the
// hint then says less rather than panicking).
func argBig(args []any, i int) *big.Int {
	if i < len(args) {
		switch v := args[i].(type) {
		case *big.Int:
			return v
		case uint64:
			return new(big.Int).SetUint64(v)
		case uint32:
			return big.NewInt(int64(v))
		case uint16:
			return big.NewInt(int64(v))
		case uint8:
			return big.NewInt(int64(v))
		}
	}
	return new(big.Int)
}

func argAddr(args []any, i int) common.Address {
	if i < len(args) {
		if a, ok := args[i].(common.Address); ok {
			return a
		}
	}
	return common.Address{}
}
