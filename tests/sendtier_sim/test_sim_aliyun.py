"""The Alibaba simulator over real HTTP: signed RPC submits, faults, SmsReport pushes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sendtier_sim_helpers import (
    ALIYUN,
    aliyun_params,
    manual_clock,
    plan,
    running_receiver,
    send_sms,
)

from smsplatform.clock import ManualClock
from testbench.simulators import RunningSimulator, SimulatorConfig, running_simulator

ALIYUN_OK = (200, '{"code":0,"msg":"接收成功"}'.encode())


async def call(
    client: httpx.AsyncClient, sim: RunningSimulator, clock: ManualClock, params: dict[str, str]
) -> httpx.Response:
    """One signed RPC call to the simulator."""
    return await client.post(sim.base_url + "/", data=aliyun_params(clock, params))


def config(callback_url: str | None = None, **plan_overrides: Any) -> SimulatorConfig:
    return SimulatorConfig(
        account=ALIYUN,
        callback_url=callback_url,
        plan=plan(**plan_overrides),
        background_push=False,
    )


async def test_signed_send_sms_is_accepted_with_a_biz_id() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        response = await call(client, sim, clock, send_sms("13812345678"))
    body = response.json()
    assert response.status_code == 200
    assert body["Code"] == "OK" and body["Message"] == "OK"
    assert body["BizId"].endswith("^0") and body["RequestId"]


async def test_get_requests_are_signed_over_the_query_too() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        params = aliyun_params(clock, send_sms("+8613812345678"), method="GET")
        response = await client.get(sim.base_url + "/", params=params)
    assert response.json()["Code"] == "OK"


async def test_bad_signature_stale_timestamp_and_replayed_nonce_get_gateway_errors() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        url = sim.base_url + "/"
        forged = await client.post(
            url, data=aliyun_params(clock, send_sms("13812345678"), secret="wrong")
        )
        stale = await client.post(
            url,
            data=aliyun_params(
                clock, send_sms("13812345678"), timestamp=clock.now() - timedelta(minutes=16)
            ),
        )
        first = await client.post(
            url, data=aliyun_params(clock, send_sms("13812345678"), nonce="n-1")
        )
        replay = await client.post(
            url, data=aliyun_params(clock, send_sms("13812345679"), nonce="n-1")
        )
        unknown_key = dict(aliyun_params(clock, send_sms("13812345678")), AccessKeyId="LTAIother")
        wrong_key = await client.post(url, data=unknown_key)
    assert (forged.status_code, forged.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:POST&%2F&" in forged.json()["Message"]
    assert (stale.status_code, stale.json()["Code"]) == (400, "InvalidTimeStamp.Expired")
    assert first.json()["Code"] == "OK"
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    assert (wrong_key.status_code, wrong_key.json()["Code"]) == (404, "InvalidAccessKeyId.NotFound")


async def test_requests_that_do_not_fit_the_api_get_its_business_codes() -> None:
    clock = manual_clock()
    templates = {"SMS_153055065": {"message_class": "otp", "params": ["code"]}}
    async with (
        running_simulator(config(approved={"templates": templates}), clock) as sim,
        httpx.AsyncClient() as client,
    ):
        url = sim.base_url + "/"

        async def code_of(params: dict[str, str]) -> tuple[int, str]:
            response = await client.post(url, data=aliyun_params(clock, params))
            return response.status_code, response.json()["Code"]

        numeric = await code_of(send_sms("13812345678", TemplateParam='{"code":1234}'))
        missing_var = await code_of(send_sms("13812345678", TemplateParam='{"other":"x"}'))
        bad_number = await code_of(send_sms("2345"))
        too_many = await code_of(send_sms(",".join(f"138{i:08d}" for i in range(1001))))
        no_sign = await code_of({"PhoneNumbers": "13812345678", "TemplateCode": "SMS_153055065"})
        unapproved = await code_of(send_sms("13812345678", TemplateCode="SMS_000"))
    assert numeric == (200, "isv.INVALID_JSON_PARAM")
    assert missing_var == (200, "isv.TEMPLATE_MISSING_PARAMETERS")
    assert bad_number == (200, "isv.MOBILE_NUMBER_ILLEGAL")
    assert too_many == (200, "isv.MOBILE_COUNT_OVER_LIMIT")
    assert no_sign == (400, "MissingSignName")
    assert unapproved == (200, "isv.SMS_TEMPLATE_ILLEGAL")


async def test_half_the_submits_fail_with_codes_from_the_mix_at_error_rate_half() -> None:
    clock = manual_clock()
    mix = {"isp.SYSTEM_ERROR": 3, "Throttling.User": 1}
    codes: list[str] = []
    async with (
        running_simulator(config(submit={"error_rate": 0.5, "error_mix": mix}), clock) as sim,
        httpx.AsyncClient() as client,
    ):
        for index in range(200):
            params = aliyun_params(clock, send_sms(f"139{index:08d}"))
            codes.append((await client.post(sim.base_url + "/", data=params)).json()["Code"])
    failures = [code for code in codes if code != "OK"]
    # Binomial(200, 0.5): 70..130 holds with probability > 0.9999 (seeded, so stable anyway).
    assert 70 <= len(failures) <= 130
    assert set(failures) == {"isp.SYSTEM_ERROR", "Throttling.User"}
    assert failures.count("isp.SYSTEM_ERROR") > failures.count("Throttling.User")


async def test_throttling_balance_and_per_recipient_limits_answer_the_real_codes() -> None:
    clock = manual_clock()
    templates = {"SMS_153055065": {"message_class": "otp"}}
    async with httpx.AsyncClient() as client:
        throttled = config(throttle={"qps": 1, "burst": 2})
        async with running_simulator(throttled, clock) as sim:
            answers = [await call(client, sim, clock, send_sms(f"1390000000{i}")) for i in range(3)]
            clock.advance(1.0)
            after_refill = await call(client, sim, clock, send_sms("13900000009"))
        assert [a.json()["Code"] for a in answers] == ["OK", "OK", "Throttling.User"]
        assert answers[2].status_code == 400
        assert after_refill.json()["Code"] == "OK"

        broke = config(balance={"initial_units": 2}, approved={"templates": templates})
        async with running_simulator(broke, clock) as sim:
            codes = [
                (await call(client, sim, clock, send_sms(f"1370000000{i}"))).json()["Code"]
                for i in range(3)
            ]
            balance = (await client.get(sim.base_url + "/_sim/balance")).json()
        assert codes == ["OK", "OK", "isv.AMOUNT_NOT_ENOUGH"]
        assert balance == {"units": 0.0, "unit": "messages", "low": True}

        limited = config(approved={"templates": templates})
        async with running_simulator(limited, clock) as sim:
            first = await call(client, sim, clock, send_sms("13612345678"))
            second = await call(client, sim, clock, send_sms("13612345678"))
            clock.advance(61)
            next_minute = await call(client, sim, clock, send_sms("13612345678"))
        assert first.json()["Code"] == "OK"
        assert second.json()["Code"] == "isv.BUSINESS_LIMIT_CONTROL"
        assert second.json()["Message"] == "触发分钟级流控Permits:1"
        assert next_minute.json()["Code"] == "OK"


async def test_outage_windows_answer_their_mode() -> None:
    clock = manual_clock()
    outages = [
        {"mode": "http_503", "start_in_s": 10, "end_in_s": 20},
        {"mode": "suspended", "start_in_s": 20, "end_in_s": 30},
        {"mode": "signature_revoked", "start_in_s": 30, "end_in_s": 40},
    ]
    async with (
        running_simulator(config(outages=outages), clock) as sim,
        httpx.AsyncClient() as client,
    ):

        async def send() -> httpx.Response:
            return await call(client, sim, clock, send_sms("13812345678"))

        before = await send()
        clock.advance(10)
        down = await send()
        health = await client.get(sim.base_url + "/healthz")
        clock.advance(10)
        suspended = await send()
        clock.advance(10)
        revoked = await send()
        clock.advance(10)
        after = await send()
    assert before.json()["Code"] == "OK"
    assert (down.status_code, down.json()["Code"]) == (503, "ServiceUnavailable")
    assert health.status_code == 200  # control endpoints stay up
    assert suspended.json()["Code"] == "isv.OUT_OF_SERVICE"
    assert revoked.json()["Code"] == "isv.SMS_SIGNATURE_ILLEGAL"
    assert after.json()["Code"] == "OK"


async def test_sms_reports_are_pushed_as_a_json_array_after_the_planned_delay() -> None:
    clock = manual_clock()
    receipts = {"batching": {"max_per_push": 10}}
    delivery = {"default": {"DELIVERED": 1, "FAILED": 0, "EXPIRED": 0, "REJECTED": 0}}
    async with running_receiver(ALIYUN_OK) as receiver:
        sim_config = config(receiver.url + "/sms/report", receipts=receipts, delivery=delivery)
        async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
            await client.post(
                sim.base_url + "/",
                data=aliyun_params(clock, send_sms("13912345678", OutId="o-9")),
            )
            clock.advance(4.9)
            early = await sim.flush()
            clock.advance(0.2)
            on_time = await sim.flush()
    assert (early, on_time) == (0, 1)
    (report,) = receiver.pushes[0].json()
    assert receiver.pushes[0].path == "/sms/report"
    assert report["phone_number"] == "13912345678"
    assert report["success"] is True and report["err_code"] == "DELIVERED"
    assert report["err_msg"] == "用户接收成功" and report["sms_size"] == "1"
    assert report["out_id"] == "o-9" and report["biz_id"].endswith("^0")
    assert report["send_time"] == "2026-03-02 09:00:00"  # UTC+8
    assert report["report_time"] == "2026-03-02 09:00:05"


async def test_magic_numbers_deliver_fail_or_stay_silent_at_once() -> None:
    clock = manual_clock()
    receipts = {"batching": {"max_per_push": 10}}
    async with (
        running_receiver(ALIYUN_OK) as receiver,
        running_simulator(config(receiver.url, receipts=receipts), clock) as sim,
        httpx.AsyncClient() as client,
    ):
        for phone in ("13800000001", "13800000002", "13800000003"):
            await call(client, sim, clock, send_sms(phone))
        pushed = await sim.flush()
    assert pushed == 2 and len(receiver.pushes) == 1
    by_phone = {report["phone_number"]: report for report in receiver.pushes[0].json()}
    assert set(by_phone) == {"13800000001", "13800000002"}  # …0003 is never reported
    assert by_phone["13800000001"]["err_code"] == "DELIVERED"
    assert by_phone["13800000002"]["success"] is False
    assert by_phone["13800000002"]["err_code"] == "MK:0001"


async def test_failed_pushes_are_repushed_after_one_minute_and_lost_or_doubled_as_planned() -> None:
    clock = manual_clock()
    async with running_receiver(ALIYUN_OK) as receiver:
        receiver.replies.append((500, b"busy"))
        async with (
            running_simulator(config(receiver.url), clock) as sim,
            httpx.AsyncClient() as client,
        ):
            await call(client, sim, clock, send_sms("13712345678"))
            clock.advance(5)
            assert await sim.flush() == 0  # the receiver answered 500
            clock.advance(59)
            assert await sim.flush() == 0  # not yet a minute later
            clock.advance(1)
            assert await sim.flush() == 1
            sim.set_plan(plan(receipts={"duplicate_rate": 1.0}))
            await call(client, sim, clock, send_sms("13712345679"))
            sim.set_plan(plan(receipts={"loss_rate": 1.0}))
            await call(client, sim, clock, send_sms("13712345670"))
            clock.advance(5)
            await sim.flush()
            state = sim.state()
    phones = [push.json()[0]["phone_number"] for push in receiver.pushes]
    assert phones == ["13712345678", "13712345678", "13712345679", "13712345679"]
    assert state["counters"]["receipts_lost"] == 1
    assert state["counters"]["receipts_duplicated"] == 1


async def test_query_send_details_shows_waiting_then_the_final_status() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        sent = await call(client, sim, clock, send_sms("13800000002"))
        query = {
            "Action": "QuerySendDetails",
            "PhoneNumber": "13800000002",
            "SendDate": "20260302",
            "PageSize": "10",
            "CurrentPage": "1",
            "BizId": sent.json()["BizId"],
        }
        answer = (await call(client, sim, clock, query)).json()
    details = answer["SmsSendDetailDTOs"]["SmsSendDetailDTO"]
    assert answer["Code"] == "OK" and answer["TotalCount"] == 1
    assert details[0]["SendStatus"] == 2 and details[0]["ErrCode"] == "MK:0001"
    assert details[0]["PhoneNum"] == "13800000002"
