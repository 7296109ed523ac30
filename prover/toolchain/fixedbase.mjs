/**
 * fixedbase.mjs — what devptau.mjs and devzkey.mjs share: finding snarkjs and ffjavascript, a
 * progress meter, and a pool of worker threads that compute s_i·G for fixed generators G of
 * BN254 (G1 and G2) with fixed-base tables, plus Lagrange-basis scalars at a known tau.
 *
 * Every point of a development ptau or zkey is a known scalar times a generator, so one table
 * of d·2^(WINDOW·j)·G per worker turns each point into one mixed addition per nonzero window of
 * its scalar (about ten times fewer curve operations than ffjavascript's timesFr). The workers
 * drive ffjavascript's own wasm (wasmcurves), so the arithmetic is snarkjs's.
 *
 * Loaded as a worker (workerData.fixedbase), this file runs the multiplication loop.
 */

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

export const CHUNK = 1 << 14; // points per chunk (one write, one progress step)
const TASK = 1 << 11; // points per job handed to one worker
const WINDOW = 12; // bits per window of the fixed-base tables
const FR_BITS = 254;

/** A `die(msg, code)` that prints "<prefix>: error: msg" on stderr and exits with `code`. */
export function dier(prefix) {
    return (msg, code = 2) => {
        process.stderr.write(`${prefix}: error: ${msg}\n`);
        process.exit(code);
    };
}

/** Find the node_modules folder holding snarkjs: the option, else upwards from this script. */
export function findNodeModules(given, die) {
    if (given) {
        const d = path.resolve(given);
        if (!fs.existsSync(path.join(d, "snarkjs", "package.json"))) die(`no snarkjs under ${d}; run \`make setup\``, 3);
        return d;
    }
    let dir = path.dirname(fileURLToPath(import.meta.url));
    for (;;) {
        const cand = path.join(dir, "node_modules");
        if (fs.existsSync(path.join(cand, "snarkjs", "package.json"))) return cand;
        const up = path.dirname(dir);
        if (up === dir) die("cannot find node_modules with snarkjs; run `make setup`", 3);
        dir = up;
    }
}

/** Package root of `name` as seen from `fromDir` (the folder a bare import there resolves to). */
export function packageDir(fromDir, name) {
    const req = createRequire(path.join(fromDir, "noop.js"));
    let d = path.dirname(req.resolve(name));
    while (!fs.existsSync(path.join(d, "package.json")) || JSON.parse(fs.readFileSync(path.join(d, "package.json"))).name !== name) {
        const up = path.dirname(d);
        if (up === d) throw new Error(`cannot locate package ${name}`);
        d = up;
    }
    return d;
}

export async function loadLibs(nodeModules) {
    const snarkjsDir = path.join(nodeModules, "snarkjs");
    // ffjavascript exactly as snarkjs itself resolves it (it may be nested under snarkjs).
    const ffDir = packageDir(path.join(snarkjsDir, "src"), "ffjavascript");
    const ff = await import(pathToFileURL(path.join(ffDir, "main.js")).href);
    const keypair = await import(pathToFileURL(path.join(snarkjsDir, "src", "keypair.js")).href);
    const ptauUtils = await import(pathToFileURL(path.join(snarkjsDir, "src", "powersoftau_utils.js")).href);
    const misc = await import(pathToFileURL(path.join(snarkjsDir, "src", "misc.js")).href);
    const reqS = createRequire(path.join(snarkjsDir, "src", "noop.js"));
    const { blake2b } = reqS("@noble/hashes/blake2b");
    const version = (d) => JSON.parse(fs.readFileSync(path.join(d, "package.json"))).version;
    return {
        ff, keypair, ptauUtils, misc, blake2b,
        versions: { snarkjs: version(snarkjsDir), ffjavascript: version(ffDir) },
    };
}

/** Progress on stderr: one line per section start and per whole percent of the whole run. */
export class Progress {
    constructor(total, prefix) {
        this.total = total;
        this.prefix = prefix;
        this.done = 0;
        this.lastPct = -1;
        this.section = "";
        this.t0 = Date.now();
    }
    start(section) {
        this.section = section;
        this.lastPct = -1;
        this.add(0);
    }
    add(units) {
        this.done += units;
        const pct = Math.floor((100 * this.done) / this.total);
        if (pct !== this.lastPct) {
            this.lastPct = pct;
            const s = ((Date.now() - this.t0) / 1000).toFixed(1);
            process.stderr.write(`${this.prefix}: ${this.section} ${pct}% (${s}s)\n`);
        }
    }
}

