"""The pygame labeling window: two clips side by side, a person says which is better.

The window talks only to the preference store: it claims a pending query (with an expiring
lease, so two windows never show the same pair and a dead window's query returns to the pool),
shows both clips looping in sync, and writes the answer in one transaction. Frames are prepared
ahead of time in a background thread (``frames_for`` is injected by the caller, e.g. a MuJoCo
renderer), so playback never waits for rendering.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from preference.clips import Clip
from preference.store import PreferenceStore, Query, StoreError

# frames_for(clip) -> frames [T, H, W, 3] uint8, shown at `fps`.
FramesFor = Callable[[Clip], np.ndarray]

LEFT_BETTER, RIGHT_BETTER, EQUAL, CANT_TELL = 1.0, 0.0, 0.5, None
KEYS_HELP = [
    ("Left / A", "left is better"), ("Right / D", "right is better"), ("Up / E", "equally good"),
    ("Down / N", "can't tell (drop)"), ("U / Backspace", "undo last answer"), ("R", "replay"),
    ("+ / -", "speed"), ("H", "help"), ("Q / Esc", "quit"),
]
BG, FG, DIM, ACCENT, WARN = (24, 24, 28), (235, 235, 235), (150, 150, 160), (90, 160, 255), (255, 170, 60)


@dataclass
class Prepared:
    """A claimed query with both clips' frames ready to play."""

    query: Query
    left: np.ndarray
    right: np.ndarray


@dataclass
class Session:
    """What this window did: for the status line and for tests."""

    answered: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    messages: list[str] = field(default_factory=list)

    def per_minute(self) -> float:
        minutes = max((time.time() - self.started) / 60.0, 1e-9)
        return len(self.answered) / minutes


