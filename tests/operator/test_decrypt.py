"""The operator's bulk decryption equals the reference model message by message.

``decode_many`` against ``[inbox.decode(m, s)]`` and ``verify_many`` against
``[entry.verify(pubkey)]`` on random mixes of valid and invalid messages (hypothesis
draws from a pool built once), for every backend that can be imported (pure ints always;
gmpy2 when installed). The building blocks are checked on their own as well: the
subgroup test by the pairing, square roots, the multi-scalar multiplication and the
bisection that pins failing signatures.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prover.crypto import babyjub, eddsa, poseidon
from prover.crypto import poseidon_hash as ph
from prover.crypto.babyjub import BASE8, IDENTITY, SUBORDER
from prover.crypto.eddsa import Signature
from prover.errors import CurveError, FieldError
from prover.exchange import inbox
from prover.exchange.domain import Cancel, Order, SignedCancel, SignedOrder
from prover.exchange.inbox import Message
from prover.operator import decrypt

P = babyjub.P
BACKENDS = decrypt.available_backends()
RNG = random.Random(20261202)

OPERATOR_KEY = eddsa.derive_private_key("test-decrypt/operator")
OPERATOR_SCALAR = eddsa.secret_scalar(OPERATOR_KEY)
OPERATOR_PUB = eddsa.public_key(OPERATOR_KEY)
ACCOUNT_KEYS = [eddsa.derive_private_key(f"test-decrypt/account/{i}") for i in range(6)]
PUBKEYS = [eddsa.public_key(k) for k in ACCOUNT_KEYS]
T8 = babyjub.mul(babyjub.GENERATOR, SUBORDER)  # a point of order 8
T2 = (0, P - 1)  # the point of order 2


def _order(account: int, order_id: int) -> Order:
    return Order(account, 1, order_id & 1, 1000 + order_id, 7 + order_id, order_id, 2**39, 500, 0)


def _signed(i: int) -> SignedOrder | SignedCancel:
    account = i % len(ACCOUNT_KEYS)
    if i % 5 == 4:
        return SignedCancel.sign(Cancel(account, 10 + i), ACCOUNT_KEYS[account])
    return SignedOrder.sign(_order(account, 10 + i), ACCOUNT_KEYS[account])


def _message(plaintext: list[int], k: int, *, key: tuple[int, int] = OPERATOR_PUB) -> Message:
    """A message from ephemeral scalar ``k`` carrying ``plaintext`` to ``key``."""
    k, eph = inbox.ephemeral_key(k)
    shared = babyjub.mul(key, 8 * k % SUBORDER)
    return Message(eph, inbox.encrypt_plaintext(plaintext, shared))


def _curve_x(y: int) -> int | None:
    """A root x of the curve at ``y`` (either one), or None if there is no point."""
    y2 = y * y % P
    return babyjub.sqrt((1 - y2) * pow((babyjub.A - babyjub.D * y2) % P, -1, P) % P)


def _no_root_y() -> int:
    """A y with no curve point (x^2 would be a non-residue)."""
    while True:
        y = RNG.randrange(P)
        if _curve_x(y) is None:
            return y


def _large_roots_y() -> int:
    """A y on the curve whose two roots x, p - x are both >= 2^252 (no compact R8)."""
    while True:
        y = RNG.randrange(P)
        x = _curve_x(y)
        if x is not None and inbox.small_x_from_y(y) is None:
            assert min(x, P - x) >= inbox.SMALL_X_BOUND
            return y


def _non_compact_plaintext() -> list[int]:
    """A valid standard signature (zk-kit's nonce) whose R8x is >= 2^252, packed as a
    message would carry it: the circuit and the model take the small root, -R8, and the
    signature fails."""
    for i in range(100):
        order = _order(1, 500 + i)
        sig = eddsa.sign(ACCOUNT_KEYS[1], order.hash())
        if sig.r8[0] >= inbox.SMALL_X_BOUND:
            values = {name: getattr(order, name) for name in inbox._ORDER_NAMES}
            values["kind"] = inbox.KIND_ORDER
            return [inbox.pack_fields(values), sig.r8[1], sig.s]
    raise AssertionError("no non-compact signature in 100 orders")


def _build_pool() -> list[Message]:
    """Valid messages and every kind of invalid one the brief lists."""
    pool: list[Message] = []
    for i in range(14):
        pool.append(inbox.encrypt_entry(_signed(i), OPERATOR_PUB, 1000 + 7919 * i))
    base = [inbox.entry_plaintext(_signed(i)) for i in range(20, 26)]
    other = eddsa.public_key(eddsa.derive_private_key("test-decrypt/other-operator"))
    pool.append(_message(base[0], 5, key=other))  # encrypted to another operator
    good = pool[0]
    for j in range(4):  # one ciphertext element tampered
        ct = list(good.ciphertext)
        ct[j] = (ct[j] + 1) % P
        pool.append(Message(good.eph, tuple(ct)))  # type: ignore[arg-type]
    for t in sorted(decrypt.TORSION):  # low-order and identity ephemeral keys
        pool.append(Message(t, inbox.encrypt_plaintext(base[1], IDENTITY)))
        pool.append(Message(t, good.ciphertext))
    pool.append(Message(babyjub.add(good.eph, T8), good.ciphertext))  # torsion: same key
    pool.append(_message([1 << inbox.PACKED_BITS, base[2][1], base[2][2]], 11))  # too wide
    pool.append(_message([P - 1, base[2][1], base[2][2]], 12))
    pool.append(_message([(1 << inbox.PACKED_BITS) - 1, base[2][1], base[2][2]], 13))
    no_root = _no_root_y()
    pool.append(_message([base[3][0], no_root, base[3][2]], 14))  # R8 with no point
    pool.append(_message([base[3][0], _large_roots_y(), base[3][2]], 15))  # no small root
    pool.append(_message([base[3][0], 1, base[3][2]], 16))  # R8 = identity
    pool.append(_message([base[3][0], P - 1, base[3][2]], 17))  # R8 = (0, -1)
    pool.append(_message([base[4][0], base[4][1], base[4][2] + SUBORDER], 18))  # S + l
    pool.append(_message([base[4][0], base[4][1], P - 1], 19))
    pool.append(_message(_non_compact_plaintext(), 20))  # R8x >= 2^252: read as -R8
    pool.append(_message([0, 0, 0], 21))
    return pool


@pytest.fixture(scope="module")
def pool() -> tuple[list[Message], list[inbox.Decoded]]:
    messages = _build_pool()
    return messages, [inbox.decode(m, OPERATOR_SCALAR) for m in messages]


def _items_pool() -> list[tuple[object, object]]:
    """(entry, pubkey) pairs: valid and each kind of bad signature or key."""
    items: list[tuple[object, object]] = []
    for i in range(10):
        e = _signed(i)
        items.append((e, PUBKEYS[i % len(PUBKEYS)]))
    e0, k0 = items[0]
    assert isinstance(e0, SignedOrder)
    sig = e0.signature
    r8_t = babyjub.add(sig.r8, T2)
    bad = [
        (replace(e0, signature=Signature(sig.r8, (sig.s + 1) % SUBORDER)), k0),  # wrong S
        (replace(e0, signature=Signature(sig.r8, sig.s + SUBORDER)), k0),  # S + l
        (replace(e0, signature=Signature((0, 0), sig.s)), k0),  # R8 (0, 0)
        (replace(e0, signature=Signature(r8_t, sig.s)), k0),  # R8 + torsion
        (replace(e0, signature=Signature(babyjub.add(sig.r8, T8), sig.s)), k0),
        (replace(e0, signature=Signature(babyjub.neg(sig.r8), sig.s)), k0),
        (replace(e0, signature=Signature(BASE8, sig.s)), k0),
        (replace(e0, order=replace(e0.order, price=e0.order.price + 1)), k0),  # other message
        (e0, PUBKEYS[1]),  # another account's key
        (e0, (0, 0)),  # zero key
        (e0, IDENTITY),
        (e0, T8),
        (e0, babyjub.add(k0, T2)),  # key plus torsion
        (e0, (k0[0], (k0[1] + 1) % P)),  # off the curve
        (e0, (k0[0], k0[1] + P)),  # not canonical
        (e0, [k0[0], k0[1]]),  # a list: the reference accepts it
        (e0, (str(k0[0]), str(k0[1]))),  # strings: the reference decides
        (replace(e0, signature=Signature(list(sig.r8), sig.s)), k0),  # type: ignore[arg-type]
        (replace(e0, signature=Signature(sig.r8, True)), k0),
    ]
    # Two signatures whose torsion parts would cancel in a batch without the subgroup test.
    bad += [_torsion_signed(i) for i in range(2)]
    return items + bad


@pytest.fixture(scope="module")
def item_pool() -> tuple[list[tuple[object, object]], list[bool]]:
    items = _items_pool()
    return items, [e.verify(k) for e, k in items]  # type: ignore[attr-defined]


def _assert_ints(decoded: inbox.Decoded) -> None:
    """Every number handed back is a Python int (gmpy2's mpz compares equal: check types)."""
    assert all(type(v) is int for v in (*decoded.shared, *decoded.plaintext))
    if decoded.entry is not None:
        sig = decoded.entry.signature
        assert all(type(v) is int for v in (*sig.r8, sig.s))


# --- decode_many ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_decode_many_equals_reference_on_the_pool(backend, pool) -> None:
    messages, expected = pool
    got = decrypt.decode_many(messages, OPERATOR_SCALAR, backend=backend)
    assert got == expected
    for d in got:
        _assert_ints(d)
    reasons = {d.reason for d in expected}
    assert reasons == {None, "authentication failed", "packed fields too wide"}
    assert any(d.entry is not None and d.entry.signature.r8 == (0, 0) for d in expected)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_decode_many_random_mixes(data, pool) -> None:
    messages, expected = pool
    picks = data.draw(st.lists(st.integers(0, len(messages) - 1), max_size=12))
    backend = data.draw(st.sampled_from(BACKENDS))
    got = decrypt.decode_many([messages[i] for i in picks], OPERATOR_SCALAR, backend=backend)
    assert got == [expected[i] for i in picks]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "scalar", [0, 1, SUBORDER, 2 * SUBORDER + 5, -OPERATOR_SCALAR, OPERATOR_SCALAR + 8 * SUBORDER]
)
def test_decode_many_any_scalar(backend, scalar, pool) -> None:
    messages = pool[0][:3] + pool[0][19:23]
    expected = [inbox.decode(m, scalar) for m in messages]
    assert decrypt.decode_many(messages, scalar, backend=backend) == expected


def test_decode_many_raises_what_the_reference_raises(pool) -> None:
    good = pool[0][0]
    off_curve = Message((good.eph[0], (good.eph[1] + 1) % P), good.ciphertext)
    with pytest.raises(CurveError):
        inbox.decode(off_curve, OPERATOR_SCALAR)
    for backend in BACKENDS:
        with pytest.raises(CurveError):
            decrypt.decode_many([good, off_curve], OPERATOR_SCALAR, backend=backend)
        with pytest.raises(FieldError):
            decrypt.decode_many([good], True, backend=backend)  # type: ignore[arg-type]
        with pytest.raises(FieldError):
            decrypt.decode_many([good], "5", backend=backend)  # type: ignore[arg-type]
    assert decrypt.decode_many([], OPERATOR_SCALAR) == []


# --- verify_many ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_verify_many_equals_reference_on_the_pool(backend, item_pool) -> None:
    items, expected = item_pool
    assert decrypt.verify_many(items, backend=backend) == expected  # type: ignore[arg-type]
    assert expected.count(True) == 12  # the 10 valid ones, the list-shaped key and R8


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_verify_many_random_mixes(data, item_pool) -> None:
    items, expected = item_pool
    picks = data.draw(st.lists(st.integers(0, len(items) - 1), max_size=24))
    backend = data.draw(st.sampled_from(BACKENDS))
    got = decrypt.verify_many([items[i] for i in picks], backend=backend)  # type: ignore[misc]
    assert got == [expected[i] for i in picks]


@pytest.mark.parametrize("backend", BACKENDS)
def test_bisection_pins_each_bad_signature(backend) -> None:
    kern = decrypt._kernel(backend)
    items = [(_signed(i), PUBKEYS[i % len(PUBKEYS)]) for i in range(40)]
    prepared = [decrypt._prepare(e, k, kern) for e, k in items]
    assert all(isinstance(p, tuple) for p in prepared)
    bad = {3, 17, 18, 39}
    for i in bad:  # a wrong h breaks the equation (what a forged signature does)
        r8, key, s, h8 = prepared[i]  # type: ignore[misc]
        prepared[i] = (r8, key, s, (h8 + 1) % SUBORDER)
    got = decrypt._verify_prepared(prepared, kern)  # type: ignore[arg-type]
    assert [i for i, ok in enumerate(got) if not ok] == sorted(bad)
    assert decrypt._verify_prepared([], kern) == []


# --- open_messages -------------------------------------------------------------------------


def _pubkey_of(account: int) -> tuple[int, int] | None:
    if account == 5:
        return None  # unknown account: no verdict
    return PUBKEYS[account] if account < len(PUBKEYS) else (0, 0)


def _expected_open(messages, decoded):
    out = []
    for d in decoded:
        if d.entry is None or _pubkey_of(d.entry.account) is None:
            out.append((d, None))
        else:
            out.append((d, d.entry.verify(_pubkey_of(d.entry.account))))
    return out


@pytest.mark.parametrize("workers", [None, 1, 2])
def test_open_messages(workers, pool) -> None:
    messages, decoded = pool
    expected = _expected_open(messages, decoded)
    assert {ok for _, ok in expected} == {True, False, None}
    got = decrypt.open_messages(messages, OPERATOR_SCALAR, _pubkey_of, workers=workers)
    assert got == expected
    if workers == 2:  # the pool is kept for the next call
        again = decrypt.open_messages(messages[:5], OPERATOR_SCALAR, _pubkey_of, workers=2)
        assert again == expected[:5]
        decrypt.close_pools()


# --- the building blocks -------------------------------------------------------------------


def _random_curve_point(rng: random.Random) -> tuple[int, int]:
    while True:
        y = rng.randrange(P)
        x = _curve_x(y)
        if x is not None:
            return (x, y) if rng.randrange(2) else ((P - x) % P, y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_subgroup_test_by_pairing(backend) -> None:
    kern = decrypt._kernel(backend)
    rng = random.Random(7)
    assert len(decrypt.TORSION) == 8
    for t in decrypt.TORSION:
        assert kern.in_subgroup(*t) == (t == IDENTITY)
    for _ in range(6):
        q = babyjub.mul_base8(rng.randrange(1, SUBORDER))
        assert kern.in_subgroup(*q)
        for t in decrypt.TORSION - {IDENTITY}:
            assert not kern.in_subgroup(*babyjub.add(q, t))
    outcomes = set()
    for _ in range(40):
        pt = _random_curve_point(rng)
        outcomes.add(kern.in_subgroup(*pt))
        assert kern.in_subgroup(*pt) == babyjub.in_subgroup(pt)
    assert outcomes == {True, False}


@pytest.mark.parametrize("backend", BACKENDS)
def test_sqrt(backend) -> None:
    kern = decrypt._kernel(backend)
    rng = random.Random(8)
    values = [1, 4, P - 1, 5, babyjub.D, babyjub.A] + [rng.randrange(1, P) for _ in range(60)]
    for n in values:
        root = kern.sqrt(kern.num(n))
        want = babyjub.sqrt(n)
        assert (root is None) == (want is None)
        if root is not None:
            assert int(root) ** 2 % P == n


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_x_from_y_many(backend) -> None:
    kern = decrypt._kernel(backend)
    rng = random.Random(9)
    ys = [0, 1, P - 1, BASE8[1], _no_root_y(), _large_roots_y()]
    ys += [rng.randrange(P) for _ in range(30)]
    got = decrypt._small_x_from_y_many(ys, kern)
    want = [inbox.small_x_from_y(y) for y in ys]
    assert got == want
    assert want[1] == want[2] == 0 and want[4] is None and want[5] is None
    assert want[3] == BASE8[0]
    assert {x is None for x in want[6:]} == {True, False}


@pytest.mark.parametrize("backend", BACKENDS)
def test_msm(backend) -> None:
    kern = decrypt._kernel(backend)
    rng = random.Random(10)
    for n in (1, 2, 5, 40):
        points = [_random_curve_point(rng) for _ in range(n)]
        scalars = [
            rng.choice([0, 1, rng.randrange(1 << 128), rng.randrange(SUBORDER)]) for _ in range(n)
        ]
        total = IDENTITY
        for pt, k in zip(points, scalars, strict=True):
            total = babyjub.add(total, babyjub.mul(pt, k))
        # Adding -total makes the sum the identity; anything else does not.
        neg = babyjub.neg(total)
        pts = [(kern.num(x), kern.num(y)) for x, y in [*points, neg]]
        assert kern.msm_is_identity(pts, [*scalars, 1])
        if total != IDENTITY:
            assert not kern.msm_is_identity(pts, [*scalars, 2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_scalar_ecdh(backend) -> None:
    kern = decrypt._kernel(backend)
    rng = random.Random(11)
    for k in (1, 2, 3, 31, OPERATOR_SCALAR % SUBORDER, SUBORDER - 1, rng.randrange(SUBORDER)):
        points = [_random_curve_point(rng) for _ in range(3)]
        got = kern.shared_keys(
            [(kern.num(x), kern.num(y)) for x, y in points], decrypt._scalar_plan(k)
        )
        for (x, y, z), pt in zip(got, points, strict=True):
            zi = pow(int(z), -1, P)
            want = babyjub.mul(inbox.cofactor_point(pt), k)
            assert (int(x) * zi % P, int(y) * zi % P) == want


@pytest.mark.parametrize("backend", BACKENDS)
def test_poseidon_for_the_backend(backend) -> None:
    kern = decrypt._kernel(backend)
    rng = random.Random(12)
    for fn, width, full in (
        (kern.perm4, 4, True),
        (kern.hash3, 3, False),
        (kern.hash6, 6, False),
        (kern.hash10, 10, False),
    ):
        state = [rng.randrange(P) for _ in range(width)]
        want = ph._compiled(width, full)(*state)
        got = fn(*(kern.num(v) for v in state))
        assert (tuple(int(v) for v in got) if full else int(got)) == want


def test_backends_agree() -> None:
    assert "int" in BACKENDS
    assert decrypt.default_backend() in BACKENDS
    with pytest.raises(ValueError):
        decrypt._kernel("float")


def _torsion_signed(i: int) -> tuple[SignedOrder, tuple[int, int]]:
    """A signature made with R8 = r*BASE8 + (0, -1) by the key's owner: S*BASE8 = R8 - T2
    + 8h*A holds in the subgroup, so only the torsion part of the equation fails."""
    account = i % len(ACCOUNT_KEYS)
    order = _order(account, 500 + i)
    key = PUBKEYS[account]
    r = RNG.randrange(1, SUBORDER)
    r8 = babyjub.add(babyjub.mul_base8(r), T2)
    hm = poseidon([r8[0], r8[1], key[0], key[1], order.hash()])
    s = (r + hm * 8 * eddsa.secret_scalar(ACCOUNT_KEYS[account])) % SUBORDER
    return SignedOrder(order, Signature(r8, s)), key


@pytest.mark.parametrize("backend", BACKENDS)
def test_torsion_cannot_cancel_in_a_batch(backend) -> None:
    """Two such signatures pass a batch together half of the time unless R8's subgroup
    membership is tested; with the test both fail every time (10 tries: 2^-10)."""
    forged = [_torsion_signed(i) for i in range(2)]
    assert not any(e.verify(k) for e, k in forged)
    e, k = forged[0]  # the subgroup part holds: S*BASE8 == (R8 - T2) + 8h*A
    hm = poseidon([*e.signature.r8, *k, e.order.hash()])
    left = babyjub.mul_base8(e.signature.s)
    assert left == babyjub.add(babyjub.add(e.signature.r8, T2), babyjub.mul(k, 8 * hm))
    valid = [(_signed(i), PUBKEYS[i % len(PUBKEYS)]) for i in range(3, 6)]
    for _ in range(10):
        got = decrypt.verify_many([*forged, *valid], backend=backend)  # type: ignore[list-item]
        assert got == [False] * 2 + [True] * 3


def test_default_backend_can_be_forced_to_int(monkeypatch) -> None:
    monkeypatch.setenv("ZKMATCH_GMPY2", "0")
    assert decrypt.default_backend() == "int"
