"""Builds a configured supplier's submit adapter and receipt reader for its dialect."""

from __future__ import annotations

from smsplatform.clock import Clock
from smsplatform.config.yamlsource import ConfigError, ConfigProblem
from suppliers.aliyun import AliyunAdapter, AliyunCallbackReader
from suppliers.base import CallbackReader, SupplierAdapter
from suppliers.callbacks import TOKEN_CHECKED_DIALECTS
from suppliers.cmpp import CmppAdapter, CmppCallbackReader
from suppliers.settings import AliyunAccount, SupplierSettings, TencentAccount, TwilioAccount
from suppliers.tencent import TencentAdapter, TencentCallbackReader
from suppliers.twilio import TwilioAdapter, TwilioCallbackReader


def make_adapter(settings: SupplierSettings, clock: Clock) -> SupplierAdapter:
    """The adapter for `settings.account`'s dialect; close it with `aclose()` when done."""
    account = settings.account
    if isinstance(account, AliyunAccount):
        return AliyunAdapter(settings, account, clock)
    if isinstance(account, TencentAccount):
        return TencentAdapter(settings, account, clock)
    if isinstance(account, TwilioAccount):
        return TwilioAdapter(settings, account, clock)
    return CmppAdapter(settings, account, clock)


def make_callback_reader(settings: SupplierSettings) -> CallbackReader:
    """The receipt reader for `settings.account`'s dialect, holding the secret it verifies with.

    Twilio and CMPP pushes are signed with the account's own secret; Alibaba and Tencent sign
    nothing, so they are checked against `callback_token` in the URL, or known by the address
    they come from (`callback_allowed_ips`, which the gateway checks). With neither, anyone
    could post receipts for them: such a supplier is refused with a ConfigError naming it.
    """
    account = settings.account
    token = settings.callback_token.get_secret_value() if settings.callback_token else None
    if (
        token is None
        and not settings.callback_allowed_ips
        and account.dialect in TOKEN_CHECKED_DIALECTS
    ):
        raise ConfigError([_unguarded_callbacks(settings)])
    if isinstance(account, AliyunAccount):
        return AliyunCallbackReader(token)
    if isinstance(account, TencentAccount):
        return TencentCallbackReader(token)
    if isinstance(account, TwilioAccount):
        return TwilioCallbackReader(account.auth_token.get_secret_value())
    return CmppCallbackReader(account.secret.get_secret_value())


def _unguarded_callbacks(settings: SupplierSettings) -> ConfigProblem:
    """The problem of an unsigned dialect's supplier configured without a token or allow-list."""
    return ConfigProblem(
        "<settings>",
        None,
        f"suppliers[{settings.name}].callback_token",
        f"required (or callback_allowed_ips): {settings.account.dialect} receipt pushes carry no "
        "signature, so without either anyone could post receipts for this supplier",
    )
