"""Chain fixtures: one anvil per test session, a snapshot/revert around each test.

Import them into a conftest (``from tests.fixtures_chain import anvil_node, chain, w3``)
to use them in a folder's tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from prover.toolchain.anvil import AnvilNode, start_anvil


@pytest.fixture(scope="session")
def anvil_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AnvilNode]:
    """A fresh anvil on a free loopback port for the whole session; its log is kept."""
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    node = start_anvil(log_path=log)
    try:
        yield node
    finally:
        node.stop()
        if request.session.testsfailed:
            print(f"\nanvil log kept at {log}", file=sys.stderr)


@pytest.fixture(scope="session")
def w3(anvil_node: AnvilNode) -> Any:
    """A web3.py client of the session's anvil."""
    from web3 import Web3

    client = Web3(Web3.HTTPProvider(anvil_node.rpc_url, request_kwargs={"timeout": 30}))
    assert client.is_connected()
    return client


@pytest.fixture
def chain(w3: Any) -> Iterator[Any]:
    """``w3`` with the chain state restored after the test (``evm_snapshot``/``evm_revert``)."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield w3
    finally:
        w3.provider.make_request("evm_revert", [snapshot])