export const hex = (b) => Buffer.from(b).toString("hex");

// ---- fixed-base multiplication worker ---------------------------------------------------------
//
// Every point of the file is s·G for one of two fixed generators, so each worker tabulates
// d·2^(WINDOW·j)·G (d < 2^WINDOW) once and then needs one mixed addition per nonzero window of
// the scalar instead of a full double-and-add: about ten times fewer curve operations than
// ffjavascript's timesFr. The worker drives ffjavascript's own wasm (wasmcurves) directly.

function workerMain() {
    const { code, gens, window: W } = workerData;
    const memory = new WebAssembly.Memory({ initial: 64 });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(code), { env: { memory } });
    const ex = inst.exports;
    const per = (1 << W) - 1;
    const nWin = Math.ceil(FR_BITS / W);
    const masks = [];
    for (let j = 0; j < nWin; j++) masks.push((1 << Math.min(W, 256 - j * W)) - 1);
    const SCRATCH = 1 << 22; // room above the bump pointer for the wasm's own temporaries
    let free = new Uint32Array(memory.buffer, 0, 1)[0];
    const setFree = (p, scratch = SCRATCH) => {
        free = p;
        const need = free + scratch;
        if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
        new Uint32Array(memory.buffer, 0, 1)[0] = free; // the wasm allocates its scratch from here
    };
    const alloc = (n) => { const p = (free + 7) & ~7; setFree(p + n); return p; };
    const mem = () => new Uint8Array(memory.buffer);

    const groups = {};
    const table = (g) => {
        if (groups[g]) return groups[g];
        const pre = g === "G1" ? "g1m" : "g2m";
        const n8 = g === "G1" ? 32 : 64;
        const sGa = 2 * n8;
        const sGj = 3 * n8;
        const pT = alloc(nWin * per * sGa);
        const mark = free;
        const pB = alloc(sGa);
        const pD = alloc(sGj);
        const pJ = alloc(nWin * per * sGj);
        mem().set(gens[g], pB);
        for (let j = 0; j < nWin; j++) {
            const row = pJ + j * per * sGj;
            ex[pre + "_toJacobian"](pB, row);
            for (let d = 2; d <= per; d++) ex[pre + "_addMixed"](row + (d - 2) * sGj, pB, row + (d - 1) * sGj);
            // next window's base: 2^W·B = 2·(2^(W-1)·B)
            ex[pre + "_double"](row + ((1 << (W - 1)) - 1) * sGj, pD);
            ex[pre + "_toAffine"](pD, pB);
        }
        setFree(free, nWin * per * sGj * 2 + SCRATCH); // batchToAffine's own temporaries
        ex[pre + "_batchToAffine"](pJ, nWin * per, pT);
        setFree(mark);
        groups[g] = { pre, sGa, sGj, pT };
        return groups[g];
    };

    parentPort.on("message", ({ id, g, scalars }) => {
        const { pre, sGa, sGj, pT } = table(g);
        const mark = free;
        const n = scalars.byteLength / 32;
        const pS = alloc(n * 32 + 8);
        const pJ = alloc(n * sGj);
        const pA = alloc(n * sGa);
        let m = mem();
        m.set(scalars, pS);
        m.fill(0, pS + n * 32, pS + n * 32 + 8);
        for (let i = 0; i < n; i++) ex.frm_fromMontgomery(pS + 32 * i, pS + 32 * i);
        m = mem();
        const addMixed = ex[pre + "_addMixed"];
        const zero = ex[pre + "_zero"];
        for (let i = 0; i < n; i++) {
            const acc = pJ + i * sGj;
            zero(acc);
            const s = pS + 32 * i;
            for (let j = 0; j < nWin; j++) {
                const bit = j * W;
                const b = s + (bit >> 3);
                // The top window may read bytes past this scalar (the next scalar's, or the zero
                // padding): masks[j] keeps only bits below 256.
                const d = ((m[b] | (m[b + 1] << 8) | (m[b + 2] << 16)) >>> (bit & 7)) & masks[j];
                if (d !== 0) addMixed(acc, pT + (j * per + d - 1) * sGa, acc);
            }
        }
        setFree(free, n * sGj * 2 + SCRATCH);
        ex[pre + "_batchToAffine"](pJ, n, pA);
        const out = mem().slice(pA, pA + n * sGa);
        setFree(mark);
        parentPort.postMessage({ id, out }, [out.buffer]);
    });
}

