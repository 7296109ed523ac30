"""Finding tools, checking versions, running them and reporting failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.errors import ToolError
from prover.toolchain import common, snarkjs
from prover.toolchain.common import run_tool, tool_command, tool_version, tool_versions
from tests.toolchain.conftest import FakeTool


def test_pinned_tools_are_found_with_their_versions() -> None:
    versions = tool_versions(("circom", "snarkjs", "solc", "anvil"))
    assert versions["circom"] == "2.2.3"
    assert versions["snarkjs"] == "0.7.6"
    assert versions["solc"].startswith("0.8.37")
    assert versions["anvil"].startswith("1.7.")


def test_missing_node_modules_says_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "NODE_MODULES", tmp_path / "node_modules")
    for name in ("circom", "snarkjs", "solc", "anvil"):
        monkeypatch.delenv(common.TOOLS[name].env_var, raising=False)
        with pytest.raises(ToolError, match=r"make setup") as err:
            tool_command(name)
        assert name in str(err.value)


def test_missing_override_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZKMATCH_CIRCOM", "/nonexistent/circom")
    with pytest.raises(ToolError, match="ZKMATCH_CIRCOM=/nonexistent/circom"):
        tool_version("circom")
    monkeypatch.setenv("ZKMATCH_NODE", "/nonexistent/node")
    with pytest.raises(ToolError, match="ZKMATCH_NODE"):
        tool_command("snarkjs")


def test_wrong_version_is_refused(fake_tool: FakeTool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZKMATCH_CIRCOM", str(fake_tool("circom", 'echo "circom compiler 2.1.9"')))
    with pytest.raises(ToolError, match=r"circom 2\.1\.9 found.*needs circom 2\.2\.3.*make setup"):
        tool_version("circom")
    monkeypatch.setenv("ZKMATCH_ANVIL", str(fake_tool("anvil", 'echo "anvil Version: 1.8.0"')))
    with pytest.raises(ToolError, match=r"needs anvil 1\.7\.x"):
        tool_version("anvil")
    monkeypatch.setenv("ZKMATCH_SNARKJS", str(fake_tool("snarkjs", "echo hello")))
    with pytest.raises(ToolError, match="cannot read a version"):
        tool_version("snarkjs")


def test_version_is_checked_once_per_process(
    fake_tool: FakeTool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "calls"
    script = fake_tool("circom", f'echo x >> {counter}; echo "circom compiler 2.2.3"')
    monkeypatch.setenv("ZKMATCH_CIRCOM", str(script))
    assert tool_version("circom") == "2.2.3"
    assert tool_version("circom") == "2.2.3"
    assert counter.read_text().count("x") == 1


def test_nonzero_exit_reports_command_and_output(
    fake_tool: FakeTool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = fake_tool(
        "snarkjs",
        'case "$1" in --version) echo snarkjs@0.7.6; exit 99;; esac\n'
        "echo working; echo 'boom: the real reason' >&2; exit 3",
    )
    monkeypatch.setenv("ZKMATCH_SNARKJS", str(script))
    with pytest.raises(ToolError) as err:
        snarkjs.r1cs_info(tmp_path / "c.r1cs")
    message = str(err.value)
    assert "snarkjs failed (exit 3)" in message
    assert "r1cs info" in message and "boom: the real reason" in message


def test_missing_output_file_is_detected(
    fake_tool: FakeTool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = fake_tool(
        "snarkjs", 'case "$1" in --version) echo snarkjs@0.7.6; exit 99;; esac\nexit 0'
    )
    monkeypatch.setenv("ZKMATCH_SNARKJS", str(script))
    vkey = tmp_path / "verification_key.json"
    vkey.write_text("stale")  # a stale file must not pass for a fresh one
    with pytest.raises(ToolError, match="did not write .*verification_key.json"):
        snarkjs.export_verification_key(tmp_path / "c.zkey", vkey)


def test_timeout_kills_the_tool(fake_tool: FakeTool, tmp_path: Path) -> None:
    script = fake_tool("slow", "sleep 30")
    with pytest.raises(ToolError, match="timed out"):
        run_tool("circom", [str(script)], tmp_path, timeout=0.5, check_version=False)


def test_output_lines_are_relayed(fake_tool: FakeTool, tmp_path: Path) -> None:
    script = fake_tool("chatty", r"printf '\033[32mone\033[0m\n\ntwo\n'; echo three >&2")
    lines: list[str] = []
    result = run_tool("circom", [str(script)], tmp_path, progress=lines.append, check_version=False)
    assert lines == ["  circom: one", "  circom: two", "  circom: three"]
    assert "one" in result.output and "\x1b" not in result.output
