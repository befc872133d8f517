"""Nothing fetched is skipped (worker/positions.py, worker/fetch.py): what Faust's getmany
did not hand over is fetched again, and a jump in input offsets is read again."""

from __future__ import annotations

from collections import namedtuple

from lastmile.worker.fetch import DirectDeliveryConsumer
from lastmile.worker.positions import rewind_unmoved

TP = namedtuple("TP", "topic partition")


class Thread:
    """Faust's consumer thread: runs the seek on aiokafka's consumer."""

    def __init__(self) -> None:
        self.sought: list[tuple[TP, int]] = []

    def _ensure_consumer(self) -> Thread:
        return self

    def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))

    async def call_thread(self, fun, *args):  # type: ignore[no-untyped-def]
        return fun(*args)


class Drain:
    """The parts of DirectDeliveryConsumer that ``_missed`` uses."""

    def __init__(self) -> None:
        self._thread = Thread()
        self._read_offset: dict[TP, int | None] = {}
        self.gaps: list[tuple[TP, int, int]] = []

    async def _add_gap(self, tp: TP, start: int, end: int) -> None:
        self.gaps.append((tp, start, end))


async def test_a_jump_over_offsets_never_delivered_reads_them_again_instead_of_skipping():
    drain, tp = Drain(), TP("scans", 2)
    reread = await DirectDeliveryConsumer._missed(drain, tp, 376, 746)  # type: ignore[arg-type]
    assert reread, "the message at 746 is not delivered: 377.. come first"
    assert drain._thread.sought == [(tp, 377)] and drain._read_offset[tp] == 377
    assert drain.gaps == [], "nothing is committed past 377..745"


async def test_the_same_jump_after_reading_again_is_a_hole_the_commit_may_cover():
    drain, tp = Drain(), TP("scans", 0)
    assert await DirectDeliveryConsumer._missed(drain, tp, 10, 50)  # type: ignore[arg-type]
    again = await DirectDeliveryConsumer._missed(drain, tp, 10, 50)  # type: ignore[arg-type]
    assert not again, "records 11..49 are gone (retention): deliver 50"
    assert drain.gaps == [(tp, 11, 50)] and drain._thread.sought == [(tp, 11)]


class PartitionState:
    def __init__(self, position: int) -> None:
        self.position = position
        self.has_valid_position = True


class Assigned:
    """aiokafka's consumer as ``rewind_unmoved`` reads it: positions of an assignment."""

    def __init__(self, positions: dict[TP, int]) -> None:
        self.states = {tp: PartitionState(p) for tp, p in positions.items()}
        self.tps = frozenset(positions)
        self.subscription = self
        self.assignment = self
        self._subscription = self
        self.sought: list[tuple[TP, int]] = []

    def state_value(self, tp: TP) -> PartitionState:
        return self.states[tp]

    def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))
        self.states[tp].position = offset


def test_records_not_handed_over_are_fetched_again_unless_the_partition_moved_since():
    left, sought, gone = TP("scans", 2), TP("parcels-changelog", 0), TP("scans", 3)
    client = Assigned({left: 768, sought: 300})  # noted after the fetch: 768, 312; not 3
    rewinds = {left: (0, 768), sought: (281, 312), gone: (5, 40)}
    assert rewind_unmoved(client, rewinds) == [left]
    assert client.sought == [(left, 0)], "a partition sought meanwhile (to 300) stays there"
