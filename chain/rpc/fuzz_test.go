package rpc

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// maxFuzzBody bounds the request bodies the fuzz targets send through the HTTP handler.
const maxFuzzBody = 64 << 10

// fuzzServer is a server over a small chain, driven in-process through ServeHTTP.
func fuzzServer(f *testing.F) (*Server, *testBackend) {
	b := newTestBackend()
	chainWithTxs(f, b)
	srv, err := New(b, Options{Logger: quietLogger(), MaxRequestBytes: maxFuzzBody})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	return srv, b
}

// fuzzChainServer is a server over a real chain with logs (chainWithLogs), for the targets
// whose methods the chain computes (eth_estimateGas, eth_getLogs). It returns the block with
// the logs.
func fuzzChainServer(f *testing.F) (*Server, *chainBackend, *types.Block) {
	b := newChainBackend(f, 0)
	_, _, withLogs := chainWithLogs(f, b)
	srv, err := New(b, Options{Logger: quietLogger(), MaxRequestBytes: maxFuzzBody})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	return srv, b, withLogs
}

// serveJSON posts body to the handler and checks the answer is one well-formed JSON-RPC
// response (a result or an error).
func serveJSON(t *testing.T, srv *Server, body []byte) map[string]json.RawMessage {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response %q to %q is not a JSON object: %v", rec.Body.Bytes(), body, err)
	}
	_, hasResult := resp["result"]
	_, hasError := resp["error"]
	if hasResult == hasError {
		t.Fatalf("response %s has neither or both of result and error", rec.Body.Bytes())
	}
	return resp
}

func request(method string, params ...string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":[` + strings.Join(params, ",") + `]}`)
}

func FuzzSendRawTransaction(f *testing.F) {
	srv, b := fuzzServer(f)
	to := common.HexToAddress("0x0a01")
	dyn := b.signTx(f, testKey, 0, &to, []byte{1, 2})
	legacy, _ := types.SignNewTx(testKey, types.LatestSigner(b.cfg), &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(params.GWei), Gas: 21000, To: &to, Value: big.NewInt(1)})
	al, _ := types.SignNewTx(testKey, types.LatestSigner(b.cfg), &types.AccessListTx{ChainID: b.cfg.ChainID, Nonce: 2, GasPrice: big.NewInt(params.GWei), Gas: 30000,
		AccessList: types.AccessList{{Address: to, StorageKeys: []common.Hash{{1}}}}})
	for _, tx := range []*types.Transaction{dyn, legacy, al} {
		enc, _ := tx.MarshalBinary()
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Add([]byte{0x02})
	f.Add([]byte{0x04, 0xc0})
	f.Add([]byte{0xc0})
	f.Add([]byte{0xf8, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		tx, err := decodeRawTransaction(raw)
		if err == nil {
			enc, err := tx.MarshalBinary()
			if err != nil {
				t.Fatalf("decoded transaction does not encode: %v", err)
			}
			if !bytes.Equal(enc, raw) {
				t.Fatalf("re-encoding differs:\n in  %x\n out %x", raw, enc)
			}
			again, err := decodeRawTransaction(enc)
			if err != nil || again.Hash() != tx.Hash() {
				t.Fatalf("re-encoded transaction decodes to %v, %v", again, err)
			}
		} else if rpcCode(err) != CodeInvalidParams {
			t.Fatalf("decode error without code -32602: %v", err)
		}
		if len(raw)*2+64 > maxFuzzBody {
			return
		}
		resp := serveJSON(t, srv, request("eth_sendRawTransaction", `"`+hexutil.Encode(raw)+`"`))
		if err != nil && resp["error"] == nil {
			t.Fatalf("undecodable transaction accepted over HTTP: %s", resp["result"])
		}
	})
}

