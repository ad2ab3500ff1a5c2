"""The receipt callback gateway: supplier pushes in, normalized Receipts out on sms.receipts."""

from sendtier.receipts.app import create_receipt_gateway_app
from sendtier.receipts.correlation import CorrelationIndex, Correlator
from sendtier.receipts.gateway import ReceiptGateway, UnknownSupplier
from sendtier.receipts.held import SweepResult
from sendtier.receipts.service import ReceiptGatewayService

__all__ = [
    "CorrelationIndex",
    "Correlator",
    "ReceiptGateway",
    "ReceiptGatewayService",
    "SweepResult",
    "UnknownSupplier",
    "create_receipt_gateway_app",
]
