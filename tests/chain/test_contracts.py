"""Contract builds: reproducible, and circomlibjs's Poseidon equal to zkmatch's Poseidon."""

from __future__ import annotations

import random
import shutil

from prover.chain.contracts import ROLLUP_SOURCE, poseidon_contract
from prover.crypto.poseidon_hash import poseidon
from prover.field import SNARK_FIELD
from prover.toolchain.solc import compile_sources


def test_the_same_sources_give_the_same_bytecode(tmp_path):
    first = compile_sources([ROLLUP_SOURCE], work_dir=tmp_path / "a")["Rollup"]
    copy = tmp_path / "elsewhere" / "verifier_contracts"
    copy.mkdir(parents=True)
    shutil.copy(ROLLUP_SOURCE, copy / "Rollup.sol")
    second = compile_sources([copy / "Rollup.sol"], work_dir=tmp_path / "b")["Rollup"]
    assert first.bytecode == second.bytecode  # metadata hash included
    assert first.abi == second.abi
    changed = copy / "Rollup.sol"
    changed.write_text(changed.read_text() + "\n// a comment changes the metadata hash\n")
    third = compile_sources([changed], work_dir=tmp_path / "c")["Rollup"]
    assert third.bytecode != first.bytecode


def test_generated_poseidon_contracts_hash_as_zkmatch_does(chain):
    rng = random.Random(5)
    sender = chain.eth.accounts[0]
    for n in (3,):
        compiled = poseidon_contract(n)
        factory = chain.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        receipt = chain.eth.wait_for_transaction_receipt(
            factory.constructor().transact({"from": sender})
        )
        contract = chain.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)
        for _ in range(3):
            xs = [rng.randrange(SNARK_FIELD) for _ in range(n)]
            on_chain = contract.get_function_by_signature(f"poseidon(uint256[{n}])")(xs).call()
            assert on_chain == poseidon(xs)
