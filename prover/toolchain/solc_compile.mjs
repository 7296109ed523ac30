// Compile Solidity with solcjs's standard-JSON API (the solc npm package, pinned 0.8.37).
//
//   node solc_compile.mjs <solc package dir> --version
//   node solc_compile.mjs <solc package dir> <input.json> <output.json> <base dir> [include dir...]
//
// input.json is a solc standard-JSON input; sources without "content" are read from
// <base dir>/<source name>. Imports are resolved against <base dir>, then each include dir
// (for example node_modules). The standard-JSON output is written to output.json; the exit
// status is 1 when solc reports an error (the output file is still written, for details).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [solcDir, ...args] = process.argv.slice(2);
if (!solcDir) {
  console.error("usage: solc_compile.mjs <solc package dir> (--version | <in> <out> <base> [inc...])");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const solc = require(path.resolve(solcDir));

if (args[0] === "--version") {
  console.log(solc.version());
  process.exit(0);
}
const [inputPath, outputPath, baseDir, ...includeDirs] = args;
const roots = [baseDir, ...includeDirs].map((d) => path.resolve(d));

function findImport(name) {
  for (const root of roots) {
    const candidate = path.resolve(root, name);
    if (!candidate.startsWith(root + path.sep)) continue;
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `file not found: ${name} (searched ${roots.join(", ")})` };
}

const input = JSON.parse(fs.readFileSync(inputPath, "utf8"));
for (const [name, source] of Object.entries(input.sources)) {
  if (source.content === undefined) {
    const found = findImport(name);
    if (found.error) {
      console.error(found.error);
      process.exit(1);
    }
    source.content = found.contents;
  }
}
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
fs.writeFileSync(outputPath, JSON.stringify(output));
let failed = false;
for (const error of output.errors ?? []) {
  if (error.severity === "error") {
    failed = true;
    console.error(error.formattedMessage ?? error.message);
  }
}
process.exit(failed ? 1 : 0);
