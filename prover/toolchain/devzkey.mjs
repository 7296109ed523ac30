#!/usr/bin/env node
/**
 * devzkey.mjs — a Groth16 proving key (.zkey, snarkjs's format) for DEVELOPMENT, in seconds.
 *
 * Usage:
 *   node devzkey.mjs <circuit.r1cs> <out.zkey> [--ptau-out FILE] [--seed HEX] [--name TEXT]
 *                    [--threads N] [--node-modules DIR]
 *
 * `snarkjs groth16 setup` (zkey new) builds every point of the key as a sum of the ptau's
 * Lagrange points weighted by the circuit's coefficients, one multi-exponentiation per wire.
 * Here tau, alpha, beta (and the phase-2 delta) are fresh random secrets known to this process
 * alone, so every point is a known scalar times a generator: the scalars come from the r1cs by
 * field arithmetic and the points from fixed-base tables in worker threads (fixedbase.mjs). The
 * secrets are dropped when the process exits.
 *
 * The file is what `snarkjs groth16 setup` on a ptau made from the same tau, alpha, beta, then
 * one `snarkjs zkey contribute` (with delta), would write, point for point:
 *
 *   1, 2   header: alpha·G1, beta·G1, beta·G2, gamma = G2 (snarkjs's choice), delta·G1, delta·G2
 *   3  IC   (beta·A_s(tau) + alpha·B_s(tau) + C_s(tau))·G1 for the public wires s <= nPublic
 *   4       the A and B coefficients (matrix, constraint, wire, coef·R^2), as zkey new writes
 *           them, including the rows nConstraints + s that bind each public wire
 *   5..7    A_s(tau)·G1, B_s(tau)·G1, B_s(tau)·G2 for every wire
 *   8  L    (beta·A_s + alpha·B_s + C_s)(tau)/delta·G1 for the private wires
 *   9  H    L^(2n)_(2i+1)(tau)/delta·G1, i < n (the odd points of the doubled domain, padded as
 *           snarkjs's level power+1 of a 2^power ptau, power = the circuit's)
 *   10      circuit hash (blake2b over the delta = 1 key, as zkey new computes it) and one
 *           contribution record (delta's public key, transcript, proof of knowledge)
 *
 * where A_s(X) = sum_c a_(c,s)·L_c(X) over the domain of n = 2^power roots of unity. So
 * `snarkjs zkey verify`, `zkey contribute`, `zkey export verificationkey|solidityverifier`,
 * snarkjs prove and groth16py's import_zkey all take it.
 *
 * --ptau-out FILE also writes the matching prepared ptau (of the circuit's power) with the same
 * tau, alpha, beta: devptau.mjs runs as a child with the seed in its environment
 * (--seed-env), so `snarkjs zkey verify circuit.r1cs FILE out.zkey` can check the key. It costs
 * several times the key itself. --seed HEX makes the key reproducible (tests only).
 *
 * Output: progress lines on stderr ("devzkey: [<part>] <pct>% (<seconds>s)"), one JSON summary
 * on stdout. The key is written to "<out>.tmp-<pid>" and renamed onto <out> when complete.
 * Exit status: 0 ok, 1 internal error, 2 bad arguments or r1cs, 3 snarkjs/node_modules not
 * found, 4 degenerate secret (practically impossible).
 *
 * DEVELOPMENT ONLY: whoever ran this could have kept tau and delta, and could then prove
 * anything; production keys come from a public ptau and a multi-party phase 2 (docs/ptau.md).
 */

import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import {
    CHUNK, MulPool, Progress, dier, findNodeModules, hex, lagrangeScalars, loadLibs, packageDir,
} from "./fixedbase.mjs";

const MAX_POWER = 27;
const die = dier("devzkey");
const SEED_ENV = "ZKMATCH_DEVZKEY_SEED";

