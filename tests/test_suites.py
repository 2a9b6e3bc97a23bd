"""Benchmark suites: the grid expands, resumes (finished cells skipped, failures reported), reports."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from agents.config import TrainConfig
from agents.run_dir import describe_progress, read_progress, write_progress
from agents.suites import (SUITES, Cell, collect_rows, plan_suite, reuse_cells, run_suite, setting_differences,
                           suite_cells, write_report)

ROOT = Path(__file__).resolve().parents[1]
BASE = TrainConfig(eval_episodes=1, pretrain_epochs=2, fit_every=512, media_every=0, checkpoint_every=None)


def test_suites_expand_to_the_papers_grid():
    cells = suite_cells("paper-mujoco", seeds=5, env=None, timesteps=None)
    assert len(cells) == 8 * 5 * (3 + 1)  # 8 tasks x 5 seeds x (350/700/1400 labels + true-reward PPO)
    assert len({c.name for c in cells}) == len(cells)
    teachers = suite_cells("teachers", seeds=1, env="Walker2d", timesteps=5000)
    assert {c.teacher for c in teachers} == {"oracle", "stoch", "mistake", "skip", "equal", "myopic"}
    assert {c.env for c in teachers} == {"Walker2d"} and {c.timesteps for c in teachers} == {5000}
    assert "mujoco-quick" in SUITES
    atari = suite_cells("paper-atari", seeds=None, env=None, timesteps=None)
    assert len(atari) == 7 * 3 * (3 + 1)  # 7 games x 3 seeds x (3,300/5,500/10,000 labels + true-reward PPO)
    assert {c.labels for c in atari} == {None, 3300, 5500, 10000}
    with pytest.raises(ValueError, match="unknown suite"):
        suite_cells("everything", 1, None, None)
    # a part of the grid: some tasks at some budgets
    part = suite_cells("paper-mujoco", seeds=2, env=None, timesteps=None, tasks=["Swimmer", "hopper"], budgets=[700])
    assert [c.name for c in part] == ["Swimmer__true__s0", "Swimmer__pref700-random-oracle__s0", "Swimmer__true__s1",
                                      "Swimmer__pref700-random-oracle__s1", "Hopper__true__s0",
                                      "Hopper__pref700-random-oracle__s0", "Hopper__true__s1",
                                      "Hopper__pref700-random-oracle__s1"]
    assert {c.timesteps for c in part} == {1_000_000}
    more = suite_cells("paper-mujoco", seeds=[3, 4], env=None, timesteps=None, tasks=["Swimmer"], budgets=[700])
    assert [c.name for c in more] == ["Swimmer__true__s3", "Swimmer__pref700-random-oracle__s3", "Swimmer__true__s4",
                                      "Swimmer__pref700-random-oracle__s4"]  # seeds added to a three-seed grid
    assert len(suite_cells("paper-mujoco", 1, None, None, tasks=["Swimmer", "swimmer"], budgets=[700, 700])) == 2
    # a task from outside the suite gets its own default RL budget; the suite's tasks keep theirs
    quick = suite_cells("mujoco-quick", 1, None, None, tasks=["Swimmer", "Hopper", "Pong"], budgets=[700])
    assert {c.env: c.timesteps for c in quick} == {"Swimmer": 1_000_000, "Hopper": 300_000, "Pong": 10_000_000}


def test_a_bench_folder_grid_keeps_one_entry_per_cell_name(tmp_path):
    from agents.suites import _write_grid

    _write_grid(tmp_path, [Cell("Reacher", None, 0, 1024), Cell("Reacher", 20, 0, 1024)])
    _write_grid(tmp_path, [Cell("Reacher", None, 0, 2048), Cell("Swimmer", None, 0, 1024)])  # asked again, other steps
    grid = json.loads((tmp_path / "grid.json").read_text())
    assert [(c["env"], c["labels"], c["timesteps"]) for c in grid] == [("Reacher", None, 2048), ("Reacher", 20, 1024),
                                                                       ("Swimmer", None, 1024)]


def test_gym_task_baselines_are_cells_of_their_own():
    cells = suite_cells("paper-mujoco", seeds=1, env="Walker2d", timesteps=None, true_task="gym")
    true = [c for c in cells if c.labels is None]
    assert [c.name for c in true] == ["Walker2d__true-gym__s0"]
    assert true[0].config(BASE).true_task == "gym" and true[0].config(BASE).reward == "true"
    assert {c.config(BASE).true_task for c in cells if c.labels is not None} == {"harness"}
    assert Cell("Walker2d", None, 0, 10).name == "Walker2d__true__s0"  # the harness's, as before
    # a harness episode length (--episode-steps) reaches the harness runs; the gym task keeps its own episodes
    short = replace(BASE, episode_steps=500)
    assert [c.config(short).episode_steps for c in cells] == [None, 500, 500, 500]
    assert Cell("Walker2d", None, 0, 10).config(short).episode_steps == 500
    for cell in cells:
        cell.config(short).validate()
    with pytest.raises(ValueError, match="MuJoCo tasks"):
        suite_cells("paper-atari", seeds=1, env=None, timesteps=None, true_task="gym")


def test_a_gym_task_baseline_trains_with_the_tasks_termination(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = run_suite([Cell("Hopper", None, 0, 2048, true_task="gym")], BASE, tmp_path, workers=1)
    assert rows[0]["status"] == "done" and rows[0]["true_task"] == "gym"
    cell = tmp_path / "cells" / "Hopper__true-gym__s0"
    ea = EventAccumulator(str(cell / "tb"), size_guidance={"scalars": 0})
    ea.Reload()
    # an untrained Hopper falls within tens of steps; the harness would run it on to 1,000
    assert ea.Scalars("rollout/ep_len_mean")[-1].value < 200
    text = write_report(tmp_path).read_text()
    assert "| Hopper | 2,048 | true reward (PPO, gym task) |" in text
    assert "gym" in (tmp_path / "results.csv").read_text().splitlines()[1]


def test_grid_runs_resumes_and_reports(tmp_path, capsys):
    cells = [Cell("Reacher", None, 0, 1024), Cell("Reacher", 20, 0, 1024), Cell("Nope", None, 0, 1024)]
    rows = run_suite(cells, BASE, tmp_path, workers=1)
    status = {r["cell"]: r["status"] for r in rows}
    assert status == {"Reacher__true__s0": "done", "Reacher__pref20-random-oracle__s0": "done",
                      "Nope__true__s0": "failed"}
    assert "unknown task 'Nope'" in next(r["error"] for r in rows if r["status"] == "failed")
    finished = tmp_path / "cells" / "Reacher__true__s0" / "result.json"
    stamp = finished.stat().st_mtime_ns
    capsys.readouterr()
    run_suite(cells, BASE, tmp_path, workers=1)  # an interrupted bench started again
    assert "2 finished before, 1 to run" in capsys.readouterr().out
    assert finished.stat().st_mtime_ns == stamp  # a finished cell is never re-run

    report = write_report(tmp_path)
    first = (report.read_text(), (tmp_path / "results.csv").read_text())
    write_report(tmp_path)
    assert (report.read_text(), (tmp_path / "results.csv").read_text()) == first  # rebuilt identically
    text = first[0]
    assert "| Reacher | 1,024 | 20 | random | oracle | 1/1 |" in text and "Nope__true__s0 (failed" in text
    # Reacher's returns are negative: no ratio, and nothing for the mean across tasks
    assert "n/a: baseline return <= 0" in text and "Mean ratio" not in text
    png = tmp_path / "curves_Reacher.png"
    assert png.exists() and png.stat().st_size > 5000
    rows = collect_rows(tmp_path)
    assert len(rows) == 3 and sum(r["status"] == "done" for r in rows) == 2
    # each finished cell says which code made it (a commit here; None outside a git checkout)
    assert all(r["code"] is None or len(r["code"].split("+")[0]) >= 7 for r in rows if r["status"] == "done")

    # a finished cell run with other settings does not stand for the cell asked for: refused
    other = r"Reacher__true__s0 was run with other settings \(ppo gamma: ran 0.9, asked 0.5\)"
    with pytest.raises(ValueError, match=other):
        run_suite(cells, replace(BASE, ppo={"gamma": 0.5}), tmp_path, workers=1)
    # ... but a setting only the learned reward reads does not change a true-reward cell
    capsys.readouterr()
    run_suite(cells[:1], replace(BASE, fit_rate=0.5), tmp_path, workers=1)
    assert "1 finished before, 0 to run" in capsys.readouterr().out
    assert len(collect_rows(tmp_path)) == 3  # a bench run in parts reports every cell asked for in its folder

    # another bench reuses the finished cells with the same name and settings, and only those
    other = tmp_path / "other"
    (other / "cells").mkdir(parents=True)
    notes = reuse_cells(cells[:2], replace(BASE, ppo={"gamma": 0.5}), other / "cells", [tmp_path])
    assert len(notes) == 2 and all(n.startswith("not reused") and "ppo gamma: ran 0.9, asked 0.5" in n for n in notes)
    assert not any((other / "cells").iterdir())
    # the same PPO settings asked by flag rather than by the registry (Reacher's gamma is 0.9): it stands
    assert setting_differences(cells[0], replace(BASE, ppo={"gamma": 0.9}), tmp_path / "cells" / cells[0].name) == []
    # --plan says what a bench would do, cell by cell, and writes nothing; of two matches the newer is reused
    # (newer: by the end time a result.json records, not by the file's time, which a plain copy resets)
    older = tmp_path / "older"
    shutil.copytree(tmp_path / "cells" / "Reacher__true__s0", older / "cells" / "Reacher__true__s0")
    old_result = older / "cells" / "Reacher__true__s0" / "result.json"
    old_result.write_text(json.dumps({**json.loads(old_result.read_text()), "finished": 1e9}))
    os.utime(old_result, (4e9, 4e9))
    planned = plan_suite(cells, BASE, tmp_path / "planned", reuse=[older, tmp_path])
    assert planned[0].startswith(f"reused    Reacher__true__s0 from {tmp_path}/cells/")
    assert planned[2] == "runs      Nope__true__s0"
    old_result.write_text(json.dumps({k: v for k, v in json.loads(old_result.read_text()).items() if k != "finished"}))
    os.utime(old_result, (4e9, 4e9))  # a run from before that record: its file's time stands in
    assert plan_suite(cells, BASE, tmp_path / "planned", reuse=[older, tmp_path])[0].startswith(
        f"reused    Reacher__true__s0 from {older}/cells/")
    assert planned[-1].endswith("0 finished, 2 reused, 0 resume from a checkpoint, 1 run from the start")
    assert not (tmp_path / "planned").exists()
    assert plan_suite(cells, BASE, tmp_path)[-1].endswith("2 finished, 0 reused, 0 resume from a checkpoint, 1 run "
                                                          "from the start")
    with pytest.raises(ValueError, match="other settings"):
        plan_suite(cells, replace(BASE, ppo={"gamma": 0.5}), tmp_path)
    # a finished `prefrl train` run folder stands for the cell of its task, seed, reward and budget
    runs = tmp_path / "runs"
    for cell in cells[:2]:
        shutil.copytree(tmp_path / "cells" / cell.name, runs / f"{cell.env}__mine__{cell.labels}__0")
    (runs / "Reacher__going__1").mkdir()  # a run still going (no result.json): passed over
    shutil.copy(runs / "Reacher__mine__20__0" / "config.json", runs / "Reacher__going__1")
    planned = plan_suite([*cells[:2], Cell("Reacher", 20, 1, 1024), Cell("Reacher", 40, 0, 1024)], BASE,
                         tmp_path / "planned", reuse=sorted(runs.iterdir()))
    assert [line.split(" (run")[0] for line in planned[:4]] == [
        f"reused    Reacher__true__s0 from {runs}/Reacher__mine__None__0",
        f"reused    Reacher__pref20-random-oracle__s0 from {runs}/Reacher__mine__20__0",
        "runs      Reacher__pref20-random-oracle__s1", "runs      Reacher__pref40-random-oracle__s0"]
    # ... and only at the same settings
    assert "ppo gamma: ran 0.9, asked 0.5" in plan_suite(cells[:1], replace(BASE, ppo={"gamma": 0.5}),
                                                         tmp_path / "planned", reuse=[runs / "Reacher__mine__None__0"])[0]
    run_suite(cells[:2], BASE, other, workers=1, reuse=[tmp_path])
    out = capsys.readouterr().out
    assert out.count("reused ") == 2 and "2 finished before, 0 to run" in out
    assert (other / "cells" / "Reacher__true__s0" / "result.json").read_text() == finished.read_text()


_HOLD_CLAIM = ("import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
               "print('held', flush=True); sys.stdin.read()")


def _another_process_runs(cells_dir, cell: Cell) -> subprocess.Popen:
    """A process that holds ``cell``'s claim in ``cells_dir``, as a second bench process running it does."""
    cells_dir.mkdir(parents=True, exist_ok=True)
    from agents.suites import _claim_path

    holder = subprocess.Popen([sys.executable, "-c", _HOLD_CLAIM, str(_claim_path(cells_dir, cell.name))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_cell_running_in_another_bench_process_is_neither_run_nor_replaced(tmp_path, capsys):
    cell = Cell("Reacher", None, 0, 1024)
    holder = _another_process_runs(tmp_path / "cells", cell)
    try:
        assert plan_suite([cell], BASE, tmp_path)[0] == (
            "running   Reacher__true__s0 (running in another bench process: skipped)")
        # the other process's progress record says how far it is
        (tmp_path / "cells" / cell.name).mkdir()
        write_progress(tmp_path / "cells" / cell.name, steps=256, total=1024, steps_per_sec=64.0, checkpoint_steps=0)
        assert plan_suite([cell], BASE, tmp_path)[0] == (
            "running   Reacher__true__s0 (running in another bench process: skipped; step 256 of 1,024 (25%), "
            "64 steps/s, about 12 s left)")
        shutil.rmtree(tmp_path / "cells" / cell.name)
        rows = run_suite([cell], BASE, tmp_path, workers=1)
        assert [r["status"] for r in rows] == ["running"]
        assert not (tmp_path / "cells" / cell.name).exists()  # nothing started here
        assert "skip   Reacher__true__s0: running in another bench process" in capsys.readouterr().out
        assert "Cells not finished: Reacher__true__s0 (running)" in write_report(tmp_path).read_text()
    finally:
        holder.kill()
        holder.wait()
    # the other process is gone (however it ended): its claim went with it, and the cell runs
    rows = run_suite([cell], BASE, tmp_path, workers=1)
    assert [r["status"] for r in rows] == ["done"]
    progress = read_progress(tmp_path / "cells" / cell.name)  # written by the run after each rollout
    assert (progress["steps"], progress["total"]) == (rows[0]["timesteps"], 1024) and progress["steps_per_sec"] > 0

    # a finished run elsewhere is not copied over a cell that another bench process is running
    other = tmp_path / "other" / "cells"
    holder = _another_process_runs(other, cell)
    try:
        assert reuse_cells([cell], BASE, other, [tmp_path]) == [
            "not reused for Reacher__true__s0: running in another bench process"]
        assert not (other / cell.name).exists()
    finally:
        holder.kill()
        holder.wait()
    assert reuse_cells([cell], BASE, other, [tmp_path])[0].startswith(f"reused {tmp_path}/cells/{cell.name}")


def test_a_claim_guards_the_copy_and_the_run_themselves(tmp_path, monkeypatch):
    import agents.suites as suites

    cell = Cell("Reacher", None, 0, 1024)
    src = tmp_path / "src" / "cells" / cell.name
    _saved_run(src, cell.config(BASE))
    (src / "result.json").write_text(json.dumps({"true_return_mean": -5.0}))
    # the other process claims the cell just after the look for running cells: the copy still stands back
    monkeypatch.setattr(suites, "_running_elsewhere", lambda folder, name: False)
    holder = _another_process_runs(tmp_path / "cells", cell)
    try:
        assert reuse_cells([cell], BASE, tmp_path / "cells", [tmp_path / "src"]) == [
            "not reused for Reacher__true__s0: running in another bench process"]
    finally:
        holder.kill()
        holder.wait()
    # a cell another process finished while this one waited for its claim is read, not run again
    claim = suites._claim_cell

    def finished_meanwhile(folder, name, patience=1.0):
        shutil.copytree(src, folder / name)
        return claim(folder, name, patience)

    monkeypatch.setattr(suites, "_claim_cell", finished_meanwhile)
    row = suites._run_cell(cell, BASE, tmp_path / "cells")
    assert row["status"] == "done" and row["true_return_mean"] == -5.0


def test_the_plan_says_how_far_a_cell_is_and_where_it_resumes(tmp_path):
    cell = Cell("Reacher", None, 0, 1024)
    run_dir = tmp_path / "cells" / cell.name
    _saved_run(run_dir, cell.config(BASE))
    (run_dir / "checkpoint").mkdir()
    assert plan_suite([cell], BASE, tmp_path)[0] == "resumes   Reacher__true__s0"  # a run older than the record
    write_progress(run_dir, steps=768, total=1024, steps_per_sec=0.0, checkpoint_steps=512)
    assert plan_suite([cell], BASE, tmp_path)[0] == "resumes   Reacher__true__s0 (from step 512 of 1,024)"
    # a record not replaced for a while says how old it is (a run waiting for a person's labels, say)
    write_progress(run_dir, steps=500_000, total=1_000_000, steps_per_sec=400.0, checkpoint_steps=450_000)
    later = read_progress(run_dir)["updated"] + 600
    assert describe_progress(run_dir, running=True, now=later) == (
        "step 500,000 of 1,000,000 (50%), 400 steps/s, about 21 min left (as of 10 min ago)")
    (run_dir / "progress.json").write_text("{not json")
    assert describe_progress(run_dir, running=True) == ""


def _saved_run(run_dir, cfg: TrainConfig) -> None:
    """A run folder holding only the config a run of ``cfg`` saves at its start."""
    run_dir.mkdir(parents=True)
    cfg.resolved().save(run_dir / "config.json")


def test_a_cell_matches_a_run_of_its_own_settings_and_an_unfinished_other_is_refused(tmp_path):
    # a flag's tuple comes back from config.json as a list; an Atari run saved the game's defaults
    for cell, base in [(Cell("Reacher", 20, 0, 1024), replace(BASE, ppo={"net": (64, 64)})),
                       (Cell("Pong", 3300, 0, 1024), BASE)]:
        _saved_run(tmp_path / cell.name, cell.config(base))
        assert setting_differences(cell, base, tmp_path / cell.name) == []
    # a checkpointed, unfinished cell of other settings would resume on them: refused before anything runs
    cell = Cell("Reacher", None, 0, 1024)
    _saved_run(tmp_path / "bench" / "cells" / cell.name, cell.config(replace(BASE, ppo={"gamma": 0.5})))
    (tmp_path / "bench" / "cells" / cell.name / "checkpoint").mkdir()
    with pytest.raises(ValueError, match=r"was started with other settings \(ppo gamma: ran 0.5, asked 0.9\)"):
        run_suite([cell], BASE, tmp_path / "bench", workers=1)


def test_the_ray_executor_runs_cells_on_a_local_ray_instance(tmp_path):
    ray = pytest.importorskip("ray")
    try:
        rows = run_suite([Cell("Reacher", None, 0, 512)], BASE, tmp_path, workers=1, executor="ray")
    finally:
        ray.shutdown()
    assert [r["status"] for r in rows] == ["done"]
    assert (tmp_path / "cells" / "Reacher__true__s0" / "result.json").exists()


def test_workers_stop_when_the_bench_process_dies(tmp_path):
    """A bench killed outright (kill -9) leaves no worker running on as an orphan."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONPATH": str(root)}
    bench = subprocess.Popen([sys.executable, "-m", "agents.cli", "bench", "--suite", "mujoco-quick",
                              "--timesteps", "100000", "--workers", "2", "--runs-dir", str(tmp_path),
                              "--name", "k", "--quiet"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(bench.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob("bench/k/cells/*/tb")):
        time.sleep(0.5)
    workers = children()
    assert workers, "the bench started no worker process"
    bench.send_signal(signal.SIGKILL)
    bench.wait()
    deadline = time.time() + 60
    alive = workers
    while alive and time.time() < deadline:
        time.sleep(0.5)
        alive = [p for p in workers if os.path.exists(f"/proc/{p}") and
                 open(f"/proc/{p}/stat").read().split()[2] != "Z"]
    assert not alive, f"workers {alive} still running after the bench died"


def test_a_killed_worker_stops_the_bench_with_one_line_and_exit_130(tmp_path):
    """A worker killed on its own (as by the out-of-memory killer): one line, exit 130, no traceback
    (a raw BrokenProcessPool traceback before)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONPATH": str(root)}
    bench = subprocess.Popen([sys.executable, "-m", "agents.cli", "bench", "--suite", "mujoco-quick",
                              "--timesteps", "100000", "--workers", "2", "--runs-dir", str(tmp_path),
                              "--name", "w", "--quiet"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(tmp_path.glob("bench/w/cells/*/tb"))) < 2:
        time.sleep(0.5)
    out = subprocess.run(["pgrep", "-f", "-P", str(bench.pid), "multiprocessing.spawn"],
                         capture_output=True, text=True).stdout
    workers = [int(p) for p in out.split()]
    assert len(workers) == 2, "the bench did not start its two workers"
    os.kill(workers[0], signal.SIGKILL)
    _, err = bench.communicate(timeout=120)
    assert bench.returncode == 130, err
    assert "Traceback" not in err and "a bench worker stopped before its cell finished" in err, err


def test_return_ratio_needs_a_positive_baseline():
    from agents.benchmark import return_ratio

    assert return_ratio(800.0, 1000.0) == pytest.approx(0.8)
    assert return_ratio(-50.0, 1000.0) == pytest.approx(-0.05)
    assert return_ratio(-100.9, -39.0) is None  # a worse agent must not score 2.59
    assert return_ratio(10.0, float("nan")) is None


def test_a_task_with_two_baselines_is_measured_against_the_stronger(tmp_path):
    from dataclasses import asdict

    cells = {Cell("Hopper", None, 0, 1000): 3000.0, Cell("Hopper", None, 0, 1000, true_task="gym"): 1000.0,
             Cell("Hopper", 700, 0, 1000): 1500.0, Cell("Swimmer", None, 0, 1000, true_task="gym"): 300.0,
             Cell("Swimmer", 700, 0, 1000): 150.0}
    (tmp_path / "grid.json").write_text(json.dumps([asdict(c) for c in cells]))
    for cell, ret in cells.items():  # finished cells as a run leaves them (no TensorBoard logs: no curves)
        (tmp_path / "cells" / cell.name).mkdir(parents=True)
        (tmp_path / "cells" / cell.name / "result.json").write_text(json.dumps(
            {"true_return_mean": ret, "true_return_std": 0.0, "true_task": cell.true_task}))
    text = write_report(tmp_path).read_text()
    assert "| Hopper | 1,000 | true reward (PPO) | random | oracle | 1/1 | 3000.0 +- 0.0 |  |" in text
    assert "| Hopper | 1,000 | true reward (PPO, gym task) | random | oracle | 1/1 | 1000.0 +- 0.0 |  |" in text
    assert "| Hopper | 1,000 | 700 | random | oracle | 1/1 | 1500.0 +- 0.0 | 0.50 |" in text  # not 1.50
    assert ("Hopper: true reward (PPO), 3000.0 (1 seed; the other: true reward (PPO, gym task) 1000.0 (1 seed))."
            in text and "Swimmer:" not in text)  # Swimmer has one
    assert "700-random-oracle: **0.50** (2 tasks)" in text


def test_report_names_the_algorithm_the_cells_trained_with(tmp_path):
    """A TRPO bench's report and CSV say TRPO (from each cell's config; a run without one ran PPO)."""
    from dataclasses import asdict

    cells = {Cell("Hopper", None, 0, 1000): 3000.0, Cell("Hopper", 700, 0, 1000): 1500.0}
    (tmp_path / "grid.json").write_text(json.dumps([asdict(c) for c in cells]))
    for cell, ret in cells.items():
        (tmp_path / "cells" / cell.name).mkdir(parents=True)
        (tmp_path / "cells" / cell.name / "result.json").write_text(json.dumps(
            {"true_return_mean": ret, "true_return_std": 0.0, "true_task": cell.true_task}))
        cell.config(TrainConfig(algo="trpo")).save(tmp_path / "cells" / cell.name / "config.json")
    text = write_report(tmp_path).read_text()
    assert "ratio to true-reward TRPO |" in text and "| Hopper | 1,000 | true reward (TRPO) |" in text
    assert "PPO" not in text
    assert all(r["algo"] == "trpo" for r in csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    (tmp_path / "cells" / Cell("Hopper", 700, 0, 1000).name / "config.json").unlink()  # as an older run: PPO
    text = write_report(tmp_path).read_text()
    assert "ratio to true-reward PPO/TRPO |" in text and "trained with different RL algorithms (PPO/TRPO)" in text


def test_a_grid_with_a_task_the_algorithm_cannot_train_is_refused_before_anything_runs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "agents.cli", "bench", "--suite", "paper-mujoco", "--algo", "trpo",
                          "--tasks", "Swimmer,Pong", "--plan", "--runs-dir", str(tmp_path)],
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == \
        "prefrl: error: --algo trpo is offered for MuJoCo tasks only, not Pong", out.stderr
    assert not (tmp_path / "bench").exists()
