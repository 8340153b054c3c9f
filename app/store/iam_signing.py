"""X.509 signing certificates (of IAM users and of the root: user name "") and SSH public keys
(of IAM users), as parsed by app.services.iam.public_keys. Neither is a secret.

A user's certificates live in one HASH (id -> JSON) beside the user, as do their SSH keys; the
records do not repeat the user's name (a rename moves the HASH, the name comes from the user).
A certificate is uploaded once per account (`T:crtsha`: its DER's SHA-256 -> id), an SSH key
once per user (by fingerprint). `list_signing_certificates` / `list_ssh_public_keys` are also
the reads a credential report takes (status and upload date of each, oldest first).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from app.core import ids
from app.core.errors import DuplicateCertificate, DuplicateSSHPublicKey, LimitExceeded, NoSuchEntity
from app.core.records import SigningCertificate, SshPublicKey
from app.store.iam_entities import EntitiesMixin, not_found

MAX_CERTIFICATES = 2  # SigningCertificatesPerUser
MAX_SSH_KEYS = 5  # SSHPublicKeysPerUser
CERTIFICATE_ID_LENGTH = 32
SSH_KEY_PREFIX = "APKA"


def certificate_missing(certificate_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Certificate with id {certificate_id} cannot be found.")


def ssh_key_missing(key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Public Key with id {key_id} cannot be found.")


class SigningMixin(EntitiesMixin):
    def _cert_hash(self, user_name: str) -> str:
        return (self._k.user_signing_certs(user_name.lower()) if user_name
                else self._k.root_signing_certs())

    async def _owner_name(self, user_name: str) -> str:
        """The user's stored name ("" for the root); NoSuchEntity when there is no such user."""
        if not user_name:
            return ""
        raw = await self._r.get(self._k.entity("user", user_name.lower()))
        if raw is None:
            raise not_found("user", user_name)
        return str(json.loads(raw)["n"])

    async def _set_status(self, owner: str, item_id: str, status: str,
                          missing: Callable[[str], NoSuchEntity]) -> None:
        """Set the status of one record of a certificate / SSH key HASH."""

        async def body(pipe: Any) -> None:
            raw = await self._r.hget(owner, item_id)
            if raw is None:
                raise missing(item_id)
            d = json.loads(raw)
            d["s"] = status
            pipe.multi()
            pipe.hset(owner, item_id, json.dumps(d))

        await self._atomic([owner], body)

    # ---- signing certificates ----
    @staticmethod
    def _cert(name: str, cert_id: str, raw: str) -> SigningCertificate:
        d = json.loads(raw)
        return SigningCertificate(user_name=name, certificate_id=cert_id, certificate_body=d["b"],
                                  status=d["s"], upload_date=float(d["c"]))

    async def upload_signing_certificate(self, user_name: str, body: str,
                                         digest: str) -> SigningCertificate:
        """A new Active certificate (`digest`: SHA-256 of its DER) for the user ("" = root)."""
        owner = self._cert_hash(user_name)
        user_key = self._k.entity("user", user_name.lower()) if user_name else None
        digests = self._k.signing_cert_digests()
        cert_id = ids.opaque_id(CERTIFICATE_ID_LENGTH, self._rng)

        async def body_(pipe: Any) -> SigningCertificate:
            user_raw, count, taken = await self._read(
                ("get", user_key) if user_key else ("exists", owner), ("hlen", owner),
                ("hget", digests, digest))
            if user_key and user_raw is None:
                raise not_found("user", user_name)
            if taken is not None:
                raise DuplicateCertificate("The request was rejected because the same "
                                           "certificate is associated with an IAM user in the "
                                           "account.")
            if count >= MAX_CERTIFICATES:
                raise LimitExceeded("Cannot exceed quota for SigningCertificatesPerUser: "
                                    f"{MAX_CERTIFICATES}")
            name = json.loads(user_raw)["n"] if user_key else ""
            rec = SigningCertificate(user_name=name, certificate_id=cert_id,
                                     certificate_body=body, status="Active",
                                     upload_date=self._clock.time())
            pipe.multi()
            pipe.hset(owner, cert_id, json.dumps({"b": body, "s": "Active",
                                                  "c": str(rec.upload_date), "d": digest}))
            pipe.hset(digests, digest, cert_id)
            return rec

        return await self._atomic([owner, digests] + ([user_key] if user_key else []), body_)

    async def list_signing_certificates(self, user_name: str) -> list[SigningCertificate]:
        """The user's (or root's) certificates, oldest first; NoSuchEntity for no such user."""
        name = await self._owner_name(user_name)
        found: dict[str, str] = await self._r.hgetall(self._cert_hash(user_name))
        certs = [self._cert(name, i, raw) for i, raw in found.items()]
        return sorted(certs, key=lambda c: (c.upload_date, c.certificate_id))

    async def update_signing_certificate(self, user_name: str, certificate_id: str,
                                         status: str) -> None:
        await self._owner_name(user_name)
        await self._set_status(self._cert_hash(user_name), certificate_id, status,
                               certificate_missing)

    async def delete_signing_certificate(self, user_name: str, certificate_id: str) -> None:
        owner, digests = self._cert_hash(user_name), self._k.signing_cert_digests()
        await self._owner_name(user_name)

        async def body(pipe: Any) -> None:
            raw = await self._r.hget(owner, certificate_id)
            if raw is None:
                raise certificate_missing(certificate_id)
            pipe.multi()
            pipe.hdel(owner, certificate_id)
            pipe.hdel(digests, json.loads(raw)["d"])

        await self._atomic([owner, digests], body)

    # ---- SSH public keys ----
    @staticmethod
    def _ssh(name: str, key_id: str, raw: str, encoding: str | None) -> SshPublicKey:
        """`encoding`: SSH | PEM for that text of the key, None for the body as uploaded."""
        d = json.loads(raw)
        text = d["b"] if encoding is None or encoding == d["e"] else d["o" if encoding == "SSH"
                                                                      else "p"]
        return SshPublicKey(user_name=name, ssh_public_key_id=key_id, fingerprint=d["f"],
                            ssh_public_key_body=text, status=d["s"], upload_date=float(d["c"]))

    async def upload_ssh_public_key(self, user_name: str, *, body: str, encoding: str,
                                    openssh: str, pem: str, fingerprint: str) -> SshPublicKey:
        owner = self._k.user_ssh_keys(user_name.lower())
        user_key = self._k.entity("user", user_name.lower())
        key_id = ids.access_key_id(SSH_KEY_PREFIX, self._rng)

        async def body_(pipe: Any) -> SshPublicKey:
            user_raw, existing = await self._read(("get", user_key), ("hgetall", owner))
            if user_raw is None:
                raise not_found("user", user_name)
            if any(json.loads(r)["f"] == fingerprint for r in existing.values()):
                raise DuplicateSSHPublicKey("The request was rejected because the SSH public key "
                                            "is already associated with the specified IAM user.")
            if len(existing) >= MAX_SSH_KEYS:
                raise LimitExceeded(f"Cannot exceed quota for SSHPublicKeysPerUser: {MAX_SSH_KEYS}")
            if key_id in existing:  # 80 random bits colliding: practically never
                raise LimitExceeded("SSH public key id collision; retry the request")
            raw = json.dumps({"b": body, "e": encoding, "o": openssh, "p": pem,
                              "f": fingerprint, "s": "Active", "c": str(self._clock.time())})
            pipe.multi()
            pipe.hset(owner, key_id, raw)
            return self._ssh(json.loads(user_raw)["n"], key_id, raw, None)

        return await self._atomic([owner, user_key], body_)

    async def get_ssh_public_key(self, user_name: str, key_id: str,
                                 encoding: str) -> SshPublicKey:
        name = await self._owner_name(user_name)
        raw = await self._r.hget(self._k.user_ssh_keys(user_name.lower()), key_id)
        if raw is None:
            raise ssh_key_missing(key_id)
        return self._ssh(name, key_id, raw, encoding)

    async def list_ssh_public_keys(self, user_name: str) -> list[SshPublicKey]:
        """The user's keys, oldest first; NoSuchEntity for no such user."""
        name = await self._owner_name(user_name)
        found: dict[str, str] = await self._r.hgetall(self._k.user_ssh_keys(user_name.lower()))
        keys = [self._ssh(name, i, raw, None) for i, raw in found.items()]
        return sorted(keys, key=lambda k: (k.upload_date, k.ssh_public_key_id))

    async def update_ssh_public_key(self, user_name: str, key_id: str, status: str) -> None:
        await self._owner_name(user_name)
        await self._set_status(self._k.user_ssh_keys(user_name.lower()), key_id, status,
                               ssh_key_missing)

    async def delete_ssh_public_key(self, user_name: str, key_id: str) -> None:
        owner = self._k.user_ssh_keys(user_name.lower())
        await self._owner_name(user_name)

        async def body(pipe: Any) -> None:
            if not await self._r.hexists(owner, key_id):
                raise ssh_key_missing(key_id)
            pipe.multi()
            pipe.hdel(owner, key_id)

        await self._atomic([owner], body)
