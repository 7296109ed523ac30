"""snarkjs 0.7.6: witness, Groth16 setup and phase-2 contributions, proving, verifying.

Every ``*_command`` function is pure (it returns the argument list); the function of the
same name without the suffix runs it through :func:`~prover.toolchain.common.run_tool` in the
folder of its output and checks that the output files exist.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prover.errors import ToolError
from prover.toolchain.common import Progress, run_tool, strip_ansi, tool_command

#: Time limits (seconds) for the long steps; generous, they only stop a hung process.
SETUP_TIMEOUT = 6 * 3600
PROVE_TIMEOUT = 3600
SHORT_TIMEOUT = 600


def build_command(snarkjs: Sequence[str], *words: str | Path) -> list[str]:
    """``snarkjs <words...>`` as an argument list (pure)."""
    return [*snarkjs, *(str(w) for w in words)]


def r1cs_info_command(snarkjs: Sequence[str], r1cs: Path) -> list[str]:
    return build_command(snarkjs, "r1cs", "info", r1cs)


def wtns_calculate_command(
    snarkjs: Sequence[str], wasm: Path, input_json: Path, wtns: Path
) -> list[str]:
    return build_command(snarkjs, "wtns", "calculate", wasm, input_json, wtns)


def groth16_setup_command(snarkjs: Sequence[str], r1cs: Path, ptau: Path, zkey: Path) -> list[str]:
    return build_command(snarkjs, "groth16", "setup", r1cs, ptau, zkey)


def zkey_contribute_command(
    snarkjs: Sequence[str], old: Path, new: Path, *, name: str, entropy: str
) -> list[str]:
    """A phase-2 contribution; ``entropy`` goes through ``-e`` so snarkjs does not prompt."""
    return build_command(snarkjs, "zkey", "contribute", old, new, f"-n={name}", f"-e={entropy}")


def zkey_beacon_command(
    snarkjs: Sequence[str], old: Path, new: Path, *, beacon: str, iterations: int, name: str
) -> list[str]:
    """The final phase-2 step: a contribution derived from a public random beacon."""
    return build_command(snarkjs, "zkey", "beacon", old, new, beacon, str(iterations),
                         f"-n={name}")


def zkey_verify_command(snarkjs: Sequence[str], r1cs: Path, ptau: Path, zkey: Path) -> list[str]:
    return build_command(snarkjs, "zkey", "verify", r1cs, ptau, zkey)


def export_verification_key_command(snarkjs: Sequence[str], zkey: Path, vkey: Path) -> list[str]:
    return build_command(snarkjs, "zkey", "export", "verificationkey", zkey, vkey)


def export_solidity_verifier_command(snarkjs: Sequence[str], zkey: Path, sol: Path) -> list[str]:
    return build_command(snarkjs, "zkey", "export", "solidityverifier", zkey, sol)


def groth16_prove_command(
    snarkjs: Sequence[str], zkey: Path, wtns: Path, proof: Path, public: Path
) -> list[str]:
    return build_command(snarkjs, "groth16", "prove", zkey, wtns, proof, public)


def groth16_verify_command(
    snarkjs: Sequence[str], vkey: Path, public: Path, proof: Path
) -> list[str]:
    return build_command(snarkjs, "groth16", "verify", vkey, public, proof)


@dataclass(frozen=True)
class R1csInfo:
    """What ``snarkjs r1cs info`` reports."""

    constraints: int
    wires: int
    private_inputs: int
    public_inputs: int
    outputs: int
    labels: int

    @property
    def public_signals(self) -> int:
        """Public signals of a proof: outputs first, then public inputs."""
        return self.outputs + self.public_inputs


def parse_r1cs_info(output: str) -> R1csInfo:
    """Parse the ``# of ...`` lines of ``snarkjs r1cs info`` (pure)."""
    fields = {
        "constraints": "Constraints",
        "wires": "Wires",
        "private_inputs": "Private Inputs",
        "public_inputs": "Public Inputs",
        "outputs": "Outputs",
        "labels": "Labels",
    }
    values: dict[str, int] = {}
    text = strip_ansi(output)
    for key, label in fields.items():
        match = re.search(rf"# of {label}: (\d+)", text)
        if match is None:
            raise ToolError(f"snarkjs r1cs info: no '# of {label}' in its output:\n{text[-500:]}")
        values[key] = int(match.group(1))
    return R1csInfo(**values)


def _cwd(path: Path) -> Path:
    return path.resolve().parent


def r1cs_info(r1cs: Path, *, progress: Progress | None = None) -> R1csInfo:
    """Constraint, wire and signal counts of a compiled circuit."""
    result = run_tool(
        "snarkjs",
        r1cs_info_command(tool_command("snarkjs"), r1cs.resolve()),
        _cwd(r1cs),
        timeout=SHORT_TIMEOUT,
        progress=progress,
    )
    return parse_r1cs_info(result.output)


def wtns_calculate(
    wasm: Path, input_json: Path, wtns: Path, *, progress: Progress | None = None
) -> float:
    """Compute the witness from an input JSON; returns the seconds it took."""
    argv = wtns_calculate_command(
        tool_command("snarkjs"), wasm.resolve(), input_json.resolve(), wtns.resolve()
    )
    result = run_tool(
        "snarkjs", argv, _cwd(wtns), expect=[wtns], timeout=PROVE_TIMEOUT, progress=progress
    )
    return result.seconds


def groth16_setup(r1cs: Path, ptau: Path, zkey: Path, *, progress: Progress | None = None) -> float:
    """Phase-2 start (``circuit_0000.zkey``, no contribution yet)."""
    argv = groth16_setup_command(
        tool_command("snarkjs"), r1cs.resolve(), ptau.resolve(), zkey.resolve()
    )
    result = run_tool(
        "snarkjs", argv, _cwd(zkey), expect=[zkey], timeout=SETUP_TIMEOUT, progress=progress
    )
    return result.seconds


