"""One exception family for everything zkmatch raises on purpose.

The CLI turns any :class:`ZkmatchError` into a one-line message a user can act on;
anything else escaping is a bug.
"""

from __future__ import annotations


class ZkmatchError(Exception):
    """Base class of every error zkmatch raises deliberately."""


class FieldError(ZkmatchError, ValueError):
    """A value is not a canonical element of the BN254 scalar field (or of the range asked)."""


class CurveError(ZkmatchError, ValueError):
    """A point is not on Baby Jubjub, not in the prime-order subgroup, or cannot be decoded."""


class SignatureError(ZkmatchError, ValueError):
    """A signature is malformed (as opposed to merely invalid, which verify() reports as False)."""


class CipherError(ZkmatchError, ValueError):
    """A ciphertext is malformed or fails its authentication check."""


class KeyFileError(ZkmatchError):
    """A key file is missing, unreadable or malformed."""


class ToolError(ZkmatchError):
    """An external tool (circom, snarkjs, solc, anvil, node) is missing, wrong or failed."""


class SetupError(ZkmatchError):
    """Trusted setup material (ptau, zkey) is missing, corrupt or does not fit the circuit."""


class ProtocolError(ZkmatchError, ValueError):
    """Input violates a rule of the exchange protocol (bad order, unknown account, margin, ...)."""


class StoreError(ZkmatchError):
    """The operator store is unreadable, inconsistent, or a write failed."""
