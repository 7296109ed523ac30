"""A Rollup deployed on the session's anvil, with a small stand-in circuit's verifier.

``shape`` builds ``RollupShape`` (the batch circuit's nine public inputs, nothing else;
cached by content hash) and its snarkjs-exported verifier. ``rollup`` deploys a MockUSDC,
the verifier, Poseidon contracts and Rollup inside the per-test snapshot, so each test
starts at genesis; ``rollup_with`` does the same with another token or flow parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prover.chain.config import RollupConfig
from prover.chain.rollup import (
    BATCH_INTERVAL,
    FORCED_DELAY,
    Deployment,
    RollupClient,
    deploy,
    deploy_mock_usdc,
)
from prover.crypto.eddsa import PrivateKey
from prover.exchange.domain import Market
from prover.proving.circuit import Artifacts, CircuitSpec, build, compile_verifier, prove
from prover.toolchain.solc import CompiledContract

CIRCUITS = Path(__file__).resolve().parent / "circuits"
GENESIS_ROOT = 123456789
MARKETS = (Market(0, 1, 500, 300, 200, 500), Market(1, 5, 1000, 500, 0, 700))
#: The operator's Baby Jubjub key (inbox messages are encrypted to it; configHash binds it)
#: and the inbox's checkpoint interval (the batch circuit's E; small, so tests reach several
#: checkpoints).
OPERATOR_KEY = PrivateKey.from_seed("zkmatch-test-operator")
MESSAGES_PER_BATCH = 3
#: The deposit queue: at most this many per batch, indices below 2^ACCOUNT_BITS, the first
#: new key gets FIRST_ACCOUNT (small, so a test fills the tree quickly).
DEPOSITS_PER_BATCH = 2
ACCOUNT_BITS = 4
FIRST_ACCOUNT = 2
CONFIG = RollupConfig(
    MARKETS,
    (1_000, 2_000),
    PrivateKey.from_seed("zkmatch-test-feed").public_key,
    OPERATOR_KEY.public_key,
)
#: The stand-in's public inputs, in the batch circuit's order.
PUBLIC = (
    "oldRoot", "newRoot", "batchInfo", "configHash", "inboxBefore", "inboxAfter",
    "depositsBefore", "depositsAfter", "exitsHash",
)


@dataclass
class Shape:
    artifacts: Artifacts
    verifier: CompiledContract
    vk: dict[str, Any]
    work: Path

    def prove(self, inputs: list[int]) -> dict[str, Any]:
        result = prove(
            self.artifacts,
            {n: str(v) for n, v in zip(PUBLIC, inputs, strict=True)},
            work_dir=self.work,
        )
        assert [int(x) for x in result.public] == inputs
        return dict(result.proof)


@pytest.fixture(scope="session")
def shape(tmp_path_factory: pytest.TempPathFactory) -> Shape:
    spec = CircuitSpec(
        name="rollup_shape",
        source="RollupShape.circom",
        template="RollupShape",
        public=PUBLIC,
        circuits_dir=CIRCUITS,
    )
    artifacts = build(spec)
    return Shape(
        artifacts,
        compile_verifier(artifacts),
        dict(artifacts.verification_key()),
        tmp_path_factory.mktemp("shape"),
    )


@dataclass
class Deployed:
    w3: Any
    client: RollupClient
    deployment: Deployment
    operator: str
    admin: str
    stranger: str
    genesis_timestamp: int

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def mine_at(self, timestamp: int) -> None:
        self.w3.provider.make_request("evm_mine", [timestamp])


def deploy_rollup(
    chain: Any,
    shape: Shape,
    *,
    token: str | None = None,
    deposits_per_batch: int = DEPOSITS_PER_BATCH,
    account_bits: int = ACCOUNT_BITS,
    first_account: int = FIRST_ACCOUNT,
    forced_delay: int = FORCED_DELAY,
    batch_interval: int = BATCH_INTERVAL,
) -> Deployed:
    """A Rollup at genesis with the stand-in's verifier (a new MockUSDC unless ``token``)."""
    admin, operator, stranger = chain.eth.accounts[:3]
    genesis = int(chain.eth.get_block("latest")["timestamp"]) - 3600
    if token is None:
        token = deploy_mock_usdc(chain, sender=admin)
    deployment = deploy(
        chain,
        shape.verifier,
        shape.vk,
        CONFIG,
        genesis_root=GENESIS_ROOT,
        genesis_timestamp=genesis,
        operator=operator,
        admin=admin,
        operator_key=OPERATOR_KEY.public_key,
        messages_per_batch=MESSAGES_PER_BATCH,
        token=token,
        deposits_per_batch=deposits_per_batch,
        account_bits=account_bits,
        first_account=first_account,
        forced_delay=forced_delay,
        batch_interval=batch_interval,
    )
    return Deployed(
        chain,
        RollupClient(chain, deployment.rollup),
        deployment,
        operator,
        admin,
        stranger,
        genesis,
    )


@pytest.fixture
def rollup(chain: Any, shape: Shape) -> Deployed:
    return deploy_rollup(chain, shape)


@pytest.fixture
def rollup_with(chain: Any, shape: Shape) -> Callable[..., Deployed]:
    """``rollup_with(token=..., account_bits=...)``: :func:`deploy_rollup` in this test's
    snapshot."""
    return lambda **kwargs: deploy_rollup(chain, shape, **kwargs)
