#!/usr/bin/env node
/**
 * devptau.mjs — write a prepared ("phase2-ready") BN254 powers-of-tau file for DEVELOPMENT.
 *
 * Usage:
 *   node devptau.mjs <power> <out.ptau> [--seed HEX | --seed-env VAR] [--threads N] [--node-modules DIR] [--name TEXT]
 *
 * A fresh random tau, alpha and beta are drawn (from crypto.randomBytes, or from --seed for
 * reproducible test files), every point of the file is computed directly as a scalar multiple of
 * the generators, and the secrets are dropped when the process exits. The result has exactly the
 * layout of `snarkjs powersoftau new` + one `contribute` + `prepare phase2`:
 *
 *   1  header        n8, q, power, ceremonyPower
 *   2  tauG1         tau^i·G1,            i < 2^(power+1) - 1
 *   3  tauG2         tau^i·G2,            i < 2^power
 *   4  alphaTauG1    alpha·tau^i·G1,      i < 2^power
 *   5  betaTauG1     beta·tau^i·G1,       i < 2^power
 *   6  betaG2        beta·G2
 *   7  contributions one record: the points above, the public key with its proof of knowledge of
 *                    (tau, alpha, beta) bound to the first challenge, the response-hash state and
 *                    the next challenge hash, so `snarkjs powersoftau verify` accepts the file
 *   12 tauG1 Lagrange      for k = 0..power+1: L_i^(k)(tau)·G1, i < 2^k (level power+1 is made from
 *                          the 2^(power+1) - 1 powers of section 2, the missing top power being 0)
 *   13 tauG2 Lagrange      for k = 0..power:   L_i^(k)(tau)·G2
 *   14 alphaTauG1 Lagrange for k = 0..power:   alpha·L_i^(k)(tau)·G1
 *   15 betaTauG1 Lagrange  for k = 0..power:   beta·L_i^(k)(tau)·G1
 *
 * where L_i^(k) is the Lagrange basis polynomial of the 2^k-th roots of unity w^j (w = Fr.w[k] of
 * ffjavascript, natural order): L_i(X) = (X^n - 1)/n · w^i/(X - w^i), n = 2^k. Points are affine,
 * little-endian Montgomery form (the "LEM" representation snarkjs uses in ptau files).
 *
 * How: tau, alpha, beta and the proof-of-knowledge key come from snarkjs's own createPTauKey fed
 * by a ChaCha stream seeded with 32 random bytes (SHA-256 of --seed), as in `powersoftau
 * contribute`. The scalars are computed on this thread; the multiplications s·G run in worker
 * threads that drive ffjavascript's wasm (wasmcurves) with fixed-base tables of d·2^(12j)·G, one
 * mixed addition per 12-bit digit (~10x fewer curve operations than timesFr).
 *
 * Output: progress lines on stderr ("devptau: [<section>] <pct>% (<seconds>s)", pct = share of
 * the whole run's work, weighting a G2 point as three G1 points), one JSON
 * summary on stdout. The file is written to "<out>.tmp-<pid>" and renamed onto <out> when
 * complete; on failure or SIGINT/SIGTERM the temporary file is removed.
 * Exit status: 0 ok, 1 internal error, 2 bad arguments, 3 snarkjs/node_modules not found
 * ("run `make setup`"), 4 degenerate secret (practically impossible; only with a bad --seed).
 *
 * DEVELOPMENT ONLY: whoever ran this could have kept tau; a circuit set up on this file has no
 * soundness against that person. Production uses a public multi-party ceremony file.
 */

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isMainThread } from "node:worker_threads";
import {
    CHUNK, MulPool, Progress, dier, findNodeModules, hex, lagrangeScalars as lagrangeAt, loadLibs,
} from "./fixedbase.mjs";

const MAX_POWER = 27; // Fr.s = 28 for BN254; level power+1 must stay <= 28
const SECTION_COUNT = 11; // 1..7 and 12..15

const die = dier("devptau");

