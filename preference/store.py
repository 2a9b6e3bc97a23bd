"""The preference store: SQLite (WAL) in the run folder, the source of truth for labels.

Clip metadata, queries (pending / answered / dropped) and labels live in ``store.sqlite``;
clip arrays live in compressed ``.npz`` files under ``clips/`` beside it. Every write is one
short transaction, so an answered label survives the death of any process, and several
processes (the trainer, labeling windows) may use one store at once.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from preference.clips import Clip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    length INTEGER NOT NULL,
    env_step INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY,
    clip_a INTEGER NOT NULL REFERENCES clips(id),
    clip_b INTEGER NOT NULL REFERENCES clips(id),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'answered', 'dropped')),
    env_step INTEGER NOT NULL,
    selection TEXT NOT NULL,
    created REAL NOT NULL,
    claimed_by TEXT,
    lease_until REAL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY,
    query_id INTEGER NOT NULL UNIQUE REFERENCES queries(id),
    value REAL,
    source TEXT NOT NULL,
    labeler TEXT NOT NULL,
    seconds REAL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS retracted (
    id INTEGER PRIMARY KEY,
    query_id INTEGER NOT NULL,
    value REAL,
    source TEXT NOT NULL,
    labeler TEXT NOT NULL,
    seconds REAL,
    created REAL NOT NULL,
    retracted REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS queries_status ON queries(status);
"""


class StoreError(RuntimeError):
    """The store is missing, corrupt, or asked to do something impossible."""


@dataclass(frozen=True)
class Query:
    """A pair of clips waiting for (or holding) an answer."""

    id: int
    clip_a: int
    clip_b: int
    status: str
    env_step: int
    selection: str


@dataclass(frozen=True)
class Label:
    """An answered query. ``value`` is mu = P(clip_a better than clip_b); None means dropped."""

    query_id: int
    clip_a: int
    clip_b: int
    value: float | None
    source: str
    labeler: str
    seconds: float | None
    created: float
    id: int = 0
    env_step: int = 0
    """The training step at which the query was asked (0: before RL, on random-policy clips)."""


