// Writes NAME.abi.json next to a Solidity interface file, for go:generate:
//   node ../tools/solc/abi.js IDAT.sol IDAT
// (run `npm ci` in tools/solc once). The ABI is sorted by type and name so the generated file is
// stable and reviews show real changes only.
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const [file, contract] = process.argv.slice(2);
if (!file || !contract) {
  console.error('usage: node abi.js FILE.sol CONTRACT');
  process.exit(2);
}
const input = {
  language: 'Solidity',
  sources: { [path.basename(file)]: { content: fs.readFileSync(file, 'utf8') } },
  settings: { outputSelection: { '*': { '*': ['abi'] } } },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const c = out.contracts[path.basename(file)][contract];
if (!c) {
  console.error(`no contract ${contract} in ${file}`);
  process.exit(1);
}
const order = { function: 0, event: 1, error: 2 };
const abi = c.abi.slice().sort((a, b) => (order[a.type] - order[b.type]) || a.name.localeCompare(b.name));
const dest = path.join(path.dirname(file), contract + '.abi.json');
fs.writeFileSync(dest, JSON.stringify(abi, null, 1) + '\n');
console.log(`wrote ${dest} with solc ${solc.version()}`);
