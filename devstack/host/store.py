"""Durable state in SQLite: instances, their histories, inboxes, timers and activity work items.

One file under the state directory (or an in-memory database). Every episode and every activity
completion is one transaction, so a host killed at any point restarts from a consistent state: an
activity whose completion was not committed runs again (at-least-once, as in Azure), an episode that
was not committed is replayed from the same inbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from .history import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    created_time REAL NOT NULL,
    last_updated_time REAL NOT NULL,
    parent TEXT
);
CREATE INDEX IF NOT EXISTS instances_by_created ON instances (created_time);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT,
    kind TEXT NOT NULL,
    task_id INTEGER,
    event TEXT NOT NULL,
    visible_at REAL
);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox (instance_id, id);
CREATE TABLE IF NOT EXISTS entities (
    instance_id TEXT PRIMARY KEY,
    entity_exists INTEGER NOT NULL,
    state TEXT,
    last_modified_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT
);
"""


class MessageKind(StrEnum):
    EVENT = "event"  # a history event to deliver (completion, raised event, start, ...)
    TIMER = "timer"  # a TimerFired event, invisible until its fire time
    TERMINATE = "terminate"
    SUSPEND = "suspend"
    RESUME = "resume"
    ENTITY = "entity"  # an operation request for an entity (a RequestMessage), queued until its batch runs


@dataclass
class InstanceRow:
    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: float
    last_updated_time: float
    parent: dict[str, Any] | None


@dataclass
class Message:
    id: int
    instance_id: str
    execution_id: str | None
    kind: MessageKind
    task_id: int | None
    event: Event
    visible_at: float | None


@dataclass
class WorkItem:
    id: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


class StateDirLockedError(RuntimeError):
    pass


def _row_to_instance(row: sqlite3.Row) -> InstanceRow:
    return InstanceRow(
        instance_id=row["instance_id"],
        name=row["name"],
        execution_id=row["execution_id"],
        status=row["status"],
        input=row["input"],
        output=row["output"],
        custom_status=row["custom_status"],
        created_time=row["created_time"],
        last_updated_time=row["last_updated_time"],
        parent=json.loads(row["parent"]) if row["parent"] else None,
    )


