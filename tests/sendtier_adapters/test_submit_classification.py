"""Every submit error code of SUPPLIERS.md §1-4 lands in its §7.2 class."""

from __future__ import annotations

import pytest

from suppliers import aliyun, cmpp, tencent, twilio
from suppliers.base import SubmitErrorClass as C
from suppliers.submit_codes import class_for_http_status

ALIYUN = {
    "isv.BUSINESS_LIMIT_CONTROL": C.RECIPIENT_LIMIT,
    "isv.DAY_LIMIT_CONTROL": C.SUPPLIER_WIDE,
    "isv.MONTH_LIMIT_CONTROL": C.SUPPLIER_WIDE,
    "Throttling.User": C.THROTTLED,
    "Throttling": C.THROTTLED,
    "isv.MOBILE_NUMBER_ILLEGAL": C.PERMANENT,
    "isv.MOBILE_COUNT_OVER_LIMIT": C.PERMANENT,
    "isv.AMOUNT_NOT_ENOUGH": C.SUPPLIER_WIDE,
    "isv.OUT_OF_SERVICE": C.SUPPLIER_WIDE,
    "isv.ACCOUNT_NOT_EXISTS": C.SUPPLIER_WIDE,
    "isv.ACCOUNT_ABNORMAL": C.SUPPLIER_WIDE,
    "isv.PRODUCT_UN_SUBSCRIPT": C.SUPPLIER_WIDE,
    "isv.PRODUCT_UNSUBSCRIBE": C.SUPPLIER_WIDE,
    "isp.RAM_PERMISSION_DENY": C.SUPPLIER_WIDE,
    "isv.DENY_IP_RANGE": C.SUPPLIER_WIDE,
    "isv.SMS_SIGNATURE_ILLEGAL": C.SUPPLIER_WIDE,
    "isv.SMS_SIGN_ILLEGAL": C.SUPPLIER_WIDE,
    "isv.SIGN_STATE_ILLEGAL": C.SUPPLIER_WIDE,
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": C.SUPPLIER_WIDE,
    "isv.SMS_TEMPLATE_ILLEGAL": C.SUPPLIER_WIDE,
    "isv.TEMPLATE_MISSING_PARAMETERS": C.PERMANENT,
    "isv.INVALID_JSON_PARAM": C.PERMANENT,
    "isv.INVALID_PARAMETERS": C.PERMANENT,
    "isv.PARAM_LENGTH_LIMIT": C.PERMANENT,
    "isv.SMS_CONTENT_ILLEGAL": C.PERMANENT,
    "isv.BLACK_KEY_CONTROL_LIMIT": C.PERMANENT,
    "isv.PARAM_NOT_SUPPORT_URL": C.PERMANENT,
    "isp.SYSTEM_ERROR": C.RETRIABLE,
    "isp.GATEWAY_ERROR": C.RETRIABLE,
    "InternalError": C.RETRIABLE,
    "ServiceUnavailable": C.RETRIABLE,
    "SignatureDoesNotMatch": C.SUPPLIER_WIDE,
    "InvalidAccessKeyId.NotFound": C.SUPPLIER_WIDE,
    "InvalidTimeStamp.Expired": C.SUPPLIER_WIDE,
    "SignatureNonceUsed": C.RETRIABLE,
}

TENCENT = {
    "LimitExceeded.PhoneNumberDailyLimit": C.RECIPIENT_LIMIT,
    "LimitExceeded.PhoneNumberOneHourLimit": C.RECIPIENT_LIMIT,
    "LimitExceeded.PhoneNumberThirtySecondLimit": C.RECIPIENT_LIMIT,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": C.RECIPIENT_LIMIT,
    "LimitExceeded.DeliveryFrequencyLimit": C.RECIPIENT_LIMIT,
    "LimitExceeded.AppDailyLimit": C.SUPPLIER_WIDE,
    "LimitExceeded.DailyLimit": C.SUPPLIER_WIDE,
    "RequestLimitExceeded": C.THROTTLED,
    "RequestLimitExceeded.GlobalRegionUinLimitExceeded": C.THROTTLED,
    "RequestLimitExceeded.IPLimitExceeded": C.THROTTLED,
    "FailedOperation.InsufficientBalanceInSmsPackage": C.SUPPLIER_WIDE,
    "UnauthorizedOperation.SerivceSuspendDueToArrears": C.SUPPLIER_WIDE,
    "UnauthorizedOperation.SdkAppIdIsDisabled": C.SUPPLIER_WIDE,
    "UnauthorizedOperation.RequestIpNotInWhitelist": C.SUPPLIER_WIDE,
    "UnauthorizedOperation.RequestPermissionDeny": C.SUPPLIER_WIDE,
    "AuthFailure.SignatureFailure": C.SUPPLIER_WIDE,
    "AuthFailure.SecretIdNotFound": C.SUPPLIER_WIDE,
    "AuthFailure.SignatureExpire": C.SUPPLIER_WIDE,
    "FailedOperation.SignatureIncorrectOrUnapproved": C.SUPPLIER_WIDE,
    "FailedOperation.TemplateIncorrectOrUnapproved": C.SUPPLIER_WIDE,
    "InvalidParameterValue.IncorrectPhoneNumber": C.PERMANENT,
    "FailedOperation.PhoneNumberInBlacklist": C.PERMANENT,
    "FailedOperation.PhoneNumberOnBlacklist": C.PERMANENT,
    "FailedOperation.ContainSensitiveWord": C.PERMANENT,
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": C.PERMANENT,
    "InvalidParameterValue.TemplateParameterFormatError": C.PERMANENT,
    "InvalidParameterValue.TemplateParameterLengthLimit": C.PERMANENT,
    "InvalidParameterValue.ContentLengthLimit": C.PERMANENT,
    "FailedOperation.MarketingSendTimeConstraint": C.DEFERRED,
    "InternalError.Timeout": C.RETRIABLE,
    "InternalError.SendAndRecvFail": C.RETRIABLE,
    "InternalError.OtherError": C.RETRIABLE,
    "InternalError.UnknownError": C.RETRIABLE,
}

TWILIO = {
    "20429": C.THROTTLED,
    "30001": C.THROTTLED,
    "20003": C.SUPPLIER_WIDE,
    "30002": C.SUPPLIER_WIDE,
    "21408": C.SUPPLIER_WIDE,
    "21606": C.SUPPLIER_WIDE,
    "21211": C.PERMANENT,
    "21614": C.PERMANENT,
    "21610": C.PERMANENT,
}

CMPP = {
    "1": C.PERMANENT,
    "2": C.PERMANENT,
    "3": C.RETRIABLE,
    "4": C.PERMANENT,
    "5": C.PERMANENT,
    "6": C.PERMANENT,
    "7": C.PERMANENT,
    "8": C.THROTTLED,
    "9": C.RETRIABLE,
    "10": C.SUPPLIER_WIDE,
    "11": C.SUPPLIER_WIDE,
    "12": C.SUPPLIER_WIDE,
    "13": C.PERMANENT,
    "14": C.PERMANENT,
    "AUTH": C.SUPPLIER_WIDE,
    "LIMIT": C.RECIPIENT_LIMIT,
    "MILIMIT": C.RECIPIENT_LIMIT,
    "CTLIMIT": C.RECIPIENT_LIMIT,
    "BEYONDN": C.RECIPIENT_LIMIT,
    "BEYONDD": C.RECIPIENT_LIMIT,
}

CASES = [
    *((aliyun.SUBMIT_CODES, code, expected) for code, expected in ALIYUN.items()),
    *((tencent.SUBMIT_CODES, code, expected) for code, expected in TENCENT.items()),
    *((twilio.SUBMIT_CODES, code, expected) for code, expected in TWILIO.items()),
    *((cmpp.SUBMIT_CODES, code, expected) for code, expected in CMPP.items()),
]


@pytest.mark.parametrize(("table", "code", "expected"), CASES, ids=[c[1] for c in CASES])
def test_documented_submit_code_is_classified_as_the_spec_says(
    table: object, code: str, expected: C
) -> None:
    # Known codes win over the HTTP status, whatever status they came with.
    assert table.lookup(code) is expected  # type: ignore[attr-defined]
    assert table.classify(code, 200) is expected  # type: ignore[attr-defined]
    assert table.classify(code, 503) is expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, C.RETRIABLE),
        (502, C.RETRIABLE),
        (503, C.RETRIABLE),
        (429, C.THROTTLED),
        (401, C.SUPPLIER_WIDE),
        (403, C.SUPPLIER_WIDE),
        (400, C.PERMANENT),
        (404, C.PERMANENT),
        (200, C.PERMANENT),
    ],
)
def test_unknown_code_is_classed_by_http_status(status: int, expected: C) -> None:
    assert class_for_http_status(status) is expected
    for table in (
        aliyun.SUBMIT_CODES,
        tencent.SUBMIT_CODES,
        twilio.SUBMIT_CODES,
        cmpp.SUBMIT_CODES,
    ):
        assert table.lookup("NeverSeen.Code") is None
        assert table.classify("NeverSeen.Code", status) is expected


def test_narrow_code_family_beats_broad_one() -> None:
    # `LimitExceeded.PhoneNumber*` is per recipient, while other LimitExceeded codes are not.
    assert (
        tencent.SUBMIT_CODES.classify("LimitExceeded.PhoneNumberNewRule", 200) is C.RECIPIENT_LIMIT
    )
    assert tencent.SUBMIT_CODES.classify("LimitExceeded.SomethingElse", 200) is C.PERMANENT
