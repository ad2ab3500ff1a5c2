"""Partial buckets: one replica's buckets of one stream for one second, as they travel the bus.

Every ingesting replica publishes these on `cp.partials` (ARCHITECTURE.md, scaling); the leader
merges them into its windows with `WindowStore.merge_partials`. They are msgspec Structs encoded
as msgpack, like every other bus payload.
"""

from __future__ import annotations

import msgspec

from controlplane.engine.buckets import Bucket
from controlplane.engine.labels import LabelValue


class PartialBuckets(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The buckets one replica filled for one stream (source, filter, by) in one second."""

    source: str
    filter: str | None
    by: tuple[str, ...]
    second: int  # Unix second, by the replica's clock
    labels: list[tuple[LabelValue, ...]]  # label sets, in `by` order, parallel to `buckets`
    buckets: list[Bucket]
    # The latency sketches' relative accuracy: bins of different accuracies do not add up.
    relative_accuracy: float
    replica: str = ""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[PartialBuckets])


def encode_partials(partials: list[PartialBuckets]) -> bytes:
    """The bus payload for a batch of partial buckets."""
    return _encoder.encode(partials)


def decode_partials(payload: bytes) -> list[PartialBuckets]:
    """Decode a payload written by encode_partials (msgspec.ValidationError when malformed)."""
    return _decoder.decode(payload)
