"""TensorBoard extras beyond SB3's scalars: layouts, animated GIFs, figures, text, the hacking alarm."""

from __future__ import annotations

import io
from collections import deque
from typing import Any

import numpy as np
from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat
from torch.utils.tensorboard import SummaryWriter

LAYOUT = {
    "prefrl": {
        "return: true vs learned": ["Multiline", ["charts/ep_true_return", "charts/ep_learned_return"]],
        "reward model accuracy": ["Multiline", ["reward/train_acc", "reward/val_acc", "reward/fresh_acc"]],
        "predicted vs true clip return": ["Multiline", ["reward/heldout_corr", "reward/heldout_spearman"]],
        "labels": ["Multiline", ["labels/answered", "labels/target", "labels/pending"]],
        "time split (s)": ["Multiline", ["perf/env_seconds", "perf/ppo_update_seconds", "perf/fit_seconds"]],
        "reward hacking": ["Multiline", ["charts/reward_hacking"]],
    }
}


def writer_of(logger: Logger) -> SummaryWriter | None:
    """The SummaryWriter behind an SB3 logger (None if it has no TensorBoard output)."""
    for fmt in logger.output_formats:
        if isinstance(fmt, TensorBoardOutputFormat):
            return fmt.writer
    return None


def gif_bytes(frames: np.ndarray, fps: float) -> bytes:
    """Encode frames [T, H, W, 3] uint8 as an animated GIF."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=max(20, int(1000 / fps)))
    return buf.getvalue()


def add_gif(writer: SummaryWriter, tag: str, frames: np.ndarray, fps: float, step: int) -> None:
    """An animated image summary (TensorBoard plays GIFs in the Images tab; no moviepy needed)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    h, w = frames.shape[1:3]
    image = Summary.Image(height=h, width=w, colorspace=3, encoded_image_string=gif_bytes(frames, fps))
    writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)


def annotate(frames: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` onto a copy of frames [T, H, W, 3] (a dark band at the top)."""
    import cv2

    out = frames.copy()
    out[:, :14] = (out[:, :14] * 0.3).astype(np.uint8)
    for f in out:
        cv2.putText(f, text, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def config_table(cfg: dict[str, Any]) -> str:
    """The run's config as a markdown table for the Text tab."""
    rows = ["| setting | value |", "|---|---|"]
    rows += [f"| {k} | `{v}` |" for k, v in sorted(cfg.items())]
    return "\n".join(rows)


def scatter_figure(pred: np.ndarray, true: np.ndarray, title: str):
    """A matplotlib figure: predicted vs true clip returns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    ax.scatter(true, pred, s=8, alpha=0.6)
    ax.set_xlabel("true clip return")
    ax.set_ylabel("predicted clip return (r̂)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


class HackingAlarm:
    """Flags reward hacking: the learned return rises while the true return falls.

    Over the last ``2 * window`` finished episodes, a Welch t-statistic compares the newer half with
    the older half, for each return. The alarm is on once the learned return's t has stayed above
    ``threshold`` and the true return's below ``-threshold`` for ``persist`` episodes (default
    ``window // 2``). The defaults come from a simulation (results/scripts/alarm_sim.py): over
    1,000 episodes of trendless noise they raise no alarm, where the earlier rule (0.5 sd between
    halves of 20 episodes) fired in every run; a learned return rising 0.05 sd per episode while the true one
    falls as fast is caught after about 50 episodes.
    """

    def __init__(self, window: int = 25, threshold: float = 3.0, persist: int | None = None):
        self.window, self.threshold = window, threshold
        self.persist = window // 2 if persist is None else persist
        self.learned: deque[float] = deque(maxlen=2 * window)
        self.true: deque[float] = deque(maxlen=2 * window)
        self.episodes = 0
        self._held_since: int | None = None  # episode count when the condition started holding

    def add(self, learned: float, true: float) -> None:
        self.learned.append(learned)
        self.true.append(true)
        self.episodes += 1

    def _trend(self, values: deque[float]) -> float:
        """Welch t of the newer half's mean against the older half's."""
        v = np.asarray(values, dtype=np.float64)
        old, new = v[: self.window], v[self.window:]
        se = np.sqrt(old.var(ddof=1) / len(old) + new.var(ddof=1) / len(new))
        return float((new.mean() - old.mean()) / (se + 1e-8))

    def check(self) -> tuple[bool, float, float]:
        """(alarm on, learned trend, true trend); trends are t-statistics, 0 until enough episodes exist."""
        if len(self.true) < 2 * self.window:
            return False, 0.0, 0.0
        lt, tt = self._trend(self.learned), self._trend(self.true)
        if lt > self.threshold and tt < -self.threshold:
            if self._held_since is None:
                self._held_since = self.episodes
        else:
            self._held_since = None
        on = self._held_since is not None and self.episodes - self._held_since >= self.persist
        return on, lt, tt
