"""Learning whether a target endpoint takes Put Blob From URL: one copy asks while the others wait, and an
answer that never came (the request failed on the way) hands the question to the next copy."""

from __future__ import annotations

import asyncio

from dr.blobsync.copier import PutFromUrlSupport

ENDPOINT = "http://127.0.0.1:10000/secondary"


async def copies_asking(support: PutFromUrlSupport, count: int) -> list[asyncio.Task[bool | None]]:
    tasks = [asyncio.create_task(support.ask_or_wait(ENDPOINT)) for _ in range(count)]
    await asyncio.sleep(0.01)
    return tasks


def test_one_copy_asks_and_the_others_take_its_answer() -> None:
    async def scenario() -> list[bool | None]:
        support = PutFromUrlSupport()
        first, *others = await copies_asking(support, 4)
        assert first.done() and first.result() is None  # this one asks
        assert not any(task.done() for task in others)  # these wait for its answer
        support.learned(ENDPOINT, False)
        return [*(await asyncio.gather(*others)), await support.ask_or_wait(ENDPOINT)]

    assert asyncio.run(scenario()) == [False, False, False, False]


def test_a_failed_question_passes_to_one_waiting_copy() -> None:
    async def scenario() -> tuple[list[bool | None], bool | None]:
        support = PutFromUrlSupport()
        first, *others = await copies_asking(support, 3)
        assert first.result() is None
        support.learned(ENDPOINT, None)  # the asker's request never reached the service
        await asyncio.sleep(0.01)
        asking_again = [task for task in others if task.done()]
        assert [task.result() for task in asking_again] == [None]  # exactly one asks next
        support.learned(ENDPOINT, True)
        answers = await asyncio.gather(*others)
        return list(answers), support.known(ENDPOINT)

    answers, known = asyncio.run(scenario())
    assert sorted(answers, key=str) == [None, True]
    assert known is True


def test_event_loops_do_not_wait_on_each_other() -> None:
    support = PutFromUrlSupport()

    async def ask() -> bool | None:
        return await support.ask_or_wait(ENDPOINT)

    # Two loops (two sync activities' threads, say): each has its own asker; neither blocks on the other's.
    assert asyncio.run(ask()) is None
    assert asyncio.run(ask()) is None