class Prefetcher(threading.Thread):
    """Claims queries and renders their frames ahead of the window, in its own thread and connection."""

    def __init__(self, store_root: Path, holder: str, frames_for: FramesFor, lease: float, ahead: int = 2):
        super().__init__(name="prefetch", daemon=True)
        self.store_root, self.holder, self.frames_for, self.lease = store_root, holder, frames_for, lease
        self.failed: queue.Queue[int] = queue.Queue()  # wanted queries that could not be claimed
        self.ready: queue.Queue[Prepared] = queue.Queue(maxsize=ahead)
        self.errors: queue.Queue[str] = queue.Queue()
        self.wanted: queue.Queue[int] = queue.Queue()  # specific queries to show next (undo)
        self.stop_event = threading.Event()
        self.held: set[int] = set()

    def run(self) -> None:
        store = PreferenceStore(self.store_root, create=False)
        try:
            while not self.stop_event.is_set():
                if self.ready.full():
                    time.sleep(0.02)
                    continue
                q = self._next(store)
                if q is None:
                    time.sleep(0.5)
                    continue
                try:
                    prepared = Prepared(q, self.frames_for(store.load_clip(q.clip_a)),
                                        self.frames_for(store.load_clip(q.clip_b)))
                except (StoreError, OSError, ValueError, KeyError) as exc:
                    store.mark_broken(q.id, str(exc))
                    self.held.discard(q.id)
                    self.failed.put(q.id)
                    self.errors.put(f"skipped query {q.id}: {exc}")
                    continue
                while not self.stop_event.is_set():
                    try:
                        self.ready.put(prepared, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        finally:
            for qid in list(self.held):
                store.release(qid, self.holder)
            store.close()

    def _next(self, store: PreferenceStore) -> Query | None:
        q = None
        try:
            qid = self.wanted.get_nowait()
        except queue.Empty:
            qid = None
        # An undone pair is pending and ours as soon as the store takes the answer back, so the ordinary
        # claim below may have prepared it before the window's request arrives: never prepare it twice
        # (a second copy would be shown after it was answered again, and the next key press lost on it).
        if qid is not None and qid not in self.held:
            q = store.claim(self.holder, self.lease, query_id=qid)
            if q is None:
                self.failed.put(qid)
        if q is None:
            q = store.claim(self.holder, self.lease, skip=sorted(self.held))
        if q is not None:
            self.held.add(q.id)
        return q


class LabelWindow:
    """The window. ``run`` returns when the person quits (or after ``max_answers`` / ``max_seconds``)."""

    def __init__(self, store_root: str | Path, frames_for: FramesFor, fps: float, labeler: str = "human",
                 frame_size: tuple[int, int] = (200, 200), scale: float = 2.0, lease: float = 120.0,
                 title: str = "prefrl: which clip is better?"):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame  # imported here so that importing ui costs nothing until a window opens

        self.pg = pygame
        self.store_root = Path(store_root)
        self.store = PreferenceStore(self.store_root, create=False)
        self.labeler, self.fps, self.scale, self.lease = labeler, fps, scale, lease
        self.speed = 1.0
        self.show_help = True
        self.session = Session()
        self.current: Prepared | None = None
        self.shown_at = 0.0
        self.frame_i = 0
        self.message = ""
        self.backlog: list[Prepared] = []
        self.await_id: int | None = None
        self._status_cache = (0.0, "")
        self._renewed = 0.0
        # One claim key per window: the same person may run two windows without sharing claims.
        self.holder = f"{labeler}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.prefetch = Prefetcher(self.store_root, self.holder, frames_for, lease)
        pygame.init()
        pygame.display.set_caption(title)
        self.font = pygame.font.Font(None, 24)
        self.small = pygame.font.Font(None, 20)
        h, w = int(frame_size[0] * scale), int(frame_size[1] * scale)
        self.screen = pygame.display.set_mode((max(2 * w + 60, 900), h + 200))
        self.buttons: list[tuple[object, str, float | None | str]] = []

    # -- the loop ------------------------------------------------------------------------
    def run(self, max_answers: int | None = None, max_seconds: float | None = None) -> Session:
        self.start()
        t_end = None if max_seconds is None else time.time() + max_seconds
        try:
            while self.tick():
                if max_answers is not None and len(self.session.answered) >= max_answers:
                    break
                if t_end is not None and time.time() > t_end:
                    break
        finally:
            self.close()
        return self.session

    def start(self) -> None:
        self.clock = self.pg.time.Clock()
        self.prefetch.start()

    def tick(self) -> bool:
        """One frame: input, next query if needed, drawing. False once the person quits."""
        running = self._handle_events()
        self._collect_errors()
        if self.current is None:
            self._load_next()
        if time.time() - self._renewed > self.lease / 4:
            self._renew_leases()
        self._draw()
        self.pg.display.flip()
        self.clock.tick(self.fps * self.speed)
        self.frame_i += 1
        return running

    def close(self) -> None:
        self.prefetch.stop_event.set()
        self.prefetch.join(timeout=10)
        if self.current is not None:
            self.store.release(self.current.query.id, self.holder)
        for item in self.backlog:
            self.store.release(item.query.id, self.holder)
        while not self.prefetch.ready.empty():
            self.store.release(self.prefetch.ready.get_nowait().query.id, self.holder)
        self.store.close()
        self.pg.quit()

    def _load_next(self) -> None:
        """Show the next prepared query: an undone one first, then any set aside, then new ones."""
        while self.current is None:
            if self.backlog and self.await_id is None:
                self.current = self.backlog.pop(0)
                break
            try:
                item = self.prefetch.ready.get_nowait()
            except queue.Empty:
                return
            if self.await_id is not None and item.query.id != self.await_id:
                self.backlog.append(item)  # still ours; shown after the undone pair
                continue
            self.await_id = None
            self.current = item
        self.shown_at = time.time()
        self.frame_i = 0

    def _renew_leases(self) -> None:
        """Keep the pairs on screen and set aside ours while the person takes their time."""
        mine = {p.query.id for p in self.backlog} | set(self.prefetch.held.copy())
        if self.current is not None:
            mine.add(self.current.query.id)
        mine = sorted(mine)
        self.store.renew(mine, self.holder, self.lease)
        self._renewed = time.time()

    def _collect_errors(self) -> None:
        while not self.prefetch.failed.empty():
            if self.prefetch.failed.get_nowait() == self.await_id:
                self.await_id = None  # the undone pair can't be shown again; go on with the rest
        while not self.prefetch.errors.empty():
            self.message = self.prefetch.errors.get_nowait()
            self.session.messages.append(self.message)

    # -- input ---------------------------------------------------------------------------
    def _handle_events(self) -> bool:
        pg = self.pg
        keymap: dict[int, float | None | str] = {
            pg.K_LEFT: LEFT_BETTER, pg.K_a: LEFT_BETTER, pg.K_RIGHT: RIGHT_BETTER, pg.K_d: RIGHT_BETTER,
            pg.K_UP: EQUAL, pg.K_e: EQUAL, pg.K_DOWN: "drop", pg.K_n: "drop",
            pg.K_u: "undo", pg.K_BACKSPACE: "undo", pg.K_r: "replay", pg.K_h: "help",
            pg.K_PLUS: "faster", pg.K_EQUALS: "faster", pg.K_KP_PLUS: "faster",
            pg.K_MINUS: "slower", pg.K_KP_MINUS: "slower", pg.K_q: "quit", pg.K_ESCAPE: "quit",
        }
        for event in pg.event.get():
            if event.type == pg.QUIT:
                return False
            action: float | None | str = "none"
            if event.type == pg.KEYDOWN and event.key in keymap:
                action = keymap[event.key]
            elif event.type == pg.MOUSEBUTTONDOWN and event.button == 1:
                for rect, _, act in self.buttons:
                    if rect.collidepoint(event.pos):
                        action = act
            if action == "quit":
                return False
            self._act(action)
        return True

    def _act(self, action: float | None | str) -> None:
        if action == "none":
            return
        if action == "undo":
            self._undo()
        elif action == "replay":
            self.frame_i = 0
        elif action == "help":
            self.show_help = not self.show_help
        elif action == "faster":
            self.speed = min(self.speed * 1.5, 8.0)
        elif action == "slower":
            self.speed = max(self.speed / 1.5, 0.125)
        elif self.current is not None:
            self._answer(None if action == "drop" else float(action))

    def _answer(self, value: float | None) -> None:
        q = self.current.query
        try:
            self.store.answer(q.id, value, source="human", labeler=self.labeler,
                              seconds=round(time.time() - self.shown_at, 3))
            self.session.answered.append(q.id)
            self.message = f"query {q.id}: " + {1.0: "left better", 0.0: "right better", 0.5: "equal",
                                                 None: "can't tell (dropped)"}[value]
        except StoreError as exc:  # e.g. answered meanwhile by someone else
            self.message = f"query {q.id} not recorded: {exc}"
        self.prefetch.held.discard(q.id)
        self.current = None

    def _undo(self) -> None:
        if not self.session.answered:
            self.message = "nothing to undo"
            return
        qid = self.session.answered.pop()
        if not self.store.undo(qid, self.labeler, holder=self.holder, lease_seconds=self.lease):
            self.message = f"query {qid} can no longer be undone"
            return
        if self.current is not None:  # show the undone pair next, then the current one again
            self.backlog.insert(0, self.current)
            self.current = None
        self.await_id = qid
        self.prefetch.wanted.put(qid)
        self.message = f"undid query {qid}; showing it again"

    # -- drawing -------------------------------------------------------------------------
    def _status(self) -> str:
        """The status line, read from the store at most twice a second."""
        if time.time() - self._status_cache[0] < 0.5:
            return self._status_cache[1] + f"  |  speed x{self.speed:.2f}"
        c = self.store.counts()
        step = self.store.get_meta("env_step", "?")
        budget = self.store.get_meta("label_budget", "?")
        today = self.store.answered_since(time.time() - _seconds_since_midnight(), self.labeler)
        text = (f"pending {c['pending']}  |  answered today {today}  |  {self.session.per_minute():.1f}/min  |  "
                f"training step {step}  |  labels {c['answered']}/{budget}")
        self._status_cache = (time.time(), text)
        return text + f"  |  speed x{self.speed:.2f}"

    def _draw(self) -> None:
        pg = self.pg
        self.screen.fill(BG)
        width, height = self.screen.get_size()
        self.buttons = []
        if self.current is None:
            text = "No queries pending: waiting for the trainer to ask..."
            self._text(text, (width // 2, height // 2 - 40), self.font, FG, center=True)
        else:
            left, right = self.current.left, self.current.right
            n = min(len(left), len(right))
            i = self.frame_i % n
            for k, frames in enumerate((left, right)):
                surf = pg.surfarray.make_surface(np.ascontiguousarray(frames[i].swapaxes(0, 1)))
                size = (int(frames.shape[2] * self.scale), int(frames.shape[1] * self.scale))
                surf = pg.transform.scale(surf, size)
                x = width // 4 * (1 + 2 * k) - size[0] // 2
                self.screen.blit(surf, (x, 40))
                self._text("LEFT" if k == 0 else "RIGHT", (x + size[0] // 2, 22), self.font, ACCENT, center=True)
            self._text(f"query {self.current.query.id}   frame {i + 1}/{n}", (width // 2, 22), self.small, DIM,
                       center=True)
        labels = [("Left better [A]", LEFT_BETTER), ("Equal [E]", EQUAL), ("Can't tell [N]", "drop"),
                  ("Right better [D]", RIGHT_BETTER), ("Undo [U]", "undo"), ("Replay [R]", "replay")]
        bw, y = width // len(labels), height - 140
        for j, (name, act) in enumerate(labels):
            rect = pg.Rect(j * bw + 6, y, bw - 12, 32)
            pg.draw.rect(self.screen, (50, 55, 70), rect, border_radius=6)
            self._text(name, rect.center, self.small, FG, center=True)
            self.buttons.append((rect, name, act))
        if self.show_help:
            half = (len(KEYS_HELP) + 1) // 2
            for row, items in enumerate((KEYS_HELP[:half], KEYS_HELP[half:])):
                line = "    ".join(f"{k}: {v}" for k, v in items)
                self._text(line, (width // 2, height - 92 + 18 * row), self.small, DIM, center=True)
        self._text(self._status(), (width // 2, height - 44), self.small, FG, center=True)
        if self.message:
            self._text(self.message, (width // 2, height - 18), self.small, WARN, center=True)

    def _text(self, text: str, pos: tuple[int, int], font, color, center: bool = False) -> None:
        surf = font.render(text, True, color)
        rect = surf.get_rect(center=pos) if center else surf.get_rect(topleft=pos)
        self.screen.blit(surf, rect)

    def screenshot(self, path: str | Path) -> None:
        self._draw()
        self.pg.image.save(self.screen, str(path))


def _seconds_since_midnight() -> float:
    t = time.localtime()
    return t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec
