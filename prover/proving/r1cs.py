"""Read circom's ``.r1cs``, ``.wtns`` and ``.sym`` files; check a witness against the R1CS.

This is what makes tamper tests possible: compute an honest witness, change any signal
(by name, through the ``.sym`` map), and show that the *constraints* reject it, not only
the witness generator. Pure functions on bytes and text; callers do the file I/O.

Formats (iden3 binfileutils, little endian):

- ``.r1cs``: magic ``r1cs``, u32 version, u32 section count, then sections of
  ``(u32 type, u64 size, body)``. Section 1 (header): u32 n8, prime (n8 bytes), u32
  nWires, u32 nPubOut, u32 nPubIn, u32 nPrvIn, u64 nLabels, u32 nConstraints. Section 2
  (constraints): for each constraint, three linear combinations A, B, C, each a u32
  term count followed by ``(u32 wire, n8-byte coefficient)`` terms. A constraint holds
  when ``<A,w> * <B,w> - <C,w> == 0 (mod p)``.
- ``.wtns``: magic ``wtns``, u32 version, u32 section count; section 1: u32 n8, prime,
  u32 nWitness; section 2: nWitness values of n8 bytes. Index 0 is the constant 1.
- ``.sym``: one line per signal, ``labelIndex,wireIndex,componentIndex,name``; the wire
  index is -1 for signals the optimiser removed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from prover.errors import ZkmatchError

LinearCombination = dict[int, int]


class R1CSFormatError(ZkmatchError, ValueError):
    """A ``.r1cs``, ``.wtns`` or ``.sym`` file is malformed."""


@dataclass(frozen=True)
class R1CS:
    prime: int
    n_wires: int
    n_pub_out: int
    n_pub_in: int
    n_prv_in: int
    n_labels: int
    constraints: tuple[tuple[LinearCombination, LinearCombination, LinearCombination], ...]

    @property
    def n_public(self) -> int:
        """Public signals (outputs first, then public inputs): wires 1..n_public."""
        return self.n_pub_out + self.n_pub_in


def _sections(data: bytes, magic: bytes) -> tuple[int, dict[int, bytes]]:
    if data[:4] != magic:
        raise R1CSFormatError(f"not a {magic.decode()} file (magic {data[:4]!r})")
    version, count = struct.unpack_from("<II", data, 4)
    pos = 12
    sections: dict[int, bytes] = {}
    for _ in range(count):
        kind, size = struct.unpack_from("<IQ", data, pos)
        pos += 12
        sections[kind] = data[pos : pos + size]
        pos += size
    return version, sections


def parse_r1cs(data: bytes) -> R1CS:
    """Parse the bytes of a ``.r1cs`` file."""
    _, sections = _sections(data, b"r1cs")
    if 1 not in sections or 2 not in sections:
        raise R1CSFormatError("r1cs file lacks its header or constraint section")
    header = sections[1]
    (n8,) = struct.unpack_from("<I", header, 0)
    prime = int.from_bytes(header[4 : 4 + n8], "little")
    n_wires, n_pub_out, n_pub_in, n_prv_in, n_labels, n_constraints = struct.unpack_from(
        "<IIIIQI", header, 4 + n8
    )
    body = sections[2]
    pos = 0
    constraints = []
    for _ in range(n_constraints):
        lcs = []
        for _ in range(3):
            (n_terms,) = struct.unpack_from("<I", body, pos)
            pos += 4
            lc: LinearCombination = {}
            for _ in range(n_terms):
                (wire,) = struct.unpack_from("<I", body, pos)
                lc[wire] = int.from_bytes(body[pos + 4 : pos + 4 + n8], "little")
                pos += 4 + n8
            lcs.append(lc)
        constraints.append((lcs[0], lcs[1], lcs[2]))
    return R1CS(prime, n_wires, n_pub_out, n_pub_in, n_prv_in, n_labels, tuple(constraints))


def parse_wtns(data: bytes) -> list[int]:
    """Parse the bytes of a ``.wtns`` file into the list of wire values."""
    _, sections = _sections(data, b"wtns")
    header = sections[1]
    (n8,) = struct.unpack_from("<I", header, 0)
    (n_witness,) = struct.unpack_from("<I", header, 4 + n8)
    body = sections[2]
    return [int.from_bytes(body[i * n8 : (i + 1) * n8], "little") for i in range(n_witness)]


def encode_wtns(values: list[int], prime: int) -> bytes:
    """The bytes of a ``.wtns`` file holding ``values`` (for ``snarkjs wtns check`` or prove)."""
    n8 = 32
    header = struct.pack("<I", n8) + prime.to_bytes(n8, "little") + struct.pack("<I", len(values))
    body = b"".join((v % prime).to_bytes(n8, "little") for v in values)
    out = b"wtns" + struct.pack("<II", 2, 2)
    out += struct.pack("<IQ", 1, len(header)) + header
    out += struct.pack("<IQ", 2, len(body)) + body
    return out


def parse_sym(text: str) -> dict[str, int]:
    """Map each signal name (``main.x.y[2]``) to its wire index (-1 if optimised away)."""
    names: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(",", 3)
        if len(parts) != 4:
            raise R1CSFormatError(f"bad sym line {line!r}")
        names[parts[3]] = int(parts[1])
    return names


def _eval(lc: LinearCombination, w: list[int], p: int) -> int:
    return sum(coef * w[wire] for wire, coef in lc.items()) % p


def failing_constraints(r1cs: R1CS, witness: list[int], limit: int | None = None) -> list[int]:
    """Indices of the constraints ``witness`` violates (empty: it satisfies them all).

    Also rejects a witness of the wrong length, one whose wire 0 is not 1, or values
    outside ``[0, p)``, by returning ``[-1]``.
    """
    p = r1cs.prime
    if len(witness) != r1cs.n_wires or witness[0] != 1:
        return [-1]
    if any(not 0 <= v < p for v in witness):
        return [-1]
    bad = []
    for i, (a, b, c) in enumerate(r1cs.constraints):
        if (_eval(a, witness, p) * _eval(b, witness, p) - _eval(c, witness, p)) % p:
            bad.append(i)
            if limit is not None and len(bad) >= limit:
                break
    return bad


def is_satisfied(r1cs: R1CS, witness: list[int]) -> bool:
    """Whether ``witness`` satisfies every constraint of ``r1cs``."""
    return not failing_constraints(r1cs, witness, limit=1)