function parseArgs(argv) {
    const pos = [];
    const opts = {
        seed: null, ptauOut: null, name: null, threads: 0,
        nodeModules: process.env.ZKMATCH_NODE_MODULES || null,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const needValue = () => {
            if (i + 1 >= argv.length) die(`${a} needs a value`);
            return argv[++i];
        };
        if (a === "--seed") opts.seed = needValue();
        else if (a === "--ptau-out") opts.ptauOut = path.resolve(needValue());
        else if (a === "--name") opts.name = needValue();
        else if (a === "--node-modules") opts.nodeModules = needValue();
        else if (a === "--threads") {
            const v = needValue();
            if (!/^[1-9]\d*$/.test(v)) die("--threads must be a positive integer");
            opts.threads = Number(v);
        } else if (a === "-h" || a === "--help") {
            process.stdout.write("usage: devzkey.mjs <circuit.r1cs> <out.zkey> [--ptau-out FILE] [--seed HEX] [--name TEXT] [--threads N] [--node-modules DIR]\n");
            process.exit(0);
        } else if (a.startsWith("--")) die(`unknown option ${a}`);
        else pos.push(a);
    }
    if (pos.length !== 2) die("expected <circuit.r1cs> <out.zkey>");
    if (opts.seed !== null && !/^(?:[0-9a-fA-F]{2})+$/.test(opts.seed)) die("--seed must be a non-empty even-length hex string");
    return { r1cs: path.resolve(pos[0]), out: path.resolve(pos[1]), ...opts };
}

