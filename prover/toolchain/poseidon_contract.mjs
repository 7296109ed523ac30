// Print the bytecode and ABI of circomlibjs's generated Poseidon contract (the EVM code
// circomlibjs assembles from circomlib's Poseidon constants; no Solidity source exists).
//
//   node poseidon_contract.mjs <circomlibjs package dir> <n inputs>
//
// Writes {"nInputs": n, "bytecode": "0x...", "abi": [...]} to standard output.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pkgDir, nText] = process.argv.slice(2);
const n = Number(nText);
if (!pkgDir || !Number.isInteger(n) || n < 1 || n > 8) {
  console.error("usage: poseidon_contract.mjs <circomlibjs dir> <n inputs, 1..8>");
  process.exit(2);
}
const mod = await import(pathToFileURL(path.join(path.resolve(pkgDir), "src", "poseidon_gencontract.js")).href);
process.stdout.write(JSON.stringify({ nInputs: n, bytecode: mod.createCode(n), abi: mod.generateABI(n) }));
