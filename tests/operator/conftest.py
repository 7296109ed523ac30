"""The operator's tests use the session's anvil (tests/fixtures_chain.py)."""

from tests.fixtures_chain import anvil_node, chain, w3

__all__ = ["anvil_node", "chain", "w3"]