/** A pool of fixed-base workers; mul() returns s_i·G for every Fr element in `scalars`. */
export class MulPool {
    constructor(code, gens, threads) {
        this.workers = [];
        this.idle = [];
        this.queue = [];
        this.pending = new Map();
        this.nextId = 0;
        for (let i = 0; i < threads; i++) {
            const w = new Worker(fileURLToPath(import.meta.url), { workerData: { fixedbase: true, code, gens, window: WINDOW } });
            w.on("message", ({ id, out }) => {
                const p = this.pending.get(id);
                this.pending.delete(id);
                this.idle.push(w);
                this.pump();
                p.resolve(out);
            });
            w.on("error", (e) => { for (const p of this.pending.values()) p.reject(e); this.pending.clear(); });
            this.workers.push(w);
            this.idle.push(w);
        }
    }
    pump() {
        while (this.idle.length && this.queue.length) {
            const w = this.idle.shift();
            const job = this.queue.shift();
            w.postMessage({ id: job.id, g: job.g, scalars: job.scalars }, [job.scalars.buffer]);
        }
    }
    job(g, scalars) {
        return new Promise((resolve, reject) => {
            const id = this.nextId++;
            this.pending.set(id, { resolve, reject });
            this.queue.push({ id, g, scalars });
            this.pump();
        });
    }
    async mul(g, scalars) {
        const n = scalars.byteLength / 32;
        const parts = [];
        for (let i = 0; i < n; i += TASK) parts.push(this.job(g, scalars.slice(i * 32, Math.min(n, i + TASK) * 32)));
        const res = await Promise.all(parts);
        const out = new Uint8Array(res.reduce((s, r) => s + r.byteLength, 0));
        let o = 0;
        for (const r of res) { out.set(r, o); o += r.byteLength; }
        return out;
    }
    /**
     * Run chunk jobs ({g, scalars: () => Fr elements, ...}) with one chunk of look-ahead:
     * while the workers multiply chunk c, this thread computes the scalars of chunk c+1;
     * `consume(chunk, points)` gets the results strictly in order.
     */
    async pipeline(chunks, consume) {
        let inflight = null;
        for (const c of chunks) {
            const next = { c, res: this.mul(c.g, c.scalars()) };
            if (inflight) await consume(inflight.c, await inflight.res);
            inflight = next;
        }
        if (inflight) await consume(inflight.c, await inflight.res);
    }
    async close() {
        await Promise.all(this.workers.map((w) => w.terminate()));
    }
}


/**
 * Lagrange scalars of level k (n = 2^k, w = Fr.w[k], natural order) at tau, times `factor`,
 * for i in [i0, i0+m), as one Uint8Array of Fr elements (Montgomery form, 32 bytes each):
 *   s_i = factor·(tau^n - 1)/n · w^i / (tau - w^i)                    (full level)
 *   s_i - factor·w^i·tau^(n-1)/n                                       (padded level: the
 *        top power tau^(n-1) missing, as snarkjs's level power+1 of a 2^power ptau)
 */
export function lagrangeScalars(Fr, tau, k, i0, m, factor, padded) {
    const n = 2 ** k;
    const w = Fr.w[k];
    const nInv = Fr.inv(Fr.e(n));
    const c = Fr.mul(Fr.mul(Fr.sub(Fr.exp(tau, n), Fr.one), nInv), factor);
    const d = padded ? Fr.mul(Fr.mul(Fr.exp(tau, n - 1), nInv), factor) : null;
    let wi = Fr.exp(w, i0);
    const wis = new Array(m);
    const den = new Array(m);
    for (let j = 0; j < m; j++) {
        wis[j] = wi;
        den[j] = Fr.sub(tau, wi);
        wi = Fr.mul(wi, w);
    }
    // batch inversion (Montgomery's trick)
    const acc = new Array(m);
    let a = Fr.one;
    for (let j = 0; j < m; j++) { acc[j] = a; a = Fr.mul(a, den[j]); }
    let inv = Fr.inv(a);
    const out = new Uint8Array(m * 32);
    for (let j = m - 1; j >= 0; j--) {
        const dInv = Fr.mul(inv, acc[j]);
        inv = Fr.mul(inv, den[j]);
        let s = Fr.mul(Fr.mul(c, wis[j]), dInv);
        if (padded) s = Fr.sub(s, Fr.mul(d, wis[j]));
        out.set(s, j * 32);
    }
    return out;
}

if (!isMainThread && workerData && workerData.fixedbase) workerMain();
