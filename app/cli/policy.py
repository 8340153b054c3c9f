"""`tessera policy check|simulate`: the policy engine on local files."""
from __future__ import annotations

import argparse
import json
import sys


def run_policy(args: argparse.Namespace) -> int:
    print("tessera: `tessera policy` is not available yet", file=sys.stderr)
    return 2
