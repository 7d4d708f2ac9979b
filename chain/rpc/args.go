package rpc

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"
)

// CallArgs are the transaction arguments of eth_call and eth_estimateGas, with go-ethereum's
// JSON field names (internal/ethapi.TransactionArgs without the blob sidecar fields).
type CallArgs struct {
	From                 *common.Address `json:"from"`
	To                   *common.Address `json:"to"`
	Gas                  *hexutil.Uint64 `json:"gas"`
	GasPrice             *hexutil.Big    `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big    `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big    `json:"maxPriorityFeePerGas"`
	Value                *hexutil.Big    `json:"value"`
	Nonce                *hexutil.Uint64 `json:"nonce"`
	// Input is preferred over Data; both are accepted and must agree when both are set.
	Data              *hexutil.Bytes               `json:"data"`
	Input             *hexutil.Bytes               `json:"input"`
	AccessList        *types.AccessList            `json:"accessList,omitempty"`
	ChainID           *hexutil.Big                 `json:"chainId,omitempty"`
	BlobFeeCap        *hexutil.Big                 `json:"maxFeePerBlobGas"`
	BlobHashes        []common.Hash                `json:"blobVersionedHashes,omitempty"`
	AuthorizationList []types.SetCodeAuthorization `json:"authorizationList"`
}

// decodeCallArgs decodes the JSON of a call object.
func decodeCallArgs(data []byte) (*CallArgs, error) {
	var args CallArgs
	if err := json.Unmarshal(data, &args); err != nil {
		return nil, invalidParams("invalid call arguments: %v", err)
	}
	return &args, nil
}

func (args *CallArgs) data() []byte {
	if args.Input != nil {
		return *args.Input
	}
	if args.Data != nil {
		return *args.Data
	}
	return nil
}