class Transaction:
    """The writes of one atomic step (an episode, an activity completion, a client request)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def put_instance(self, row: InstanceRow) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO instances VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                row.instance_id,
                row.name,
                row.execution_id,
                row.status,
                row.input,
                row.output,
                row.custom_status,
                row.created_time,
                row.last_updated_time,
                json.dumps(row.parent) if row.parent else None,
            ),
        )

    def delete_instance(self, instance_id: str) -> None:
        for table in ("instances", "history", "inbox", "work_items"):
            self._conn.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))

    def clear_history(self, instance_id: str) -> None:
        self._conn.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))

    def append_history(self, instance_id: str, first_seq: int, events: list[Event]) -> None:
        self._conn.executemany(
            "INSERT INTO history VALUES (?,?,?)",
            [(instance_id, first_seq + i, json.dumps(e)) for i, e in enumerate(events)],
        )

    def add_message(
        self,
        instance_id: str,
        kind: MessageKind,
        event: Event,
        *,
        execution_id: str | None = None,
        task_id: int | None = None,
        visible_at: float | None = None,
    ) -> int:
        cursor = self._conn.execute(
            "INSERT INTO inbox (instance_id, execution_id, kind, task_id, event, visible_at) VALUES (?,?,?,?,?,?)",
            (instance_id, execution_id, kind.value, task_id, json.dumps(event), visible_at),
        )
        return int(cursor.lastrowid or 0)

    def delete_messages(self, ids: list[int]) -> None:
        self._conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

    def delete_all_messages(self, instance_id: str) -> None:
        self._conn.execute("DELETE FROM inbox WHERE instance_id = ?", (instance_id,))

    def delete_messages_except_raised_events(self, instance_id: str) -> None:
        self._conn.execute("DELETE FROM inbox WHERE instance_id = ? AND execution_id IS NOT NULL", (instance_id,))

    def delete_timer(self, instance_id: str, timer_id: int) -> None:
        self._conn.execute(
            "DELETE FROM inbox WHERE instance_id = ? AND kind = ? AND task_id = ?",
            (instance_id, MessageKind.TIMER.value, timer_id),
        )

    def add_work_item(
        self, instance_id: str, execution_id: str, task_id: int, name: str, input_json: str | None
    ) -> int:
        cursor = self._conn.execute(
            "INSERT INTO work_items (instance_id, execution_id, task_id, name, input) VALUES (?,?,?,?,?)",
            (instance_id, execution_id, task_id, name, input_json),
        )
        return int(cursor.lastrowid or 0)

    def delete_work_item(self, item_id: int) -> None:
        self._conn.execute("DELETE FROM work_items WHERE id = ?", (item_id,))

    def delete_work_items(self, instance_id: str) -> None:
        self._conn.execute("DELETE FROM work_items WHERE instance_id = ?", (instance_id,))

    def put_entity(self, instance_id: str, exists: bool, state: str | None, modified: float) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO entities VALUES (?,?,?,?)", (instance_id, int(exists), state, modified)
        )


class Store:
    """SQLite persistence; used from the engine's event-loop thread only."""

    def __init__(self, state_dir: str | Path | None) -> None:
        self._lock_file: IO[str] | None = None
        if state_dir is None:
            target = ":memory:"
        else:
            directory = Path(state_dir)
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_file = open(directory / "host.lock", "w")  # noqa: SIM115 - held for the store's life
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                self._lock_file.close()
                raise StateDirLockedError(f"another host is using the state directory {directory}") from error
            self._lock_file.write(str(os.getpid()))
            self._lock_file.flush()
            target = str(directory / "durable.sqlite3")
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if target != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        self._conn.execute("BEGIN")
        try:
            yield Transaction(self._conn)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- reads --------------------------------------------------------------------------------------------

    def get_instance(self, instance_id: str) -> InstanceRow | None:
        row = self._conn.execute("SELECT * FROM instances WHERE instance_id = ?", (instance_id,)).fetchone()
        return _row_to_instance(row) if row else None

    def query_instances(
        self,
        *,
        statuses: list[str] | None = None,
        created_from: float | None = None,
        created_to: float | None = None,
        prefix: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[InstanceRow]:
        sql = "SELECT * FROM instances WHERE 1=1"
        args: list[Any] = []
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args.extend(statuses)
        if created_from is not None:
            sql += " AND created_time >= ?"
            args.append(created_from)
        if created_to is not None:
            sql += " AND created_time <= ?"
            args.append(created_to)
        if prefix:
            sql += " AND instance_id >= ? AND instance_id < ?"
            args.extend([prefix, prefix + "\U0010ffff"])
        if after is not None:
            sql += " AND instance_id > ?"
            args.append(after)
        sql += " ORDER BY instance_id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_row_to_instance(r) for r in self._conn.execute(sql, args)]

    def get_entity(self, instance_id: str) -> tuple[bool, str | None] | None:
        """(exists, state JSON) of an entity, None if it never ran an operation."""
        row = self._conn.execute(
            "SELECT entity_exists, state FROM entities WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        return (bool(row["entity_exists"]), row["state"]) if row else None

    def load_history(self, instance_id: str) -> list[Event]:
        rows = self._conn.execute("SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,))
        return [json.loads(r["event"]) for r in rows]

    def visible_messages(self, instance_id: str, now: float) -> list[Message]:
        rows = self._conn.execute(
            "SELECT * FROM inbox WHERE instance_id = ? AND (visible_at IS NULL OR visible_at <= ?) ORDER BY id",
            (instance_id, now),
        )
        return [
            Message(
                id=r["id"],
                instance_id=r["instance_id"],
                execution_id=r["execution_id"],
                kind=MessageKind(r["kind"]),
                task_id=r["task_id"],
                event=json.loads(r["event"]),
                visible_at=r["visible_at"],
            )
            for r in rows
        ]

    def message_exists(self, message_id: int) -> bool:
        return self._conn.execute("SELECT 1 FROM inbox WHERE id = ?", (message_id,)).fetchone() is not None

    def instances_with_messages(self, now: float) -> list[str]:
        rows = self._conn.execute(
            "SELECT DISTINCT instance_id FROM inbox WHERE visible_at IS NULL OR visible_at <= ?", (now,)
        )
        return [r["instance_id"] for r in rows]

    def pending_timers(self) -> list[tuple[float, int, str]]:
        rows = self._conn.execute("SELECT visible_at, id, instance_id FROM inbox WHERE visible_at IS NOT NULL")
        return [(r["visible_at"], r["id"], r["instance_id"]) for r in rows]

    def work_items(self) -> list[WorkItem]:
        rows = self._conn.execute("SELECT * FROM work_items ORDER BY id")
        return [
            WorkItem(
                id=r["id"],
                instance_id=r["instance_id"],
                execution_id=r["execution_id"],
                task_id=r["task_id"],
                name=r["name"],
                input=r["input"],
            )
            for r in rows
        ]
