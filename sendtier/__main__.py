"""`python -m sendtier api|dispatch|persist|receipts`: one service, without the control plane."""

from __future__ import annotations

import argparse
import sys

from sendtier.cli import add_service_commands
from smsplatform.config.yamlsource import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sendtier", description=__doc__)
    add_service_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
