"""History from Prometheus: an HTTP client (auth, TLS, retries, timeouts), the PromQL upid asks, and the
conversion of the answers into SampleBatches. Gentle by design: every range query stays under Prometheus'
11,000-points-per-series limit, covers a bounded number of series, and few run at once."""
