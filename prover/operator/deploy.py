"""``zkmatch deploy``: a genesis state, the batch circuit's keys, a Rollup on chain, and a
data folder that holds all of it (prover/operator/data.py).

The genesis comes from a scenario file (docs/scenario.md): its batch config, markets,
funding caps and traders, each trader's account funded in genesis (deposits come with
their own issue). The price feed is the one ``--feed-key`` names (a feed key file; only
its public key is used), or else the scenario's development feed, whose key then goes to
``keys/feed.key`` with a warning: anyone who knows the scenario's seed can sign for it.

The operator's Baby Jubjub key (``keys/operator-babyjub.key``, made here, or reused when
present) is the inbox's: traders encrypt their messages to its public key, which the Rollup
stores with the batch circuit's message capacity (its entry count E) as
``messagesPerBatch`` (docs/inbox.md).

Order of work, so that a deploy killed half way can simply be run again: keys first
(kept), then the circuit (cached), then the contracts, then the store and genesis, and
``deployment.json`` last: a folder without it holds no deployment.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from prover.chain.node import open_chain
from prover.chain.rollup import BATCH_INTERVAL, FORCED_DELAY, connect, deploy, deploy_mock_usdc
from prover.chain.signer import Signer, fund_on_dev_chain
from prover.chain.vkey import key_hash
from prover.crypto.eddsa import PrivateKey, load_key_file, save_key_file
from prover.errors import ZkmatchError
from prover.exchange.domain import BatchConfig
from prover.exchange.scenario import genesis
from prover.feed import KIND as FEED_KIND
from prover.feed import save_feed_key
from prover.keyfile import read_key_file
from prover.operator.data import DataDir, DataDirError, write_json
from prover.operator.store import Store
from prover.proving.batches import config_spec, load_scenario
from prover.proving.circuit import build, compile_verifier
from prover.toolchain.common import Progress

DEV_FEED_WARNING = (
    "DEVELOPMENT FEED: the price feed's key derives from the scenario's public seed, so "
    "anyone can sign prices for this Rollup. Deploy with --feed-key for a real feed."
)


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def feed_public_key(path: Path) -> tuple[int, int]:
    """The public key in a feed key file (``zkmatch feed keygen``)."""
    data = read_key_file(path, FEED_KIND)
    try:
        x, y = (int(c) for c in data["public_key"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ZkmatchError(f"{path}: no usable public_key ({exc})") from exc
    return x, y


def operator_babyjub_key(data: DataDir) -> PrivateKey:
    """The operator's Baby Jubjub key from ``data`` (made and saved, mode 0600, if absent)."""
    path = data.operator_babyjub_key
    if path.exists():
        return load_key_file(path)
    key = PrivateKey.generate()
    save_key_file(path, key)
    return key


