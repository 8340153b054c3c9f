"""The generic AWS Query protocol codec (STS + IAM), driven by botocore's service models."""
from app.wire.codec.codec import Operation, QueryCodec
from app.wire.codec.form import MAX_PAIRS, parse_form

__all__ = ["MAX_PAIRS", "Operation", "QueryCodec", "parse_form"]
