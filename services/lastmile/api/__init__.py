"""The HTTP API over the Redis read models: feeds, cases, parcels, webhooks (docs/api.md)."""
