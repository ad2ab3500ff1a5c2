"""smsctl control plane: ingest, rules, alerting and actions for an SMS platform."""
