"""The whole Redis key schema, in one place.

IAM entities of an account share the hash tag `{iam:ACCOUNT}` so that every multi-key
change (MULTI/EXEC) lands in one Redis Cluster slot. A session is a single key named by
its access key id, so sessions spread over the cluster.
"""
from __future__ import annotations


class Keys:
    def __init__(self, account: str) -> None:
        self.account = account
        self.tag = f"{{iam:{account}}}"

    # ---- sessions (temporary credentials) ----
    @staticmethod
    def session(access_key_id: str) -> str:
        return f"sess:{access_key_id}"
