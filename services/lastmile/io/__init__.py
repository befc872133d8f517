"""File adapters: JSONL input, dead-letter records, network and rules files."""
