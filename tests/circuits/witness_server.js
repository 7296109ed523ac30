// The test harness's witness generator as a long-lived process (tests/circuits/harness.py,
// Circuit.witness): one request per stdin line, {"js": dir, "wasm": file, "input": file,
// "output": file}; for each, one reply line on stdout starting with "@@zkw " followed by
// "ok" or "err " and a JSON string. Anything else on stdout is the circuit's own log.
// Compiled circuits are kept (the few most recent), so a test module pays node's start and
// the wasm's instantiation once instead of at every witness.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const KEEP = 4;
const calculators = new Map(); // wasm path -> Promise<calculator>, most recent last

function calculator(js, wasm) {
  let c = calculators.get(wasm);
  if (c) {
    calculators.delete(wasm);
  } else {
    const builder = require(path.join(js, "witness_calculator.js"));
    c = builder(fs.readFileSync(wasm));
  }
  calculators.set(wasm, c);
  while (calculators.size > KEEP) calculators.delete(calculators.keys().next().value);
  return c;
}

const lines = readline.createInterface({ input: process.stdin, terminal: false });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let req;
    try {
      req = JSON.parse(line);
      const input = JSON.parse(fs.readFileSync(req.input, "utf8"));
      const wc = await calculator(req.js, req.wasm);
      const buff = await wc.calculateWTNSBin(input, 0);
      fs.writeFileSync(req.output, buff);
      process.stdout.write("@@zkw ok\n");
    } catch (e) {
      if (req && req.wasm) calculators.delete(req.wasm); // its state is not trusted after a throw
      process.stdout.write("@@zkw err " + JSON.stringify(String((e && e.stack) || e)) + "\n");
    }
  });
});
lines.on("close", () => queue.then(() => process.exit(0)));
