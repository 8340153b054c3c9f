"""The Sentinel URL (app.store.sentinel): what it accepts, and a one-line reason for what it refuses."""
from __future__ import annotations

import pytest

from app.settings import Settings, SettingsError
from app.store.sentinel import SentinelUrlError, parse_sentinel_url

S3 = "127.0.0.1:26379,127.0.0.1:26380,[::1]:26381"


def test_full_url():
    parts = parse_sentinel_url(f"rediss+sentinel://app:p%40ss@{S3}/mymaster/4?sentinel_username=sen"
                               "&sentinel_password=spw&sentinel_tls=yes&ssl_ca_certs=/ca.pem&ssl_cert_reqs=none")
    assert parts["sentinels"] == [("127.0.0.1", 26379), ("127.0.0.1", 26380), ("::1", 26381)]
    assert (parts["service"], parts["db"], parts["tls"]) == ("mymaster", 4, True)
    assert (parts["username"], parts["password"]) == ("app", "p@ss")
    assert (parts["sentinel_username"], parts["sentinel_password"], parts["sentinel_tls"]) == ("sen", "spw", True)
    assert parts["ssl"] == {"ssl_cert_reqs": "none", "ssl_check_hostname": False, "ssl_ca_certs": "/ca.pem"}


def test_minimal_url_defaults():
    parts = parse_sentinel_url("redis+sentinel://sentinel.example:26379/tessera")
    assert parts["sentinels"] == [("sentinel.example", 26379)]
    assert (parts["service"], parts["db"], parts["tls"], parts["username"], parts["password"]) == \
        ("tessera", 0, False, None, None)
    assert parts["sentinel_tls"] is False and parts["ssl"]["ssl_cert_reqs"] == "required"


def test_password_alone():
    parts = parse_sentinel_url("redis+sentinel://secret@h:1/svc/")
    assert (parts["username"], parts["password"], parts["db"]) == (None, "secret", 0)


@pytest.mark.parametrize("url, why", [
    ("redis://h:1/svc", "scheme"),
    ("redis+sentinel:///svc", "no sentinel"),
    ("redis+sentinel://h:1", "no SERVICE"),
    ("redis+sentinel://h:1/", "no SERVICE"),
    ("redis+sentinel://h/svc", "is not HOST:PORT"),
    ("redis+sentinel://h:0/svc", "port"),
    ("redis+sentinel://h:65536/svc", "port"),
    ("redis+sentinel://h:1,/svc", "is not HOST:PORT"),
    ("redis+sentinel://h h:1/svc", "is not HOST:PORT"),
    ("redis+sentinel://h:1/s vc", "service name"),
    ("redis+sentinel://h:1/svc/x", "database"),
    ("redis+sentinel://h:1/svc/123456", "database"),
    ("redis+sentinel://h:1/svc/1/2", "/SERVICE or /SERVICE/DB"),
    ("redis+sentinel://h:1/svc?db=2", "unknown option `db`"),
    ("redis+sentinel://h:1/svc?sentinel_tls=maybe", "sentinel_tls"),
    ("redis+sentinel://h:1/svc?ssl_cert_reqs=optional", "ssl_cert_reqs"),
    ("redis+sentinel://h:1/svc?sentinel_password=a&sentinel_password=b", "more than once"),
    ("redis+sentinel://h:1/svc#frag", "fragment"),
    ("redis+sentinel://" + ",".join(f"h:{p}" for p in range(1, 18)) + "/svc", "more than 16"),
    ("redis+sentinel://h:1/" + "s" * 5000, "longer than"),
])
def test_refused_with_a_reason(url, why):
    with pytest.raises(SentinelUrlError) as exc:
        parse_sentinel_url(url)
    assert why in str(exc.value) and "\n" not in str(exc.value)


def test_the_password_never_appears_in_the_error():
    with pytest.raises(SentinelUrlError) as exc:
        parse_sentinel_url("redis+sentinel://u:hunter2@h:1/svc?sentinel_password=hunter3&bogus=1")
    assert "hunter2" not in str(exc.value) and "hunter3" not in str(exc.value)


