"""Audit: CloudTrail-shaped events and structured JSON logs, never with secrets."""
from app.audit.events import REDACTED, AuditEvent, identity_of, saml_user_identity, scrub
from app.audit.log import AuditLog, JsonLogger, fingerprint

__all__ = ["REDACTED", "AuditEvent", "AuditLog", "JsonLogger", "fingerprint", "identity_of", "saml_user_identity", "scrub"]
