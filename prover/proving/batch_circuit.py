"""The batch circuit (``circuits/main/Batch.circom``) as a buildable :class:`CircuitSpec`.

``batch_spec(K, E, B, D, S, M)`` names ``Batch(K, E, B, D, S, M)`` with its nine public
inputs (docs/protocol.md, section 10; the inbox chain before and after the batch's
messages, docs/inbox.md; the deposit queue's chain before and after and the exits' hash,
docs/flows.md). ``circuit_inputs`` turns
``BatchWitness.as_circuit_inputs()`` into exactly the circuit's inputs: the model also
emits hints (running roots, before/after values) that the circuit recomputes instead of
reading, and circom refuses unknown input names.

Register with the toolchain through its documented mechanism::

    CIRCUITS["batch"] = lazy_spec("prover.proving.batch_circuit:batch_spec")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prover.errors import ZkmatchError
from prover.exchange.constants import (
    MAX_ACCOUNT_BITS,
    MAX_MARKETS,
    MAX_SLOT_BITS,
    MIN_ACCOUNT_BITS,
    MIN_SLOT_BITS,
    SEQ_ENTRY_BITS,
)
from prover.proving.circuit import CircuitSpec

#: Public inputs, in the order snarkjs lists them in public.json (declaration order).
PUBLIC_INPUTS: tuple[str, ...] = (
    "oldRoot",
    "newRoot",
    "batchInfo",
    "configHash",
    "inboxBefore",
    "inboxAfter",
    "depositsBefore",
    "depositsAfter",
    "exitsHash",
)

#: BatchBook's deposit slots (DepositEntry's inputs, per slot; docs/flows.md).
DEPOSIT_INPUTS: tuple[str, ...] = (
    "depUsed",
    "depIndex",
    "depKeyX",
    "depKeyY",
    "depAmount",
    "depDepositor",
    "depSlot",
    "depKeyQx",
    "depKeyQy",
    "depKeyTorsion",
)

#: Inputs as secret as the operator's inbox key (whoever holds it reads every message):
#: never stored with a recorded witness (prover/operator/store.py), added back to prove.
SECRET_INPUTS: tuple[str, ...] = ("operatorSecret",)


def without_secrets(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` without :data:`SECRET_INPUTS` (what the operator's store keeps)."""
    return {k: v for k, v in inputs.items() if k not in SECRET_INPUTS}


#: Every input signal of ``Batch``, in declaration order (tests/circuits/test_batch.py
#: checks this against the circom source).
BATCH_INPUTS: tuple[str, ...] = (
    *PUBLIC_INPUTS,
    "operatorSecret",
    "operatorKeyX",
    "operatorKeyY",
    "batchNumber",
    "prevTimestamp",
    "timestamp",
    "marketTickSize",
    "marketImrBps",
    "marketMmrBps",
    "marketMakerFeePpm",
    "marketTakerFeePpm",
    "marketFundingCap",
    "feedKeyX",
    "feedKeyY",
    "feedSigR8x",
    "feedSigR8y",
    "feedSigS",
    "mark",
    "fundingIndex",
    "accUsed",
    "accIndex",
    "accPubX",
    "accPubY",
    "accNonce",
    "accCollateral",
    "accPosSize",
    "accPosFunding",
    "accOrdersRoot",
    "accSiblings",
    "msgUsed",
    "msgEphX",
    "msgEphY",
    "msgCiphertext",
    "entryAccountSlot",
    "entryOldSlotOrderId",
    "entryOldSlotOrderHash",
    "entryOldSlotFilled",
    "entryOldSlotSeq",
    "entrySlotSiblings",
    "entryFilled",
    "fillUsed",
    "fillTakerEntry",
    "fillMakerAccountSlot",
    "fillMakerMarket",
    "fillMakerSide",
    "fillMakerPrice",
    "fillMakerSize",
    "fillMakerOrderId",
    "fillMakerExpiry",
    "fillMakerMaxFeePpm",
    "fillMakerTif",
    "fillMakerSlotOrderId",
    "fillMakerSlotOrderHash",
    "fillMakerSlotFilled",
    "fillMakerSlotSeq",
    "fillMakerSlotSiblings",
    "fillQty",
    "fillPrice",
)


#: Every input signal of ``BatchBook`` (the batch with the committed book), in
#: declaration order: Batch's without the fill list, then the state root's parts, the
#: opened book sides and each entry's matching witness (EntryBook's, per message slot).
BATCHBOOK_INPUTS: tuple[str, ...] = (
    *(name for name in BATCH_INPUTS if not name.startswith("fill")),
    *DEPOSIT_INPUTS,
    "accountsRoot",
    "bookCap",
    "bookHeadPtr",
    "bookHeadRank",
    "bookFreePtr",
    "bookFrontier",
    "eStepAct",
    "eStepPop",
    "eStepQty",
    "eStepCancel",
    "eStepTryQty",
    "eStepMakerAccount",
    "eStepMakerOrderId",
    "eStepMakerSlot",
    "eStepLeafRef",
    "eStepLeafNextPtr",
    "eStepLeafNextRank",
    "eStepSiblings",
    "eMakerSlotOrderId",
    "eMakerSlotOrderHash",
    "eMakerSlotFilled",
    "eMakerSlotSeq",
    "eMakerSlotSiblings",
    "eMakerMarket",
    "eMakerSide",
    "eMakerPrice",
    "eMakerSize",
    "eMakerExpiry",
    "eMakerMaxFeePpm",
    "eMakerTif",
    "eRest",
    "eInsAtHead",
    "eInsAllocNextFree",
    "eInsAllocSiblings",
    "eInsPredPtr",
    "eInsPredRank",
    "eInsPredRef",
    "eInsPredNextPtr",
    "eInsPredNextRank",
    "eInsPredSiblings",
)


