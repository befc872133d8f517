"""The streaming worker: Faust wiring around ``lastmile.pipeline``.

app            -- the Faust app: topics, tables, agents, timers and pages (wiring only)
topics         -- topic names and their creation
tables         -- the Faust tables behind the pipeline's state ports (with a decoded cache)
outbox         -- the Kafka outputs (violations, dead letters, sign-offs by courier)
violation_log  -- the idempotent gate: a mirror of what violations.v1 already holds
metrics_sink   -- a batch's metric deltas applied to Prometheus
gauges         -- gauges refreshed at scrape time (stuck parcels, coverage, lag)
health, faults -- Redis reachability with retry; crash points for fault tests
"""
