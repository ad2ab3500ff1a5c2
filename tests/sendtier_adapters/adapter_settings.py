"""Supplier settings and requests for the adapter tests: one account per dialect."""

from __future__ import annotations

from typing import Any

from suppliers.base import SubmitRequest
from suppliers.settings import SupplierSettings

ALIYUN_SECRET = "aliyun-secret-0123456789"
TENCENT_SECRET = "tencent-secret-key-0123456789"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-auth-token-0123456789abcd"
CMPP_SECRET = "cmpp-secret-0123456789"
CALLBACK_TOKEN = "cb-token-0123456789"


def supplier(
    dialect: str, base_url: str = "http://127.0.0.1:9", **overrides: Any
) -> SupplierSettings:
    accounts: dict[str, dict[str, Any]] = {
        "aliyun": {"access_key_id": "LTAI-test-key", "access_key_secret": ALIYUN_SECRET},
        "tencent": {
            "secret_id": "AKID-test",
            "secret_key": TENCENT_SECRET,
            "sdk_app_id": "1400006666",
        },
        "twilio": {
            "account_sid": TWILIO_SID,
            "auth_token": TWILIO_TOKEN,
            "from_number": "+15005550006",
        },
        "cmpp": {"account": "acct01", "secret": CMPP_SECRET},
    }
    account = {"dialect": dialect, **accounts[dialect], **overrides.pop("account", {})}
    return SupplierSettings.model_validate(
        {"name": f"{dialect}-main", "account": account, "base_url": base_url, **overrides}
    )


def otp_request(message_id: str = "msg-000001", phone: str = "+8613800000001") -> SubmitRequest:
    return SubmitRequest(
        message_id=message_id,
        phone=phone,
        carrier="cmcc",
        message_class="otp",
        sign_name="阿里云",
        template_id="SMS_153055065",
        template_params={"code": "1234", "minutes": "5"},
        content="【阿里云】您的验证码是1234，5分钟内有效。",
        callback_url="https://receipts.example.com/v1/callbacks/sup?mid=msg-000001",
    )
