"""A real Prometheus (Debian's package) for tests: a TSDB backfilled with promtool from a real trace, mapped to
cAdvisor and kube-state-metrics series, served on a loopback port."""
