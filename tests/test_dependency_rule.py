"""DESIGN.md's dependency rule, checked on the source."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "envs": {"preference", "agents", "ui", "stable_baselines3", "torch", "pygame"},
    "preference": {"agents", "ui", "stable_baselines3", "pygame"},
    "ui": {"agents", "stable_baselines3", "torch"},
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_rule(package):
    files = list((ROOT / package).rglob("*.py"))
    assert files
    for f in files:
        bad = imported_roots(f) & FORBIDDEN[package]
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_agents_knows_sb3():
    users = {pkg for pkg in ("envs", "preference", "agents", "ui") for f in (ROOT / pkg).rglob("*.py")
             if "stable_baselines3" in imported_roots(f)}
    assert users == {"agents"}
