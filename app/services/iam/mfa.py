"""Virtual MFA devices: CreateVirtualMFADevice EnableMFADevice ResyncMFADevice
DeactivateMFADevice DeleteVirtualMFADevice GetMFADevice ListMFADevices ListVirtualMFADevices
TagMFADevice UntagMFADevice ListMFADeviceTags.

Resources authorized, as AWS's Service Authorization Reference lists them for IAM: the device
(`arn:aws:iam::ACCOUNT:mfa/PATH/NAME`, resource type `mfa`) for Create/DeleteVirtualMFADevice,
Tag/UntagMFADevice and ListMFADeviceTags; the user (type `user`) for Enable, Resync,
Deactivate, ListMFADevices and GetMFADevice (documented "for the specified user"); no resource
type for ListVirtualMFADevices, which AWS names `arn:aws:iam::ACCOUNT:mfa/` in its denials.
UserName defaults to the caller where it is optional; the root has no devices here.
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import segno

from app.core import arn as arns
from app.core.errors import NoSuchEntity, ValidationError
from app.core.records import Call, VirtualMfaDevice
from app.services.iam.access_keys import AccessKeysService
from app.services.iam.base import listing, page, parse_tags, tag_context, tag_listing, untag_context
from app.services.iam.users import user_missing
from app.store.iam_mfa import NOT_THE_USERS, device_lname, device_missing

SERIAL_MAX = 256  # the model's SerialNumber bound: a longer ARN could never be named again
ISSUER = "Tessera"


def otpauth_uri(name: str, account: str, seed: str) -> str:
    """The key URI authenticator apps read from the QR code (Google Authenticator's format)."""
    return f"otpauth://totp/{quote(name, safe='')}@{account}?secret={seed}&issuer={ISSUER}"


def qr_code_png(uri: str) -> bytes:
    out = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(out, kind="png", scale=4)
    return out.getvalue()


class MfaService(AccessKeysService):
    def _mfa_arn(self, serial_number: str) -> str:
        """The resource a serial number names (a hardware serial: the ARN it would have)."""
        if serial_number.startswith("arn:"):
            return serial_number
        return arns.iam(self._account, f"mfa/{serial_number}")

    async def _device_target(self, call: Call, action: str, serial_number: str, *,
                             context: Mapping[str, Any] | None = None) -> VirtualMfaDevice:
        """Authorize `action` on the device, then require that it exists."""
        device = await self._store.get_virtual_mfa_device(serial_number)
        await self._require(call, action, self._mfa_arn(serial_number), context=context,
                            resource_tags=device.tags if device else ())
        if device is None:
            raise device_missing(serial_number)
        return device

    async def create_virtual_mfa_device(self, call: Call, *, virtual_mfa_device_name: str,
                                        path: str | None = None,
                                        tags: Sequence[Mapping[str, str]] | None = None
                                        ) -> dict[str, Any]:
        path = path or "/"
        parsed = parse_tags(tags)
        serial = arns.iam(self._account, f"mfa{path}{virtual_mfa_device_name}")
        await self._require(call, "CreateVirtualMFADevice", serial, context=tag_context(parsed))
        if len(serial) > SERIAL_MAX:
            raise ValidationError(f"the serial number `{serial}` would be longer than "
                                  f"{SERIAL_MAX} characters; use a shorter name or path")
        device = await self._store.create_virtual_mfa_device(virtual_mfa_device_name, path=path,
                                                             tags=parsed)
        seed = (device.base32_string_seed or b"").decode("ascii")
        png = qr_code_png(otpauth_uri(virtual_mfa_device_name, self._account, seed))
        return {"virtual_mfa_device": replace(device, qr_code_png=png)}

    async def enable_mfa_device(self, call: Call, *, user_name: str, serial_number: str,
                                authentication_code1: str, authentication_code2: str) -> None:
        await self._user_target(call, "EnableMFADevice", user_name)
        await self._store.enable_mfa_device(user_name, serial_number, authentication_code1,
                                            authentication_code2)

    async def resync_mfa_device(self, call: Call, *, user_name: str, serial_number: str,
                                authentication_code1: str, authentication_code2: str) -> None:
        await self._user_target(call, "ResyncMFADevice", user_name)
        await self._store.resync_mfa_device(user_name, serial_number, authentication_code1,
                                            authentication_code2)

    async def deactivate_mfa_device(self, call: Call, *, serial_number: str,
                                    user_name: str | None = None) -> None:
        name = await self._key_owner(call, "DeactivateMFADevice", user_name)
        if name == "":
            raise NoSuchEntity(NOT_THE_USERS)
        await self._store.deactivate_mfa_device(name, serial_number)

    async def delete_virtual_mfa_device(self, call: Call, *, serial_number: str) -> None:
        await self._device_target(call, "DeleteVirtualMFADevice", serial_number)
        await self._store.delete_virtual_mfa_device(serial_number)

    async def get_mfa_device(self, call: Call, *, serial_number: str,
                             user_name: str | None = None) -> Any:
        name = await self._key_owner(call, "GetMFADevice", user_name)
        found = await self._store.get_mfa_device(name, serial_number) if name else None
        if found is None:
            raise device_missing(serial_number)
        return found

    async def list_mfa_devices(self, call: Call, *, user_name: str | None = None,
                               marker: str | None = None,
                               max_items: int | None = None) -> dict[str, Any]:
        name = await self._key_owner(call, "ListMFADevices", user_name)
        devices = await self._store.list_mfa_devices(name) if name else []
        if devices is None:
            raise user_missing(name)
        return listing("mfa_devices", *page(devices, lambda d: device_lname(d.serial_number),
                                            marker, max_items))

    async def list_virtual_mfa_devices(self, call: Call, *, assignment_status: str | None = None,
                                       marker: str | None = None,
                                       max_items: int | None = None) -> dict[str, Any]:
        await self._require(call, "ListVirtualMFADevices", arns.iam(self._account, "mfa/"))
        status = assignment_status or "Any"

        async def lister(_: str, after: str | None, limit: int) -> Any:
            return await self._store.list_virtual_mfa_devices(status, after, limit)

        return await self._scan("virtual_mfa_devices", lister, None, marker, max_items,
                                lambda d: device_lname(d.serial_number))

    # ---- tags ----
    async def tag_mfa_device(self, call: Call, *, serial_number: str,
                             tags: Sequence[Mapping[str, str]]) -> None:
        parsed = parse_tags(tags)
        await self._device_target(call, "TagMFADevice", serial_number,
                                  context=tag_context(parsed))
        await self._store.tag_mfa_device(serial_number, parsed)

    async def untag_mfa_device(self, call: Call, *, serial_number: str,
                               tag_keys: Sequence[str]) -> None:
        await self._device_target(call, "UntagMFADevice", serial_number,
                                  context=untag_context(tag_keys))
        await self._store.untag_mfa_device(serial_number, tag_keys)

    async def list_mfa_device_tags(self, call: Call, *, serial_number: str,
                                   marker: str | None = None,
                                   max_items: int | None = None) -> dict[str, Any]:
        device = await self._device_target(call, "ListMFADeviceTags", serial_number)
        return tag_listing(device.tags, marker, max_items)
