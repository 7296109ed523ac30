"""Mutants of the circom sources: one rule's constraint removed or weakened at a time.

A *site* is one constraint-making statement of a ``.circom`` file, and each site gives
the mutants of one *operator*:

- ``drop``: a ``===`` constraint is deleted;
- ``unpin``: ``x <== e`` becomes ``x <-- e + 1``: the constraint is gone and the witness
  generator picks another value, as a cheating prover free to choose ``x`` would (a test
  fails if that value changes any state it checks or lets a broken rule through);
- ``hint``: a hint ``x <-- e`` becomes ``x <-- e + 1``: if the constraints that are meant
  to pin the hint do pin it, the honest witness is now rejected;
- ``widen``: a range check ``Num2Bits(n)``, ``UnsignedRange(n)``, ``SignedRange(n)`` or
  ``IsNonNegative(n)`` of a plain signal accepts one more bit (of an expression, a
  comparison, the width does not matter: :func:`_bounds_a_signal`).

:func:`apply` writes a full copy of ``circuits/`` with the mutations applied under
``build/mutants/<hash>/`` (inside the repository: circom, as WebAssembly, sees no file
outside its working folder), which :func:`tests.circuits.harness.compile_main` compiles
with ``sources=...``, and ``scripts/mutate.py`` passes to a test run through
``ZKMATCH_CIRCUITS_DIR``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.circuits.harness import circuits_dir

ROOT = Path(__file__).resolve().parents[2]
CIRCUITS = ROOT / "circuits"
MUTANTS = ROOT / "build" / "mutants"

OPERATORS = ("drop", "unpin", "hint", "widen")
_RANGE = re.compile(
    r"\b(Num2Bits|UnsignedRange|SignedRange|IsNonNegative)\(((?:[^()]|\([^()]*\))*)\)"
)


@dataclass(frozen=True)
class Mutation:
    """Replace the text ``old`` at ``start`` of ``file`` (relative to circuits/) by ``new``."""

    file: str
    start: int
    old: str
    new: str

    def apply_to(self, text: str) -> str:
        if text[self.start : self.start + len(self.old)] != self.old:
            raise ValueError(f"{self.file}: {self.old!r} is not at offset {self.start}")
        return text[: self.start] + self.new + text[self.start + len(self.old) :]


@dataclass(frozen=True)
class Mutant:
    """One mutant: an operator applied at one site."""

    operator: str
    file: str
    line: int
    statement: str
    mutation: Mutation

    occurrence: int = 0
    """How many earlier sites of the file have the same statement and operator."""

    @property
    def id(self) -> str:
        """Stable across edits elsewhere in the file (the line number is not part of it)."""
        digest = hashlib.sha256(
            f"{self.file}|{self.statement}|{self.mutation.new}|{self.occurrence}".encode()
        ).hexdigest()[:8]
        return f"{Path(self.file).stem}:{self.operator}:{digest}"


def statements(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every statement ending in ``;`` outside comments and parentheses.

    ``start`` skips leading blanks and comments, so ``text[start:end]`` is the statement
    itself (``end`` just after its ``;``). Braces end a statement too (``{`` of a block).
    """
    spans: list[tuple[int, int]] = []
    i, n, depth, start = 0, len(text), 0, None
    while i < n:
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text.startswith("/*", i):
            i = text.find("*/", i)
            i = n if i < 0 else i + 2
            continue
        c = text[i]
        if c in "({[":
            depth += 1 if c == "(" else 0
        if c == ")":
            depth -= 1
        if start is None and not c.isspace() and c not in "{}":
            start = i
        if c in "{}" and depth == 0:
            start = None
        elif c == ";" and depth == 0:
            if start is not None:
                spans.append((start, i + 1))
            start = None
        i += 1
    return spans


def _bounds_a_signal(text: str, head: str) -> bool:
    """Whether the range check instantiated as ``head`` (``name = `` or ``name[i] = ``)
    bounds a plain signal (``name.in <== x``), where its width is the bound. A check of an
    expression (``a - b - 1``, ``used * (x - y)``: a comparison of operands bounded
    elsewhere, the convention "range before compare") only needs to exclude wrapped
    negatives, which any width below the field does: widening it by a bit is an
    equivalent mutant, so it is not generated. A ``component x = ...`` declaration with
    no binding found is kept."""
    name = re.sub(r"^component\s+", "", head.strip()).split("=")[0].strip()
    name = re.sub(r"\[[^\]]*\]", "", name)
    if not name:
        return True
    binding = re.search(rf"\b{re.escape(name)}(\[[^\]]*\])*\.in\s*<==\s*([^;]+);", text)
    if binding is None:
        return True
    rhs = binding.group(2)
    while re.search(r"\[[^\[\]]*\]", rhs):  # index expressions do not count
        rhs = re.sub(r"\[[^\[\]]*\]", "", rhs)
    return re.fullmatch(r"\s*[\w.]+\s*", rhs) is not None


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def sites(file: str, text: str) -> list[Mutant]:
    """Every mutant of one source file (``file`` relative to circuits/)."""
    out = _sites(file, text)
    seen: dict[tuple[str, str, str], int] = {}
    numbered = []
    for m in out:
        key = (m.statement, m.operator, m.mutation.new)
        numbered.append(replace_field(m, seen.get(key, 0)))
        seen[key] = seen.get(key, 0) + 1
    return numbered


