"""The control plane's own actions: supplier cut-over and status-report degradation, audited."""
