"""Dispatch: routes accepted messages to suppliers, retries by the §7.2 rules, reports results."""

from sendtier.dispatch.app import create_dispatch_app
from sendtier.dispatch.attempts import Disposition, MessageSender
from sendtier.dispatch.dispatcher import SUBMIT_DURABLE, Dispatcher
from sendtier.dispatch.limits import SupplierGates, TokenBucket
from sendtier.dispatch.metrics import DispatchMetrics
from sendtier.dispatch.routing import ANY_CARRIER, RouteBook, table_from_settings
from sendtier.dispatch.routing_feed import encode_routing_table, load_cached_table

__all__ = [
    "ANY_CARRIER",
    "SUBMIT_DURABLE",
    "DispatchMetrics",
    "Dispatcher",
    "Disposition",
    "MessageSender",
    "RouteBook",
    "SupplierGates",
    "TokenBucket",
    "create_dispatch_app",
    "encode_routing_table",
    "load_cached_table",
    "table_from_settings",
]