func FuzzCallArgs(f *testing.F) {
	srv, b, _ := fuzzChainServer(f)
	for _, s := range []string{
		`{}`,
		`{"to":"0x0000000000000000000000000000000000000a01","input":"0x01"}`,
		`{"from":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","to":null,"data":"0x6000","gas":"0x5208","value":"0x1"}`,
		`{"gasPrice":"0x1","maxFeePerGas":"0x2"}`,
		`{"maxFeePerGas":"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","maxPriorityFeePerGas":"0x1"}`,
		`{"accessList":[{"address":"0x0000000000000000000000000000000000000a01","storageKeys":["0x01"]}],"chainId":"0x539"}`,
		`{"blobVersionedHashes":["0x0000000000000000000000000000000000000000000000000000000000000001"],"maxFeePerBlobGas":"0x1"}`,
		`{"authorizationList":[{"chainId":"0x1","address":"0x0000000000000000000000000000000000000a01","nonce":"0x0","yParity":"0x0","r":"0x1","s":"0x1"}]}`,
		`{"data":"0x01","input":"0x02"}`,
		`{"gas":"0xffffffffffffffff","nonce":"0x1"}`,
		`[]`, `null`, `"x"`, `{"to":5}`,
	} {
		f.Add([]byte(s))
	}
	chainID := b.ChainConfig().ChainID
	f.Fuzz(func(t *testing.T, data []byte) {
		args, err := decodeCallArgs(data)
		if err == nil {
			for _, baseFee := range []*big.Int{nil, big.NewInt(params.InitialBaseFee)} {
				msg, err := args.toMessage(DefaultGasCap, baseFee, chainID)
				if err != nil {
					continue
				}
				if msg.GasLimit > DefaultGasCap || msg.Value == nil || msg.GasPrice == nil || msg.GasFeeCap == nil || msg.GasTipCap == nil {
					t.Fatalf("message %+v breaks the defaults", msg)
				}
			}
		} else if rpcCode(err) != CodeInvalidParams {
			t.Fatalf("decode error without code -32602: %v", err)
		}
		if len(data)+128 > maxFuzzBody || !json.Valid(data) {
			return
		}
		serveJSON(t, srv, request("eth_call", string(data), `"latest"`))
		serveJSON(t, srv, request("eth_estimateGas", string(data)))
	})
}

func FuzzFilterCriteria(f *testing.F) {
	srv, _, b1 := fuzzChainServer(f)
	for _, s := range []string{
		`{}`,
		`{"fromBlock":"0x0","toBlock":"latest"}`,
		`{"fromBlock":"earliest","toBlock":"pending","address":"0x0000000000000000000000000000000000000a01"}`,
		`{"address":["0x0000000000000000000000000000000000000a01","0x0000000000000000000000000000000000000a02"]}`,
		`{"topics":[null,["0x00000000000000000000000000000000000000000000000000000000000000aa",null]]}`,
		`{"topics":["0x00000000000000000000000000000000000000000000000000000000000000aa"]}`,
		`{"blockHash":"` + b1.Hash().Hex() + `"}`,
		`{"blockHash":"` + b1.Hash().Hex() + `","fromBlock":"0x1"}`,
		`{"fromBlock":"0x2","toBlock":"0x1"}`,
		`{"fromBlock":"0xffffffffffffffff"}`,
		`{"topics":[1]}`, `{"address":7}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		crit, err := decodeFilterCriteria(data)
		if err == nil {
			if len(crit.Topics) > maxTopics {
				t.Fatalf("%d topic positions accepted", len(crit.Topics))
			}
			if crit.BlockHash != nil && (crit.FromBlock != nil || crit.ToBlock != nil) {
				t.Fatal("blockHash accepted with a range")
			}
			if _, err := srv.getLogs(t.Context(), crit); err != nil && rpcCode(err) == 0 && !strings.Contains(err.Error(), "unknown block") {
				t.Fatalf("getLogs: unexpected error %v", err)
			}
		} else if rpcCode(err) != CodeInvalidParams {
			t.Fatalf("decode error without code -32602: %v", err)
		}
		if len(data)+128 > maxFuzzBody || !json.Valid(data) {
			return
		}
		serveJSON(t, srv, request("eth_getLogs", string(data)))
	})
}
