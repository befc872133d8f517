"""The streaming worker: Faust agents around the pure core.

codec          -- how parcel paths and sign-off records travel in changelogs and topics
step           -- one batch of decoded events through the core (no I/O)
violation_log  -- the idempotent gate: a mirror of what violations.v1 already holds
projection     -- Redis read models, written in pipelined, idempotent batches
app            -- the Faust app: topics, tables, agents
"""
