"""The trader's key file: mode 0600, never overwritten without --force, refused when others
can read it, and the private keys never printed unless asked (no chain needed)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.keyfile import KeyFileError
from prover.trader.keys import KIND, TraderKey, load_trader_key, new_trader_key, save_trader_key


def _keygen(*args: str) -> object:
    return CliRunner().invoke(main, ["trader", "keygen", *args])


def test_keygen_writes_a_0600_file_and_prints_only_public_parts(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "trader.key"
    result = _keygen("--out", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["kind"] == KIND and data["development_seed"] is False
    shown = json.loads(result.stdout)
    key = load_trader_key(path)
    assert shown["public_key"] == [str(c) for c in key.public_key]
    assert shown["eth_address"] == key.eth_address == data["eth_address"]
    for secret in (data["babyjub_private_key"], data["eth_private_key"],
                   data["eth_private_key"].removeprefix("0x")):
        assert secret not in result.output
    human = _keygen("--out", str(tmp_path / "other.key"))
    assert human.exit_code == 0 and "public key" in human.output
    other = json.loads((tmp_path / "other.key").read_text())
    assert other["babyjub_private_key"] not in human.output
    assert other["eth_private_key"].removeprefix("0x") not in human.output
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_show_private_prints_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "t.key"
    result = _keygen("--out", str(path), "--show-private", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(path.read_text())
    shown = json.loads(result.stdout)
    assert shown["babyjub_private_key"] == data["babyjub_private_key"]
    assert shown["eth_private_key"] == data["eth_private_key"]


def test_keygen_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "t.key"
    assert _keygen("--out", str(path)).exit_code == 0
    before = path.read_text()
    again = _keygen("--out", str(path))
    assert again.exit_code == 1 and "already exists" in again.output and "--force" in again.output
    assert path.read_text() == before
    forced = _keygen("--out", str(path), "--force")
    assert forced.exit_code == 0
    assert path.read_text() != before and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(KeyFileError, match="already exists"):
        save_trader_key(path, TraderKey.generate())


def test_seed_is_deterministic_and_warns(tmp_path: Path) -> None:
    a, b = tmp_path / "a.key", tmp_path / "b.key"
    result = _keygen("--out", str(a), "--seed", "alice")
    assert result.exit_code == 0
    assert "DEVELOPMENT KEY" in result.stderr
    assert new_trader_key(b, seed="alice").to_json() == load_trader_key(a).to_json()
    assert load_trader_key(a).development_seed
    random = TraderKey.generate()
    assert random.eth_key != random.account_key.key  # two independent keys


def test_sending_key_is_not_derived_from_the_account_key() -> None:
    key = TraderKey.from_seed("alice")
    assert key.eth_key != key.account_key.key
    assert key.eth_key != TraderKey.from_seed("bob").eth_key


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_loose_permissions_are_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "t.key"
    new_trader_key(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_trader_key(path)


def test_bad_key_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_trader_key(tmp_path / "missing.key")
    other = tmp_path / "other.key"
    other.write_text(json.dumps({"kind": "zkmatch-feed-key"}))
    os.chmod(other, 0o600)
    with pytest.raises(KeyFileError, match="not a zkmatch-trader-key"):
        load_trader_key(other)
    broken = tmp_path / "broken.key"
    broken.write_text("{")
    os.chmod(broken, 0o600)
    with pytest.raises(KeyFileError, match="not valid JSON"):
        load_trader_key(broken)
    tampered = tmp_path / "tampered.key"
    data = TraderKey.generate().to_json()
    data["public_key"] = [str(TraderKey.generate().public_key[0]), data["public_key"][1]]
    tampered.write_text(json.dumps(data))
    os.chmod(tampered, 0o600)
    with pytest.raises(KeyFileError, match="does not match"):
        load_trader_key(tampered)
    if os.geteuid() != 0:  # root reads everything
        unreadable = tmp_path / "unreadable.key"
        new_trader_key(unreadable)
        os.chmod(unreadable, 0o000)
        with pytest.raises(KeyFileError, match="cannot read"):
            load_trader_key(unreadable)
