"""Alerts over the store, in Prometheus' terms: rules (rules.py) of built-in kinds (kinds.py), evaluated into
pending, firing and resolved alerts with `for:` kept across runs (engine.py), annotations templated
(templates.py), delivered to Alertmanager's API v2 or a Slack-compatible webhook (delivery.py). Pure but for
delivery; the store and the cluster are the workflow's (upid/workflows/alerts.py)."""
