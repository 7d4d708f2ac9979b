package metisdb_test

// Fuzz targets for proofs: a corrupted proof never verifies, decoding never panics and is
// canonical. Run with e.g. go test -run '^$' -fuzz=FuzzVerifyProof -fuzztime=30s ./chain/metisdb/

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/metisgo/metis/chain/metisdb"
)

// pfClaim is a claim with the valid proof the store produced for it.
type pfClaim struct {
	name  string
	root  metisdb.Hash
	key   []byte
	value []byte // nil: absence
	enc   []byte
}

// pfClaims builds small stores and collects valid inclusion and non-inclusion proofs, including
// both kinds of non-inclusion (ending at an empty subtree and at another key's leaf), a proof at
// an older version, and depth-0 proofs (empty store, single-key store).
func pfClaims(tb testing.TB) []pfClaim {
	tb.Helper()
	var claims []pfClaim
	add := func(db *metisdb.DB, name string, version uint64, key []byte, ref map[string]string) *metisdb.Proof {
		tb.Helper()
		p, err := db.Proof(key, version)
		if err != nil {
			tb.Fatalf("%s: Proof(%q, %d): %v", name, key, version, err)
		}
		snap, err := db.Snapshot(version)
		if err != nil {
			tb.Fatalf("%s: Snapshot(%d): %v", name, version, err)
		}
		var value []byte
		if v, ok := ref[string(key)]; ok {
			value = append([]byte{}, v...)
		}
		if snap.Root() != mdlRoot(ref) {
			tb.Fatalf("%s: root %s, reference %s", name, snap.Root(), mdlRoot(ref))
		}
		if err := metisdb.VerifyProof(snap.Root(), key, value, p); err != nil {
			tb.Fatalf("%s: valid proof for %q does not verify: %v", name, key, err)
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			tb.Fatalf("%s: MarshalBinary: %v", name, err)
		}
		claims = append(claims, pfClaim{name, snap.Root(), append([]byte{}, key...), value, enc})
		return p
	}
	open := func(name string) *metisdb.DB {
		db, err := metisdb.Open(tb.TempDir(), &metisdb.Options{NoSync: true})
		if err != nil {
			tb.Fatalf("%s: Open: %v", name, err)
		}
		return db
	}
	commit := func(db *metisdb.DB, ref map[string]string) uint64 {
		for k, v := range ref {
			if err := db.Set([]byte(k), []byte(v)); err != nil {
				tb.Fatal(err)
			}
		}
		v, _, err := db.Commit()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}

	// Empty store: the absence proof has depth 0 and no leaf.
	db := open("empty")
	if _, _, err := db.Commit(); err != nil {
		tb.Fatal(err)
	}
	add(db, "empty/absent", 1, []byte("nothing"), nil)
	db.Close()

	// One key: depth-0 inclusion, and absence ending at that key's leaf.
	db = open("single")
	one := map[string]string{"only": "value"}
	commit(db, one)
	add(db, "single/present", 1, []byte("only"), one)
	add(db, "single/absent", 1, []byte("other"), one)
	db.Close()

	// A dozen keys over two versions.
	db = open("small")
	v1 := map[string]string{}
	for i := 0; i < 12; i++ {
		v1[fmt.Sprintf("key-%02d", i)] = fmt.Sprintf("value-%02d", i)
	}
	v1["empty"] = ""
	commit(db, v1)
	v2 := map[string]string{}
	for k, v := range v1 {
		v2[k] = v
	}
	v2["key-03"] = "changed"
	v2["key-13"] = "new"
	if err := db.Set([]byte("key-03"), []byte("changed")); err != nil {
		tb.Fatal(err)
	}
	if err := db.Set([]byte("key-13"), []byte("new")); err != nil {
		tb.Fatal(err)
	}
	if err := db.Delete([]byte("key-07")); err != nil {
		tb.Fatal(err)
	}
	delete(v2, "key-07")
	if _, _, err := db.Commit(); err != nil {
		tb.Fatal(err)
	}
	add(db, "small/present", 2, []byte("key-05"), v2)
	add(db, "small/present-empty", 2, []byte("empty"), v2)
	add(db, "small/present-old", 1, []byte("key-03"), v1)
	add(db, "small/deleted", 2, []byte("key-07"), v2)
	var atLeaf, atEmpty bool
	for i := 0; i < 1000 && !(atLeaf && atEmpty); i++ {
		key := []byte(fmt.Sprintf("absent-%d", i))
		p, err := db.Proof(key, 2)
		if err != nil {
			tb.Fatal(err)
		}
		if p.Leaf != nil && !atLeaf {
			atLeaf = true
			add(db, "small/absent-leaf", 2, key, v2)
		} else if p.Leaf == nil && !atEmpty {
			atEmpty = true
			add(db, "small/absent-empty", 2, key, v2)
		}
	}
	if !atLeaf || !atEmpty {
		tb.Fatalf("found absence proofs ending at a leaf: %v, at an empty subtree: %v", atLeaf, atEmpty)
	}
	db.Close()
	return claims
}

// pfMutate applies one of four mutations of enc at position off: XOR data in, overwrite with
// data (possibly extending), insert data, or cut at off and append data.
func pfMutate(enc []byte, mode uint8, off uint16, data []byte) []byte {
	o := int(off) % (len(enc) + 1)
	out := bytes.Clone(enc)
	switch mode % 4 {
	case 0:
		for i, b := range data {
			if o+i >= len(out) {
				break
			}
			out[o+i] ^= b
		}
	case 1:
		out = append(out[:o:o], data...)
		if o+len(data) < len(enc) {
			out = append(out, enc[o+len(data):]...)
		}
	case 2:
		out = append(append(out[:o:o], data...), enc[o:]...)
	case 3:
		out = append(out[:o:o], data...)
	}
	return out
}