async function loadMore(nodeModules) {
    const snarkjsDir = path.join(nodeModules, "snarkjs");
    const src = path.join(snarkjsDir, "src");
    const imp = (d, f) => import(pathToFileURL(path.join(d, f)).href);
    const binDir = packageDir(src, "@iden3/binfileutils");
    const r1csDir = packageDir(src, "r1csfile");
    const mainOf = (d) => {
        const pkg = JSON.parse(fs.readFileSync(path.join(d, "package.json")));
        return pkg.module || pkg.main || "main.js";
    };
    return {
        binfile: await imp(binDir, mainOf(binDir)),
        r1csfile: await imp(r1csDir, mainOf(r1csDir)),
        zkeyUtils: await imp(src, "zkey_utils.js"),
        keypair: await imp(src, "keypair.js"),
    };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const nodeModules = findNodeModules(args.nodeModules, die);
    const { ff, misc, blake2b, versions } = await loadLibs(nodeModules);
    const { binfile, r1csfile, zkeyUtils, keypair } = await loadMore(nodeModules);
    const t0 = Date.now();

    const curve = await ff.buildBn128(true);
    const { Fr, G1, G2 } = curve;
    const sG1 = G1.F.n8 * 2;
    const sG2 = G2.F.n8 * 2;
    const n8r = Fr.n8;

    // ---- the circuit -------------------------------------------------------------------------
    if (!fs.existsSync(args.r1cs)) die(`no such r1cs file: ${args.r1cs}`);
    let fdR1cs, sectionsR1cs, r1cs;
    try {
        ({ fd: fdR1cs, sections: sectionsR1cs } = await binfile.readBinFile(args.r1cs, "r1cs", 1, 1 << 22, 1 << 24));
        r1cs = await r1csfile.readR1csHeader(fdR1cs, sectionsR1cs, false);
    } catch (e) {
        die(`cannot read ${args.r1cs} as an r1cs file: ${e.message || e}`);
    }
    if (!ff.Scalar.eq(r1cs.prime, curve.r)) die("the r1cs is not over BN254's scalar field");
    const nPublic = r1cs.nOutputs + r1cs.nPubInputs;
    const nVars = r1cs.nVars;
    const nConstraints = r1cs.nConstraints;
    const nPrivate = nVars - nPublic - 1;
    // As zkey new: the smallest power with room for the constraints and the public-wire rows.
    const power = misc.log2(nConstraints + nPublic + 1 - 1) + 1;
    if (power > MAX_POWER) die(`circuit too big: 2^${power} > 2^${MAX_POWER}`);
    const n = 2 ** power;
    let sR1cs = await binfile.readSection(fdR1cs, sectionsR1cs, 2);
    if (!(sR1cs instanceof Uint8Array)) sR1cs = sR1cs.slice(0, sR1cs.byteLength);
    await fdR1cs.close();

    // ---- secrets -------------------------------------------------------------------------------
    // tau, alpha, beta are drawn exactly as devptau.mjs draws them from the same seed, so
    // --ptau-out can have devptau write the matching ptau.
    const rawSeed = args.seed === null ? crypto.randomBytes(32) : Buffer.from(args.seed, "hex");
    const chacha = (bytes) => {
        const words = [];
        for (let i = 0; i < 8; i++) words.push(bytes.readUInt32BE(4 * i));
        return new ff.ChaCha(words);
    };
    const rng = chacha(crypto.createHash("sha256").update(rawSeed).digest());
    const tau = Fr.fromRng(rng);
    const alpha = Fr.fromRng(rng);
    const beta = Fr.fromRng(rng);
    // delta: from fresh randomness, or from the seed (tests) through a different hash.
    const rngDelta = chacha(args.seed === null
        ? crypto.randomBytes(32)
        : crypto.createHash("sha256").update(Buffer.concat([rawSeed, Buffer.from("delta")])).digest());
    const delta = Fr.fromRng(rngDelta);
    if (Fr.isZero(tau) || Fr.eq(Fr.exp(tau, 2 ** (power + 1)), Fr.one)
        || Fr.isZero(alpha) || Fr.isZero(beta) || Fr.isZero(delta)) {
        die("degenerate secret drawn; run again", 4);
    }
    const deltaInv = Fr.inv(delta);

    let ptauSummary = null;
    if (args.ptauOut) {
        process.stderr.write(`devzkey: [ptau] devptau.mjs ${power} (same tau, alpha, beta)\n`);
        const child = spawnSync(process.execPath, [
            fileURLToPath(new URL("./devptau.mjs", import.meta.url)), String(power), args.ptauOut,
            "--seed-env", SEED_ENV, "--node-modules", nodeModules,
            ...(args.threads ? ["--threads", String(args.threads)] : []),
        ], { env: { ...process.env, [SEED_ENV]: rawSeed.toString("hex") }, stdio: ["ignore", "pipe", "inherit"] });
        if (child.status !== 0) die(`devptau.mjs failed (exit ${child.status})`, 1);
        ptauSummary = JSON.parse(child.stdout.toString().trim().split("\n").pop());
    }

    const threads = Math.max(1, args.threads || os.cpus().length || 1);
    const pool = new MulPool(curve.tm.code, { G1: G1.oneAffine, G2: G2.oneAffine }, threads);

    // ---- scalars: A_s(tau), B_s(tau), C_s(tau) -------------------------------------------------
    process.stderr.write(`devzkey: [scalars] ${nConstraints} constraints, ${nVars} wires, domain 2^${power}\n`);
    const rows = nConstraints + nPublic + 1;
    const lag = new Uint8Array(rows * n8r);
    for (let i = 0; i < rows; i += CHUNK) {
        const m = Math.min(CHUNK, rows - i);
        lag.set(lagrangeScalars(Fr, tau, power, i, m, Fr.one, false), i * n8r);
    }
    const vecA = new Uint8Array(nVars * n8r); // zero bytes = Fr zero (Montgomery form)
    const vecB = new Uint8Array(nVars * n8r);
    const vecC = new Uint8Array(nVars * n8r);
    const at = (buf, i) => buf.subarray(i * n8r, (i + 1) * n8r);

    // Section 4 as zkey new writes it: [matrix, constraint, wire, coef·R^2 (standard form, LE)].
    const Rr = ff.Scalar.mod(ff.Scalar.shl(1, n8r * 8), curve.r);
    const R2r = Fr.e(ff.Scalar.mod(ff.Scalar.mul(Rr, Rr), curve.r));
    const coefEntries = [];
    const dv = new DataView(sR1cs.buffer, sR1cs.byteOffset, sR1cs.byteLength);
    let p = 0;
    for (let c = 0; c < nConstraints; c++) {
        const lc = at(lag, c);
        for (let matrix = 0; matrix < 3; matrix++) {
            const nTerms = dv.getUint32(p, true); p += 4;
            const vec = matrix === 0 ? vecA : matrix === 1 ? vecB : vecC;
            for (let t = 0; t < nTerms; t++) {
                const s = dv.getUint32(p, true); p += 4;
                if (s >= nVars) die(`r1cs constraint ${c} names wire ${s} of ${nVars}`);
                const coef = Fr.fromRprLE(sR1cs, p);
                if (matrix < 2) coefEntries.push([matrix, c, s, sR1cs.subarray(p, p + n8r)]);
                p += n8r;
                vec.set(Fr.add(at(vec, s), Fr.mul(coef, lc)), s * n8r);
            }
        }
    }
    for (let s = 0; s <= nPublic; s++) {
        vecA.set(Fr.add(at(vecA, s), at(lag, nConstraints + s)), s * n8r);
        coefEntries.push([0, nConstraints + s, s, null]);
    }
    const coefSection = new Uint8Array(4 + coefEntries.length * (12 + n8r));
    const coefView = new DataView(coefSection.buffer);
    coefView.setUint32(0, coefEntries.length, true);
    const oneStd = new Uint8Array(n8r);
    Fr.toRprLE(oneStd, 0, Fr.one);
    coefEntries.forEach(([matrix, c, s, raw], k) => {
        const o = 4 + k * (12 + n8r);
        coefView.setUint32(o, matrix, true);
        coefView.setUint32(o + 4, c, true);
        coefView.setUint32(o + 8, s, true);
        Fr.toRprLE(coefSection, o + 12, Fr.mul(Fr.fromRprLE(raw || oneStd, 0), R2r));
    });
    // K_s = beta·A_s + alpha·B_s + C_s: IC for public wires (gamma = 1), L = K_s/delta otherwise.
    const vecK = new Uint8Array(nVars * n8r);
    for (let s = 0; s < nVars; s++) {
        vecK.set(Fr.add(Fr.add(Fr.mul(beta, at(vecA, s)), Fr.mul(alpha, at(vecB, s))), at(vecC, s)), s * n8r);
    }
    const scaled = (vec, from, to, factor) => {
        const out = new Uint8Array((to - from) * n8r);
        for (let s = from; s < to; s++) out.set(Fr.mul(factor, at(vec, s)), (s - from) * n8r);
        return out;
    };

    // ---- work accounting (a G2 point ~ 3 G1 points) ---------------------------------------------
    const total = (nPublic + 1) + (n - 1) + nPrivate + nVars + nVars + 3 * nVars + nPrivate + n;
    const prog = new Progress(total, "devzkey");

    // ---- output ----------------------------------------------------------------------------------
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    const tmp = `${args.out}.tmp-${process.pid}`;
    const cleanup = () => { try { fs.unlinkSync(tmp); } catch { /* gone */ } };
    process.on("SIGINT", () => { cleanup(); process.exit(130); });
    process.on("SIGTERM", () => { cleanup(); process.exit(143); });

    const csHasher = blake2b.create({ dkLen: 64 });
    const hashU32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, false); csHasher.update(b); };
    const gen = (G, s) => G.toAffine(G.timesFr(G.g, s));
    const alpha1 = gen(G1, alpha);
    const beta1 = gen(G1, beta);
    const beta2 = gen(G2, beta);
    const delta1 = gen(G1, delta);
    const delta2 = gen(G2, delta);
    for (const [G, pt] of [[G1, alpha1], [G1, beta1], [G2, beta2], [G2, G2.g], [G1, G1.g], [G2, G2.g]]) {
        const b = new Uint8Array(G.F.n8 * 2);
        G.toRprUncompressed(b, 0, pt);
        csHasher.update(b);
    }

    let fd;
    try {
        fd = await binfile.createBinFile(tmp, "zkey", 1, 10, 1 << 22, 1 << 24);
        await zkeyUtils.writeHeader(fd, {
            q: curve.q, nVars, nPublic, domainSize: n,
            vk_alpha_1: alpha1, vk_beta_1: beta1, vk_beta_2: beta2, vk_gamma_2: G2.g,
            vk_delta_1: delta1, vk_delta_2: delta2,
        });
        await binfile.startWriteSection(fd, 4);
        await fd.write(coefSection);
        await binfile.endWriteSection(fd);

        // Multiply `count` scalars (from makeScalars(i0, m)) in chunks (MulPool.pipeline)
        // and hand each result to `consume` in order.
        const points = async (label, g, count, makeScalars, consume) => {
            prog.start(label);
            const w = g === "G2" ? 3 : 1;
            const chunks = [];
            for (let i = 0; i < count; i += CHUNK) {
                const m = Math.min(CHUNK, count - i);
                chunks.push({ g, m, scalars: () => makeScalars(i, m) });
            }
            await pool.pipeline(chunks, async (c, out) => { await consume(out); prog.add(c.m * w); });
        };
        const hashOnly = async (G, out) => csHasher.update(await G.batchLEMtoU(out));
        const writeAndHash = async (G, out) => { await fd.write(out); await hashOnly(G, out); };
        const slice = (vec, base) => (i, m) => vec.slice((base + i) * n8r, (base + i + m) * n8r);

        // Circuit hash order (zkey new): IC, H (tau^i·(tau^n - 1), i < n-1), C, A, B1, B2.
        hashU32(nPublic + 1);
        await binfile.startWriteSection(fd, 3);
        await points("[IC]", "G1", nPublic + 1, slice(vecK, 0), (o) => writeAndHash(G1, o));
        await binfile.endWriteSection(fd);

        hashU32(n - 1);
        const zt = Fr.sub(Fr.exp(tau, n), Fr.one);
        await points("[H hash]", "G1", n - 1, (i0, m) => {
            const out = new Uint8Array(m * n8r);
            let s = Fr.mul(zt, Fr.exp(tau, i0));
            for (let j = 0; j < m; j++) { out.set(s, j * n8r); s = Fr.mul(s, tau); }
            return out;
        }, (o) => hashOnly(G1, o));

        hashU32(nPrivate);
        await points("[C hash]", "G1", nPrivate, slice(vecK, nPublic + 1), (o) => hashOnly(G1, o));

        for (const [id, label, g, vec] of [[5, "[A]", "G1", vecA], [6, "[B1]", "G1", vecB], [7, "[B2]", "G2", vecB]]) {
            hashU32(nVars);
            await binfile.startWriteSection(fd, id);
            await points(label, g, nVars, slice(vec, 0), (o) => writeAndHash(curve[g], o));
            await binfile.endWriteSection(fd);
        }
        const csHash = csHasher.digest();

        await binfile.startWriteSection(fd, 8);
        const kOverDelta = scaled(vecK, nPublic + 1, nVars, deltaInv);
        await points("[L]", "G1", nPrivate, slice(kOverDelta, 0), (o) => fd.write(o));
        await binfile.endWriteSection(fd);

        await binfile.startWriteSection(fd, 9);
        await points("[H]", "G1", n, (i0, m) => {
            // odd points 2i+1 of the doubled domain: level power+1, padded (power is the ptau's)
            const all = lagrangeScalars(Fr, tau, power + 1, 2 * i0, 2 * m, deltaInv, true);
            const out = new Uint8Array(m * n8r);
            for (let j = 0; j < m; j++) out.set(all.subarray((2 * j + 1) * n8r, (2 * j + 2) * n8r), j * n8r);
            return out;
        }, (o) => fd.write(o));
        await binfile.endWriteSection(fd);

        // One phase-2 contribution, as `snarkjs zkey contribute` records it.
        const hashG1 = (h, pt) => { const b = new Uint8Array(sG1); G1.toRprUncompressed(b, 0, pt); h.update(b); };
        const g1s = G1.toAffine(G1.fromRng(rngDelta));
        const g1sx = G1.toAffine(G1.timesFr(g1s, delta));
        const transcriptHasher = blake2b.create({ dkLen: 64 });
        transcriptHasher.update(csHash);
        hashG1(transcriptHasher, g1s);
        hashG1(transcriptHasher, g1sx);
        const transcript = transcriptHasher.digest();
        const g2sp = keypair.hashToG2(curve, transcript);
        const g2spx = G2.toAffine(G2.timesFr(g2sp, delta));
        const name = (args.name || "zkmatch devzkey (DEVELOPMENT ONLY, secrets discarded)").substring(0, 64);
        await zkeyUtils.writeMPCParams(fd, curve, {
            csHash,
            contributions: [{
                delta: { g1_s: g1s, g1_sx: g1sx, g2_spx: g2spx }, deltaAfter: delta1,
                transcript, type: 0, name,
            }],
        });
        await fd.close();
        fd = null;
        const fh = fs.openSync(tmp, "r+");
        fs.fsyncSync(fh);
        fs.closeSync(fh);
        fs.renameSync(tmp, args.out);

        const contributionHasher = blake2b.create({ dkLen: 64 });
        zkeyUtils.hashPubKey(contributionHasher, curve, {
            delta: { g1_s: g1s, g1_sx: g1sx, g2_spx: g2spx }, deltaAfter: delta1, transcript,
        });
        const summary = {
            path: args.out,
            bytes: fs.statSync(args.out).size,
            seconds: (Date.now() - t0) / 1000,
            power,
            constraints: nConstraints,
            wires: nVars,
            public: nPublic,
            circuit_hash: hex(csHash),
            contribution_hash: hex(contributionHasher.digest()),
            contribution_name: name,
            ptau: ptauSummary ? ptauSummary.path : null,
            seeded: args.seed !== null,
            threads,
            snarkjs: versions.snarkjs,
            ffjavascript: versions.ffjavascript,
            development_only: true,
        };
        process.stderr.write(`devzkey: done in ${summary.seconds.toFixed(1)}s\n`);
        process.stdout.write(JSON.stringify(summary) + "\n");
    } catch (e) {
        if (fd) { try { await fd.close(); } catch { /* closing after a failure */ } }
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
