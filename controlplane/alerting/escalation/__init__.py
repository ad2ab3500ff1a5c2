"""Escalation chains driven from the database, and acknowledgement by API, CLI, link and voice."""

from controlplane.alerting.escalation.acks import Acknowledgements, AckResult, NothingToAck, Via
from controlplane.alerting.escalation.command import ack_command
from controlplane.alerting.escalation.links import AckLinks, LinkRefused
from controlplane.alerting.escalation.store import Episode, EscalationStore
from controlplane.alerting.escalation.tracker import DueStep, EscalationTracker

__all__ = [
    "AckLinks",
    "AckResult",
    "Acknowledgements",
    "DueStep",
    "Episode",
    "EscalationStore",
    "EscalationTracker",
    "LinkRefused",
    "NothingToAck",
    "Via",
    "ack_command",
]
