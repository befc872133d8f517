"""Seeking back to the committed offsets (worker/fetch.py): an input partition that was
never committed goes back to its start, not wherever the consumer had fetched to."""

from __future__ import annotations

from collections import namedtuple

from lastmile.worker.fetch import _seek_to_committed_or_start

TP = namedtuple("TP", "topic partition")


class Client:
    """What the seek asks of aiokafka's consumer."""

    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.to_beginning: list[TP] = []

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return self.committed

    async def seek_to_beginning(self, *tps: TP) -> None:
        self.to_beginning.extend(tps)


async def test_an_input_partition_never_committed_is_read_again_from_its_start():
    committed = {
        TP("scans", 0): 740,  # committed: aiokafka seeks there itself
        TP("scans", 2): None,  # never committed: fetched ahead, must go back
        TP("complaints", 1): 0,  # "start at 0", which aiokafka does not seek to either
        TP("parcels-changelog", 2): None,  # a changelog: recovery places it, not this
    }
    client = Client(committed)
    got = await _seek_to_committed_or_start(client, frozenset({"parcels-changelog"}))
    assert got == committed, "Faust still gets the committed offsets it asked for"
    assert sorted(client.to_beginning) == [TP("complaints", 1), TP("scans", 2)]


async def test_nothing_is_sought_to_the_start_when_every_partition_has_a_commit():
    client = Client({TP("scans", 0): 5, TP("scans", 1): 9})
    await _seek_to_committed_or_start(client, frozenset())
    assert client.to_beginning == []
