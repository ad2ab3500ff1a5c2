"""The Tencent simulator over real HTTP: TC3-signed calls, per-number results, status pushes."""

from __future__ import annotations

from typing import Any

import httpx
from sendtier_sim_helpers import (
    TENCENT,
    manual_clock,
    plan,
    running_receiver,
    tencent_request,
    tencent_send,
)

from smsplatform.clock import ManualClock
from testbench.simulators import RunningSimulator, SimulatorConfig, running_simulator

TENCENT_OK = (200, b'{"result":0,"errmsg":"OK"}')


def config(callback_url: str | None = None, **plan_overrides: Any) -> SimulatorConfig:
    return SimulatorConfig(
        account=TENCENT,
        callback_url=callback_url,
        plan=plan(**plan_overrides),
        background_push=False,
    )


async def call(
    client: httpx.AsyncClient,
    sim: RunningSimulator,
    clock: ManualClock,
    payload: dict[str, Any],
    **options: Any,
) -> dict[str, Any]:
    """One signed API 3.0 call; returns the `Response` object (HTTP is always 200)."""
    headers, body = tencent_request(sim.base_url, clock, payload, **options)
    response = await client.post(sim.base_url + "/", content=body, headers=headers)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()["Response"]
    assert answer["RequestId"]
    return answer


async def test_signed_send_sms_answers_per_number_with_serial_numbers() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        answer = await call(
            client, sim, clock, tencent_send(["+8613711112222", "13711113333", "12345"])
        )
    ok_first, ok_second, bad = answer["SendStatusSet"]
    assert ok_first["Code"] == "Ok" and ok_first["PhoneNumber"] == "+8613711112222"
    assert ok_first["SerialNo"] and ok_first["Fee"] == 1 and ok_first["IsoCode"] == "CN"
    assert ok_second["Code"] == "Ok" and ok_second["PhoneNumber"] == "+8613711113333"
    assert bad["Code"] == "InvalidParameterValue.IncorrectPhoneNumber" and bad["Fee"] == 0


