"""The registry builds each configured supplier's adapter and receipt reader for its dialect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from adapter_settings import CALLBACK_TOKEN, supplier

from smsplatform.clock import ManualClock
from smsplatform.config.yamlsource import ConfigError
from suppliers.aliyun import AliyunCallbackReader
from suppliers.cmpp import CmppCallbackReader
from suppliers.registry import make_adapter, make_callback_reader
from suppliers.tencent import TencentCallbackReader
from suppliers.twilio import TwilioCallbackReader

CLOCK = ManualClock(datetime(2026, 11, 25, tzinfo=UTC))


@pytest.mark.parametrize("dialect", ["aliyun", "tencent", "twilio", "cmpp"])
async def test_adapter_speaks_the_dialect_of_the_configured_account(dialect: str) -> None:
    adapter = make_adapter(supplier(dialect), CLOCK)
    assert (adapter.dialect, adapter.name) == (dialect, f"{dialect}-main")
    await adapter.aclose()


@pytest.mark.parametrize(
    ("dialect", "reader_type"),
    [
        ("aliyun", AliyunCallbackReader),
        ("tencent", TencentCallbackReader),
        ("twilio", TwilioCallbackReader),
        ("cmpp", CmppCallbackReader),
    ],
)
def test_callback_reader_matches_the_configured_account(dialect: str, reader_type: type) -> None:
    reader = make_callback_reader(supplier(dialect, callback_token=CALLBACK_TOKEN))
    assert isinstance(reader, reader_type)


@pytest.mark.parametrize("dialect", ["aliyun", "tencent"])
def test_an_unsigned_dialect_without_token_or_allow_list_is_refused_naming_both(
    dialect: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_callback_reader(supplier(dialect))
    [problem] = caught.value.problems
    assert problem.key == f"suppliers[{dialect}-main].callback_token"
    assert "callback_allowed_ips" in problem.message


def test_twilio_account_without_any_sender_is_a_config_error() -> None:
    settings = supplier("twilio", account={"from_number": None})
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        make_adapter(settings, CLOCK)
