"""The streaming pipeline, engine-agnostic: batches in, typed effects out.

records   -- the typed values that travel between the steps and the adapters
effects   -- ``Effects``: everything one batch asks the adapters to do
runstate  -- ``RunState``: watermark, open hops and parcel expiry, advanced only here
parcels   -- the parcels step: decoded events + stored paths → Effects (pure)
couriers  -- the couriers step: sign-offs by courier → bulk sign-off findings (pure)
held      -- judging held findings when their hold is over (pure)
ports     -- the adapters' ``Protocol``s (gate, outbox, holds, read model, state stores)
memory    -- in-memory adapters, for tests and the pipeline benchmark
runner    -- applies Effects through the ports in the order ADR 0001 fixes

Nothing here imports Faust, Kafka, Redis or a clock: the worker (``lastmile.worker``)
wires Faust to this package, and the tests hand it in-memory adapters.
"""
