"""`smsctl rules test`: promtool-shaped rule unit tests, with stream-event timelines run here."""

from controlplane.engine.ruletest.command import rules_test_command
from controlplane.engine.ruletest.loader import load_test_file
from controlplane.engine.ruletest.model import (
    AlertTestCase,
    EventGenerator,
    ExpectedAlert,
    RecordedTestCase,
    RuleTestFile,
    Sample,
    StreamTest,
)
from controlplane.engine.ruletest.runner import StreamTestResult, run_stream_test
from controlplane.engine.ruletest.timeline import timeline

__all__ = [
    "AlertTestCase",
    "EventGenerator",
    "ExpectedAlert",
    "RecordedTestCase",
    "RuleTestFile",
    "Sample",
    "StreamTest",
    "StreamTestResult",
    "load_test_file",
    "rules_test_command",
    "run_stream_test",
    "timeline",
]