// toMessage checks the arguments and turns them into the message eth_call executes, filling
// defaults as go-ethereum does. Adapted from go-ethereum v1.17.10
// internal/ethapi/transaction_args.go (CallDefaults, ToMessage), LGPL-3.0, The go-ethereum
// Authors. gasCap caps (and, when Gas is absent, sets) the gas limit; 0 means no cap.
func (args *CallArgs) toMessage(gasCap uint64, baseFee, chainID *big.Int) (*core.Message, error) {
	if args.GasPrice != nil && (args.MaxFeePerGas != nil || args.MaxPriorityFeePerGas != nil) {
		return nil, invalidParams("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
	}
	if args.Data != nil && args.Input != nil && !equalBytes(*args.Data, *args.Input) {
		return nil, invalidParams(`both "data" and "input" are set and not equal; please use "input" to pass transaction call data`)
	}
	if args.To == nil {
		if args.BlobHashes != nil {
			return nil, invalidParams("%v", core.ErrBlobTxCreate)
		}
		if args.AuthorizationList != nil {
			return nil, invalidParams("%v", core.ErrSetCodeTxCreate)
		}
	}
	if args.BlobFeeCap != nil && len(args.BlobHashes) == 0 {
		return nil, invalidParams("maxFeePerBlobGas specified without blobVersionedHashes")
	}
	if args.ChainID != nil && chainID != nil && args.ChainID.ToInt().Cmp(chainID) != 0 {
		return nil, invalidParams("chainId does not match node's (have=%v, want=%v)", args.ChainID.ToInt(), chainID)
	}
	if baseFee == nil && (args.MaxFeePerGas != nil || args.MaxPriorityFeePerGas != nil) {
		return nil, invalidParams("maxFeePerGas and maxPriorityFeePerGas are not valid before London is active")
	}
	gas := gasCap
	if gas == 0 {
		gas = uint64(math.MaxUint64 / 2)
	}
	if args.Gas != nil && (gasCap == 0 || uint64(*args.Gas) < gasCap) {
		gas = uint64(*args.Gas)
	}
	u256 := func(name string, b *hexutil.Big) (*uint256.Int, error) {
		if b == nil {
			return new(uint256.Int), nil
		}
		v, overflow := uint256.FromBig(b.ToInt())
		if overflow || b.ToInt().Sign() < 0 {
			return nil, invalidParams("%s out of range", name)
		}
		return v, nil
	}
	value, err := u256("value", args.Value)
	if err != nil {
		return nil, err
	}
	blobFeeCap, err := u256("maxFeePerBlobGas", args.BlobFeeCap)
	if err != nil {
		return nil, err
	}
	var gasPrice, gasFeeCap, gasTipCap *uint256.Int
	if baseFee == nil || args.GasPrice != nil {
		if gasPrice, err = u256("gasPrice", args.GasPrice); err != nil {
			return nil, err
		}
		gasFeeCap, gasTipCap = gasPrice, gasPrice
	} else {
		if gasFeeCap, err = u256("maxFeePerGas", args.MaxFeePerGas); err != nil {
			return nil, err
		}
		if gasTipCap, err = u256("maxPriorityFeePerGas", args.MaxPriorityFeePerGas); err != nil {
			return nil, err
		}
		// Backfill the legacy gas price for execution, unless all fees are zero.
		gasPrice = new(uint256.Int)
		if gasFeeCap.BitLen() > 0 || gasTipCap.BitLen() > 0 {
			bf, overflow := uint256.FromBig(baseFee)
			if overflow {
				return nil, fmt.Errorf("base fee %v out of range", baseFee)
			}
			gasPrice.Add(gasTipCap, bf)
			if gasPrice.Cmp(gasFeeCap) > 0 {
				gasPrice.Set(gasFeeCap)
			}
		}
	}
	var accessList types.AccessList
	if args.AccessList != nil {
		accessList = *args.AccessList
	}
	var nonce uint64
	if args.Nonce != nil {
		nonce = uint64(*args.Nonce)
	}
	var from common.Address
	if args.From != nil {
		from = *args.From
	}
	var blobCap *uint256.Int
	if args.BlobHashes != nil {
		blobCap = blobFeeCap
	}
	msg := &core.Message{
		From:                  from,
		To:                    args.To,
		Value:                 value,
		Nonce:                 nonce,
		GasLimit:              gas,
		GasPrice:              gasPrice,
		GasFeeCap:             gasFeeCap,
		GasTipCap:             gasTipCap,
		Data:                  args.data(),
		AccessList:            accessList,
		BlobGasFeeCap:         blobCap,
		BlobHashes:            args.BlobHashes,
		SetCodeAuthorizations: args.AuthorizationList,
	}
	return msg.SkipNonceCheck().SkipEOACheck().SkipGasLimitCapCheck().SkipExecutionGasCapCheck(), nil
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// FilterCriteria is the filter object of eth_getLogs and of eth_subscribe("logs"): fromBlock,
// toBlock (block numbers or tags), blockHash (exclusive with the range), address (one
// address or an array) and topics (up to four positions, each null for any, a topic, or an
// array of alternatives).
type FilterCriteria struct {
	ethereum.FilterQuery
}

const (
	maxTopics    = 4    // LOG0..LOG4
	maxSubTopics = 1000 // alternatives in one topic position
)

// UnmarshalJSON decodes geth's filter criteria. Adapted from go-ethereum v1.17.10
// eth/filters/api.go (FilterCriteria.UnmarshalJSON), LGPL-3.0, The go-ethereum Authors.
func (args *FilterCriteria) UnmarshalJSON(data []byte) error {
	type input struct {
		BlockHash *common.Hash         `json:"blockHash"`
		FromBlock *gethrpc.BlockNumber `json:"fromBlock"`
		ToBlock   *gethrpc.BlockNumber `json:"toBlock"`
		Addresses any                  `json:"address"`
		Topics    []any                `json:"topics"`
	}
	var raw input
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*args = FilterCriteria{}
	if raw.BlockHash != nil {
		if raw.FromBlock != nil || raw.ToBlock != nil {
			return errors.New("cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
		}
		args.BlockHash = raw.BlockHash
	} else {
		if raw.FromBlock != nil {
			args.FromBlock = big.NewInt(raw.FromBlock.Int64())
		}
		if raw.ToBlock != nil {
			args.ToBlock = big.NewInt(raw.ToBlock.Int64())
		}
	}
	args.Addresses = []common.Address{}
	if raw.Addresses != nil {
		switch rawAddr := raw.Addresses.(type) {
		case []any:
			for i, addr := range rawAddr {
				s, ok := addr.(string)
				if !ok {
					return fmt.Errorf("non-string address at index %d", i)
				}
				a, err := decodeAddress(s)
				if err != nil {
					return fmt.Errorf("invalid address at index %d: %v", i, err)
				}
				args.Addresses = append(args.Addresses, a)
			}
		case string:
			a, err := decodeAddress(rawAddr)
			if err != nil {
				return fmt.Errorf("invalid address: %v", err)
			}
			args.Addresses = []common.Address{a}
		default:
			return errors.New("invalid addresses in query")
		}
	}
	if len(raw.Topics) > maxTopics {
		return fmt.Errorf("exceed max topics: %d > %d", len(raw.Topics), maxTopics)
	}
	// JSON null in a position matches any topic.
	if len(raw.Topics) > 0 {
		args.Topics = make([][]common.Hash, len(raw.Topics))
		for i, t := range raw.Topics {
			switch topic := t.(type) {
			case nil:
			case string:
				top, err := decodeTopic(topic)
				if err != nil {
					return err
				}
				args.Topics[i] = []common.Hash{top}
			case []any:
				if len(topic) > maxSubTopics {
					return fmt.Errorf("exceed max topics per position: %d > %d", len(topic), maxSubTopics)
				}
				for _, rawTopic := range topic {
					if rawTopic == nil {
						// A null alternative matches everything.
						args.Topics[i] = nil
						break
					}
					s, ok := rawTopic.(string)
					if !ok {
						return errors.New("invalid topic(s)")
					}
					parsed, err := decodeTopic(s)
					if err != nil {
						return err
					}
					args.Topics[i] = append(args.Topics[i], parsed)
				}
			default:
				return errors.New("invalid topic(s)")
			}
		}
	}
	return nil
}

// decodeFilterCriteria decodes the JSON of a filter object.
func decodeFilterCriteria(data []byte) (*FilterCriteria, error) {
	var crit FilterCriteria
	if err := json.Unmarshal(data, &crit); err != nil {
		return nil, invalidParams("invalid filter: %v", err)
	}
	return &crit, nil
}

func decodeAddress(s string) (common.Address, error) {
	b, err := hexutil.Decode(s)
	if err == nil && len(b) != common.AddressLength {
		err = fmt.Errorf("hex has invalid length %d after decoding; expected %d for address", len(b), common.AddressLength)
	}
	return common.BytesToAddress(b), err
}

func decodeTopic(s string) (common.Hash, error) {
	b, err := hexutil.Decode(s)
	if err == nil && len(b) != common.HashLength {
		err = fmt.Errorf("hex has invalid length %d after decoding; expected %d for topic", len(b), common.HashLength)
	}
	return common.BytesToHash(b), err
}

// decodeRawTransaction decodes the bytes of eth_sendRawTransaction (an RLP legacy
// transaction or an EIP-2718 typed envelope).
func decodeRawTransaction(b []byte) (*types.Transaction, error) {
	if len(b) == 0 {
		return nil, invalidParams("invalid raw transaction: empty input")
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(b); err != nil {
		return nil, invalidParams("invalid raw transaction: %v", err)
	}
	return tx, nil
}

// decodeStorageKey parses a storage slot leniently (0x prefix optional, up to 32 bytes) and
// returns how many bytes were given. From go-ethereum v1.17.10 internal/ethapi/api.go,
// LGPL-3.0, The go-ethereum Authors.
func decodeStorageKey(s string) (h common.Hash, inputLength int, err error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	if (len(s) & 1) > 0 {
		s = "0" + s
	}
	if len(s) > 64 {
		return common.Hash{}, len(s) / 2, errors.New("storage key too long (want at most 32 bytes)")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return common.Hash{}, 0, errors.New("invalid hex in storage key")
	}
	return common.BytesToHash(b), len(b), nil
}
