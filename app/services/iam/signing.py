"""Signing certificates and SSH public keys: UploadSigningCertificate ListSigningCertificates
UpdateSigningCertificate DeleteSigningCertificate UploadSSHPublicKey GetSSHPublicKey
ListSSHPublicKeys UpdateSSHPublicKey DeleteSSHPublicKey.

Every action is authorized on the user (resource type `user`, as AWS's Service Authorization
Reference lists them). For certificates UserName is optional and defaults to the caller: the root
then manages the root's own certificates (authorized on the account root). SSH keys always name
their user (the model requires UserName). Status `Expired` is in the model's enum but cannot be
set (InvalidInput), as for access keys on AWS.
"""
from __future__ import annotations

from typing import Any

from app.core.errors import InvalidInput
from app.core.records import Call
from app.services.iam.access_keys import AccessKeysService
from app.services.iam.base import listing, page
from app.services.iam.public_keys import parse_certificate, parse_ssh_public_key

SETTABLE = ("Active", "Inactive")


def _settable(status: str) -> str:
    if status not in SETTABLE:
        raise InvalidInput(f"status `{status}` cannot be set: use Active or Inactive")
    return status


class SigningService(AccessKeysService):
    # ---- signing certificates ----
    async def upload_signing_certificate(self, call: Call, *, certificate_body: str,
                                         user_name: str | None = None) -> dict[str, Any]:
        name = await self._key_owner(call, "UploadSigningCertificate", user_name)
        parsed = parse_certificate(certificate_body, self._clock.time())
        cert = await self._store.upload_signing_certificate(name, parsed.body, parsed.digest)
        return {"certificate": cert}

    async def list_signing_certificates(self, call: Call, *, user_name: str | None = None,
                                        marker: str | None = None,
                                        max_items: int | None = None) -> dict[str, Any]:
        name = await self._key_owner(call, "ListSigningCertificates", user_name)
        certs = await self._store.list_signing_certificates(name)
        return listing("certificates", *page(
            certs, lambda c: f"{c.upload_date:020.6f}{c.certificate_id}", marker, max_items))

    async def update_signing_certificate(self, call: Call, *, certificate_id: str, status: str,
                                         user_name: str | None = None) -> None:
        name = await self._key_owner(call, "UpdateSigningCertificate", user_name)
        await self._store.update_signing_certificate(name, certificate_id, _settable(status))

    async def delete_signing_certificate(self, call: Call, *, certificate_id: str,
                                         user_name: str | None = None) -> None:
        name = await self._key_owner(call, "DeleteSigningCertificate", user_name)
        await self._store.delete_signing_certificate(name, certificate_id)

    # ---- SSH public keys ----
    async def upload_ssh_public_key(self, call: Call, *, user_name: str,
                                    ssh_public_key_body: str) -> dict[str, Any]:
        await self._user_target(call, "UploadSSHPublicKey", user_name)
        parsed = parse_ssh_public_key(ssh_public_key_body)
        key = await self._store.upload_ssh_public_key(
            user_name, body=parsed.body, encoding=parsed.encoding, openssh=parsed.openssh,
            pem=parsed.pem, fingerprint=parsed.fingerprint)
        return {"ssh_public_key": key}

    async def get_ssh_public_key(self, call: Call, *, user_name: str, ssh_public_key_id: str,
                                 encoding: str) -> dict[str, Any]:
        await self._user_target(call, "GetSSHPublicKey", user_name)
        return {"ssh_public_key": await self._store.get_ssh_public_key(
            user_name, ssh_public_key_id, encoding)}

    async def list_ssh_public_keys(self, call: Call, *, user_name: str | None = None,
                                   marker: str | None = None,
                                   max_items: int | None = None) -> dict[str, Any]:
        name = await self._key_owner(call, "ListSSHPublicKeys", user_name)
        keys = await self._store.list_ssh_public_keys(name) if name else []
        return listing("ssh_public_keys", *page(
            keys, lambda k: f"{k.upload_date:020.6f}{k.ssh_public_key_id}", marker, max_items))

    async def update_ssh_public_key(self, call: Call, *, user_name: str, ssh_public_key_id: str,
                                    status: str) -> None:
        await self._user_target(call, "UpdateSSHPublicKey", user_name)
        await self._store.update_ssh_public_key(user_name, ssh_public_key_id, _settable(status))

    async def delete_ssh_public_key(self, call: Call, *, user_name: str,
                                    ssh_public_key_id: str) -> None:
        await self._user_target(call, "DeleteSSHPublicKey", user_name)
        await self._store.delete_ssh_public_key(user_name, ssh_public_key_id)
