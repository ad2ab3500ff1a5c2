"""Load generator: open-loop SMS traffic at a target rate through the send API, with a report."""

from testbench.load.cli import add_load_arguments, load_command, parse_duration
from testbench.load.report import LoadReport
from testbench.load.runner import run_load
from testbench.load.traffic import CARRIER_PREFIXES, DEFAULT_MIX, parse_mix

__all__ = [
    "CARRIER_PREFIXES",
    "DEFAULT_MIX",
    "LoadReport",
    "add_load_arguments",
    "load_command",
    "parse_duration",
    "parse_mix",
    "run_load",
]
