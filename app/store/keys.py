"""The whole Redis key schema, in one place.

IAM entities of an account share the hash tag `{iam:ACCOUNT}` so that every multi-key
change (MULTI/EXEC) lands in one Redis Cluster slot. A session is a single key named by
its access key id, so sessions spread over the cluster. MFA code attempts are counted under
`mfa:try:SERIAL` (a device's own user) or `mfa:try:user:ID` (other devices), expiring with the
attempt window. A redeemed SAML assertion (or OIDC token) is marked under
`fed:once:KIND:HASH` (HASH = SHA-256 of the provider ARN and the assertion ID / `jti`: the ID is
attacker-chosen text, the hash bounds the key), expiring when the assertion could no longer be
redeemed anyway (app.store.replay_marks). An OIDC provider's key set (JWKS), fetched from the
IdP, is shared by every worker and replica under `oidc:jwks:{HASH}` (HASH = SHA-256 of the issuer
URL and the provider's thumbprints; the braces are a hash tag, so on a Redis Cluster it and its
companions share one slot), expiring when even its stale copy is no longer served;
`oidc:jwks:{HASH}:refresh` rate-limits fetches and `oidc:jwks:{HASH}:refresh:outcome` tells how
the last fetch ended (read together with one MGET; app.store.oidc_jwks). Neither is IAM state.
Browser sign-in state (pending logins, sign-in records) lives under `sso:req:saml:HASH`,
`sso:req:oidc:HASH` and `sso:signin:HASH` (HASH = keyed digest of the browser's handle), each
with its own expiry, and the OIDC clients of browser login under `T:ssooidc:NAME`
(app.store.sso_state); not IAM state either.

Terminal sign-in (`tessera login`, issue 10; not IAM state, all expiring): the one-time handoff
codes of the picker under `sso:cli:HASH` (app.sso.handoff through app.store.sso_state); a refresh
grant under `sso:rt:FAMILY` (a keyed hash of its current secret, its sign-in and role; expires
with the sign-in; app.store.cli_refresh); a device-code grant under `sso:dev:HASH` (+ `:cred`,
its sealed credentials, taken once), found by its user code (`sso:devuser:HASH`) and by the
reference its browser sign-in carries (`sso:devref:HASH`), and attempts counted per client under
`sso:devtry:HASH` (app.store.device_grants). Each HASH is a keyed hash: the codes are secrets.

IAM-user password sign-in on the browser pages (not IAM state, all expiring): attempts counted
per user name under `sso:pwtry:user:HASH` and per client address under `sso:pwtry:ip:HASH`
(HASH = keyed hash of the lowercased name / the address), one counter each, its window its
expiry (app.store.signin_throttle); the steps after a good password (MFA code, new password)
wait under `sso:req:iam:HASH` like the other pending logins.

IAM layout (`T` = the tag, `l` = the lowercased entity name: names are unique
case-insensitively, the record keeps the original case):

    T:user:l            JSON record            T:idx:user    ZSET (score 0) of l, for listing
    T:user:l:inl        HASH policy -> doc     T:user:l:isz  HASH policy -> counted size
    T:user:l:att        SET of policy ARNs     T:user:l:grp  SET of group l
    T:user:l:aks        SET of access key ids  T:user:l:mfa  SET of MFA device l assigned to it
    T:group:l (+ :inl :isz :att)               T:group:l:mem SET of user l
    T:role:l (+ :inl :isz :att)                T:role:l:used "when role-id region"
                                               (app.store.role_usage)
    T:policy:l          JSON record            T:policy:l:ver  HASH vN -> JSON version
    T:policy:l:doc      "ARN\\nDOC" of the default version (one GET on the hot path)
    T:policy:l:ents     SET of `user:l` / `group:l` / `role:l` attached to it
    T:policy:l:bnd      SET of `user:l` / `role:l` using it as permissions boundary
    T:policy:aws/PATH/NAME:ents, :bnd   the same two sets for an AWS managed policy (its
                        record and documents are data: app.policy.managed, app.store.aws_policies)
    T:idx:awspolicy     SET of the `aws/PATH/NAME` ever attached or used as a boundary
    T:ak:ID             HASH access key (secret sealed)   T:ak:ID:used HASH last used
    T:rootaks           SET of the root's access key ids
    T:user:l:login      HASH login profile: argon2id hashes only (app.store.iam_login_profiles)
    T:pwpolicy          JSON account password policy
    T:user:l:crt        HASH X.509 signing certificate id -> JSON (body, status, upload date,
                        SHA-256 of the DER)   T:rootcrt  the same HASH for the root's certificates
    T:crtsha            HASH SHA-256 of a certificate's DER -> its id (one upload per account)
    T:user:l:ssh        HASH SSH public key id -> JSON (body as uploaded, both encodings,
                        fingerprint, status, upload date)
    T:mfa:l             HASH virtual MFA device: seed sealed under its serial number, `u` the
                        assigned user's name  T:idx:mfa     ZSET (score 0) of device l
    T:mfa:l:step        last TOTP step used with the device (replay guard; written by sign-ins
                        without an epoch bump: it is not IAM state)
    T:saml:l            HASH SAML provider: entity id, signing certificates (PEM), private keys
                        sealed under the provider's UUID and key id, encryption mode, tags
    T:saml:l:doc        its metadata document as uploaded   T:idx:saml ZSET (score 0) of provider l
    T:oidc:U            HASH OpenID Connect provider (U = its URL without scheme, exact case):
                        URL, client ids, thumbprints, tags   T:idx:oidc ZSET (score 0) of U
    T:instprof:l        JSON instance profile (`r`: the lname of the role it holds, if any)
                        T:idx:instprof ZSET (score 0) of profile l
    T:role:l:ip         SET of the instance profile l holding the role (DeleteRole refuses then)
    T:alias             the account alias (AWS allows one), absent when none
    T:credreport        HASH the last credential report: `t` its GeneratedTime, `c` the CSV
    T:ids               SET of every unique id ever issued (ids are never reused)
    T:meta              HASH account facts (root creation date)
    T:wait              a mark written through the durable connection after an access key is
                        made, its WAIT confirming the key reached the replicas
                        (TESSERA_REDIS_WAIT_REPLICAS; app.store.durable); expires after 60 s
    T:epoch             random 64-bit hex, set anew by every IAM write in its MULTI/EXEC (not by
                        the last-used stats); read-through caches key IAM state by it. Being
                        random, not a counter, it never repeats a value an old cache entry
                        carries, even after a flush or a restore from an older snapshot.

Access advisor (issue 11 item 3; not IAM state, outside the account's hash tag so that it spreads
over a cluster): what each IAM user or role was authorized to do, one HASH per entity under
`lastacc:ACCOUNT:ID` (ID = the user's or role's unique id, never reused: a recreated entity of
the same name starts empty), field `service:Action` -> `"<epoch seconds> <region>"`, written
with HSET on the hot path at most once a minute per field and worker (app.store.access_usage),
deleted after DeleteUser / DeleteRole; and the reports GenerateServiceLastAccessedDetails
builds, one JSON string per job under `lastacc:job:ACCOUNT:JOBID`, expiring
(app.store.iam_access).
"""
from __future__ import annotations

