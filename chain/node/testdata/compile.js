// Regenerates Store.json from Store.sol: npm install solc@0.8.28 && node compile.js
const fs = require('fs');
const solc = require('solc');
const input = {
  language: 'Solidity',
  sources: { 'Store.sol': { content: fs.readFileSync(__dirname + '/Store.sol', 'utf8') } },
  settings: { evmVersion: 'cancun', optimizer: { enabled: true, runs: 200 },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } } },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
if (out.errors && out.errors.some(e => e.severity === 'error')) { console.error(out.errors); process.exit(1); }
const c = out.contracts['Store.sol'].Store;
fs.writeFileSync(__dirname + '/Store.json', JSON.stringify({
  compiler: 'solc-js ' + solc.version(), abi: c.abi,
  bytecode: '0x' + c.evm.bytecode.object, deployedBytecode: '0x' + c.evm.deployedBytecode.object,
}, null, 2) + '\n');
