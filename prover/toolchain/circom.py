"""circom 2: compile a circuit to R1CS, a witness-generator wasm and a symbol file.

:func:`compile_cpp` compiles the same circuit to circom's C++ witness generator
(``circom --c``: sources and a Makefile in ``<stem>_cpp/``; built and run by
:mod:`prover.toolchain.witness_cpp`).

The default circom is the ``circom2`` npm package (circom compiled to WebAssembly, run by
node under WASI). Its sandbox sees only files below its working folder and cannot follow
``..``; so :func:`compile_circuit` gives every path absolutely and runs in the deepest
folder that holds all of them (``/`` in the worst case), which works for the wasm build and
for a native ``circom`` binary alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prover.toolchain.common import Progress, ToolResult, run_tool, tool_command


@dataclass(frozen=True)
class CircomOutputs:
    """Files one compilation writes (names follow circom's own scheme)."""

    r1cs: Path
    wasm: Path
    sym: Path
    #: circom's log (template instances, constraint counts, ...).
    log: str
    seconds: float


def outputs_for(main: Path, out_dir: Path) -> tuple[Path, Path, Path]:
    """``(r1cs, wasm, sym)`` that circom writes for ``main`` into ``out_dir``."""
    stem = main.stem
    return (
        out_dir / f"{stem}.r1cs",
        out_dir / f"{stem}_js" / f"{stem}.wasm",
        out_dir / f"{stem}.sym",
    )


def build_command(
    circom: Sequence[str],
    main: Path,
    out_dir: Path,
    include_dirs: Sequence[Path] = (),
    *,
    optimization: int = 2,
    outputs: Sequence[str] = ("--r1cs", "--wasm", "--sym"),
) -> list[str]:
    """``circom main --r1cs --wasm --sym --O<n> -l ... -o out_dir`` (pure); ``outputs``
    replaces the three output flags."""
    if optimization not in (0, 1, 2):
        raise ValueError(f"circom optimization level must be 0, 1 or 2, not {optimization}")
    argv = [*circom, str(main), *outputs, f"--O{optimization}"]
    for include in include_dirs:
        argv += ["-l", str(include)]
    argv += ["-o", str(out_dir)]
    return argv


def sandbox_cwd(paths: Sequence[Path]) -> Path:
    """The deepest folder containing every path: the working folder circom2's WASI needs."""
    return Path(os.path.commonpath([str(p.resolve()) for p in paths]))


def run_circom(
    main: Path,
    out_dir: Path,
    include_dirs: Sequence[Path] = (),
    *,
    outputs: Sequence[str],
    expect: Callable[[Path, Path], Sequence[Path]],
    optimization: int = 2,
    timeout: float | None = 3600,
    progress: Progress | None = None,
) -> ToolResult:
    """Run circom on ``main`` with the output flags ``outputs`` into ``out_dir``.

    Paths are made absolute and circom runs in their deepest common folder (circom2's
    WASI sandbox sees nothing else); ``expect(main, out_dir)`` names the files that must
    exist afterwards.
    """
    main = main.resolve()
    out_dir = out_dir.resolve()
    includes = [p.resolve() for p in include_dirs]
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = build_command(
        tool_command("circom"),
        main,
        out_dir,
        includes,
        optimization=optimization,
        outputs=outputs,
    )
    return run_tool(
        "circom",
        argv,
        sandbox_cwd([main, out_dir, *includes]),
        expect=expect(main, out_dir),
        timeout=timeout,
        progress=progress,
    )


def compile_circuit(
    main: Path,
    out_dir: Path,
    include_dirs: Sequence[Path] = (),
    *,
    optimization: int = 2,
    timeout: float | None = 3600,
    progress: Progress | None = None,
) -> CircomOutputs:
    """Compile ``main`` into ``out_dir`` and check the three outputs exist."""
    result = run_circom(
        main,
        out_dir,
        include_dirs,
        outputs=("--r1cs", "--wasm", "--sym"),
        expect=outputs_for,
        optimization=optimization,
        timeout=timeout,
        progress=progress,
    )
    r1cs, wasm, sym = outputs_for(main.resolve(), out_dir.resolve())
    return CircomOutputs(r1cs, wasm, sym, result.output, result.seconds)


def cpp_dir_for(main: Path, out_dir: Path) -> Path:
    """The folder ``circom --c`` writes for ``main`` into ``out_dir`` (``<stem>_cpp``)."""
    return out_dir / f"{main.stem}_cpp"


def build_cpp_command(
    circom: Sequence[str],
    main: Path,
    out_dir: Path,
    include_dirs: Sequence[Path] = (),
    *,
    optimization: int = 2,
) -> list[str]:
    """``circom main --c --O<n> -l ... -o out_dir``: the C++ witness generator only (pure)."""
    return build_command(
        circom, main, out_dir, include_dirs, optimization=optimization, outputs=("--c",)
    )


def compile_cpp(
    main: Path,
    out_dir: Path,
    include_dirs: Sequence[Path] = (),
    *,
    optimization: int = 2,
    timeout: float | None = 3600,
    progress: Progress | None = None,
) -> Path:
    """Write the C++ witness generator of ``main`` into ``out_dir``; return its folder.

    Same sandbox rule as :func:`compile_circuit` (:func:`run_circom`). The folder holds
    ``<stem>.cpp``, ``<stem>.dat``, circom's runtime and a ``Makefile``.
    """

    def expect(m: Path, out: Path) -> list[Path]:
        folder = cpp_dir_for(m, out)
        return [folder / f"{m.stem}.cpp", folder / f"{m.stem}.dat", folder / "Makefile"]

    run_circom(
        main,
        out_dir,
        include_dirs,
        outputs=("--c",),
        expect=expect,
        optimization=optimization,
        timeout=timeout,
        progress=progress,
    )
    return cpp_dir_for(main.resolve(), out_dir.resolve())