def check_params(K: int, E: int, B: int, D: int, S: int, M: int) -> None:  # noqa: N803
    """The template's own asserts, as a clear error before circom runs."""
    for name, value in (("K", K), ("E", E), ("B", B), ("D", D), ("S", S), ("M", M)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ZkmatchError(f"batch parameter {name} must be an integer, got {value!r}")
    if K < 2:
        raise ZkmatchError(f"K (account slots) must be >= 2, got {K}")
    if not 1 <= E <= 1 << SEQ_ENTRY_BITS:
        raise ZkmatchError(f"E (entry slots) must be in [1, 2^16], got {E}")
    if B < 1:
        raise ZkmatchError(f"B (fill slots) must be >= 1, got {B}")
    if not (MIN_ACCOUNT_BITS <= D <= MAX_ACCOUNT_BITS and D % 2 == 0):
        raise ZkmatchError(f"D (account tree bits) must be even in [2, 32], got {D}")
    if not (MIN_SLOT_BITS <= S <= MAX_SLOT_BITS and S % 2 == 0):
        raise ZkmatchError(f"S (order-slot tree bits) must be even in [2, 16], got {S}")
    if not 1 <= M <= MAX_MARKETS:
        raise ZkmatchError(f"M (markets) must be in [1, 8], got {M}")


def batch_spec(
    K: int = 4,
    E: int = 2,
    B: int = 2,
    D: int = 4,
    S: int = 2,
    M: int = 2,  # noqa: N803
) -> CircuitSpec:
    """``Batch(K, E, B, D, S, M)`` with public ``oldRoot, newRoot, batchInfo, configHash,
    inboxBefore, inboxAfter, depositsBefore, depositsAfter, exitsHash``."""
    check_params(K, E, B, D, S, M)
    return CircuitSpec(
        name=f"batch_k{K}_e{E}_b{B}_d{D}_s{S}_m{M}",
        source="main/Batch.circom",
        template="Batch",
        params=(K, E, B, D, S, M),
        public=PUBLIC_INPUTS,
    )


def book_batch_spec(
    K: int = 5,
    E: int = 2,
    F: int = 2,
    D: int = 4,
    S: int = 2,
    M: int = 2,
    BB: int = 4,
    CL: int = 1,
    P: int = 1,  # noqa: N803
) -> CircuitSpec:
    """``BatchBook(K, E, F, D, S, M, BB, CL, P)``, the batch with the committed book and
    ``P`` deposit slots, with the same nine public inputs as ``Batch``."""
    check_params(K, E, F, D, S, M)
    for name, value in (("BB", BB), ("CL", CL)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ZkmatchError(f"batch parameter {name} must be an integer, got {value!r}")
    if not (2 <= BB <= 32 and BB % 2 == 0) or not 0 <= CL < BB // 2:
        raise ZkmatchError(f"BB must be even in [2, 32] and 0 <= CL < BB / 2, got {BB}, {CL}")
    if isinstance(P, bool) or not isinstance(P, int) or not 1 <= P <= 1 << 16:
        raise ZkmatchError(f"P (deposit slots) must be in [1, 2^16], got {P!r}")
    return CircuitSpec(
        name=f"batchbook_k{K}_e{E}_f{F}_d{D}_s{S}_m{M}_bb{BB}_cl{CL}_p{P}",
        source="main/BatchBook.circom",
        template="BatchBook",
        params=(K, E, F, D, S, M, BB, CL, P),
        public=PUBLIC_INPUTS,
    )


def spec_for(params: Mapping[str, int]) -> CircuitSpec:
    """The batch circuit of ``BatchConfig.as_circuit_params()``: ``BatchBook`` with the
    book's parameters, else ``Batch``."""
    if "BB" in params:
        return book_batch_spec(**params)
    return batch_spec(**params)


def circuit_inputs(witness_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The circuit's inputs out of ``BatchWitness.as_circuit_inputs()`` (hints dropped):
    ``BatchBook``'s when the witness carries the book (``accountsRoot``), else ``Batch``'s.

    Raises :class:`ZkmatchError` naming any input the witness lacks.
    """
    names = BATCHBOOK_INPUTS if "accountsRoot" in witness_inputs else BATCH_INPUTS
    missing = [name for name in names if name not in witness_inputs]
    if missing:
        raise ZkmatchError(f"batch witness lacks circuit inputs: {', '.join(missing)}")
    return {name: witness_inputs[name] for name in names}
