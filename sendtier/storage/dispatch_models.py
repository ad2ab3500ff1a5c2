"""Storage model of the dispatcher's own state: the "submitted" marker of each message sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sendtier.storage.models import Base
from smsplatform.database.columns import ID_LENGTH, MYSQL_TABLE_ARGS, UtcDateTime


class SubmittedMarkerRow(Base):
    """A message a supplier took (or may have taken): it is never submitted again.

    Written before the message's SubmitResults are published; `results` holds them (a msgpack
    array, as on the bus), so a redelivered message publishes them again instead of resending.
    """

    __tablename__ = "submitted_markers"
    __table_args__ = (Index(None, "created_at"), MYSQL_TABLE_ARGS)

    message_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    results: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
