from __future__ import annotations

import pytest

from app.store.secretbox import SecretBox

BOX = SecretBox(b"s" * 32)


def test_seal_open_round_trip_and_fresh_nonces():
    a, b = BOX.seal("secret", "AKIA1"), BOX.seal("secret", "AKIA1")
    assert a != b and "secret" not in a
    assert BOX.open(a, "AKIA1") == "secret"


@pytest.mark.parametrize("mutate", [lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1], lambda s: "v2." + s[3:], lambda s: s[:10]])
def test_altered_ciphertext_does_not_open(mutate):
    with pytest.raises(ValueError):
        BOX.open(mutate(BOX.seal("secret", "AKIA1")), "AKIA1")


def test_ciphertext_bound_to_its_record():
    with pytest.raises(ValueError):
        BOX.open(BOX.seal("secret", "AKIA1"), "AKIA2")


def test_other_master_key_does_not_open():
    with pytest.raises(ValueError):
        SecretBox(b"t" * 32).open(BOX.seal("secret", "AKIA1"), "AKIA1")


def test_digest_is_keyed_and_stable():
    assert BOX.digest("token") == BOX.digest("token")
    assert BOX.digest("token") != SecretBox(b"t" * 32).digest("token")
    assert BOX.mac(b"x", b"a") != BOX.mac(b"x", b"b")


def test_master_key_length_enforced():
    with pytest.raises(ValueError):
        SecretBox(b"short")


def test_digest_and_mac_are_the_documented_hmacs():
    """Stored digests and issued tokens must stay valid: HMAC-SHA256 under the derived key, of
    the value (digest) or of purpose, a zero byte and the data (mac); repeated and interleaved
    calls (the keyed states are copied, never changed) give the same answers."""
    import hashlib
    import hmac

    key = hmac.new(b"s" * 32, b"tessera/digest/v1", hashlib.sha256).digest()
    for _ in range(2):
        assert BOX.digest("token") == BOX.digest(b"token") == hmac.new(key, b"token", hashlib.sha256).hexdigest()
        assert BOX.mac(b"x", b"a") == hmac.new(key, b"a\x00x", hashlib.sha256).digest()
        assert BOX.mac(b"yz", b"b") == hmac.new(key, b"b\x00yz", hashlib.sha256).digest()
