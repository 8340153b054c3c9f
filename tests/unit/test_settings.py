from __future__ import annotations

import base64

import pytest

from app.settings import Settings, SettingsError

KEY = base64.b64encode(b"m" * 32).decode()


def test_serve_defaults():
    s = Settings.from_env({"TESSERA_REDIS_URL": "redis://h:6379/0", "TESSERA_MASTER_KEY": KEY}, port=9000)
    assert s.account_id == "000000000000"
    assert s.public_url == "http://127.0.0.1:9000"
    assert s.saml_entity_id == "http://127.0.0.1:9000/saml"
    assert s.master_key == b"m" * 32


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({}, "TESSERA_REDIS_URL is required"),
        ({"TESSERA_REDIS_URL": "http://x"}, "redis://"),
        ({"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": "!!"}, "base64"),
        ({"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": base64.b64encode(b"x" * 16).decode()}, "32 bytes"),
        ({"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": KEY, "TESSERA_ACCOUNT_ID": "12"}, "12 digits"),
        ({"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": KEY, "TESSERA_ROOT_ACCESS_KEY_ID": "AKIAAAAAAAAAAAAAAAAA"}, "both"),
        ({"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": KEY, "TESSERA_PUBLIC_URL": "ftp://x"}, "http"),
    ],
)
def test_invalid_settings_fail_in_one_line(env, fragment):
    with pytest.raises(SettingsError) as exc:
        Settings.from_env(env)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_dev_needs_no_redis_or_key():
    s = Settings.from_env({}, mode="dev")
    assert s.redis_url is None and s.master_key is None
    assert s.with_master_key(b"k" * 32).master_key == b"k" * 32


def test_public_url_and_entity_id_override():
    s = Settings.from_env({"TESSERA_PUBLIC_URL": "https://sts.example.com/", "TESSERA_SAML_ENTITY_ID": "urn:tessera"}, mode="dev")
    assert s.public_url == "https://sts.example.com"
    assert s.saml_entity_id == "urn:tessera"


def test_oidc_ca_bundle_is_checked_at_start(tmp_path):
    from tests.tls_material import Pki, pem

    base = {"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": KEY}
    assert Settings.from_env(base).oidc_ca_bundle is None  # the system's CA store
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(pem(Pki.create().root_cert))
    assert Settings.from_env(base | {"TESSERA_OIDC_CA_BUNDLE": str(bundle)}).oidc_ca_bundle == str(bundle)
    (tmp_path / "junk.pem").write_text("not a certificate")
    for path, fragment in ((tmp_path / "missing.pem", "No such file"), (tmp_path / "junk.pem", "no PEM certificate")):
        with pytest.raises(SettingsError, match=fragment) as exc:
            Settings.from_env(base | {"TESSERA_OIDC_CA_BUNDLE": str(path)})
        assert "\n" not in str(exc.value) and "TESSERA_OIDC_CA_BUNDLE" in str(exc.value)


@pytest.mark.parametrize(("url", "named"), [
    ("http://admin:hunter2-secret@redis.internal:6379/0", "with the scheme `http`"),
    ("hunter2-secret@redis.internal:6379", "without a scheme"),
    ("re dis://u:hunter2-secret@h:1", "without a scheme"),
])
def test_a_refused_store_url_is_named_by_its_scheme_never_its_password(url, named):
    with pytest.raises(SettingsError) as exc:
        Settings.from_env({"TESSERA_REDIS_URL": url, "TESSERA_MASTER_KEY": KEY})
    assert named in str(exc.value)
    assert "hunter2" not in str(exc.value) and "redis.internal" not in str(exc.value)
