"""zkmatch prover library: reference model, cryptography and proving pipeline."""

from prover.errors import ZkmatchError

__all__ = ["ZkmatchError"]
__version__ = "0.1.0"
