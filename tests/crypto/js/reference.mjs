// Reference oracle for tests/crypto: answers a JSON list of requests on stdin with a
// JSON list of results on stdout, computed by circomlibjs, @zk-kit/* and blake-hash.
// Big integers travel as decimal strings, bytes as hex. Run from the repository root.
import { createRequire } from "node:module";
import { buildPoseidon, buildPoseidonReference, buildPoseidonOpt, buildBabyjub, buildEddsa } from "circomlibjs";

// The zk-kit packages' ESM builds do not load under node 20 (a CommonJS named
// import in their dependencies), so take their CommonJS builds.
const require = createRequire(import.meta.url);
const zkEddsa = require("@zk-kit/eddsa-poseidon");
const zkBj = require("@zk-kit/baby-jubjub");
const zkCipher = require("@zk-kit/poseidon-cipher");
const createBlakeHash = require("blake-hash");

const big = (v) => BigInt(v);
const str = (v) => v.toString();
const hex = (b) => Buffer.from(b).toString("hex");

async function main() {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const requests = JSON.parse(input);

  const lazy = {};
  const get = async (name, build) => (lazy[name] ??= await build());

  const out = [];
  for (const req of requests) {
    try {
      out.push(await handle(req, get));
    } catch (err) {
      out.push({ error: String(err && err.message ? err.message : err) });
    }
  }
  process.stdout.write(JSON.stringify(out));
}

async function handle(req, get) {
  switch (req.op) {
    case "poseidon": {
      const wasm = await get("poseidon", buildPoseidon);
      const ref = await get("poseidonRef", buildPoseidonReference);
      const opt = await get("poseidonOpt", buildPoseidonOpt);
      const inputs = req.inputs.map(big);
      const init = big(req.init ?? "0");
      return {
        wasm: str(wasm.F.toObject(wasm(inputs, init))),
        reference: str(ref.F.toObject(ref(inputs, init))),
        opt: str(opt.F.toObject(opt(inputs, init))),
      };
    }
    case "poseidon_perm": {
      const wasm = await get("poseidon", buildPoseidon);
      const state = req.state.map(big);
      const full = wasm(state.slice(1), state[0], state.length).map((x) => str(wasm.F.toObject(x)));
      const zk = state.length === 4 ? zkCipher.poseidonPerm(state).map(str) : null;
      return { circomlibjs: full, zkkit: zk };
    }
    case "blake512":
      return hex(createBlakeHash("blake512").update(Buffer.from(req.hex, "hex")).digest());
    case "bj_mul": {
      const bj = await get("babyjub", buildBabyjub);
      const pt = [bj.F.e(big(req.point[0])), bj.F.e(big(req.point[1]))];
      const r = bj.mulPointEscalar(pt, big(req.k));
      const z = zkBj.mulPointEscalar(req.point.map(big), big(req.k));
      return { circomlibjs: [str(bj.F.toObject(r[0])), str(bj.F.toObject(r[1]))], zkkit: z.map(str) };
    }
    case "bj_add": {
      const bj = await get("babyjub", buildBabyjub);
      const a = req.p.map((v) => bj.F.e(big(v)));
      const b = req.q.map((v) => bj.F.e(big(v)));
      const r = bj.addPoint(a, b);
      return [str(bj.F.toObject(r[0])), str(bj.F.toObject(r[1]))];
    }
    case "bj_check": {
      const bj = await get("babyjub", buildBabyjub);
      const pt = req.point.map((v) => bj.F.e(big(v)));
      return { inCurve: bj.inCurve(pt), inSubgroup: bj.inSubgroup(pt) };
    }
    case "bj_pack": {
      const bj = await get("babyjub", buildBabyjub);
      const pt = req.point.map((v) => bj.F.e(big(v)));
      return { circomlibjs: hex(bj.packPoint(pt)), zkkit: str(zkBj.packPoint(req.point.map(big))) };
    }
    case "bj_unpack": {
      const bj = await get("babyjub", buildBabyjub);
      const r = bj.unpackPoint(Buffer.from(req.hex, "hex"));
      const asInt = Buffer.from(req.hex, "hex").reverse().toString("hex");
      const z = zkBj.unpackPoint(BigInt("0x" + asInt));
      return {
        circomlibjs: r === null ? null : [str(bj.F.toObject(r[0])), str(bj.F.toObject(r[1]))],
        zkkit: z === null ? null : z.map(str),
      };
    }
    case "eddsa_pub": {
      const ed = await get("eddsa", buildEddsa);
      const key = Buffer.from(req.key, "hex");
      const a = ed.prv2pub(key);
      return {
        circomlibjs: [str(ed.F.toObject(a[0])), str(ed.F.toObject(a[1]))],
        zkkit: zkEddsa.derivePublicKey(key).map(str),
        zkkitScalar: str(zkEddsa.deriveSecretScalar(key)),
      };
    }
    case "eddsa_sign": {
      const ed = await get("eddsa", buildEddsa);
      const key = Buffer.from(req.key, "hex");
      const c = ed.signPoseidon(key, ed.F.e(big(req.msg)));
      const z = zkEddsa.signMessage(key, big(req.msg));
      return {
        circomlibjs: { R8: [str(ed.F.toObject(c.R8[0])), str(ed.F.toObject(c.R8[1]))], S: str(c.S) },
        zkkit: { R8: z.R8.map(str), S: str(z.S) },
        zkkitPacked: hex(zkEddsa.packSignature(z)),
      };
    }
    case "eddsa_verify": {
      const ed = await get("eddsa", buildEddsa);
      const sig = { R8: req.sig.R8.map(big), S: big(req.sig.S) };
      const pub = req.pub.map(big);
      const cSig = { R8: sig.R8.map((v) => ed.F.e(v)), S: sig.S };
      return {
        circomlibjs: ed.verifyPoseidon(ed.F.e(big(req.msg)), cSig, pub.map((v) => ed.F.e(v))),
        zkkit: zkEddsa.verifySignature(big(req.msg), sig, pub),
      };
    }
    case "eddsa_unpack_sig": {
      const s = zkEddsa.unpackSignature(Buffer.from(req.hex, "hex"));
      return { R8: s.R8.map(str), S: str(s.S) };
    }
    case "ecdh": {
      const scalar = zkEddsa.deriveSecretScalar(Buffer.from(req.key, "hex"));
      return zkBj.mulPointEscalar(req.point.map(big), scalar).map(str);
    }
    case "encrypt":
      return zkCipher.poseidonEncrypt(req.msg.map(big), req.key.map(big), big(req.nonce)).map(str);
    case "decrypt":
      return zkCipher
        .poseidonDecrypt(req.ct.map(big), req.key.map(big), big(req.nonce), req.length)
        .map(str);
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
    process.exit(1);
  },
);
