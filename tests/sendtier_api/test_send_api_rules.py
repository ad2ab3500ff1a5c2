"""The pure rules under the API: segments, templates, rate-limit windows, ids."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumber, PhoneNumberFormat
from phonenumbers.phonenumberutil import PhoneNumberType

from sendtier.api.ids import MessageIdFactory
from sendtier.api.ratelimit import LimitExceeded, NumberCounters, TenantBuckets, Window
from sendtier.api.validation import InvalidPhone, parse_mobile
from sendtier.settings import TemplateSettings
from smsplatform.clock import ManualClock
from suppliers.segments import count_segments
from suppliers.templates import Template, TemplateParamError

MOBILE, FIXED_LINE_OR_MOBILE = PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("{" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("[" * 81, "GSM-7", 162, 2),
        ("a" * 158 + "€", "GSM-7", 160, 1),
        ("a" * 159 + "€", "GSM-7", 161, 2),
        ("Ünïcödé? no: ï is not GSM-7", "UCS-2", 27, 1),
        ("字" * 70, "UCS-2", 70, 1),
        ("字" * 71, "UCS-2", 71, 2),
        ("字" * 134, "UCS-2", 134, 2),
        ("字" * 135, "UCS-2", 135, 3),
        ("a" * 69 + "字", "UCS-2", 70, 1),  # one Chinese character makes the whole text UCS-2
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 36, "UCS-2", 72, 2),
    ],
)
def test_segments_follow_the_encoding_rules(
    text: str, encoding: str, units: int, segments: int
) -> None:
    counted = count_segments(text)
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, segments)


def test_the_chinese_billing_examples_count_the_signature() -> None:
    assert count_segments("【华为云】").units == 5
    assert count_segments("【阿里云】" + "字" * 155).segments == 3  # 160 → 67 + 67 + 26


def template(text: str) -> Template:
    return Template.compile(TemplateSettings(id="t", message_class="notification", text=text))


def test_a_template_fills_its_placeholders_and_keeps_other_braces() -> None:
    shipped = template("订单{order}已发货，{order}号，运费{fee}元 {not a param} {}")
    assert shipped.params == ("order", "fee")
    rendered = shipped.render({"order": "A{fee}1", "fee": "0"})
    assert rendered == "订单A{fee}1已发货，A{fee}1号，运费0元 {not a param} {}"


@pytest.mark.parametrize(
    ("params", "param"),
    [({"order": "1"}, "fee"), ({"order": "1", "fee": "2", "extra": "3"}, "extra"), ({}, "order")],
)
def test_a_template_refuses_missing_and_extra_params(params: dict[str, str], param: str) -> None:
    with pytest.raises(TemplateParamError) as caught:
        template("{order} {fee}").render(params)
    assert caught.value.param == param


OTP_WINDOWS = (Window("per_minute", 60, 1), Window("per_hour", 3600, 5))


def test_a_number_window_refuses_until_the_oldest_send_leaves_it() -> None:
    clock = ManualClock()
    counters = NumberCounters(clock)
    counters.reserve("n", OTP_WINDOWS)
    clock.advance(59.5)
    with pytest.raises(LimitExceeded) as caught:
        counters.reserve("n", OTP_WINDOWS)
    assert caught.value.limit == "per_minute"
    assert caught.value.retry_after_s == pytest.approx(0.5)
    assert caught.value.retry_after_header == "1"
    clock.advance(0.5)
    counters.reserve("n", OTP_WINDOWS)


def test_a_cancelled_reservation_gives_the_send_back() -> None:
    clock = ManualClock()
    counters = NumberCounters(clock)
    counters.reserve("n", OTP_WINDOWS).cancel()
    counters.reserve("n", OTP_WINDOWS)


def test_numbers_not_sent_to_for_two_horizons_are_forgotten() -> None:
    clock = ManualClock()
    counters = NumberCounters(clock, horizon_s=3600)
    counters.reserve("quiet", OTP_WINDOWS)
    clock.advance(3600)
    counters.reserve("busy", OTP_WINDOWS)
    assert len(counters) == 2
    clock.advance(3600)
    counters.reserve("busy", OTP_WINDOWS)
    assert len(counters) == 1
    counters.reserve("quiet", OTP_WINDOWS)  # its old sends are out of every window anyway


def test_a_tenant_bucket_lets_a_big_batch_through_then_makes_the_next_wait() -> None:
    clock = ManualClock()
    buckets = TenantBuckets(clock)
    buckets.take("shop", 1000, rate=100)  # ten seconds' worth, allowed once the bucket is full
    with pytest.raises(LimitExceeded) as caught:
        buckets.take("shop", 1, rate=100)
    assert caught.value.limit == "tenant_rate"
    assert caught.value.retry_after_s == pytest.approx(9.01)
    clock.advance(9.01)
    buckets.take("shop", 1, rate=100)


def test_message_ids_sort_by_time_even_within_one_millisecond() -> None:
    clock = ManualClock()
    ids = MessageIdFactory(clock)
    made = []
    for _ in range(3):
        made += [ids.next() for _ in range(1000)]
        clock.advance(0.001)
    assert made == sorted(made)
    assert len(set(made)) == 3000
    assert all(len(i) == 26 for i in made)


def reference_parse(raw: str) -> tuple[PhoneNumber, str] | str:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return "invalid"
    if phonenumbers.number_type(number) not in (MOBILE, FIXED_LINE_OR_MOBILE):
        return "invalid"
    return number, phonenumbers.format_number(number, PhoneNumberFormat.E164)


def test_the_fast_path_for_e164_mainland_numbers_agrees_with_phonenumbers() -> None:
    rng = random.Random(3)
    for raw in [f"+861{rng.randrange(10**10):010d}" for _ in range(3000)]:
        try:
            parsed: tuple[PhoneNumber, str] | str = parse_mobile(raw, "CN")
        except InvalidPhone:
            parsed = "invalid"
        assert parsed == reference_parse(raw), raw