@pytest.mark.parametrize("url", [
    "redis+sentinel://u:hun/ter2@h:1/svc",  # the part before `/` was read as a sentinel `u:hun`
    "redis+sentinel://u:1234?hunter2@h:1/svc",  # `u:1234` a sentinel, `hunter2@h:1` an unknown option
    "redis+sentinel://h:1/svc?sentinel_password=hun?ter2@x",
])
def test_a_password_with_a_raw_slash_or_question_mark_is_refused_without_a_piece_of_it(url):
    with pytest.raises(SentinelUrlError) as exc:
        parse_sentinel_url(url)
    text = str(exc.value)
    assert "percent-encode" in text
    assert not any(piece in text for piece in ("hun", "ter2", "1234", "u:"))


def test_settings_refuse_a_bad_sentinel_url_at_start_up():
    env = {"TESSERA_REDIS_URL": "redis+sentinel://h:1/", "TESSERA_MASTER_KEY": "a" * 43 + "="}
    with pytest.raises(SettingsError, match="no SERVICE name"):
        Settings.from_env(env)
    env["TESSERA_REDIS_URL"] = "redis+sentinel://h:1/svc/2"
    assert Settings.from_env(env).redis_url == "redis+sentinel://h:1/svc/2"


async def test_no_sentinel_answers_a_connection_error_in_one_line_and_one_try():
    """Unreachable sentinels: redis-py's ConnectionError (the wire's 503), one line naming each
    sentinel asked, and a failed discovery is not repeated (the recovery policy)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from app.store.connection import connect

    client = connect("redis+sentinel://127.0.0.1:1,127.0.0.1:2/svc/3?sentinel_password=hunter2")
    asked = []
    sentinels = client.connection_pool.sentinel_manager.sentinels
    for sentinel in sentinels:
        original = sentinel.execute_command

        async def counted(*args, _original=original, **kwargs):
            asked.append(args[0])
            return await _original(*args, **kwargs)

        sentinel.execute_command = counted
    try:
        with pytest.raises(RedisConnectionError) as exc:
            await client.set("k", "v")
    finally:
        await client.aclose()
    text = str(exc.value)
    assert "no sentinel names a primary for `svc`" in text and "127.0.0.1:1" in text and "127.0.0.1:2" in text
    assert "\n" not in text and "hunter2" not in text
    assert len(asked) == 2  # each sentinel asked once: the discovery was not repeated


async def test_tls_options_reach_the_data_nodes_and_the_sentinels():
    from redis.asyncio.connection import Connection, SSLConnection

    from app.store.sentinel import connect_sentinel

    plain = connect_sentinel("redis+sentinel://h:1/svc")
    tls = connect_sentinel("rediss+sentinel://u:pw@h:1,h:2/svc/2?ssl_ca_certs=/ca.pem&ssl_cert_reqs=none"
                           "&sentinel_tls=yes&sentinel_password=spw")
    try:
        assert not issubclass(plain.connection_pool.connection_class, SSLConnection)
        assert issubclass(plain.connection_pool.connection_class, Connection)
        pool = tls.connection_pool
        assert issubclass(pool.connection_class, SSLConnection)
        kwargs = pool.connection_kwargs
        assert (kwargs["ssl_ca_certs"], kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"]) == ("/ca.pem", "none", False)
        assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("u", "pw", 2)
        sentinels = pool.sentinel_manager.sentinels
        assert len(sentinels) == 2
        for sentinel in sentinels:
            assert issubclass(sentinel.connection_pool.connection_class, SSLConnection)
            assert sentinel.connection_pool.connection_kwargs["password"] == "spw"
        assert not issubclass(plain.connection_pool.sentinel_manager.sentinels[0].connection_pool.connection_class,
                              SSLConnection)
    finally:
        await plain.aclose()
        await tls.aclose()
