package agents

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gofrs/flock"
)

// The spend ledger is what an agent has signed, kept in its data dir so that a restarted agent
// continues its period: LedgerFile, an append-only text file of one line per signed
// transaction,
//
//	<unix nanoseconds> <wei> <nonce> <method> <crc32>
//
// after a header line naming the account ("metis-spend-ledger 1 <address> <crc32>"); each crc32
// (IEEE, hex) covers the bytes of its line before it. A record is written and fsynced before
// the transaction is signed, so a transaction the agent signed is always in the ledger (a crash
// between the two leaves a record of a transaction never signed, which counts: the ledger errs
// towards spending). A kill -9 during a write leaves at most one partial last line, with no
// newline or a bad checksum: it is the record of a transaction that was never signed, and
// opening the ledger cuts it off. Any other damage (a bad line with good lines after it) is not
// a torn write, and the ledger refuses to open rather than guess. Records older than the
// period are dropped when the ledger is opened (rewritten to a temporary file, fsynced and
// renamed over the old one), once there are more than [ledgerCompactAt] of them.
//
// The data dir is locked (LedgerLock, flock) while the agent runs: two processes of one agent
// would each see only their own spending.
//
// The format is plain text rather than a database (pebble is in the module) because it is
// one small append per transaction, read once at start, and a person auditing an agent's
// spending can read it with cat.
const (
	LedgerFile = "spend.log"
	LedgerLock = "spend.lock"
)

const (
	ledgerMagic     = "metis-spend-ledger"
	ledgerVersion   = "1"
	ledgerCompactAt = 1024
)

// ledgerEntry is one signed transaction's maximum cost.
type ledgerEntry struct {
	at     time.Time
	amount *big.Int
	nonce  uint64
	method string
}

// ledger is an agent's spending: in memory, and in a file when the agent has a data dir.
type ledger struct {
	entries []ledgerEntry // those within the last period, oldest first
	f       *os.File      // nil: in memory only
	lock    *flock.Flock
	path    string
	closed  bool
}

// openLedger opens (or creates) the ledger of account in dir, keeping what was signed in the
// period before now. dir "" keeps the ledger in memory only.
func openLedger(dir string, account common.Address, period time.Duration, now time.Time) (*ledger, error) {
	if dir == "" {
		return &ledger{}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agents: data dir: %w", err)
	}
	lock := flock.New(filepath.Join(dir, LedgerLock))
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("agents: locking data dir %s: %w", dir, err)
	}
	if !ok {
		return nil, fmt.Errorf("agents: data dir %s is in use by another process of this agent (give each running agent its own data dir)", dir)
	}
	l := &ledger{lock: lock, path: filepath.Join(dir, LedgerFile)}
	if err := l.load(account, period, now); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// load reads the file (creating it if there is none), cuts off a torn last record, drops
// expired records when there are many, and opens the file for appending.
func (l *ledger) load(account common.Address, period time.Duration, now time.Time) error {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return l.rewrite(account)
	}
	if err != nil {
		return fmt.Errorf("agents: spend ledger: %w", err)
	}
	good, expired := 0, 0 // good: bytes of whole valid lines
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		last := i == len(lines)-1 || (i == len(lines)-2 && len(lines[len(lines)-1]) == 0)
		body, ok := checkLine(line)
		if !ok {
			if last && i > 0 {
				break // a torn write: the record of a transaction never signed
			}
			return fmt.Errorf("agents: spend ledger %s is damaged at line %d (not a torn last write): repair or remove it; removing it forgets the spending of the current period", l.path, i+1)
		}
		if i == 0 {
			if err := checkHeader(body, account, l.path); err != nil {
				return err
			}
		} else {
			e, err := parseEntry(body)
			if err != nil {
				return fmt.Errorf("agents: spend ledger %s, line %d: %w", l.path, i+1, err)
			}
			if now.Sub(e.at) < period {
				l.entries = append(l.entries, e)
			} else {
				expired++
			}
		}
		good += len(line)
	}
	if good == 0 {
		return l.rewrite(account) // not even a whole header: the file was being created
	}
	if expired > ledgerCompactAt {
		return l.rewrite(account)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("agents: spend ledger: %w", err)
	}
	l.f = f
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			return fmt.Errorf("agents: spend ledger: cutting a torn record: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("agents: spend ledger: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		return fmt.Errorf("agents: spend ledger: %w", err)
	}
	return nil
}