async def test_bad_signature_expired_timestamp_and_unknown_secret_id_are_auth_failures() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        payload = tencent_send(["+8613711112222"])
        forged = await call(client, sim, clock, payload, secret_key="wrong")
        stale = await call(
            client, sim, clock, payload, timestamp=int(clock.now().timestamp()) - 301
        )
        headers, body = tencent_request(sim.base_url, clock, payload)
        headers["Authorization"] = headers["Authorization"].replace("AKIDsimSecretId", "AKIDx")
        unknown = (await client.post(sim.base_url + "/", content=body, headers=headers)).json()[
            "Response"
        ]
        tampered_headers, _ = tencent_request(sim.base_url, clock, payload)
        tampered = (
            await client.post(
                sim.base_url + "/", content=body.replace(b"1234", b"9999"), headers=tampered_headers
            )
        ).json()["Response"]
    assert forged["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert stale["Error"]["Code"] == "AuthFailure.SignatureExpire"
    assert unknown["Error"]["Code"] == "AuthFailure.SecretIdNotFound"
    assert tampered["Error"]["Code"] == "AuthFailure.SignatureFailure"


async def test_half_the_numbers_fail_with_codes_from_the_mix_at_error_rate_half() -> None:
    clock = manual_clock()
    mix = {"LimitExceeded.PhoneNumberDailyLimit": 1, "FailedOperation.PhoneNumberInBlacklist": 1}
    submit = {"error_rate": 0.5, "error_mix": mix}
    async with (
        running_simulator(config(submit=submit, per_recipient_limits=[]), clock) as sim,
        httpx.AsyncClient() as client,
    ):
        codes = []
        for batch in range(4):
            phones = [f"+86139{batch:02d}{index:06d}" for index in range(50)]
            answer = await call(client, sim, clock, tencent_send(phones))
            codes += [status["Code"] for status in answer["SendStatusSet"]]
    failures = [code for code in codes if code != "Ok"]
    assert len(codes) == 200 and 70 <= len(failures) <= 130
    assert set(failures) == set(mix)


async def test_throttle_balance_outage_and_frequency_rules_use_tencent_codes() -> None:
    clock = manual_clock()
    outages = [{"mode": "http_503", "start_in_s": 100, "end_in_s": 200}]
    sim_config = config(
        throttle={"qps": 1, "burst": 3}, balance={"initial_units": 2}, outages=outages
    )
    async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
        first = await call(client, sim, clock, tencent_send(["+8613600000001"]))
        same_number = await call(client, sim, clock, tencent_send(["+8613600000001"]))
        second = await call(client, sim, clock, tencent_send(["+8613600000002"]))
        throttled = await call(client, sim, clock, tencent_send(["+8613600000003"]))
        clock.advance(10)
        broke = await call(client, sim, clock, tencent_send(["+8613600000004"]))
        packages = await call(
            client,
            sim,
            clock,
            {
                "SmsSdkAppId": TENCENT.sdk_app_id,
                "Limit": 10,
                "Offset": 0,
                "BeginTime": "2026010100",
                "EndTime": "2026030300",
            },
            action="SmsPackagesStatistics",
        )
        clock.advance(100)
        headers, body = tencent_request(sim.base_url, clock, tencent_send(["+8613600000005"]))
        down = await client.post(sim.base_url + "/", content=body, headers=headers)
    assert first["SendStatusSet"][0]["Code"] == "Ok"
    assert same_number["SendStatusSet"][0]["Code"] == "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert second["SendStatusSet"][0]["Code"] == "Ok"
    assert throttled["Error"]["Code"] == "RequestLimitExceeded"
    assert broke["Error"]["Code"] == "FailedOperation.InsufficientBalanceInSmsPackage"
    (package,) = packages["SmsPackagesStatisticsSet"]
    assert (package["AmountOfPackage"], package["CurrentUsage"]) == (2, 2)
    assert down.status_code == 503


async def test_status_callbacks_are_pushed_in_batches_and_repushed_after_failure() -> None:
    clock = manual_clock()
    delivery = {"default": {"DELIVERED": 1, "FAILED": 0, "EXPIRED": 0, "REJECTED": 0}}
    receipts = {"batching": {"max_per_push": 2}}
    async with running_receiver(TENCENT_OK) as receiver:
        receiver.replies.append((200, b'{"result":1,"errmsg":"busy"}'))
        sim_config = config(receiver.url + "/tencent", delivery=delivery, receipts=receipts)
        async with running_simulator(sim_config, clock) as sim, httpx.AsyncClient() as client:
            answer = await call(
                client,
                sim,
                clock,
                tencent_send(["+8613511110001", "+8613511110002", "+8613511110003"]),
            )
            serials = [status["SerialNo"] for status in answer["SendStatusSet"]]
            clock.advance(4)
            assert await sim.flush() == 0
            clock.advance(1)
            first_round = await sim.flush()
            clock.advance(60)
            second_round = await sim.flush()
    # Two pushes of at most 2 reports; the first was refused (result 1) and re-pushed a minute on.
    assert (first_round, second_round) == (1, 2)
    pushed = [push.json() for push in receiver.pushes]
    assert [len(reports) for reports in pushed] == [2, 1, 2]
    assert pushed[0] == pushed[2]
    report = pushed[1][0]
    assert report["report_status"] == "SUCCESS" and report["errmsg"] == "DELIVRD"
    assert report["nationcode"] == "86" and report["mobile"].startswith("13511110")
    assert report["user_receive_time"] == "2026-03-02 09:00:05"
    assert {r["sid"] for reports in pushed for r in reports} == set(serials)


async def test_pull_sms_send_status_consumes_due_statuses_when_no_callback_is_set() -> None:
    clock = manual_clock()
    async with running_simulator(config(), clock) as sim, httpx.AsyncClient() as client:
        await call(
            client, sim, clock, tencent_send(["+8613800000001", "+8613800000002", "+8613800000003"])
        )
        pull = {"SmsSdkAppId": TENCENT.sdk_app_id, "Limit": 10}
        first = await call(client, sim, clock, pull, action="PullSmsSendStatus")
        second = await call(client, sim, clock, pull, action="PullSmsSendStatus")
    statuses = {row["SubscriberNumber"]: row for row in first["PullSmsSendStatusSet"]}
    assert set(statuses) == {"13800000001", "13800000002"}  # …0003 never reports
    assert statuses["13800000001"]["ReportStatus"] == "SUCCESS"
    assert statuses["13800000002"]["ReportStatus"] == "FAIL"
    assert second["PullSmsSendStatusSet"] == []
