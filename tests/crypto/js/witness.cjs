// Compute circom witnesses: node witness.cjs <circuit.wasm> <nOutputs> < inputs.json
// For each input object prints the first nOutputs output signals (decimal strings),
// or "error: <message>" when witness generation fails (a constraint assert failed).
"use strict";
const fs = require("node:fs");
const path = require("node:path");

// The generated calculator logs failed asserts with console.log: keep stdout for JSON.
console.log = (...args) => process.stderr.write(args.join(" ") + "\n");

async function main() {
  const [wasmPath, nOutArg] = process.argv.slice(2);
  const nOut = Number(nOutArg);
  const builder = require(path.join(path.dirname(path.resolve(wasmPath)), "witness_calculator.js"));
  const calc = await builder(fs.readFileSync(wasmPath));
  const inputs = JSON.parse(fs.readFileSync(0, "utf8"));
  const out = [];
  for (const input of inputs) {
    try {
      const w = await calc.calculateWitness(input, true);
      // Signal 0 is the constant 1; the main component's outputs follow.
      out.push(w.slice(1, 1 + nOut).map((v) => v.toString()));
    } catch (err) {
      out.push("error: " + String(err && err.message ? err.message : err).split("\n")[0]);
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
    process.exit(1);
  },
);
