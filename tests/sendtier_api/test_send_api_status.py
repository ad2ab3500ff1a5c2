"""GET /v1/messages/{id}: a message's life from what persistence stored."""

from __future__ import annotations

from datetime import timedelta

from sendtier_api_helpers import BANK_TOKEN, api_settings, auth, otp, serving

from sendtier.storage import (
    MessageRepository,
    ReceiptRepository,
    StoredMessage,
    SubmitResultRepository,
)
from smsplatform.contracts import OutboundMessage, Receipt, SubmitResult


def store(repository: MessageRepository, message: OutboundMessage) -> None:
    """What persistence does with a message it reads from sms.submit."""
    repository.add(
        StoredMessage(
            id=message.message_id,
            tenant=message.tenant,
            phone=message.phone,
            carrier=message.carrier,
            message_class=message.message_class,
            template_id=message.template_id,
            content=message.content,
            segments=message.segments,
            created_at=message.accepted_at,
        )
    )


def submit(message: OutboundMessage, supplier: str, attempt: int, accepted: bool) -> SubmitResult:
    return SubmitResult(
        message_id=message.message_id,
        supplier=supplier,
        carrier=message.carrier,
        message_class=message.message_class,
        accepted=accepted,
        latency_ms=35.0,
        at=message.accepted_at + timedelta(milliseconds=50 * attempt),
        error_code=None if accepted else "isp.SYSTEM_ERROR",
        supplier_message_id=f"{supplier}-{attempt}" if accepted else None,
        attempt=attempt,
        error_class=None if accepted else "retriable",
    )


async def test_a_message_shows_its_life_once_stored(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        accepted = (await api.send(otp())).json()
        message_id = accepted["message_id"]
        before_storage = await api.client.get(f"/v1/messages/{message_id}", headers=auth())

        [message] = await api.published()
        store(MessageRepository(api.database), message)
        just_stored = (await api.client.get(f"/v1/messages/{message_id}", headers=auth())).json()

        submits = SubmitResultRepository(api.database)
        submits.add_batch(
            [submit(message, "aliyun", 1, False), submit(message, "tencent", 2, True)]
        )
        submitted = (await api.client.get(f"/v1/messages/{message_id}", headers=auth())).json()

        reported_at = message.accepted_at + timedelta(seconds=4)
        receipt = Receipt(
            message_id=message_id,
            supplier="tencent",
            carrier="cmcc",
            message_class="otp",
            status="DELIVERED",
            submitted_at=message.accepted_at + timedelta(milliseconds=100),
            reported_at=reported_at,
            raw_status="DELIVRD",
            received_at=reported_at + timedelta(milliseconds=300),
        )
        ReceiptRepository(api.database).add_batch([receipt])
        delivered = (await api.client.get(f"/v1/messages/{message_id}", headers=auth())).json()
        foreign = await api.client.get(f"/v1/messages/{message_id}", headers=auth(BANK_TOKEN))

    assert before_storage.status_code == 404
    assert before_storage.json()["field"] == "message_id"
    assert just_stored["status"] == "accepted"
    assert just_stored["phone"] == "+8613800000001"
    assert just_stored["accepted_at"] == "2026-01-01T00:00:00+00:00"
    assert just_stored["submits"] == [] and just_stored["receipts"] == []
    assert submitted["status"] == "submitted"
    assert [(s["supplier"], s["attempt"], s["accepted"]) for s in submitted["submits"]] == [
        ("aliyun", 1, False),
        ("tencent", 2, True),
    ]
    assert submitted["submits"][0]["error_class"] == "retriable"
    assert delivered["status"] == "DELIVERED"
    [shown] = delivered["receipts"]
    assert shown["supplier"] == "tencent"
    assert shown["reported_at"] == "2026-01-01T00:00:04+00:00"
    assert shown["received_at"] == "2026-01-01T00:00:04.300000+00:00"
    assert foreign.status_code == 404


async def test_a_message_no_supplier_took_yet_shows_submit_failed(sqlite_url: str) -> None:
    async with serving(api_settings(sqlite_url)) as api:
        message_id = (await api.send(otp())).json()["message_id"]
        [message] = await api.published()
        store(MessageRepository(api.database), message)
        SubmitResultRepository(api.database).add_batch([submit(message, "aliyun", 1, False)])
        life = (await api.client.get(f"/v1/messages/{message_id}", headers=auth())).json()
    assert life["status"] == "submit_failed"
