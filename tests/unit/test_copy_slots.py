"""The copy slots a blob step's work items share on one event loop: a round's tail keeps its concurrency,
and never more copies are in flight than the items would have had each on its own."""

from __future__ import annotations

import asyncio

import pytest

from dr.blobsync import copier
from dr.blobsync.copier import copy_slots


class InFlight:
    """Copies in flight, now and at most."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    def enter(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)


async def copy(semaphore: asyncio.Semaphore, *counters: InFlight) -> None:
    async with semaphore:
        for counter in counters:
            counter.enter()
        await asyncio.sleep(0.005)
        for counter in counters:
            counter.now -= 1


async def item(step_run: str, copies: int, *counters: InFlight, per_item: int = 2, max_items: int = 2) -> None:
    with copy_slots(step_run, per_item=per_item, max_items=max_items) as slots:
        await asyncio.gather(*(copy(slots.semaphore, *counters) for _ in range(copies)))


def test_an_item_alone_keeps_to_its_own_allowance() -> None:
    seen = InFlight()
    asyncio.run(item("run-1/blobs", 10, seen))
    assert seen.most == 2


def test_the_items_still_copying_take_over_the_slots_of_the_ones_done() -> None:
    short, long, total = InFlight(), InFlight(), InFlight()

    async def round_of_two() -> None:
        await asyncio.gather(item("run-1/blobs", 2, short, total), item("run-1/blobs", 40, long, total))

    asyncio.run(round_of_two())
    assert long.most == 4  # its own two, and the short item's two once that one was done
    assert total.most == 4  # never more than the two items' allowances together


def test_the_pool_is_capped_at_max_items_and_other_steps_are_apart() -> None:
    mine, other = InFlight(), InFlight()

    async def scenario() -> None:
        # Three items of one step (slots for two items at most) and one item of another step.
        await asyncio.gather(
            item("run-1/blobs", 20, mine),
            item("run-1/blobs", 20, mine),
            item("run-1/blobs", 20, mine),
            item("run-2/blobs", 20, other),
        )

    asyncio.run(scenario())
    assert mine.most == 4
    assert other.most == 2


def test_the_pool_goes_with_its_last_item_even_when_one_fails() -> None:
    async def failing() -> None:
        with copy_slots("run-3/blobs", per_item=2, max_items=4):
            raise RuntimeError("copy failed")

    with pytest.raises(RuntimeError):
        asyncio.run(failing())
    assert not copier._SLOTS
    asyncio.run(item("run-3/blobs", 3))
    assert not copier._SLOTS