def replace_field(m: Mutant, occurrence: int) -> Mutant:
    return Mutant(m.operator, m.file, m.line, m.statement, m.mutation, occurrence)


def _sites(file: str, text: str) -> list[Mutant]:
    out: list[Mutant] = []
    for start, end in statements(text):
        stmt = text[start:end]
        flat = " ".join(stmt.split())
        line = _line(text, start)
        if flat.startswith(("var ", "return ", "include ", "pragma ", "function ")):
            continue
        if flat.startswith("component ") and _RANGE.search(stmt) is None:
            continue  # a declaration; `signal x <== e;` is kept: it constrains x
        if "===" in stmt:
            out.append(Mutant("drop", file, line, flat, Mutation(file, start, stmt, "")))
        elif "<==" in stmt:
            lhs, rhs = stmt.split("<==", 1)
            body = rhs.rstrip().removesuffix(";").rstrip()
            new = f"{lhs}<-- ({body.strip()}) + 1;"
            out.append(Mutant("unpin", file, line, flat, Mutation(file, start, stmt, new)))
        elif "<--" in stmt:
            lhs, rhs = stmt.split("<--", 1)
            body = rhs.rstrip().removesuffix(";").rstrip()
            new = f"{lhs}<-- ({body.strip()}) + 1;"
            out.append(Mutant("hint", file, line, flat, Mutation(file, start, stmt, new)))
        for m in _RANGE.finditer(stmt):
            if not _bounds_a_signal(text, stmt[: m.start()]):
                continue
            arg = m.group(2).strip()
            new_call = f"{m.group(1)}(({arg}) + 1)"
            offset = start + m.start()
            out.append(
                Mutant("widen", file, _line(text, offset), flat,
                       Mutation(file, offset, m.group(0), new_call))
            )
    return out


def all_sites(files: list[str] | None = None) -> list[Mutant]:
    """Mutants of ``files`` (relative to circuits/; default: lib/*.circom and main/Batch)."""
    if files is None:
        files = [str(p.relative_to(CIRCUITS)) for p in sorted((CIRCUITS / "lib").glob("*.circom"))]
        files.append("main/Batch.circom")
    out: list[Mutant] = []
    for file in files:
        out.extend(sites(file, (CIRCUITS / file).read_text()))
    return out


def sources_fingerprint(sources: Path = CIRCUITS) -> str:
    """A hash of the circom sources with comments and blank space removed: what a
    mutation result depends on (a comment edit keeps earlier results valid)."""
    h = hashlib.sha256()
    for path in sorted(sources.rglob("*.circom")):
        text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        h.update(str(path.relative_to(sources)).encode())
        h.update(" ".join(text.split()).encode())
    return h.hexdigest()[:16]


def apply(*mutations: Mutation, sources: Path | None = None) -> Path:
    """A copy of ``sources`` (default: the circuits under test, ``harness.circuits_dir()``)
    with ``mutations`` applied, under build/mutants/; its path.

    Cached by the hash of the result, so applying the same mutations twice is free.
    """
    sources = sources or circuits_dir()
    texts: dict[str, str] = {}
    for m in mutations:
        if m.file not in texts:
            texts[m.file] = (sources / m.file).read_text()
    # Apply from the end of each file, so earlier offsets stay valid.
    for m in sorted(mutations, key=lambda m: (m.file, -m.start)):
        texts[m.file] = m.apply_to(texts[m.file])
    h = hashlib.sha256()
    for path in sorted(sources.rglob("*.circom")):
        rel = str(path.relative_to(sources))
        h.update(rel.encode())
        h.update(texts.get(rel, path.read_text()).encode())
    target = MUTANTS / h.hexdigest()[:16] / "circuits"
    if not target.exists():
        work = target.parent.parent / f".{target.parent.name}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(sources, work / "circuits")
        for rel, text in texts.items():
            (work / "circuits" / rel).write_text(text)
        target.parent.parent.mkdir(parents=True, exist_ok=True)
        try:
            work.rename(target.parent)
        except OSError:  # another process made it first
            shutil.rmtree(work, ignore_errors=True)
    return target


def replace(file: str, old: str, new: str = "", sources: Path | None = None) -> Mutation:
    """The mutation that replaces the one occurrence of ``old`` in ``file`` by ``new``."""
    text = ((sources or circuits_dir()) / file).read_text()
    if text.count(old) != 1:
        raise ValueError(f"{old!r} occurs {text.count(old)} times in {file}, not once")
    return Mutation(file, text.index(old), old, new)


def check_hints() -> list[str]:
    """Every ``<--`` in circuits/ has a comment naming what pins it (on its line or in the
    comment block just above it): the problems found."""
    problems = []
    for path in sorted(CIRCUITS.rglob("*.circom")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            code = line.split("//", 1)[0]
            if "<--" not in code:
                continue
            comments = [line.split("//", 1)[1]] if "//" in line else []
            j = i - 1
            # the comment block above, skipping the hints of one statement group
            while j >= 0 and (lines[j].strip().startswith("//") or "<--" in lines[j]):
                if lines[j].strip().startswith("//"):
                    comments.append(lines[j])
                j -= 1
            if not any(re.search(r"\b[Pp]inned\b", c) for c in comments):
                rel = path.relative_to(ROOT)
                problems.append(f"{rel}:{i + 1}: <-- without a 'Pinned by ...' comment")
    return problems
