"""Send-tier persistence: sms.submit, sms.submitted and sms.receipts to storage, in batches."""

from sendtier.persist.app import create_persist_app
from sendtier.persist.degradation import DegradationGate
from sendtier.persist.service import PersistService
from sendtier.persist.statuses import StatusPlan, plan_status_updates

__all__ = [
    "DegradationGate",
    "PersistService",
    "StatusPlan",
    "create_persist_app",
    "plan_status_updates",
]
