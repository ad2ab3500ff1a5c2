"""`python -m sendtier ...`: the commands of `smsctl sendtier ...`, without the control plane."""

from __future__ import annotations

import argparse
import sys

from controlplane.yamlsource import ConfigError
from sendtier.cli import add_sendtier_commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m", description=__doc__)
    add_sendtier_commands(parser.add_subparsers(dest="command", required=True))
    # `python -m sendtier api ...` reads as `smsctl sendtier api ...`: one parser for both.
    args = parser.parse_args(["sendtier", *(sys.argv[1:] if argv is None else argv)])
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
