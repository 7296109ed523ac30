"""The operator's Ethereum account: a private key in a file, transactions signed here.

The operator signs its own transactions (``eth_sendRawTransaction``) instead of asking the
node to sign (``eth_sendTransaction``): it works with any JSON-RPC node, and the
transaction's hash is known *before* it is broadcast, so the operator store can record
"sent, with this hash" first and a restart after a crash can look the transaction up
(docs/operator.md, "Crash safety").

Key files are JSON ``{"kind": "zkmatch-eth-key", "private_key": "0x..."}`` created with
mode 0600 (:mod:`prover.keyfile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.errors import ZkmatchError
from prover.keyfile import read_key_file, write_key_file

KIND = "zkmatch-eth-key"
#: Gas price cap used when the node does not report a base fee (legacy chains).
FALLBACK_GAS_PRICE = 2_000_000_000


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction not yet broadcast: its hash, raw bytes and nonce."""

    tx_hash: str
    raw: bytes
    nonce: int


class Signer:
    """An Ethereum account whose private key this process holds."""

    def __init__(self, private_key: bytes) -> None:
        from eth_account import Account

        if len(private_key) != 32:
            raise ZkmatchError("an Ethereum private key is 32 bytes")
        self._key = private_key
        self.address: str = Account.from_key(private_key).address

    @classmethod
    def generate(cls) -> Signer:
        import secrets

        return cls(secrets.token_bytes(32))

    @classmethod
    def load(cls, path: Path) -> Signer:
        data = read_key_file(path, KIND)
        text = str(data.get("private_key", ""))
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
        except ValueError as exc:
            raise ZkmatchError(f"{path}: private_key is not hex") from exc
        try:
            return cls(raw)
        except ZkmatchError as exc:
            raise ZkmatchError(f"{path}: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write the key to a new file (mode 0600); refuses to overwrite."""
        write_key_file(path, KIND, {"private_key": "0x" + self._key.hex(),
                                    "address": self.address})

    def sign(self, w3: Any, tx: dict[str, Any], *, nonce: int | None = None) -> SignedTx:
        """Fill in nonce, chain id and fees, sign ``tx``; nothing is sent."""
        from eth_account import Account

        tx = dict(tx)
        tx["from"] = self.address
        tx["nonce"] = (
            int(w3.eth.get_transaction_count(self.address, "pending")) if nonce is None else nonce
        )
        tx.setdefault("chainId", int(w3.eth.chain_id))
        if "gasPrice" not in tx and "maxFeePerGas" not in tx:
            base = w3.eth.get_block("latest").get("baseFeePerGas")
            if base is None:
                tx["gasPrice"] = FALLBACK_GAS_PRICE
            else:
                tip = 1_000_000_000
                tx["maxPriorityFeePerGas"] = tip
                tx["maxFeePerGas"] = 2 * int(base) + tip
        signed = Account.sign_transaction(tx, self._key)
        raw = bytes(signed.raw_transaction)
        return SignedTx("0x" + bytes(signed.hash).hex(), raw, int(tx["nonce"]))

    def send(self, w3: Any, tx: dict[str, Any], timeout: float = 120) -> Any:
        """Sign, broadcast and wait for the receipt."""
        signed = self.sign(w3, tx)
        w3.eth.send_raw_transaction(signed.raw)
        return w3.eth.wait_for_transaction_receipt(signed.tx_hash, timeout=timeout)


def fund_on_dev_chain(w3: Any, address: str, wei: int = 10**21) -> bool:
    """Give ``address`` ether on a development node (``anvil_setBalance``); False if the
    node does not offer it (a real chain: the account must be funded by its owner)."""
    try:
        reply = w3.provider.make_request("anvil_setBalance", [address, hex(wei)])
    except Exception:  # noqa: BLE001 - any failure means: not a dev node
        return False
    return "error" not in reply


__all__ = ["KIND", "SignedTx", "Signer", "fund_on_dev_chain"]
