"""Print one signed SAML response of the demo IdP (base64, for `SAMLAssertion`).

    python -m idp_fixtures.saml.demo --endpoint http://127.0.0.1:8080 \\
        --role-arn arn:aws:iam::000000000000:role/saml-demo \\
        --provider-arn arn:aws:iam::000000000000:saml-provider/DemoIdP [--user alice]

`--endpoint` is Tessera's TESSERA_PUBLIC_URL: the response's Recipient, Destination and
Audience are `<endpoint>/saml` (the default SAML entity id). `tessera dev` prints a command
built on this that federates end to end. Test material: the key is public.
"""
from __future__ import annotations

import argparse
import sys

from idp_fixtures.saml.idp import DemoIdP


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, help="Tessera's public URL (TESSERA_PUBLIC_URL)")
    p.add_argument("--role-arn", required=True)
    p.add_argument("--provider-arn", required=True)
    p.add_argument("--user", default="alice", help="the RoleSessionName (and NameID user part)")
    p.add_argument("--audience", help="the SAML entity id, if TESSERA_SAML_ENTITY_ID is set")
    args = p.parse_args(argv)
    acs = f"{args.endpoint.rstrip('/')}/saml"
    print(DemoIdP().response(recipient=acs, audience=args.audience or acs, roles=[(args.role_arn, args.provider_arn)],
                             session_name=args.user, name_id=f"{args.user}@example.test"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
