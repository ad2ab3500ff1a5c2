"""The routing tree sends alerts to the same receivers as Alertmanager's own amtool does."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from controlplane.alerting.config import alerting_route_command, load_alerting_config

EXAMPLE = Path(__file__).with_name("alertmanager_example.yml")
AMTOOL = shutil.which("amtool")

LABEL_SETS = [
    [],
    ["alertname=Anything"],
    ["severity=page"],
    ["severity=page", "service=foo1"],
    ["service=foo2", "severity=critical"],
    ["service=foo3", "severity=critical"],
    ["service=files"],
    ["service=files", "severity=critical"],
    ["service=database", "owner=team-X"],
    ["service=database", "owner=team-X", "severity=page"],
    ["service=database", "owner=team-Y"],
    ["service=database", "owner=team-Z"],
    ["service=database", "owner=team-Y", "env=dev"],
    ["service=database", "env=prod"],
    ["team=sms", "alertname=SupplierDown"],
    ["team=ops", "alertname=SupplierSlow"],
    ["team=sms", "alertname=Heartbeat"],
    ["team=sms", "alertname=QueueBacklog"],
    ["team=smsx", "alertname=QueueBacklog"],
    ['alertname="Supplier Down"', "team=sms"],
]


def _ours(config: Path, labels: list[str]) -> str:
    out = io.StringIO()
    assert alerting_route_command(config, labels, stdout=out, stderr=io.StringIO()) == 0
    return out.getvalue()


def _amtool(config: Path, labels: list[str]) -> str:
    assert AMTOOL is not None
    done = subprocess.run(
        [AMTOOL, "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return done.stdout


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed")
@pytest.mark.parametrize("labels", LABEL_SETS, ids=lambda labels: " ".join(labels) or "no-labels")
def test_route_command_prints_what_amtool_prints(labels: list[str]) -> None:
    assert _ours(EXAMPLE, labels) == _amtool(EXAMPLE, labels)


def test_continue_sends_one_alert_to_every_matching_branch() -> None:
    labels = ["service=database", "owner=team-X", "severity=page"]
    assert _ours(EXAMPLE, labels) == "pager,team-x-pager,team-y-pager\n"


def test_alert_matching_no_child_goes_to_the_default_receiver() -> None:
    assert _ours(EXAMPLE, ["alertname=Unrouted"]) == "default-webhook\n"


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed")
def test_nested_routes_written_in_many_styles_agree_with_amtool(tmp_path: Path) -> None:
    config = tmp_path / "am.yml"
    config.write_text(
        """
route:
  receiver: root
  routes:
    - matchers: ['{region=~"cn-.*", tier!="edge"}']
      receiver: china
      routes:
        - matchers: ['supplier="aliyun"', 'code!~"OK|isv\\\\..*"']
          receiver: aliyun-errors
        - matchers: [supplier=~"(tencent|huawei)"]
          receiver: others
          continue: true
        - receiver: china-catch-all
    - match: {region: us-east}
      receiver: us
      continue: true
    - matchers: ['region!=""']
      receiver: any-region
receivers:
  - name: root
  - name: china
  - name: aliyun-errors
  - name: others
  - name: china-catch-all
  - name: us
  - name: any-region
""",
        encoding="utf-8",
    )
    cases = [
        ["region=cn-north", "supplier=aliyun", "code=TIMEOUT"],
        ["region=cn-north", "supplier=aliyun", "code=OK"],
        ["region=cn-north", "supplier=aliyun", "code=isv.BUSINESS_LIMIT_CONTROL"],
        ["region=cn-south", "supplier=huawei"],
        ["region=cn-south", "tier=edge"],
        ["region=us-east"],
        ["region=eu-west"],
        ["supplier=aliyun"],
    ]
    for labels in cases:
        assert _ours(config, labels) == _amtool(config, labels), labels


def test_route_keys_and_group_keys_are_alertmanagers() -> None:
    config = load_alerting_config(EXAMPLE)
    labels = {"service": "database", "owner": "team-Y", "alertname": "DiskFull", "cluster": "c1"}
    [node] = config.route.match(labels)
    assert node.receiver == "team-y-pager"
    assert node.key() == (
        '{}/{env!~"dev|test",service="database"}/{owner=~"team-.*",owner!="team-Z"}'
    )
    assert node.group_key(labels) == (
        '{}/{env!~"dev|test",service="database"}/{owner=~"team-.*",owner!="team-Z"}'
        ':{alertname="DiskFull", cluster="c1"}'
    )
    assert config.route.group_key({"alertname": "Test"}) == '{}:{alertname="Test"}'
    [deprecated] = config.route.match({"service": "baz"})
    assert deprecated.key() == '{}/{service=~"^(?:^(foo1|foo2|baz)$)$"}'


def test_group_by_all_labels_puts_every_label_in_the_group_key() -> None:
    config = load_alerting_config(EXAMPLE)
    labels = {"service": "files", "alertname": "Full", "path": 'C:\\data "x"'}
    [node] = config.route.match(labels)
    assert node.group_key(labels) == (
        '{}/{service="files"}:{alertname="Full", path="C:\\\\data \\"x\\"", service="files"}'
    )


def test_route_command_refuses_labels_that_are_not_pairs() -> None:
    err = io.StringIO()
    assert alerting_route_command(EXAMPLE, ["severity=~page"], stderr=err) == 1
    assert "key=value" in err.getvalue()


def test_route_command_verifies_expected_receivers_like_amtool() -> None:
    out = io.StringIO()
    code = alerting_route_command(
        EXAMPLE, ["severity=page"], stdout=out, verify_receivers="default-webhook"
    )
    assert code == 1
    assert out.getvalue() == (
        "pager\nWARNING: Expected receivers did not match resolved receivers.\n"
    )
