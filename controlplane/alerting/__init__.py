"""Alert routing, grouping, silences, inhibition, escalation and on-call: the alerting stage."""