function parseArgs(argv) {
    const pos = [];
    const opts = { seed: null, nodeModules: process.env.ZKMATCH_NODE_MODULES || null, name: null, threads: 0 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const needValue = () => {
            if (i + 1 >= argv.length) die(`${a} needs a value`);
            return argv[++i];
        };
        if (a === "--seed") opts.seed = needValue();
        else if (a === "--seed-env") {
            // The seed from an environment variable: devzkey.mjs --ptau-out hands its secret
            // seed over this way, so it never appears on a command line.
            const name = needValue();
            if (!process.env[name]) die(`--seed-env: ${name} is not set`);
            opts.seed = process.env[name];
        }
        else if (a === "--node-modules") opts.nodeModules = needValue();
        else if (a === "--name") opts.name = needValue();
        else if (a === "--threads") {
            const v = needValue();
            if (!/^[1-9]\d*$/.test(v)) die("--threads must be a positive integer");
            opts.threads = Number(v);
        }
        else if (a === "-h" || a === "--help") {
            process.stdout.write("usage: devptau.mjs <power> <out.ptau> [--seed HEX | --seed-env VAR] [--threads N] [--node-modules DIR] [--name TEXT]\n");
            process.exit(0);
        } else if (a.startsWith("--")) die(`unknown option ${a}`);
        else pos.push(a);
    }
    if (pos.length !== 2) die("expected <power> <out.ptau>");
    if (!/^\d+$/.test(pos[0])) die(`power must be an integer, got ${JSON.stringify(pos[0])}`);
    const power = Number(pos[0]);
    if (power < 1 || power > MAX_POWER) die(`power must be in 1..${MAX_POWER}, got ${power}`);
    if (opts.seed !== null && !/^(?:[0-9a-fA-F]{2})+$/.test(opts.seed)) die("--seed must be a non-empty even-length hex string");
    return { power, out: path.resolve(pos[1]), ...opts };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const nodeModules = findNodeModules(args.nodeModules, die);
    const { ff, keypair, ptauUtils, misc, blake2b, versions } = await loadLibs(nodeModules);
    const t0 = Date.now();
    const power = args.power;

    // Single-threaded ffjavascript on this thread (hashing, conversions, field arithmetic); the
    // heavy multiplications go to our own fixed-base workers, which run the same wasm.
    const curve = await ff.buildBn128(true);
    const { Fr, G1, G2 } = curve;
    const sG1 = G1.F.n8 * 2;
    const sG2 = G2.F.n8 * 2;
    const threads = Math.max(1, args.threads || os.cpus().length || 1);
    const pool = new MulPool(curve.tm.code, { G1: G1.oneAffine, G2: G2.oneAffine }, threads);

    // ---- secrets -----------------------------------------------------------------------------
    // ChaCha is seeded with 8 words; a given --seed is first hashed to 32 bytes.
    const seedBytes = args.seed === null
        ? crypto.randomBytes(32)
        : crypto.createHash("sha256").update(Buffer.from(args.seed, "hex")).digest();
    const words = [];
    for (let i = 0; i < 8; i++) words.push(seedBytes.readUInt32BE(4 * i));
    const rng = new ff.ChaCha(words);
    // blake2b over the 2^power-sized blank accumulator: a few seconds at 2^20.
    process.stderr.write("devptau: [0] first challenge hash\n");
    const challenge = ptauUtils.calculateFirstChallengeHash(curve, power);
    // Same derivation as a snarkjs contribution on a fresh accumulator: tau, alpha, beta, then
    // for each a random g1_s, g1_sx = x·g1_s, g2_sp = hashToG2(challenge, g1_s, g1_sx), g2_spx.
    const key = keypair.createPTauKey(curve, challenge, rng);
    const tau = key.tau.prvKey;
    const alpha = key.alpha.prvKey;
    const beta = key.beta.prvKey;
    // tau must not be 0 nor a root of unity of any domain we tabulate (probability ~2^-220).
    if (Fr.isZero(tau) || Fr.eq(Fr.exp(tau, 2 ** (power + 1)), Fr.one)
        || Fr.isZero(alpha) || Fr.isZero(beta)) {
        die("degenerate secret drawn; use another seed", 4);
    }

    // ---- work accounting for progress (a G2 point costs ~3 G1 ones) --------------------------
    const N = 2 ** power;
    const g2w = 3;
    const total = (2 * N - 1) + g2w * N + N + N + g2w
        + (4 * N - 1) + g2w * (2 * N - 1) + (2 * N - 1) * 2;
    const prog = new Progress(total, "devptau");

    // ---- output file -------------------------------------------------------------------------
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    const tmp = `${args.out}.tmp-${process.pid}`;
    const fh = fs.openSync(tmp, "w+");
    let pos = 0;
    const write = (buf) => {
        let off = 0;
        while (off < buf.byteLength) off += fs.writeSync(fh, buf, off, buf.byteLength - off, pos + off);
        pos += buf.byteLength;
    };
    const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
    const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
    const sectionHeader = (id, size) => { write(u32(id)); write(u64(size)); };

    const cleanup = () => {
        try { fs.closeSync(fh); } catch { /* already closed */ }
        try { fs.unlinkSync(tmp); } catch { /* already gone */ }
    };
    process.on("SIGINT", () => { cleanup(); process.exit(130); });
    process.on("SIGTERM", () => { cleanup(); process.exit(143); });

    try {
        write(Buffer.from("ptau", "ascii"));
        write(u32(1));
        write(u32(SECTION_COUNT));

        // Section 1: header.
        const qBuf = new Uint8Array(G1.F.n8);
        ff.Scalar.toRprLE(qBuf, 0, curve.q, G1.F.n8);
        sectionHeader(1, 4 + G1.F.n8 + 4 + 4);
        write(u32(G1.F.n8));
        write(qBuf);
        write(u32(power));
        write(u32(power));

        // Sections 2..6: first·inc^i·gen.
        const responseHasher = blake2b.create({ dkLen: 64 });
        responseHasher.update(challenge);
        const geomStarts = {};
        const geometric = async (id, name, gName, nPoints, first, inc, w) => {
            prog.start(`[${id}] ${name}`);
            const G = curve[gName];
            const sG = G.F.n8 * 2;
            geomStarts[id] = { start: pos + 12, n: nPoints, G };
            sectionHeader(id, nPoints * sG);
            const chunks = [];
            let t = first;
            for (let i = 0; i < nPoints; i += CHUNK) {
                const n = Math.min(CHUNK, nPoints - i);
                const t0c = t;
                chunks.push({
                    g: gName, i, n,
                    scalars: () => {
                        const out = new Uint8Array(n * 32);
                        let s = t0c;
                        for (let j = 0; j < n; j++) { out.set(s, j * 32); s = Fr.mul(s, inc); }
                        return out;
                    },
                });
                t = Fr.mul(t, Fr.exp(inc, n));
            }
            const head = [];
            await pool.pipeline(chunks, async (c, out) => {
                write(out);
                responseHasher.update(await G.batchLEMtoC(out));
                if (c.i === 0) for (let j = 0; j < Math.min(2, c.n); j++) head.push(G.fromRprLEM(out, j * sG));
                prog.add(c.n * w);
            });
            return head;
        };
        const tauG1 = await geometric(2, "tauG1", "G1", 2 * N - 1, Fr.one, tau, 1);
        const tauG2 = await geometric(3, "tauG2", "G2", N, Fr.one, tau, g2w);
        const alphaG1 = await geometric(4, "alphaTauG1", "G1", N, alpha, tau, 1);
        const betaG1 = await geometric(5, "betaTauG1", "G1", N, beta, tau, 1);
        const betaG2 = await geometric(6, "betaG2", "G2", 1, beta, tau, g2w);

        // Consistency with the key: the contribution's points must be tau·G1 etc.
        if (!G1.eq(tauG1[1], G1.timesFr(G1.g, tau)) || !G2.eq(betaG2[0], G2.timesFr(G2.g, beta))) {
            throw new Error("internal error: fixed-base multiplication disagrees with timesFr");
        }

        // Response hash = blake2b(challenge ‖ compressed sections 2..6 ‖ public key, uncompressed);
        // the state before the key is stored ("partial hash") so verify can recompute it.
        const partialHash = misc.toPartialHash(responseHasher);
        const pubKeyU = new Uint8Array(sG1 * 6 + sG2 * 3);
        ptauUtils.toPtauPubKeyRpr(pubKeyU, 0, curve, key, false);
        responseHasher.update(pubKeyU);
        const responseHash = responseHasher.digest();

        // Next challenge = blake2b(response hash ‖ uncompressed sections 2..6), read back.
        prog.start("hashing");
        const nextHasher = blake2b.create({ dkLen: 64 });
        nextHasher.update(responseHash);
        for (const id of [2, 3, 4, 5, 6]) {
            const { start, n, G } = geomStarts[id];
            const sG = G.F.n8 * 2;
            const step = Math.floor((1 << 24) / sG);
            for (let i = 0; i < n; i += step) {
                const m = Math.min(step, n - i);
                const buf = new Uint8Array(m * sG);
                fs.readSync(fh, buf, 0, buf.byteLength, start + i * sG);
                nextHasher.update(await G.batchLEMtoU(buf));
            }
        }
        const nextChallenge = nextHasher.digest();

        // Section 7: one contribution record.
        const name = (args.name || "zkmatch devptau (DEVELOPMENT ONLY, secrets discarded)").substring(0, 64);
        const nameBytes = new TextEncoder().encode(name);
        const params = new Uint8Array([1, nameBytes.byteLength, ...nameBytes]);
        const pubKeyM = new Uint8Array(sG1 * 6 + sG2 * 3);
        ptauUtils.toPtauPubKeyRpr(pubKeyM, 0, curve, key, true);
        const lem = (G, p) => { const b = new Uint8Array(G.F.n8 * 2); G.toRprLEM(b, 0, p); return b; };
        const contrib = [
            u32(1),
            lem(G1, tauG1[1]), lem(G2, tauG2[1]), lem(G1, alphaG1[0]), lem(G1, betaG1[0]), lem(G2, betaG2[0]),
            pubKeyM, partialHash, nextChallenge,
            u32(0), // type 0: ordinary contribution (not a beacon)
            u32(params.byteLength), params,
        ];
        sectionHeader(7, contrib.reduce((s, b) => s + b.byteLength, 0));
        for (const b of contrib) write(b);

        // Sections 12..15: Lagrange evaluations.
        const lagrangeScalars = (k, i0, m, factor, padded) => lagrangeAt(Fr, tau, k, i0, m, factor, padded);

        const lagrange = async (id, name, gName, factor, levels, w) => {
            prog.start(`[${id}] ${name}`);
            const sG = curve[gName].F.n8 * 2;
            let nPoints = 0;
            for (let k = 0; k <= levels; k++) nPoints += 2 ** k;
            sectionHeader(id, nPoints * sG);
            const chunks = [];
            for (let k = 0; k <= levels; k++) {
                const n = 2 ** k;
                const padded = k === power + 1;
                for (let i = 0; i < n; i += CHUNK) {
                    const m = Math.min(CHUNK, n - i);
                    chunks.push({ g: gName, n: m, scalars: () => lagrangeScalars(k, i, m, factor, padded) });
                }
            }
            await pool.pipeline(chunks, async (c, out) => { write(out); prog.add(c.n * w); });
        };
        await lagrange(12, "tauG1 Lagrange", "G1", Fr.one, power + 1, 1);
        await lagrange(13, "tauG2 Lagrange", "G2", Fr.one, power, g2w);
        await lagrange(14, "alphaTauG1 Lagrange", "G1", alpha, power, 1);
        await lagrange(15, "betaTauG1 Lagrange", "G1", beta, power, 1);

        fs.fsyncSync(fh);
        fs.closeSync(fh);
        fs.renameSync(tmp, args.out);

        const summary = {
            path: args.out,
            power,
            ceremony_power: power,
            bytes: pos,
            seconds: (Date.now() - t0) / 1000,
            seeded: args.seed !== null,
            prepared: true,
            contribution_name: name,
            first_challenge_hash: hex(challenge),
            response_hash: hex(responseHash),
            next_challenge_hash: hex(nextChallenge),
            snarkjs: versions.snarkjs,
            ffjavascript: versions.ffjavascript,
            threads,
            development_only: true,
        };
        process.stderr.write(`devptau: done in ${summary.seconds.toFixed(1)}s\n`);
        process.stdout.write(JSON.stringify(summary) + "\n");
    } catch (e) {
        cleanup();
        throw e;
    } finally {
        await pool.close();
    }
}

if (isMainThread) {
    main().then(
        () => process.exit(0),
        (e) => die(e && e.stack ? e.stack : String(e), 1),
    );
}