def messages_per_batch(config: BatchConfig) -> int:
    """The inbox range a batch takes at most: the circuit's ``E`` message slots, and half
    the ``K - 2`` account slots past the fee account and the insurance fund (each message
    may name another account, and every message of a range must find one; the other half is
    left for the makers their takers meet, so that an order that crosses the book can fill
    in its own batch: with ``K - 2`` messages of ``K - 2`` accounts no maker outside them
    could). At least 1. With the committed book (the rules choose the makers, up to ``F``
    per message): ``(K - 2) / (F + 1)`` (:attr:`BatchConfig.range_limit`), so that every
    range fits whatever its orders meet."""
    if config.book:
        config.check_live()
        return config.range_limit
    return max(1, min(config.entries, (config.accounts - 2) // 2))


def deploy_operator(
    data_root: Path,
    scenario_path: Path,
    *,
    rpc_url: str | None = None,
    feed_key: Path | None = None,
    admin: str | None = None,
    ptau: Path | None = None,
    contributions: int = 1,
    forced_delay: int = FORCED_DELAY,
    batch_interval: int = BATCH_INTERVAL,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Set up ``data_root`` and deploy (see the module docstring); returns deployment.json.
    ``forced_delay``: the seconds a message or deposit with nothing ahead of it may wait for
    a batch before anyone may freeze the Rollup; ``batch_interval``: the seconds allowed per
    full batch of the queue ahead of it (docs/flows.md)."""
    data = DataDir(Path(data_root))
    if data.exists():
        raise DataDirError(
            f"{data.root} already holds a deployment ({data.deployment}); use another "
            "--data folder, or remove this one to start afresh"
        )
    scenario = load_scenario(scenario_path)
    if scenario.first_batch != 0:
        raise ZkmatchError(
            f"{scenario_path}: first_batch is {scenario.first_batch}; a Rollup numbers its "
            "batches from 0"
        )
    venue = scenario.venue
    dev_feed = feed_key is None
    if feed_key is not None:
        venue = replace(venue, feed_key=feed_public_key(feed_key))
    state = genesis(scenario)
    with data.locked():
        for leftover in (data.store, data.genesis, data.vkey, data.zkey):
            leftover.unlink(missing_ok=True)  # a deploy that was killed half way
        if dev_feed:
            if not data.feed_key.exists():
                save_feed_key(data.feed_key, scenario.feed)
            _say(progress, f"WARNING: {DEV_FEED_WARNING} (key in {data.feed_key})")
        if data.operator_key.exists():
            signer = Signer.load(data.operator_key)
        else:
            signer = Signer.generate()
            signer.save(data.operator_key)
        _say(progress, f"operator: {signer.address} (key {data.operator_key})")
        inbox_key = operator_babyjub_key(data)
        _say(progress, f"inbox key: {inbox_key.public_key[0]}, {inbox_key.public_key[1]} "
             f"(key {data.operator_babyjub_key})")
        # The Rollup's configHash binds the inbox key: the venue the state carries has it too.
        venue = replace(venue, operator_key=inbox_key.public_key)
        state = type(state).from_json({**state.to_json(), "venue": venue.to_json()})

        spec = config_spec(scenario.config)
        artifacts = build(spec, ptau, progress, contributions=contributions)
        _say(progress, f"circuit: {spec.name}, {artifacts.constraints} constraints")
        data.zkey.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts.zkey, data.zkey)
        shutil.copyfile(artifacts.vkey, data.vkey)
        vk = artifacts.verification_key()
        verifier = compile_verifier(artifacts, progress)

        with open_chain(
            rpc_url, state_path=data.anvil_state, log_path=data.anvil_log, progress=progress
        ) as endpoint:
            w3 = connect(endpoint.rpc_url)
            if int(w3.eth.get_balance(signer.address)) == 0 and not fund_on_dev_chain(
                w3, signer.address
            ):
                raise ZkmatchError(
                    f"the operator account {signer.address} has no ether on "
                    f"{endpoint.rpc_url}; fund it and run deploy again"
                )
            deployment = deploy(
                w3, verifier, vk, venue,
                genesis_root=state.root, genesis_timestamp=state.last_timestamp,
                operator=signer.address, admin=admin or signer.address,
                operator_key=inbox_key.public_key,
                messages_per_batch=messages_per_batch(scenario.config),
                # A development token (anyone may mint it); the genesis accounts come first.
                token=deploy_mock_usdc(w3, signer=signer),
                deposits_per_batch=scenario.config.deposits,
                account_bits=scenario.config.account_bits,
                first_account=max(state.accounts(), default=1) + 1,
                forced_delay=forced_delay,
                batch_interval=batch_interval,
                signer=signer,
            )
            _say(progress, f"chain: Rollup at {deployment.rollup} on {endpoint.rpc_url} "
                 f"(block {deployment.block})")
            Store.create(data.store, state, scenario.config,
                         first_batch=scenario.first_batch).close()
            write_json(data.genesis, state.to_json())
            record = {
                **deployment.to_json(),
                "rpc_url": None if endpoint.own_node else endpoint.rpc_url,
                "circuit": spec.name,
                "constraints": artifacts.constraints,
                "verification_key_hash": "0x" + key_hash(vk).hex(),
                "config_hash": str(venue.hash()),
                "genesis_root": str(state.root),
                "genesis_timestamp": state.last_timestamp,
                "first_batch": scenario.first_batch,
                "scenario": str(scenario_path),
                "development_feed": dev_feed,
                "operator_babyjub_key": [str(c) for c in inbox_key.public_key],
                "messages_per_batch": messages_per_batch(scenario.config),
                "forced_delay": forced_delay,
                "batch_interval": batch_interval,
            }
            write_json(data.deployment, record)
    return record


__all__ = ["DEV_FEED_WARNING", "deploy_operator", "feed_public_key", "operator_babyjub_key"]
