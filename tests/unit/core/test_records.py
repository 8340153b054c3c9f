"""`quick_init`: a frozen, slotted record built through its slot descriptors is the record
`dataclass`'s own `__init__` builds, and stays immutable."""
from __future__ import annotations

import dataclasses
from dataclasses import InitVar, dataclass, field
from typing import Any

import pytest

from app.core.records import Call, Caller, Credentials, RequestMeta, Session, quick_init


def _twins() -> tuple[type[Any], type[Any]]:
    """The same record class twice: as `dataclass` makes it, and with `quick_init`."""
    def make() -> type[Any]:
        @dataclass(frozen=True, slots=True)
        class Rec:
            a: str
            b: int = 2
            c: list[int] = field(default_factory=list)
            d: str | None = field(default=None, repr=False)
            seen: tuple[str, ...] = ()

            def __post_init__(self) -> None:
                object.__setattr__(self, "seen", (*self.seen, "post_init"))
        return Rec
    return make(), quick_init(make())


@pytest.mark.parametrize(("args", "kwargs"), [
    (("x",), {}), (("x", 3), {}), ((), {"a": "x", "c": [1]}), (("x", 3, [4], "d"), {}), (("x",), {"d": "dd", "b": 0}),
])
def test_same_record_as_the_dataclass_init(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    plain, quick = _twins()
    p, q = plain(*args, **kwargs), quick(*args, **kwargs)
    assert dataclasses.astuple(p) == dataclasses.astuple(q) and repr(p) == repr(q)
    assert q.seen == ("post_init",)
    assert quick("x").c == [] and quick("x").c is not quick("x").c  # a fresh default each time


@pytest.mark.parametrize(("args", "kwargs"), [((), {}), (("x",), {"a": "y"}), (("x",), {"z": 1}), (tuple("x1234567"), {})])
def test_same_argument_errors_as_the_dataclass_init(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    plain, quick = _twins()
    with pytest.raises(TypeError) as p:
        plain(*args, **kwargs)
    with pytest.raises(TypeError) as q:
        quick(*args, **kwargs)
    assert str(p.value) == str(q.value)


def test_records_stay_immutable_equal_and_hashable() -> None:
    meta = RequestMeta("r", 1.0, source_ip="10.0.0.1")
    creds = Credentials("ASIA1", "secret", "token", 2.0)
    session = Session(access_key_id="ASIA1", secret_access_key="s", kind="assumed-role", account="0", arn="a",
                      user_id="u", principal_arn="p", principal_id="i", principal_name="n", issued_at=0.0,
                      expires_at=1.0)
    caller = Caller("assumed-role", "0", "a", "u", "p", "ASIA1", session=session)
    for record, name in ((meta, "region"), (creds, "secret_access_key"), (session, "kind"), (caller, "arn"),
                         (Call(caller, meta), "caller")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, "changed")
        assert record == dataclasses.replace(record) and hash(record) == hash(dataclasses.replace(record))
    assert (meta.region, meta.secure_transport, session.tags, session.chained) == (None, False, (), False)
    assert "secret" not in repr(creds) and "token" not in repr(creds)


def test_refuses_what_it_does_not_fit() -> None:
    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: str
        b: InitVar[int] = 0

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: str

    @dataclass(frozen=True, slots=True)
    class NotInInit:
        a: str
        b: int = field(default=0, init=False)

    @dataclass(slots=True)
    class NotFrozen:
        a: str

    @dataclass(frozen=True)
    class NoSlots:
        a: str

    for cls in (WithInitVar, KeywordOnly, NotInInit, NotFrozen, NoSlots):
        with pytest.raises(TypeError):
            quick_init(cls)
