"""Re-issuing the actions of rule alerts that were firing when the control plane stopped.

Rule actions run on transitions (an alert begins firing, or resolves). An alert restored from
storage already fires, so it makes no transition, and what its action asked for lives only in
memory: a cut-over rule's hold on failback would be gone, and after the cool-down the ejected
supplier would get canary traffic while the alert still fires. At start, once the rule engine
has restored its alerts, each firing alert of a rule with actions asks again.
"""

from __future__ import annotations

import logging

from controlplane.engine.alerts import AlertState, AlertTransition
from controlplane.engine.runtime.engine import RuleEngine
from controlplane.engine.runtime.evaluator import rule_key
from controlplane.engine.runtime.sink import ActingAlertSink, AlertNotice

log = logging.getLogger(__name__)


def restored_firing_notices(rules: RuleEngine) -> list[AlertNotice]:
    """A firing → firing notice for each firing alert of a rule that has actions."""
    evaluator = rules.evaluator
    if evaluator is None:
        return []
    actions_by_key = {
        rule_key(group, rule.name): (rule.name, rule.actions)
        for group in evaluator.rule_set.groups
        for rule in group.alert_rules
        if rule.actions
    }
    notices: list[AlertNotice] = []
    for key, alert, rendered in evaluator.live_alerts():
        name, actions = actions_by_key.get(key, ("", ()))
        # A rule's RuleEvaluationFailing alert is held with its own: it carries no actions.
        if alert.state is not AlertState.FIRING or alert.labels.get("alertname") != name:
            continue
        transition = AlertTransition(
            alert, AlertState.FIRING, alert.started_at or alert.active_since
        )
        notices.append(AlertNotice(key, transition, rendered, actions))
    return notices


async def resume_rule_actions(rules: RuleEngine, sink: ActingAlertSink) -> None:
    """Run the actions of every restored firing alert again (after `rules.start()`)."""
    notices = restored_firing_notices(rules)
    for notice in notices:
        log.info(
            "event=rule_action_resumed rule=%s fingerprint=%s",
            notice.rule_key,
            notice.transition.alert.fingerprint,
        )
    await sink.resume(notices)
