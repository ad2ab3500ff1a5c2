"""Escalation chains driven from the database, and acknowledgement by API, CLI, link and voice."""

from controlplane.alerting.escalation.acks import Acknowledgements, AckResult, NothingToAck, Via
from controlplane.alerting.escalation.command import ack_command
from controlplane.alerting.escalation.links import AckLinks, LinkRefused, SignedLink
from controlplane.alerting.escalation.redial import CallEnded, Redial, RedialBook, RedialPolicy
from controlplane.alerting.escalation.store import Episode, EpisodeState, EscalationStore
from controlplane.alerting.escalation.tracker import REDIAL_STEP, DueStep, EscalationTracker

__all__ = [
    "REDIAL_STEP",
    "AckLinks",
    "AckResult",
    "Acknowledgements",
    "CallEnded",
    "DueStep",
    "Episode",
    "EpisodeState",
    "EscalationStore",
    "EscalationTracker",
    "LinkRefused",
    "NothingToAck",
    "Redial",
    "RedialBook",
    "RedialPolicy",
    "SignedLink",
    "Via",
    "ack_command",
]