// pfCheck decodes mut and checks it against every claim: it must verify exactly those whose valid
// encoding it equals.
func pfCheck(t *testing.T, claims []pfClaim, mut []byte) {
	var p metisdb.Proof
	if err := p.UnmarshalBinary(mut); err != nil {
		if !errors.Is(err, metisdb.ErrInvalidProof) {
			t.Fatalf("UnmarshalBinary(%x): error %v does not wrap ErrInvalidProof", mut, err)
		}
		return
	}
	for _, c := range claims {
		err := metisdb.VerifyProof(c.root, c.key, c.value, &p)
		switch {
		case bytes.Equal(mut, c.enc) && err != nil:
			t.Fatalf("%s: the valid proof %x no longer verifies: %v", c.name, mut, err)
		case !bytes.Equal(mut, c.enc) && err == nil:
			t.Fatalf("%s: corrupted proof %x verifies (valid one is %x)", c.name, mut, c.enc)
		case err != nil && !errors.Is(err, metisdb.ErrInvalidProof):
			t.Fatalf("%s: VerifyProof error %v does not wrap ErrInvalidProof", c.name, err)
		}
		// Other claims about the same key must not panic (their outcome is checked above when
		// they are claims of their own).
		_ = metisdb.VerifyProof(c.root, c.key, nil, &p)
		_ = metisdb.VerifyProof(c.root, c.key, []byte{}, &p)
	}
}

func FuzzVerifyProof(f *testing.F) {
	claims := pfClaims(f)
	for i, c := range claims {
		f.Add(uint8(i), uint8(0), uint16(0), []byte{}) // unmutated
		f.Add(uint8(i), uint8(0), uint16(4), []byte{0x01})
		f.Add(uint8(i), uint8(0), uint16(len(c.enc)-1), []byte{0x80})
		f.Add(uint8(i), uint8(1), uint16(1), []byte{0x01})
		f.Add(uint8(i), uint8(2), uint16(len(c.enc)), bytes.Repeat([]byte{0xab}, 32))
		f.Add(uint8(i), uint8(3), uint16(len(c.enc)-32), []byte{})
		f.Add(uint8(i), uint8(1), uint16(2), []byte{0x00, 0x01, 0x80})
		for j, d := range claims { // splice another claim's proof in
			if j != i {
				f.Add(uint8(i), uint8(1), uint16(4), d.enc[4:])
				break
			}
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, mode uint8, off uint16, data []byte) {
		c := claims[int(sel)%len(claims)]
		pfCheck(t, claims, pfMutate(c.enc, mode, off, data))
	})
}

func FuzzProofDecode(f *testing.F) {
	for _, c := range pfClaims(f) {
		f.Add(c.enc)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0})
	f.Add([]byte{1, 1, 0, 0})
	f.Add([]byte{1, 0, 1, 0, 0xff, 0xff})
	f.Add([]byte{1, 0, 0, 1, 0x80})
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p metisdb.Proof
		if err := p.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, metisdb.ErrInvalidProof) {
				t.Fatalf("error %v does not wrap ErrInvalidProof", err)
			}
			return
		}
		out, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded proof: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical: decoded %x, re-encoded %x", b, out)
		}
		// Never panics, whatever the claim.
		_ = metisdb.VerifyProof(metisdb.EmptyRoot, b, nil, &p)
		_ = metisdb.VerifyProof(metisdb.EmptyRoot, b, b, &p)
		_ = metisdb.VerifyProof(metisdb.EmptyRoot, []byte("k"), []byte{}, &p)
	})
}

// TestProofBitFlips is the deterministic core of FuzzVerifyProof: every single-bit flip, every
// truncation and a few extensions of every valid proof encoding fail to verify every claim.
func TestProofBitFlips(t *testing.T) {
	claims := pfClaims(t)
	for _, c := range claims {
		pfCheck(t, claims, c.enc)
		for i := range c.enc {
			for b := 0; b < 8; b++ {
				mut := bytes.Clone(c.enc)
				mut[i] ^= 1 << b
				pfCheck(t, []pfClaim{c}, mut) // against its own claim; truncations below face all
				if i == 0 || i == len(c.enc)-1 {
					pfCheck(t, claims, mut)
				}
			}
			pfCheck(t, claims, c.enc[:i])
		}
		for _, ext := range [][]byte{{0}, bytes.Repeat([]byte{0}, 32), bytes.Repeat([]byte{7}, 64)} {
			pfCheck(t, claims, append(bytes.Clone(c.enc), ext...))
		}
	}
	// Structurally odd proofs built directly must not panic, and verify only where they are the
	// valid proof (the empty proof is the valid absence proof in an empty store).
	for _, p := range []*metisdb.Proof{
		{},
		{Siblings: make([]metisdb.Hash, 1)},
		{Siblings: make([]metisdb.Hash, 256)},
		{Siblings: make([]metisdb.Hash, 257)},
		{Siblings: make([]metisdb.Hash, 300), Leaf: &metisdb.ProofLeaf{}},
		{Siblings: make([]metisdb.Hash, 256), Leaf: &metisdb.ProofLeaf{}},
	} {
		enc, encErr := p.MarshalBinary()
		for _, c := range claims {
			valid := encErr == nil && bytes.Equal(enc, c.enc)
			if err := metisdb.VerifyProof(c.root, c.key, c.value, p); (err == nil) != valid {
				t.Fatalf("%s: degenerate proof with %d siblings: VerifyProof = %v, valid encoding: %v", c.name, len(p.Siblings), err, valid)
			}
		}
	}
	if metisdb.VerifyProof(metisdb.EmptyRoot, []byte("k"), nil, nil) == nil {
		t.Fatal("nil proof verifies")
	}
}
