"""Every console script a package declares is installed and points to a function that exists."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = [*sorted(p.parent for p in ROOT.glob("*/*/pyproject.toml")), ROOT / "tools"]
DECLARED = {
    name: target
    for member in MEMBERS
    for name, target in tomllib.loads((member / "pyproject.toml").read_text())["project"]
    .get("scripts", {})
    .items()
}


def test_the_packages_declare_console_scripts() -> None:
    assert {"intake", "routing", "deadlines", "appeals-stack", "appeals-token"} <= set(DECLARED)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_a_console_script_is_installed_and_its_target_imports_and_is_callable(name: str) -> None:
    (installed,) = entry_points(group="console_scripts", name=name)
    assert installed.value == DECLARED[name], "make install (the script changed)"
    assert callable(installed.load())
