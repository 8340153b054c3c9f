"""Virtual MFA devices: create, assign to a user (enable), resync, unassign (deactivate),
delete, list, tag; and the replay guard of the TOTP steps used with a device.

A device is a HASH under its lowercased name (names are unique case-insensitively across the
account, whatever the path): `n` name, `p` path, `c` created, `k` the base32 seed sealed under
the serial number (`SecretBox.seal(seed, aad=serial)`), `u` the assigned user's name and `e`
the enable date (both absent while unassigned), `t` tags (JSON). The seed is returned once, by
`create_virtual_mfa_device`, and opened only to check codes (`enable`/`resync` here, sign-in
through `mfa_seed_for_user`). A serial number must match the device's ARN exactly.

The last TOTP step used with a device is its own key: `enable`/`resync` set it inside their
IAM write, `claim_mfa_step` (sign-in) moves it forward without an epoch bump.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from app.core import arn as arns
from app.core import totp
from app.core.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    LimitExceeded,
    NoSuchEntity,
)
from app.core.records import MfaDevice, Tag, VirtualMfaDevice
from app.store.iam_codec import tags_from_json, tags_to_json, user_from_json
from app.store.iam_entities import MAX_TAGS, EntitiesMixin, drop_tags, merge_tags, not_found

MAX_DEVICES_PER_USER = 8  # AWS today (older documentation: 1)
# AWS's texts (observed in CloudTrail / AWS-compatible servers; see the report of this change)
EXISTS = "MFADevice entity at the same path and name already exists."
IN_USE = "MFA Device is already in use."
STILL_ASSIGNED = "MFA VirtualDevice in use. Must deactivate first."
NOT_THE_USERS = "MFA Device invalid for user."
BAD_CODES = "Authentication code for device is not valid."
ASSIGNMENT_STATUSES = ("Assigned", "Unassigned", "Any")


def device_missing(serial_number: str) -> NoSuchEntity:
    return NoSuchEntity(f"VirtualMFADevice with serial number {serial_number} doesn't exist.")


def assignment(device: VirtualMfaDevice | None, user_name: str) -> MfaDevice | None:
    """The device as the user's `MFADevice` when it is assigned to that user, else None."""
    if device is None or device.user is None or device.user.user_name.lower() != user_name.lower():
        return None
    return MfaDevice(user_name=device.user.user_name, serial_number=device.serial_number,
                     enable_date=device.enable_date or 0.0)


def device_lname(serial_number: str) -> str:
    """The lowercased device name of a serial number (the name is its last path part)."""
    return serial_number.rsplit("/", 1)[-1].lower()


