package state

import (
	"encoding/binary"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
)

// Key prefixes of the layout in the package doc.
const (
	PrefixAccount byte = 0x01
	PrefixStorage byte = 0x02
	PrefixCode    byte = 0x03
)

// Key and value sizes of the layout.
const (
	AccountKeyLen   = 1 + common.AddressLength
	StorageKeyLen   = 1 + common.AddressLength + common.HashLength
	CodeKeyLen      = 1 + common.HashLength
	AccountValueLen = 8 + 32 + common.HashLength
)

// AccountKey returns the MetisDB key of addr's account record.
func AccountKey(addr common.Address) []byte {
	k := make([]byte, AccountKeyLen)
	k[0] = PrefixAccount
	copy(k[1:], addr[:])
	return k
}

// StorageKey returns the MetisDB key of storage slot of addr.
func StorageKey(addr common.Address, slot common.Hash) []byte {
	k := make([]byte, StorageKeyLen)
	k[0] = PrefixStorage
	copy(k[1:], addr[:])
	copy(k[1+common.AddressLength:], slot[:])
	return k
}

// CodeKey returns the MetisDB key of the code whose keccak256 hash is codeHash.
func CodeKey(codeHash common.Hash) []byte {
	k := make([]byte, CodeKeyLen)
	k[0] = PrefixCode
	copy(k[1:], codeHash[:])
	return k
}

// storagePrefix returns [start, end): the key range holding every storage slot of addr.
func storagePrefix(addr common.Address) (start, end []byte) {
	start = make([]byte, 1+common.AddressLength)
	start[0] = PrefixStorage
	copy(start[1:], addr[:])
	end = make([]byte, len(start))
	copy(end, start)
	for i := len(end) - 1; i >= 0; i-- { // big-endian increment; byte 0 (0x02) cannot overflow
		end[i]++
		if end[i] != 0 {
			break
		}
	}
	return start, end
}

// Account is the value stored under an AccountKey.
type Account struct {
	Nonce    uint64
	Balance  uint256.Int
	CodeHash common.Hash
}

// EncodeAccount returns the AccountValueLen-byte encoding of a.
func EncodeAccount(a *Account) []byte {
	v := make([]byte, AccountValueLen)
	binary.BigEndian.PutUint64(v, a.Nonce)
	a.Balance.PutUint256(v[8:40])
	copy(v[40:], a.CodeHash[:])
	return v
}

// DecodeAccount decodes an account value written by EncodeAccount.
func DecodeAccount(v []byte) (Account, error) {
	var a Account
	if len(v) != AccountValueLen {
		return a, fmt.Errorf("state: account value of %d bytes, want %d", len(v), AccountValueLen)
	}
	a.Nonce = binary.BigEndian.Uint64(v)
	a.Balance.SetBytes32(v[8:40])
	copy(a.CodeHash[:], v[40:])
	return a, nil
}