def zkey_contribute(
    old: Path,
    new: Path,
    *,
    name: str,
    entropy: str | None = None,
    progress: Progress | None = None,
) -> float:
    """Add one phase-2 contribution; ``entropy`` defaults to 32 bytes of ``os.urandom``.

    The entropy is on the command line for the few seconds the process lives (snarkjs
    would otherwise prompt on a terminal); other local users can see it in the process
    table, so contribute on a machine you control.
    """
    if entropy is None:
        entropy = os.urandom(32).hex()
    argv = zkey_contribute_command(
        tool_command("snarkjs"), old.resolve(), new.resolve(), name=name, entropy=entropy
    )
    result = run_tool(
        "snarkjs", argv, _cwd(new), expect=[new], timeout=SETUP_TIMEOUT, progress=progress
    )
    return result.seconds


def zkey_beacon(
    old: Path, new: Path, *, beacon: str, iterations: int, name: str,
    progress: Progress | None = None,
) -> float:
    """Apply a random beacon (hex ``beacon``, 2^``iterations`` hash rounds) as the last
    contribution."""
    argv = zkey_beacon_command(tool_command("snarkjs"), old.resolve(), new.resolve(),
                               beacon=beacon, iterations=iterations, name=name)
    result = run_tool(
        "snarkjs", argv, _cwd(new), expect=[new], timeout=SETUP_TIMEOUT, progress=progress
    )
    return result.seconds


@dataclass(frozen=True)
class ZkeyVerification:
    """What ``snarkjs zkey verify`` said: ``ok``, and each contribution in order as
    ``(name, contribution hash)`` (a beacon's name as given)."""

    ok: bool
    contributions: tuple[tuple[str, str], ...]
    output: str


_CONTRIB = re.compile(
    r"contribution #(\d+) (.*?):\s*\n((?:\s+[0-9a-f]{8}(?: [0-9a-f]{8}){3}\s*\n){4})"
)


def parse_zkey_verify(output: str) -> ZkeyVerification:
    """Parse ``snarkjs zkey verify``'s output (pure): ``ZKey Ok!`` and the contributions."""
    text = strip_ansi(output)
    lines = [line.split("snarkJS: ", 1)[-1] for line in text.splitlines()]
    body = "\n".join(lines) + "\n"
    found = []
    for match in _CONTRIB.finditer(body):
        digest = "".join(match.group(3).split())
        found.append((int(match.group(1)), match.group(2).strip(), digest))
    found.sort()
    return ZkeyVerification("ZKey Ok!" in text, tuple((n, h) for _, n, h in found), text)


def zkey_verify(
    r1cs: Path, ptau: Path, zkey: Path, *, progress: Progress | None = None
) -> ZkeyVerification:
    """``snarkjs zkey verify``: the key is the r1cs's, from the ptau, through valid
    contributions. A refused key is ``ok=False``, not an error."""
    argv = zkey_verify_command(tool_command("snarkjs"), r1cs.resolve(), ptau.resolve(),
                               zkey.resolve())
    result = run_tool("snarkjs", argv, _cwd(zkey), timeout=SETUP_TIMEOUT, progress=progress,
                      ok_codes=(0, 1))
    return parse_zkey_verify(result.output)


def export_verification_key(zkey: Path, vkey: Path, *, progress: Progress | None = None) -> float:
    argv = export_verification_key_command(tool_command("snarkjs"), zkey.resolve(), vkey.resolve())
    result = run_tool(
        "snarkjs", argv, _cwd(vkey), expect=[vkey], timeout=SHORT_TIMEOUT, progress=progress
    )
    return result.seconds


def export_solidity_verifier(zkey: Path, sol: Path, *, progress: Progress | None = None) -> float:
    argv = export_solidity_verifier_command(tool_command("snarkjs"), zkey.resolve(), sol.resolve())
    result = run_tool(
        "snarkjs", argv, _cwd(sol), expect=[sol], timeout=SHORT_TIMEOUT, progress=progress
    )
    return result.seconds


def groth16_prove(
    zkey: Path, wtns: Path, proof: Path, public: Path, *, progress: Progress | None = None
) -> float:
    """Write ``proof.json`` and ``public.json`` (snarkjs's own formats)."""
    argv = groth16_prove_command(
        tool_command("snarkjs"), zkey.resolve(), wtns.resolve(), proof.resolve(), public.resolve()
    )
    result = run_tool(
        "snarkjs",
        argv,
        _cwd(proof),
        expect=[proof, public],
        timeout=PROVE_TIMEOUT,
        progress=progress,
    )
    return result.seconds


def groth16_verify(vkey: Path, public: Path, proof: Path) -> bool:
    """``True`` iff snarkjs accepts the proof; ``False`` when it says ``Invalid proof``.

    Any other failure (unreadable files, malformed JSON) is a :class:`ToolError`, so a
    broken setup is never mistaken for a rejected proof.
    """
    argv = groth16_verify_command(
        tool_command("snarkjs"), vkey.resolve(), public.resolve(), proof.resolve()
    )
    result = run_tool("snarkjs", argv, _cwd(proof), timeout=SHORT_TIMEOUT, ok_codes=(0, 1))
    if "OK!" in result.output and "Invalid proof" not in result.output:
        return True
    if "Invalid proof" in result.output:
        return False
    raise ToolError(f"snarkjs groth16 verify failed: {' '.join(argv)}\n{result.output[-1500:]}")
