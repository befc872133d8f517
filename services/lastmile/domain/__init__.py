"""The pure domain core: no Kafka, Redis, HTTP, clock or environment access.

network  -- the county's three-tier network (registry, look-ups, distances)
events   -- the compact immutable event records the core folds
path     -- ParcelPath state and the event-sourced fold ``evolve``
rules    -- RuleConfig: every threshold of the rulebook in one object
detectors -- one small function per rule of the rulebook
bulk     -- the cross-parcel bulk sign-off window (keyed by courier)
engine   -- the offline/replay driver shared by ``detect`` and the reviews
indicators -- deliveries, end-to-end time, on-time, dwell, stuck, coverage, fusion
"""
