"""circom's C++ witness generator: check the build tools, ``make`` it, run it.

``circom --c`` (:func:`prover.toolchain.circom.compile_cpp`) writes C++ sources, an x86-64
assembly file and a ``Makefile``; ``make`` builds a native program ``<stem>`` that runs as
``<stem> input.json witness.wtns`` and writes the same ``.wtns`` file, byte for byte, as
``snarkjs wtns calculate`` with the wasm, 10-15 times faster on the batch circuit.

It is opt-in (``ZKMATCH_WITNESS=cpp|auto``, ``--witness``): building needs a C++ compiler,
``make``, ``nasm``, GMP and nlohmann/json, which ``make setup`` does not install. On Debian
or Ubuntu: ``apt-get install g++ make nasm libgmp-dev nlohmann-json3-dev``.
:func:`missing_build_tools` says which are absent; :func:`require_build_tools` turns that
into a :class:`~prover.errors.ToolError`.

Run as ``python -m prover.toolchain.witness_cpp`` (``make setup-cpp``) it prints what is
present and what is missing, and exits 1 if anything is.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from prover.errors import ToolError
from prover.toolchain.common import Progress, run_tool

#: Debian/Ubuntu packages that provide everything the generated Makefile uses.
APT_PACKAGES: Final = ("g++", "make", "nasm", "libgmp-dev", "nlohmann-json3-dev")
#: The command a user runs to get them.
APT_LINE: Final = "sudo apt-get install " + " ".join(APT_PACKAGES)

#: Executables the Makefile runs -> the apt package that provides each.
EXECUTABLES: Final = {"g++": "g++", "make": "make", "nasm": "nasm"}
#: Headers the C++ sources include -> the apt package that provides each.
HEADERS: Final = {"nlohmann/json.hpp": "nlohmann-json3-dev", "gmp.h": "libgmp-dev"}
#: circom's ``fr.asm`` is x86-64 assembly.
X86_64: Final = ("x86_64", "amd64")

#: Time limits (seconds): g++ -O3 on a big circuit takes minutes on a small machine.
MAKE_TIMEOUT = 3 * 3600
RUN_TIMEOUT = 3600


def header_dirs() -> list[Path]:
    """Where g++ looks for ``<...>`` headers: ``CPATH``, ``CPLUS_INCLUDE_PATH``, the system
    folders (multiarch ones included)."""
    dirs: list[Path] = []
    for var in ("CPATH", "CPLUS_INCLUDE_PATH"):
        dirs += [Path(p) for p in os.environ.get(var, "").split(os.pathsep) if p]
    dirs += [Path("/usr/local/include"), Path("/opt/homebrew/include")]
    system = Path("/usr/include")
    if system.is_dir():
        dirs += sorted(system.glob("*-linux-gnu"))
    dirs.append(system)
    return dirs


def missing_build_tools() -> list[str]:
    """What building the C++ generator lacks, one ``"what (apt package)"`` each; ``[]`` if
    nothing. Looks only at ``PATH`` and the header folders; runs nothing."""
    missing: list[str] = []
    if platform.machine().lower() not in X86_64:
        missing.append(f"an x86-64 CPU (this is {platform.machine()}; circom's fr.asm is x86-64)")
    for exe, package in EXECUTABLES.items():
        if shutil.which(exe) is None:
            missing.append(f"{exe} ({package})")
    dirs = header_dirs()
    for header, package in HEADERS.items():
        if not any((d / header).is_file() for d in dirs):
            missing.append(f"{header} ({package})")
    return missing


def packages_for(missing: Sequence[str]) -> list[str]:
    """The apt packages named in :func:`missing_build_tools`'s entries (pure)."""
    wanted = [m.rsplit("(", 1)[1].rstrip(")") for m in missing if m.endswith(")")]
    return [p for p in APT_PACKAGES if p in wanted]


def require_build_tools() -> None:
    """Raise a :class:`ToolError` naming what is missing and the apt line that installs it."""
    missing = missing_build_tools()
    if not missing:
        return
    packages = packages_for(missing)
    install = f"`sudo apt-get install {' '.join(packages)}` (Debian/Ubuntu)" if packages else ""
    raise ToolError(
        f"the C++ witness generator cannot be built: missing {', '.join(missing)}; "
        + (f"install with {install}, " if install else "")
        + "or use the wasm witness generator (ZKMATCH_WITNESS=wasm, --witness wasm)"
    )


def make_command(jobs: int = 1) -> list[str]:
    """``make -j<jobs>`` (pure); run in the ``<stem>_cpp`` folder."""
    if jobs < 1:
        raise ValueError(f"make needs at least one job, not {jobs}")
    return ["make", f"-j{jobs}"]


def calculate_command(binary: Path, input_json: Path, wtns: Path) -> list[str]:
    """``<binary> input.json witness.wtns`` (pure)."""
    return [str(binary), str(input_json), str(wtns)]


def make_generator(
    cpp_dir: Path, *, timeout: float | None = MAKE_TIMEOUT, progress: Progress | None = None
) -> tuple[Path, float]:
    """Build ``<stem>`` in circom's ``<stem>_cpp`` folder; return ``(binary, seconds)``.

    Checks the tools first (a clear :class:`ToolError` instead of a compiler error). Run it
    in a folder that is thrown away on failure: ``make`` may leave a partial binary.
    """
    require_build_tools()
    cpp_dir = cpp_dir.resolve()
    binary = cpp_dir / cpp_dir.name.removesuffix("_cpp")
    jobs = max(1, min(os.cpu_count() or 1, 4))
    result = run_tool(
        "make",
        make_command(jobs),
        cpp_dir,
        expect=[binary],
        timeout=timeout,
        progress=progress,
        check_version=False,
    )
    if not os.access(binary, os.X_OK):
        raise ToolError(f"make wrote {binary} but it is not executable")
    return binary, result.seconds


def wtns_calculate(
    binary: Path,
    input_json: Path,
    wtns: Path,
    *,
    timeout: float | None = RUN_TIMEOUT,
    progress: Progress | None = None,
) -> float:
    """Compute the witness with the built generator; returns the seconds it took.

    An input that breaks an ``assert`` or ``===`` makes the program abort
    (``Failed assert in template ...``): a :class:`ToolError`, as with the wasm.
    """
    argv = calculate_command(binary.resolve(), input_json.resolve(), wtns.resolve())
    result = run_tool(
        "witness (C++)",
        argv,
        wtns.resolve().parent,
        expect=[wtns],
        timeout=timeout,
        progress=progress,
        check_version=False,
    )
    return result.seconds


def main() -> int:
    """``make setup-cpp``: say what the C++ witness generator needs and what is missing."""
    print("circom's C++ witness generator (opt-in: ZKMATCH_WITNESS=cpp|auto, --witness) needs:")
    print(f"  {APT_LINE}")
    missing = missing_build_tools()
    for exe in EXECUTABLES:
        print(f"  {exe:18} {shutil.which(exe) or 'MISSING'}")
    dirs = header_dirs()
    for header in HEADERS:
        found = next((d / header for d in dirs if (d / header).is_file()), None)
        print(f"  {header:18} {found or 'MISSING'}")
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    print("all present: ZKMATCH_WITNESS=cpp (or --witness cpp) will build and use it")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