// rewrite writes the header and the kept entries to a temporary file, fsyncs it, renames it over
// the ledger, fsyncs the directory and opens the result for appending.
func (l *ledger) rewrite(account common.Address) error {
	var b bytes.Buffer
	b.WriteString(sealLine(fmt.Sprintf("%s %s %s", ledgerMagic, ledgerVersion, account.Hex())))
	for _, e := range l.entries {
		b.WriteString(e.line())
	}
	tmp := l.path + ".tmp"
	if err := writeSynced(tmp, b.Bytes()); err != nil {
		return fmt.Errorf("agents: spend ledger: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("agents: spend ledger: %w", err)
	}
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		return fmt.Errorf("agents: spend ledger: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("agents: spend ledger: %w", err)
	}
	l.f = f
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// total is what was signed in the period before now; it forgets older entries.
func (l *ledger) total(now time.Time, period time.Duration) *big.Int {
	keep := l.entries[:0]
	sum := new(big.Int)
	for _, e := range l.entries {
		if now.Sub(e.at) < period {
			keep = append(keep, e)
			sum.Add(sum, e.amount)
		}
	}
	l.entries = keep
	return sum
}

// add records e durably (written and fsynced) before it counts.
func (l *ledger) add(e ledgerEntry) error {
	if l.closed {
		return errors.New("agents: the agent is closed")
	}
	if l.f != nil {
		if _, err := l.f.WriteString(e.line()); err != nil {
			return fmt.Errorf("agents: spend ledger: %w", err)
		}
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("agents: spend ledger: %w", err)
		}
	}
	l.entries = append(l.entries, e)
	return nil
}

func (l *ledger) close() error {
	l.closed = true
	var err error
	if l.f != nil {
		err = l.f.Close()
		l.f = nil
	}
	if l.lock != nil {
		if uerr := l.lock.Unlock(); err == nil {
			err = uerr
		}
		l.lock = nil
	}
	return err
}

func (e ledgerEntry) line() string {
	method := strings.Join(strings.Fields(e.method), "_")
	if method == "" {
		method = "-"
	}
	return sealLine(fmt.Sprintf("%d %s %d %s", e.at.UnixNano(), e.amount, e.nonce, method))
}

// sealLine appends the checksum and the newline.
func sealLine(body string) string {
	return fmt.Sprintf("%s %08x\n", body, crc32.ChecksumIEEE([]byte(body)))
}

// checkLine returns a whole line's body if its checksum holds.
func checkLine(line []byte) (string, bool) {
	if !bytes.HasSuffix(line, []byte("\n")) {
		return "", false
	}
	s := string(line[:len(line)-1])
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return "", false
	}
	sum, err := strconv.ParseUint(s[i+1:], 16, 32)
	if err != nil || len(s)-i-1 != 8 || uint32(sum) != crc32.ChecksumIEEE([]byte(s[:i])) {
		return "", false
	}
	return s[:i], true
}

func checkHeader(body string, account common.Address, path string) error {
	f := strings.Fields(body)
	if len(f) != 3 || f[0] != ledgerMagic {
		return fmt.Errorf("agents: %s is not a spend ledger", path)
	}
	if f[1] != ledgerVersion {
		return fmt.Errorf("agents: spend ledger %s has version %s; this agent reads version %s", path, f[1], ledgerVersion)
	}
	if !common.IsHexAddress(f[2]) || common.HexToAddress(f[2]) != account {
		return fmt.Errorf("agents: the data dir of %s holds the spend ledger of account %s, not %s: give each agent its own data dir", path, f[2], account.Hex())
	}
	return nil
}

func parseEntry(body string) (ledgerEntry, error) {
	f := strings.Fields(body)
	if len(f) != 4 {
		return ledgerEntry{}, fmt.Errorf("want 4 fields, got %d", len(f))
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return ledgerEntry{}, fmt.Errorf("time: %w", err)
	}
	amount, ok := new(big.Int).SetString(f[1], 10)
	if !ok || amount.Sign() < 0 {
		return ledgerEntry{}, fmt.Errorf("amount %q", f[1])
	}
	nonce, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return ledgerEntry{}, fmt.Errorf("nonce: %w", err)
	}
	return ledgerEntry{at: time.Unix(0, ns), amount: amount, nonce: nonce, method: f[3]}, nil
}

// readLedger returns the entries of a ledger file, for tests and audits.
func readLedger(path string) ([]ledgerEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ledgerEntry
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		body, ok := checkLine(append(sc.Bytes(), '\n'))
		if !ok || n == 0 {
			continue
		}
		e, err := parseEntry(body)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
