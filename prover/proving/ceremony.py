"""The production setup as a ceremony: phase 2 from a public ptau, contributions from several
parties on their own machines, checked as a whole, finished with a random beacon.

A ceremony lives in one folder that travels between the parties::

    ceremony.json        circuit (name, template, params, cache key), r1cs and ptau SHA-256,
                         every key in order with its SHA-256 and who made it
    circuit.r1cs         the circuit (contributors and verifiers need it with the ptau)
    circuit_0000.zkey    `snarkjs groth16 setup` on the ptau (no contribution yet)
    circuit_0001.zkey    each contribution adds one key; nobody needs the earlier ones back
    circuit_final.zkey   after the beacon

:func:`start` (the coordinator), :func:`contribute` (any party: it needs only this folder and
snarkjs), :func:`verify` (anyone: ``snarkjs zkey verify`` of the latest key against the r1cs
and the ptau, which recomputes the key from phase 1 and checks every contribution's proof of
knowledge), :func:`finalize` (the coordinator: a beacon, a last verify, and the key installed
as the circuit's current setup in the build cache, so ``zkmatch deploy``/``prove`` use it).
The circuit is sound if one contributor destroyed their secret and phase 1 was honest.
Docs: docs/ptau.md ("A phase-2 ceremony").
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.errors import SetupError
from prover.proving import circuit as C
from prover.proving.circuit import CircuitSpec
from prover.toolchain import cache, snarkjs
from prover.toolchain.common import Progress, tool_versions
from prover.toolchain.ptau import check_ptau, file_sha256, required_power

MANIFEST = "ceremony.json"
R1CS = "circuit.r1cs"
FINAL = "circuit_final.zkey"
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


@dataclass(frozen=True)
class Verified:
    """The outcome of :func:`verify`: the key checked and its contributions, in order."""

    ok: bool
    zkey: Path
    contributions: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "zkey": str(self.zkey),
            "contributions": [{"name": n, "hash": h} for n, h in self.contributions],
        }


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except OSError as exc:
        raise SetupError(f"{folder} is not a ceremony folder (no readable {MANIFEST})") from exc
    except json.JSONDecodeError as exc:
        raise SetupError(f"{path} is not valid JSON: {exc}") from exc
    return data


def _latest(folder: Path, manifest: dict[str, Any]) -> Path:
    """The newest key of the ceremony, checked against its recorded SHA-256."""
    entry = manifest["keys"][-1]
    path = folder / entry["file"]
    if not path.is_file():
        raise SetupError(f"the ceremony's latest key {path} is missing")
    if file_sha256(path) != entry["sha256"]:
        raise SetupError(f"{path} is not the key {MANIFEST} records (its SHA-256 differs)")
    return path


def start(
    spec: CircuitSpec, ptau: Path, folder: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Compile ``spec`` (cached), check the ptau, and write the ceremony's first key."""
    if (folder / MANIFEST).exists():
        raise SetupError(f"{folder} already holds a ceremony; use a new folder")
    versions = tool_versions(("circom", "snarkjs"))
    key = C.compile_key(spec, versions)
    entry = C.entry_dir(spec, key)
    if not (entry / "circuit.json").is_file():
        C._compile_stage(spec, entry, key, versions, progress)
    info = json.loads((entry / "circuit.json").read_text())["r1cs"]
    n_public = int(info["outputs"]) + int(info["public_inputs"])
    power = required_power(int(info["constraints"]), n_public)
    check_ptau(ptau, power)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(entry / "circuit.r1cs", folder / R1CS)
    first = folder / "circuit_0000.zkey"
    _say(progress, f"ceremony: groth16 setup of {spec.name} on {ptau.name} (2^{power} needed)")
    seconds = snarkjs.groth16_setup(folder / R1CS, ptau, first, progress=progress)
    manifest = {
        "circuit": {"name": spec.name, "source": spec.source, "template": spec.template,
                    "params": list(spec.params), "public": list(spec.public), "key": key},
        "constraints": int(info["constraints"]),
        "r1cs_sha256": file_sha256(folder / R1CS),
        "ptau": {"file": ptau.name, "sha256": file_sha256(ptau), "power": power},
        "keys": [{"file": first.name, "sha256": file_sha256(first), "by": "groth16 setup",
                  "seconds": round(seconds, 3)}],
        "finalized": False,
    }
    cache.write_json_atomic(folder / MANIFEST, manifest)
    return manifest