class MfaMixin(EntitiesMixin):
    def _mfa_serial(self, path: str, name: str) -> str:
        return arns.iam(self.account, f"mfa{path}{name}")

    def _mfa_keys(self, serial_number: str) -> tuple[str, str, str]:
        """-> (lname, device key, last-step key). A serial number that is no virtual MFA ARN
        of this account names the key of no device (names are never empty)."""
        a = arns.parse(serial_number)
        ours = (a is not None and a.service == "iam" and not a.region
                and a.account == self.account and a.resource.startswith("mfa/"))
        lname = device_lname(serial_number) if ours else ""
        return lname, self._k.mfa_device(lname), self._k.mfa_last_step(lname)

    def _found(self, serial_number: str, h: dict[str, str]) -> dict[str, str]:
        if not h or self._mfa_serial(h["p"], h["n"]) != serial_number:
            raise device_missing(serial_number)
        return h

    def _good_step(self, serial_number: str, h: dict[str, str], code1: str, code2: str,
                   last: str | None) -> int:
        """The step of two consecutive codes of the device that is later than any used."""
        try:
            seed = self._box.open(h["k"], aad=serial_number)
        except ValueError:
            raise InvalidAuthenticationCode(BAD_CODES, reason="mfa_seed_unreadable") from None
        step = totp.match_consecutive(seed, code1, code2, self._clock.time())
        if step is None:
            raise InvalidAuthenticationCode(BAD_CODES, reason="mfa_codes_wrong")
        if last is not None and step <= int(last):
            raise InvalidAuthenticationCode(BAD_CODES, reason="mfa_codes_reused")
        return step

    # ---- lifecycle ----
    async def create_virtual_mfa_device(self, name: str, *, path: str = "/",
                                        tags: Sequence[Tag] = ()) -> VirtualMfaDevice:
        """A new unassigned device; the result carries the seed (base32 text as bytes)."""
        lname = name.lower()
        key, index = self._k.mfa_device(lname), self._k.index("mfa")
        serial = self._mfa_serial(path, name)
        seed = totp.new_seed()

        async def body(pipe: Any) -> VirtualMfaDevice:
            if await self._r.exists(key):
                raise EntityAlreadyExists(EXISTS)
            pipe.multi()
            pipe.hset(key, mapping={"n": name, "p": path, "c": str(self._clock.time()),
                                    "k": self._box.seal(seed, aad=serial),
                                    "t": dumps_tags(tuple(tags))})
            pipe.zadd(index, {lname: 0})
            return VirtualMfaDevice(serial_number=serial, base32_string_seed=seed.encode("ascii"),
                                    tags=tuple(tags))

        return await self._atomic([key, index], body)

    async def enable_mfa_device(self, user_name: str, serial_number: str, code1: str,
                                code2: str) -> None:
        """Assign the device to the user, given two consecutive codes of it."""
        ulname = user_name.lower()
        user_key, owned = self._k.entity("user", ulname), self._k.user_mfa_devices(ulname)
        lname, key, step_key = self._mfa_keys(serial_number)

        async def body(pipe: Any) -> None:
            user_raw, h, count, last = await self._read(
                ("get", user_key), ("hgetall", key), ("scard", owned), ("get", step_key))
            if user_raw is None:
                raise not_found("user", user_name)
            self._found(serial_number, h)
            if h.get("u"):
                raise EntityAlreadyExists(IN_USE)
            if count >= MAX_DEVICES_PER_USER:
                raise LimitExceeded(
                    f"Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES_PER_USER}")
            step = self._good_step(serial_number, h, code1, code2, last)
            pipe.multi()
            pipe.hset(key, mapping={"u": json.loads(user_raw)["n"],  # the stored case
                                    "e": str(self._clock.time())})
            pipe.sadd(owned, lname)
            pipe.set(step_key, step)

        await self._atomic([user_key, owned, key, step_key], body)

    async def resync_mfa_device(self, user_name: str, serial_number: str, code1: str,
                                code2: str) -> None:
        """Check two consecutive codes of the user's device (the device's clock may have
        drifted) and record their step as used."""
        key, step_key = self._mfa_keys(serial_number)[1:]

        async def body(pipe: Any) -> None:
            h, last = await self._read(("hgetall", key), ("get", step_key))
            await self._require_assigned(user_name, serial_number, h)
            step = self._good_step(serial_number, h, code1, code2, last)
            pipe.multi()
            pipe.set(step_key, step)

        await self._atomic([self._k.entity("user", user_name.lower()), key, step_key], body)

    async def deactivate_mfa_device(self, user_name: str, serial_number: str) -> None:
        """Unassign the device from the user; a virtual device remains, unassigned."""
        ulname = user_name.lower()
        owned = self._k.user_mfa_devices(ulname)
        lname, key, _ = self._mfa_keys(serial_number)

        async def body(pipe: Any) -> None:
            await self._require_assigned(user_name, serial_number, await self._r.hgetall(key))
            pipe.multi()
            pipe.hdel(key, "u", "e")
            pipe.srem(owned, lname)

        await self._atomic([self._k.entity("user", ulname), owned, key], body)

    async def _require_assigned(self, user_name: str, serial_number: str,
                                h: dict[str, str]) -> None:
        if not await self._r.exists(self._k.entity("user", user_name.lower())):
            raise not_found("user", user_name)
        self._found(serial_number, h)
        if h.get("u", "").lower() != user_name.lower():
            raise NoSuchEntity(NOT_THE_USERS)

    async def delete_virtual_mfa_device(self, serial_number: str) -> None:
        lname, key, step_key = self._mfa_keys(serial_number)

        async def body(pipe: Any) -> None:
            if self._found(serial_number, await self._r.hgetall(key)).get("u"):
                raise DeleteConflict(STILL_ASSIGNED)
            pipe.multi()
            pipe.delete(key, step_key)
            pipe.zrem(self._k.index("mfa"), lname)

        await self._atomic([key], body)

    # ---- tags ----
    async def _retag(self, serial_number: str,
                     change: Callable[[tuple[Tag, ...]], tuple[Tag, ...]]) -> None:
        key = self._mfa_keys(serial_number)[1]

        async def body(pipe: Any) -> None:
            h = self._found(serial_number, await self._r.hgetall(key))
            tags = change(tags_from_json(json.loads(h.get("t") or "[]")))
            pipe.multi()
            pipe.hset(key, "t", dumps_tags(tags))

        await self._atomic([key], body)

    async def tag_mfa_device(self, serial_number: str, tags: Sequence[Tag]) -> None:
        def change(current: tuple[Tag, ...]) -> tuple[Tag, ...]:
            merged = merge_tags(current, tags)
            if len(merged) > MAX_TAGS:
                raise LimitExceeded(f"Cannot exceed quota for TagsPerMFADevice: {MAX_TAGS}")
            return merged

        await self._retag(serial_number, change)

    async def untag_mfa_device(self, serial_number: str, keys: Sequence[str]) -> None:
        await self._retag(serial_number, lambda current: drop_tags(current, keys))

    # ---- reads ----
    async def _load_devices(self, lnames: list[str]) -> list[VirtualMfaDevice | None]:
        """Devices (without seeds) with their users, in two round trips."""
        hashes = await self._read(*[("hgetall", self._k.mfa_device(n)) for n in lnames])
        owners = sorted({h["u"].lower() for h in hashes if h and h.get("u")})
        users = dict(zip(owners, await self._load_entities("user", owners, user_from_json)))
        out: list[VirtualMfaDevice | None] = []
        for h in hashes:
            if not h:
                out.append(None)
                continue
            user = users.get(h["u"].lower()) if h.get("u") else None
            out.append(VirtualMfaDevice(
                serial_number=self._mfa_serial(h["p"], h["n"]), user=user,
                enable_date=float(h["e"]) if user and h.get("e") else None,
                tags=tags_from_json(json.loads(h.get("t") or "[]"))))
        return out

    async def get_virtual_mfa_device(self, serial_number: str) -> VirtualMfaDevice | None:
        (device,) = await self._load_devices([self._mfa_keys(serial_number)[0]])
        return device if device and device.serial_number == serial_number else None

    async def list_virtual_mfa_devices(self, status: str = "Any", after: str | None = None,
                                       limit: int = 100) -> tuple[list[VirtualMfaDevice], bool]:
        """Devices in name order (case-insensitive) after the lowercased name `after`,
        filtered by assignment status (`Assigned` / `Unassigned` / `Any`)."""
        if status not in ASSIGNMENT_STATUSES:
            raise ValueError(f"unknown assignment status `{status}`")
        return await self._scan_index("mfa", after, limit, self._load_devices,
                                      lambda d: status == "Any"
                                      or (d.user is not None) == (status == "Assigned"))

    async def list_mfa_devices(self, user_name: str) -> list[MfaDevice] | None:
        """The user's devices in name order; None when the user does not exist."""
        ulname = user_name.lower()
        calls = [("exists", self._k.entity("user", ulname)),
                 ("smembers", self._k.user_mfa_devices(ulname))]
        there, lnames = await self._read(*calls)
        devices = await self._load_devices(sorted(lnames)) if there else None
        return None if devices is None else \
            [a for d in devices if (a := assignment(d, user_name)) is not None]

    async def get_mfa_device(self, user_name: str, serial_number: str) -> MfaDevice | None:
        """The device when it is assigned to the user, else None."""
        return assignment(await self.get_virtual_mfa_device(serial_number), user_name)

    async def mfa_counts(self) -> tuple[int, int]:
        """(virtual MFA devices, of which assigned) for GetAccountSummary."""
        names = await self._names("mfa")
        owners = await self._read(*[("hget", self._k.mfa_device(n), "u") for n in names]) \
            if names else []
        return len(names), sum(1 for u in owners if u)

    # ---- sign-in (STS) ----
    async def mfa_seed_for_user(self, user_name: str, serial_number: str) -> str | None:
        """The base32 seed of the device when it is assigned to the user, else None."""
        h = await self._r.hgetall(self._mfa_keys(serial_number)[1])
        if not h or self._mfa_serial(h["p"], h["n"]) != serial_number or not user_name \
                or h.get("u", "").lower() != user_name.lower():
            return None
        try:
            return self._box.open(h["k"], aad=serial_number)
        except ValueError:
            return None

    async def claim_mfa_step(self, serial_number: str, step: int, user_name: str) -> bool:
        """Replay guard: record `step` as used with the device and return True, or return
        False when it or a later step was used already, or when the device is not (any more)
        assigned to `user_name` (deactivated or deleted since its seed was read). Not an IAM
        change: no epoch bump."""
        _, key, step_key = self._mfa_keys(serial_number)

        async def body(pipe: Any) -> bool:
            owner, last = await self._read(("hget", key, "u"), ("get", step_key))
            pipe.multi()
            if not owner or owner.lower() != user_name.lower() or (last is not None and int(last) >= step):
                return False
            pipe.set(step_key, step)
            return True

        return await self._atomic([key, step_key], body, stats=True)


def dumps_tags(tags: tuple[Tag, ...]) -> str:
    return json.dumps(tags_to_json(tags), separators=(",", ":"), ensure_ascii=False)
