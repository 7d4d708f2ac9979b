package core

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// DevMnemonic is the common test mnemonic (Hardhat, Anvil, Foundry) whose first DevAccountCount
// accounts on DevPath the dev genesis funds.
const DevMnemonic = "test test test test test test test test test test test junk"

// DevPath is the derivation path of dev account i, formatted with i.
const DevPath = "m/44'/60'/0'/0/%d"

// DevAccountCount is the number of funded dev accounts.
const DevAccountCount = 10

// DevAccount is a funded account of the dev chain.
type DevAccount struct {
	Address common.Address
	Key     *ecdsa.PrivateKey
}

// DevAccounts derives the DevAccountCount dev accounts from DevMnemonic.
func DevAccounts() []DevAccount {
	seed := mnemonicSeed(DevMnemonic, "")
	out := make([]DevAccount, DevAccountCount)
	for i := range out {
		path, err := accounts.ParseDerivationPath(fmt.Sprintf(DevPath, i))
		if err != nil {
			panic(err) // a constant path
		}
		key, err := deriveKey(seed, path)
		if err != nil {
			panic(err) // the test mnemonic derives fine
		}
		out[i] = DevAccount{Address: crypto.PubkeyToAddress(key.PublicKey), Key: key}
	}
	return out
}

// DeriveKey derives the private key at path (such as "m/44'/60'/0'/0/0") from a BIP-39 mnemonic
// and passphrase, as every Ethereum wallet does: seed = PBKDF2-HMAC-SHA512(mnemonic,
// "mnemonic"+passphrase, 2048 rounds, 64 bytes), then BIP-32 derivation over secp256k1.
//
// The mnemonic's checksum is not verified (no word list is bundled), and only ASCII mnemonics
// are accepted, for which BIP-39's NFKD normalisation is the identity.
//
// The derivation is written here (about sixty lines) because go-ethereum has the path parser
// (accounts.ParseDerivationPath) but no BIP-32 implementation, and pulling in btcsuite's
// hdkeychain for that is not worth a dependency.
func DeriveKey(mnemonic, passphrase, path string) (*ecdsa.PrivateKey, error) {
	for _, s := range []string{mnemonic, passphrase} {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return nil, errors.New("core: only ASCII mnemonics and passphrases are supported")
			}
		}
	}
	p, err := accounts.ParseDerivationPath(path)
	if err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	return deriveKey(mnemonicSeed(mnemonic, passphrase), p)
}

// mnemonicSeed is the BIP-39 seed of an (ASCII) mnemonic.
func mnemonicSeed(mnemonic, passphrase string) []byte {
	seed, err := pbkdf2.Key(sha512.New, mnemonic, []byte("mnemonic"+passphrase), 2048, 64)
	if err != nil {
		panic(err) // only fails for FIPS-forbidden parameters, which these are not
	}
	return seed
}

// deriveKey walks a BIP-32 path from the master key of seed.
func deriveKey(seed []byte, path accounts.DerivationPath) (*ecdsa.PrivateKey, error) {
	n := crypto.S256().Params().N
	mac := hmac.New(sha512.New, []byte("Bitcoin seed"))
	mac.Write(seed)
	sum := mac.Sum(nil)
	k, chain := new(big.Int).SetBytes(sum[:32]), sum[32:]
	if k.Sign() == 0 || k.Cmp(n) >= 0 {
		return nil, errors.New("core: invalid BIP-32 master key")
	}
	for _, index := range path {
		var data []byte
		if index >= 0x80000000 { // hardened: 0x00 ‖ ser256(k) ‖ ser32(i)
			data = make([]byte, 1, 37)
			data = append(data, common.LeftPadBytes(k.Bytes(), 32)...)
		} else { // normal: serP(point(k)) ‖ ser32(i)
			key, err := crypto.ToECDSA(common.LeftPadBytes(k.Bytes(), 32))
			if err != nil {
				return nil, fmt.Errorf("core: BIP-32: %w", err)
			}
			data = crypto.CompressPubkey(&key.PublicKey)
		}
		data = binary.BigEndian.AppendUint32(data, index)
		mac := hmac.New(sha512.New, chain)
		mac.Write(data)
		sum := mac.Sum(nil)
		il := new(big.Int).SetBytes(sum[:32])
		if il.Cmp(n) >= 0 {
			return nil, fmt.Errorf("core: BIP-32: invalid child %d (probability 2^-127)", index)
		}
		k = il.Add(il, k)
		k.Mod(k, n)
		if k.Sign() == 0 {
			return nil, fmt.Errorf("core: BIP-32: invalid child %d (probability 2^-127)", index)
		}
		chain = sum[32:]
	}
	return crypto.ToECDSA(common.LeftPadBytes(k.Bytes(), 32))
}