def contribute(
    folder: Path, name: str, *, entropy: str | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Add one contribution to the ceremony in ``folder`` (entropy from os.urandom unless
    given); returns the manifest entry of the new key, with its contribution hash."""
    manifest = read_manifest(folder)
    if manifest.get("finalized"):
        raise SetupError(f"the ceremony in {folder} is finalized; it takes no contribution")
    if not name.strip():
        raise SetupError("a contribution needs a name (who contributed), e.g. --name alice")
    old = _latest(folder, manifest)
    index = len(manifest["keys"])
    new = folder / f"circuit_{index:04d}.zkey"
    _say(progress, f"ceremony: contribution {index} by {name} on {old.name}")
    seconds = snarkjs.zkey_contribute(old, new, name=name, entropy=entropy, progress=progress)
    record = {"file": new.name, "sha256": file_sha256(new), "by": name,
              "seconds": round(seconds, 3)}
    manifest["keys"].append(record)
    cache.write_json_atomic(folder / MANIFEST, manifest)
    return record


def verify(
    folder: Path, ptau: Path, zkey: Path | None = None, progress: Progress | None = None
) -> Verified:
    """``snarkjs zkey verify`` of the ceremony's latest key (or ``zkey``) against its r1cs
    and ``ptau`` (which must be the one the ceremony started from)."""
    manifest = read_manifest(folder)
    if file_sha256(ptau) != manifest["ptau"]["sha256"]:
        raise SetupError(f"{ptau} is not the ptau this ceremony started from")
    if file_sha256(folder / R1CS) != manifest["r1cs_sha256"]:
        raise SetupError(f"{folder / R1CS} is not the circuit this ceremony started from")
    target = zkey or _latest(folder, manifest)
    _say(progress, f"ceremony: snarkjs zkey verify {target.name}")
    result = snarkjs.zkey_verify(folder / R1CS, ptau, target, progress=progress)
    return Verified(result.ok, target, result.contributions)


def finalize(
    folder: Path,
    ptau: Path,
    spec: CircuitSpec,
    *,
    beacon: str,
    iterations: int = 10,
    progress: Progress | None = None,
) -> tuple[Verified, C.Artifacts]:
    """Apply the beacon (a public random value, hex, fixed in advance: a future block hash,
    say), verify the whole chain, and install the final key as ``spec``'s current setup."""
    manifest = read_manifest(folder)
    if manifest.get("finalized"):
        raise SetupError(f"the ceremony in {folder} is already finalized")
    if not _HEX.match(beacon):
        raise SetupError("the beacon must be an even-length hex string (e.g. a block hash)")
    if not 10 <= iterations <= 63:
        raise SetupError("beacon iterations (2^n hash rounds) must be 10 to 63 (snarkjs)")
    if len(manifest["keys"]) < 2:
        raise SetupError("a ceremony needs at least one contribution before its beacon")
    versions = tool_versions(("circom", "snarkjs"))
    key = C.compile_key(spec, versions)
    if key != manifest["circuit"]["key"]:
        raise SetupError(f"{spec.name} is not the circuit of this ceremony (sources changed?)")
    old = _latest(folder, manifest)
    final = folder / FINAL
    _say(progress, f"ceremony: beacon {beacon[:16]}... (2^{iterations} rounds)")
    snarkjs.zkey_beacon(old, final, beacon=beacon, iterations=iterations,
                        name="zkmatch final beacon", progress=progress)
    checked = verify(folder, ptau, final, progress)
    if not checked.ok:
        final.unlink(missing_ok=True)
        raise SetupError(f"snarkjs zkey verify refused the final key of {folder}")
    manifest["keys"].append({"file": FINAL, "sha256": file_sha256(final), "by": "beacon",
                             "beacon": beacon, "iterations": iterations})
    manifest["finalized"] = True
    cache.write_json_atomic(folder / MANIFEST, manifest)
    artifacts = install(spec, final, ptau, manifest, progress)
    return checked, artifacts


def install(
    spec: CircuitSpec, zkey: Path, ptau: Path, manifest: dict[str, Any],
    progress: Progress | None = None,
) -> C.Artifacts:
    """Make ``zkey`` the current setup of ``spec``'s cache entry (``setup-ceremony-<sha>``)."""
    versions = tool_versions(("circom", "snarkjs"))
    key = C.compile_key(spec, versions)
    entry = C.entry_dir(spec, key)
    setup = entry / f"setup-ceremony-{file_sha256(zkey)[:16]}"
    if not (setup / "setup.json").is_file():
        with cache.atomic_dir(setup) as temp:
            shutil.copyfile(zkey, temp / "circuit_final.zkey")
            start_s = time.monotonic()
            export_s = C._export_stage(temp / "circuit_final.zkey", temp, progress)
            cache.write_json_atomic(temp / "setup.json", {
                "kind": "ptau",
                "ptau": str(ptau.resolve()),
                "power": manifest["ptau"]["power"],
                "contributions": len(manifest["keys"]) - 1,
                "ceremony": {"keys": manifest["keys"], "r1cs_sha256": manifest["r1cs_sha256"]},
                "timings": {"export": export_s, "install": time.monotonic() - start_s},
            })
    cache.write_text_atomic(entry / "current", setup.name + "\n")
    _say(progress, f"ceremony: installed as {setup.name}, now the current setup of {spec.name}")
    return C.build(spec, setup_kind="ptau")
