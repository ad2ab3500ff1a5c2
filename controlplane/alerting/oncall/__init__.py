"""On-call schedules: rotations, layers and overrides, and `oncall:<layer>@<schedule>` targets."""

from controlplane.alerting.oncall.loader import read_oncall
from controlplane.alerting.oncall.schedule import (
    Layer,
    Member,
    OnCall,
    Override,
    Rotation,
    Schedule,
    UnknownTarget,
    is_oncall_target,
    members_of,
)

__all__ = [
    "Layer",
    "Member",
    "OnCall",
    "Override",
    "Rotation",
    "Schedule",
    "UnknownTarget",
    "is_oncall_target",
    "members_of",
    "read_oncall",
]