class PreferenceStore:
    """Clips, queries and labels of one run, safe to share between processes."""

    def __init__(self, root: str | Path, create: bool = True):
        self.root = Path(root)
        self.db_path = self.root / "store.sqlite"
        self.clip_dir = self.root / "clips"
        if not self.db_path.exists() and not create:
            raise StoreError(f"{self.db_path}: no preference store here")
        self.root.mkdir(parents=True, exist_ok=True)
        self.clip_dir.mkdir(exist_ok=True)
        try:
            self._db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.db_path}: not a valid preference store ({exc})") from None

    def close(self) -> None:
        self._db.close()

    # -- clips ---------------------------------------------------------------------------
    def add_clip(self, clip: Clip) -> int:
        """Write the clip's arrays beside the database, then record it; return its id."""
        tmp = self.clip_dir / f".tmp-{os.getpid()}-{time.monotonic_ns()}.npz"
        arrays = dict(obs=clip.obs, acts=clip.acts, true_rewards=clip.true_rewards)
        if clip.states is not None:
            arrays["states"] = clip.states
        np.savez_compressed(tmp, **arrays)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO clips (path, length, env_step, created) VALUES ('', ?, ?, ?)",
                (len(clip), clip.env_step, time.time()))
            clip_id = int(cur.lastrowid)
            name = f"{clip_id:08d}.npz"
            os.replace(tmp, self.clip_dir / name)
            db.execute("UPDATE clips SET path = ? WHERE id = ?", (name, clip_id))
        return clip_id

    def load_clip(self, clip_id: int) -> Clip:
        row = self._db.execute("SELECT path, env_step FROM clips WHERE id = ?", (clip_id,)).fetchone()
        if row is None:
            raise StoreError(f"clip {clip_id} is not in {self.db_path}")
        path = self.clip_dir / row[0]
        try:
            with np.load(path) as z:
                return Clip(obs=z["obs"], acts=z["acts"], true_rewards=z["true_rewards"],
                            states=z["states"] if "states" in z.files else None, env_step=row[1])
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(f"{path}: unreadable clip file ({exc})") from None

    # -- queries -------------------------------------------------------------------------
    def add_query(self, clip_a: int, clip_b: int, env_step: int, selection: str) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO queries (clip_a, clip_b, env_step, selection, created) VALUES (?, ?, ?, ?, ?)",
                (clip_a, clip_b, env_step, selection, time.time()))
            return int(cur.lastrowid)

    def pending(self, limit: int | None = None, older_than: float | None = None,
                unclaimed: bool = False) -> list[Query]:
        """Pending queries, oldest first; optionally only those created before ``older_than``
        (a time) and only those no live lease holds."""
        sql = "SELECT id, clip_a, clip_b, status, env_step, selection FROM queries WHERE status = 'pending'"
        args: list[float] = []
        if older_than is not None:
            sql, args = sql + " AND created < ?", args + [older_than]
        if unclaimed:
            sql, args = sql + " AND (lease_until IS NULL OR lease_until < ?)", args + [time.time()]
        sql += " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Query(*row) for row in self._db.execute(sql, args)]

    def claim(self, holder: str, lease_seconds: float = 120.0, skip: Sequence[int] = (),
              query_id: int | None = None) -> Query | None:
        """Atomically take the oldest pending query nobody holds (or whose lease ran out).

        ``holder`` identifies one window (not the person: a person may run two windows). Two
        holders never get the same query; a window that dies loses its claim when the lease
        expires and the query goes back to the pool. Claiming a query one already holds renews
        the lease. ``query_id`` asks for one query (e.g. an undone one). Returns None when
        nothing is free.
        """
        now = time.time()
        marks = ",".join("?" * len(skip))
        extra = f" AND id NOT IN ({marks})" if skip else ""
        if query_id is not None:
            extra, skip = " AND id = ?", (query_id,)
        with self._tx() as db:
            row = db.execute(
                "SELECT id, clip_a, clip_b, status, env_step, selection FROM queries WHERE status = 'pending' "
                f"AND (lease_until IS NULL OR lease_until < ? OR claimed_by = ?){extra} ORDER BY id LIMIT 1",
                (now, holder, *skip)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE queries SET claimed_by = ?, lease_until = ? WHERE id = ?",
                       (holder, now + lease_seconds, row[0]))
        return Query(*row)

    def renew(self, query_ids: Sequence[int], holder: str, lease_seconds: float) -> None:
        """Extend ``holder``'s leases on ``query_ids`` (a slow person keeps the pairs on screen)."""
        if not query_ids:
            return
        marks = ",".join("?" * len(query_ids))
        with self._tx() as db:
            db.execute(f"UPDATE queries SET lease_until = ? WHERE id IN ({marks}) AND claimed_by = ? "
                       "AND status = 'pending'", (time.time() + lease_seconds, *query_ids, holder))

    def release(self, query_id: int, holder: str) -> None:
        """Give a claimed, unanswered query back to the pool."""
        with self._tx() as db:
            db.execute("UPDATE queries SET claimed_by = NULL, lease_until = NULL "
                       "WHERE id = ? AND claimed_by = ? AND status = 'pending'", (query_id, holder))

    def answered_since(self, since: float, labeler: str | None = None) -> int:
        """Answers given after time ``since`` (by ``labeler`` if given)."""
        sql, args = "SELECT COUNT(*) FROM labels WHERE created >= ?", [since]
        if labeler is not None:
            sql, args = sql + " AND labeler = ?", args + [labeler]
        return self._db.execute(sql, args).fetchone()[0]

    def mark_broken(self, query_id: int, reason: str) -> None:
        """Drop a query that cannot be shown (missing or corrupt clip), keeping the reason."""
        with self._tx() as db:
            db.execute("UPDATE queries SET status = 'dropped', note = ? WHERE id = ? AND status = 'pending'",
                       (reason, query_id))

    def undo(self, query_id: int, labeler: str, holder: str | None = None, lease_seconds: float = 120.0) -> bool:
        """Take back ``labeler``'s answer to ``query_id``; the query is pending again (claimed by
        ``holder`` in the same transaction, so nobody else takes it first). False if not theirs."""
        with self._tx() as db:
            row = db.execute("SELECT labeler FROM labels WHERE query_id = ?", (query_id,)).fetchone()
            if row is None or row[0] != labeler:
                return False
            # The undone answer is kept in `retracted`: nothing a person answered is ever lost.
            db.execute("INSERT INTO retracted (query_id, value, source, labeler, seconds, created, retracted) "
                       "SELECT query_id, value, source, labeler, seconds, created, ? FROM labels WHERE query_id = ?",
                       (time.time(), query_id))
            db.execute("DELETE FROM labels WHERE query_id = ?", (query_id,))
            db.execute("UPDATE queries SET status = 'pending', claimed_by = ?, lease_until = ? WHERE id = ?",
                       (holder, None if holder is None else time.time() + lease_seconds, query_id))
        return True

    def answer_if_free(self, query_id: int, value: float | None, source: str, labeler: str) -> bool:
        """Answer only if the query is still pending and no live lease holds it (the oracle in
        human+oracle mode never takes a pair a person has on screen). True if recorded."""
        with self._tx() as db:
            row = db.execute("SELECT status, lease_until FROM queries WHERE id = ?", (query_id,)).fetchone()
            if row is None or row[0] != "pending" or (row[1] is not None and row[1] >= time.time()):
                return False
            self._insert_answer(db, query_id, value, source, labeler, None)
        return True

    def answer(self, query_id: int, value: float | None, source: str, labeler: str,
               seconds: float | None = None) -> None:
        """Record an answer. ``value`` None drops the pair ("can't tell")."""
        with self._tx() as db:
            row = db.execute("SELECT status FROM queries WHERE id = ?", (query_id,)).fetchone()
            if row is None:
                raise StoreError(f"query {query_id} does not exist")
            if row[0] != "pending":
                raise StoreError(f"query {query_id} is already {row[0]}")
            self._insert_answer(db, query_id, value, source, labeler, seconds)

    @staticmethod
    def _insert_answer(db: sqlite3.Connection, query_id: int, value: float | None, source: str, labeler: str,
                       seconds: float | None) -> None:
        if value is not None and not 0.0 <= value <= 1.0:
            raise StoreError(f"label value must be in [0, 1], got {value}")
        db.execute("INSERT INTO labels (query_id, value, source, labeler, seconds, created) VALUES (?, ?, ?, ?, ?, ?)",
                   (query_id, value, source, labeler, seconds, time.time()))
        db.execute("UPDATE queries SET status = ?, claimed_by = NULL, lease_until = NULL WHERE id = ?",
                   ("dropped" if value is None else "answered", query_id))

    def labels(self, include_dropped: bool = False) -> list[Label]:
        """Every answer, oldest first."""
        sql = ("SELECT l.query_id, q.clip_a, q.clip_b, l.value, l.source, l.labeler, l.seconds, l.created, l.id, "
               "q.env_step FROM labels l JOIN queries q ON q.id = l.query_id")
        if not include_dropped:
            sql += " WHERE l.value IS NOT NULL"
        return [Label(*row) for row in self._db.execute(sql + " ORDER BY l.id")]

    def counts(self) -> dict[str, int]:
        """Number of queries per status (pending, answered, dropped)."""
        out = {"pending": 0, "answered": 0, "dropped": 0}
        for status, n in self._db.execute("SELECT status, COUNT(*) FROM queries GROUP BY status"):
            out[status] = n
        return out

    # -- run metadata (training step, budget), read by labeling windows -------------------
    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def _tx(self) -> "_Transaction":
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
