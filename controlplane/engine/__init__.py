"""The rule engine: sliding windows per label set, CEL conditions, and (in subpackages) rules
and the alert state machine."""

from controlplane.engine.aggregates import VALUES, Aggregates, UnknownVariableError, check_labels
from controlplane.engine.buckets import Bucket
from controlplane.engine.cel_expr import CelEvaluationError, CelExpression, CelSyntaxError
from controlplane.engine.event_filter import EventFilter
from controlplane.engine.labels import OTHER, LabelSet
from controlplane.engine.partials import PartialBuckets, decode_partials, encode_partials
from controlplane.engine.programs import WindowProgram
from controlplane.engine.sources import SOURCES
from controlplane.engine.specs import WindowSpec
from controlplane.engine.windows import StreamStats, WindowStore

__all__ = [
    "OTHER",
    "SOURCES",
    "VALUES",
    "Aggregates",
    "Bucket",
    "CelEvaluationError",
    "CelExpression",
    "CelSyntaxError",
    "EventFilter",
    "LabelSet",
    "PartialBuckets",
    "StreamStats",
    "UnknownVariableError",
    "WindowProgram",
    "WindowSpec",
    "WindowStore",
    "check_labels",
    "decode_partials",
    "encode_partials",
]
