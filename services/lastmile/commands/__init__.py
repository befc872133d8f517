"""The CLI's sub-commands: each wires adapters around the core."""
