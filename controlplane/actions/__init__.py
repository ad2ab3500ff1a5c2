"""The control plane's own actions: supplier cut-over and status-report degradation, audited.

Cut-over, by module (nothing is re-exported here: controlplane.settings imports the settings
module, so this package must stay import-light):
- `cutover_settings`: the `cutover:` section of smsctl.yaml;
- `health.HealthModel`: pure health per (supplier, carrier), fed with receipts, submits, logs;
- `cutover.CutoverPolicy`: pure decisions (ejection within the safety rules; `failback`: canary);
- `cutover_service.CutoverService`: the running part (bus in, versions stored and published,
  notifications out); `observe_receipts` / `observe_submits` / `observe_logs` and `decide` drive
  it without a bus, for end-to-end tests and benches;
- `findings`, `routing_store`, `routing_keeper`, `announcer`, `route_commands`, `route_cli`,
  `cutover_metrics`;
- `rule_resume`: at start, the actions of rule alerts restored firing are asked for again.
"""