import hashlib

ENTITY_KINDS = ("user", "group", "role")


class Keys:
    def __init__(self, account: str) -> None:
        self.account = account
        self.tag = f"{{iam:{account}}}"

    # ---- sessions (temporary credentials) ----
    @staticmethod
    def session(access_key_id: str) -> str:
        return f"sess:{access_key_id}"

    # ---- durable writes (app.store.durable) ----
    @staticmethod
    def durability_mark(hash_tag: str) -> str:
        """The mark written (and WAITed for) in the slot of `hash_tag` (e.g. `{iam:ACCOUNT}`)."""
        return f"{hash_tag}:wait"

    # ---- MFA code attempts (not IAM state: outside the account's hash tag) ----
    @staticmethod
    def mfa_attempts(subject: str) -> str:
        """`subject`: a device's serial number, or `user:ID` for a user's attempts on
        devices that are not theirs (app.store.mfa_attempts)."""
        return f"mfa:try:{subject}"

    @staticmethod
    def password_attempts(subject: str) -> str:
        """Failed ChangePassword old-password checks of one user (`subject`: its user id)."""
        return f"pw:try:{subject}"

    # ---- one-time use of federation assertions / tokens (not IAM state) ----
    @staticmethod
    def federation_once(kind: str, provider_arn: str, token_id: str) -> str:
        """`kind`: `saml` | `oidc`; the mark of one redeemed assertion ID (or `jti`) of one provider."""
        digest = hashlib.sha256(f"{provider_arn}\n{token_id}".encode("utf-8", "surrogatepass")).hexdigest()
        return f"fed:once:{kind}:{digest}"

    # ---- browser sign-in state (not IAM state) ----
    @staticmethod
    def sso(kind: str, digest: str) -> str:
        """`kind`: `req:saml` | `req:oidc` | `signin`; `digest`: keyed hash of the handle."""
        return f"sso:{kind}:{digest}"

    @staticmethod
    def signin_attempts(kind: str, digest: str) -> str:
        """Password sign-in attempts: `kind` `user` | `ip`, `digest` a keyed hash of the
        subject (app.store.signin_throttle)."""
        return f"sso:pwtry:{kind}:{digest}"

    # ---- OIDC key sets fetched from identity providers (not IAM state) ----
    @staticmethod
    def oidc_jwks(issuer_url: str, thumbprints: tuple[str, ...]) -> str:
        """The cached key set of an issuer as fetched under these thumbprints (a change of
        thumbprints starts from a fresh fetch)."""
        pins = ",".join(sorted(t.lower() for t in thumbprints))
        digest = hashlib.sha256(f"{issuer_url}\n{pins}".encode("utf-8", "surrogatepass")).hexdigest()
        return f"oidc:jwks:{{{digest}}}"

    @staticmethod
    def oidc_jwks_refresh(jwks_key: str) -> str:
        """The per-provider fetch rate limit beside `oidc_jwks(...)`."""
        return f"{jwks_key}:refresh"

    # ---- terminal sign-in: refresh grants, device codes (not IAM state) ----
    @staticmethod
    def cli_refresh(family: str) -> str:
        """`family`: the refresh grant's id (checked `[A-Za-z0-9_-]{22}` before it gets here)."""
        return f"sso:rt:{family}"

    @staticmethod
    def device_grant(device_code_hash: str) -> str:
        return f"sso:dev:{device_code_hash}"

    @staticmethod
    def device_credentials(device_code_hash: str) -> str:
        return f"sso:dev:{device_code_hash}:cred"

    @staticmethod
    def device_user_code(user_code_hash: str) -> str:
        return f"sso:devuser:{user_code_hash}"

    @staticmethod
    def device_reference(reference_hash: str) -> str:
        """The grant a browser sign-in for a device refers to (`cli_device`)."""
        return f"sso:devref:{reference_hash}"

    @staticmethod
    def device_attempts(subject_hash: str) -> str:
        """Counted attempts of one client (a keyed hash of the kind and its address)."""
        return f"sso:devtry:{subject_hash}"

    # ---- access advisor: last-accessed records and report jobs (not IAM state) ----
    def last_accessed(self, entity_id: str) -> str:
        """HASH `service:Action` -> `"<epoch seconds> <region>"` of one user or role (by unique id)."""
        return f"lastacc:{self.account}:{entity_id}"

    def access_job(self, job_id: str) -> str:
        """One GenerateServiceLastAccessedDetails report (JSON), expiring."""
        return f"lastacc:job:{self.account}:{job_id}"

    # ---- IAM entities: users, groups, roles ----
    def entity(self, kind: str, lname: str) -> str:
        return f"{self.tag}:{kind}:{lname}"

    def index(self, kind: str) -> str:
        """ZSET of lowercased names of `user` / `group` / `role` / `policy` / `mfa` / `saml`, and
        of the URLs without scheme of `oidc` providers."""
        return f"{self.tag}:idx:{kind}"

    def inline(self, kind: str, lname: str) -> str:
        return f"{self.tag}:{kind}:{lname}:inl"

    def inline_sizes(self, kind: str, lname: str) -> str:
        return f"{self.tag}:{kind}:{lname}:isz"

    def attached(self, kind: str, lname: str) -> str:
        return f"{self.tag}:{kind}:{lname}:att"

    def user_groups(self, lname: str) -> str:
        return f"{self.tag}:user:{lname}:grp"

    def group_members(self, lname: str) -> str:
        return f"{self.tag}:group:{lname}:mem"

    def user_access_keys(self, lname: str) -> str:
        return f"{self.tag}:user:{lname}:aks"

    def role_last_used(self, lname: str) -> str:
        return f"{self.tag}:role:{lname}:used"

    # ---- customer managed policies ----
    def policy(self, lname: str) -> str:
        return f"{self.tag}:policy:{lname}"

    def policy_versions(self, lname: str) -> str:
        return f"{self.tag}:policy:{lname}:ver"

    def policy_document(self, lname: str) -> str:
        return f"{self.tag}:policy:{lname}:doc"

    def policy_entities(self, lname: str) -> str:
        return f"{self.tag}:policy:{lname}:ents"

    def policy_boundary_users(self, lname: str) -> str:
        return f"{self.tag}:policy:{lname}:bnd"

    def aws_policies_used(self) -> str:
        """SET of the key names (`aws/PATH/NAME`) of the AWS managed policies ever attached or
        used as a permissions boundary in the account: the candidates whose counts ListPolicies
        OnlyAttached and GetAccountAuthorizationDetails read (a superset: the counts decide)."""
        return f"{self.tag}:idx:awspolicy"

    # ---- access keys ----
    def access_key(self, access_key_id: str) -> str:
        return f"{self.tag}:ak:{access_key_id}"

    def access_key_used(self, access_key_id: str) -> str:
        return f"{self.tag}:ak:{access_key_id}:used"

    def root_access_keys(self) -> str:
        return f"{self.tag}:rootaks"

    # ---- signing certificates and SSH public keys (app.store.iam_signing) ----
    def user_signing_certs(self, lname: str) -> str:
        return f"{self.tag}:user:{lname}:crt"

    def root_signing_certs(self) -> str:
        return f"{self.tag}:rootcrt"

    def signing_cert_digests(self) -> str:
        return f"{self.tag}:crtsha"

    def user_ssh_keys(self, lname: str) -> str:
        return f"{self.tag}:user:{lname}:ssh"

    # ---- virtual MFA devices (names unique case-insensitively across the account) ----
    def mfa_device(self, lname: str) -> str:
        return f"{self.tag}:mfa:{lname}"

    def mfa_last_step(self, lname: str) -> str:
        return f"{self.tag}:mfa:{lname}:step"

    def user_mfa_devices(self, lname: str) -> str:
        return f"{self.tag}:user:{lname}:mfa"

    # ---- login profiles and the account password policy ----
    def user_login_profile(self, lname: str) -> str:
        return f"{self.tag}:user:{lname}:login"

    def password_policy(self) -> str:
        return f"{self.tag}:pwpolicy"

    # ---- SAML identity providers (names unique case-insensitively) ----
    def saml_provider(self, lname: str) -> str:
        return f"{self.tag}:saml:{lname}"

    def saml_metadata(self, lname: str) -> str:
        return f"{self.tag}:saml:{lname}:doc"

    # ---- OpenID Connect providers (by URL without scheme, exact) ----
    def oidc_provider(self, url_without_scheme: str) -> str:
        return f"{self.tag}:oidc:{url_without_scheme}"

    # ---- instance profiles (names unique case-insensitively) ----
    def instance_profile(self, lname: str) -> str:
        return f"{self.tag}:instprof:{lname}"

    def role_instance_profiles(self, lname: str) -> str:
        return f"{self.tag}:role:{lname}:ip"

    # ---- account-wide ----
    def account_alias(self) -> str:
        return f"{self.tag}:alias"

    def credential_report(self) -> str:
        return f"{self.tag}:credreport"

    def issued_ids(self) -> str:
        return f"{self.tag}:ids"

    def meta(self) -> str:
        return f"{self.tag}:meta"

    def epoch(self) -> str:
        """The account's IAM epoch (see the module docstring)."""
        return f"{self.tag}:epoch"

    def all_keys_pattern(self) -> str:
        """SCAN pattern matching every IAM key of the account (tests, admin export)."""
        return f"{{iam:{self.account}}}:*"
