"""Every failure on a route becomes an AWS error: its own, 503 for the store, else 500."""
from __future__ import annotations

import redis.exceptions

from app.core import errors
from app.wire.query import as_aws_error


def test_aws_errors_pass_through():
    exc = errors.NoSuchEntity("no role `x`")
    assert as_aws_error(exc, "r", "GetRole") is exc


def test_store_failures_are_service_unavailable():
    for exc in (redis.exceptions.ConnectionError("refused"), redis.exceptions.TimeoutError(), OSError("reset")):
        err = as_aws_error(exc, "r", "AssumeRole")
        assert (err.code, err.status, err.sender) == ("ServiceUnavailable", 503, False)


def test_anything_else_is_internal_failure_without_its_text():
    err = as_aws_error(ValueError("secret-bearing detail"), "r", "AssumeRole")
    assert (err.code, err.status) == ("InternalFailure", 500)
    assert "secret-bearing detail" not in err.message
