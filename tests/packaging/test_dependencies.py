"""What the packages import is what they declare, bounded where it leans on private APIs, and
the environment is exactly uv.lock, which matches the pyproject files."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = [*sorted(p.parent for p in ROOT.glob("*/*/pyproject.toml")), ROOT / "tools"]
UV = Path(sys.executable).parent / "uv"

# Needed at run time although nothing imports them by name.
LOADED_BY_NAME = {
    "python-multipart": "FastAPI parses form bodies with it (Open311's POST)",
}
# Used past their stable API, so a new minor version may break us: each must be bounded.
BOUNDED = {
    "aiokafka": "the outbox relay fills BatchBuilder batches (aiokafka.producer."
    "message_accumulator) and readiness asks the producer's AIOKafkaClient for metadata",
    "faststream": "a 0.x whose minor releases moved the broker and AsyncAPI interfaces that "
    "the runtime and the API documents use",
}


def _pyproject(directory: Path) -> dict[str, object]:
    return tomllib.loads((directory / "pyproject.toml").read_text())


def _requirements(directory: Path) -> list[Requirement]:
    project = _pyproject(directory)["project"]
    assert isinstance(project, dict)
    return [Requirement(r) for r in project.get("dependencies", [])]


def _dev_group() -> list[Requirement]:
    return [
        Requirement(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    ]


def _imports(files: list[Path]) -> dict[str, set[Path]]:
    """Top-level names imported (absolutely) by `files`, standard library left out."""
    found: dict[str, set[Path]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(path)
    return found


def _sources(directory: Path) -> list[Path]:
    return [
        p
        for p in directory.rglob("*.py")
        if not {"build", "__pycache__"} & set(p.parts) and ".egg-info" not in str(p)
    ]


@cache
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()


def _distribution(module: str) -> str:
    """The installed distribution that provides the top-level `module`."""
    names = _distributions().get(module)
    assert names, f"no installed distribution provides {module}"
    return canonicalize_name(names[0])


def _own_modules(directory: Path) -> set[str]:
    tool = _pyproject(directory)["tool"]
    assert isinstance(tool, dict)
    return {name.partition(".")[0] for name in tool["setuptools"]["packages"]}


@pytest.mark.parametrize("member", MEMBERS, ids=lambda p: p.name)
def test_every_module_a_package_imports_is_declared_by_that_package(member: Path) -> None:
    declared = {canonicalize_name(r.name) for r in _requirements(member)}
    own = _own_modules(member)
    undeclared = {
        f"{module} ({_distribution(module)}) in {min(files).relative_to(ROOT)}"
        for module, files in _imports(_sources(member)).items()
        if module not in own and _distribution(module) not in declared
    }
    assert not undeclared, f"add to {member.name}/pyproject.toml"


@pytest.mark.parametrize("member", MEMBERS, ids=lambda p: p.name)
def test_every_dependency_a_package_declares_is_imported_by_it(member: Path) -> None:
    imported = {
        _distribution(m) for m in _imports(_sources(member)) if m not in _own_modules(member)
    }
    unused = {canonicalize_name(r.name) for r in _requirements(member)} - imported
    assert unused <= set(LOADED_BY_NAME)


def test_tests_and_benches_import_only_what_the_workspace_or_the_dev_group_declares() -> None:
    declared = {canonicalize_name(r.name) for r in _dev_group()}
    for member in MEMBERS:
        declared |= {canonicalize_name(r.name) for r in _requirements(member)}
    local = {"tests", "bench"} | {m for member in MEMBERS for m in _own_modules(member)}
    files = _sources(ROOT / "tests") + _sources(ROOT / "bench")
    undeclared = {
        module
        for module in _imports(files)
        if module not in local and _distribution(module) not in declared
    }
    assert not undeclared, "add to the dev group in pyproject.toml"


def test_a_dependency_is_spelled_the_same_in_every_package_that_declares_it() -> None:
    spellings: dict[str, set[str]] = {}
    for member in MEMBERS:
        for requirement in _requirements(member):
            spellings.setdefault(canonicalize_name(requirement.name), set()).add(str(requirement))
    assert {name: s for name, s in spellings.items() if len(s) > 1} == {}


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_a_library_used_past_its_stable_api_has_an_upper_bound_everywhere(name: str) -> None:
    declarations = [r for m in MEMBERS for r in _requirements(m) if r.name == name]
    assert declarations, f"{name} is declared nowhere"
    for requirement in declarations:
        assert any(s.operator in {"<", "<=", "~=", "=="} for s in requirement.specifier), (
            f"{requirement}: {BOUNDED[name]}"
        )


def _uv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(UV), *args, "--offline"], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_uv_lock_matches_every_pyproject() -> None:
    checked = _uv("lock", "--check")
    assert checked.returncode == 0, f"run make lock\n{checked.stderr}"


def test_the_environment_holds_exactly_the_locked_packages() -> None:
    checked = _uv("sync", "--locked", "--check")
    assert checked.returncode == 0, f"run make install\n{checked.stderr}"


def test_make_install_bootstraps_the_uv_that_the_lock_pins() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    required = root["tool"]["uv"]["required-version"]
    pinned = [str(r.specifier) for r in _dev_group() if r.name == "uv"]
    assert pinned == [required]
    version = subprocess.run([str(UV), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split()[1] == re.sub(r"^==", "", required)


# docs/architecture.md: a package depends only on packages of a lower layer.
LAYERS = {
    "appeals-contracts": 0,
    "appeals-reference": 1,
    "appeals-law": 1,
    "appeals-platform": 2,
    "appeals-intake": 3,
    "appeals-routing": 3,
    "appeals-deadlines": 3,
    # Pages mounted in the deadlines process, on deadlines' public queries and commands.
    "appeals-dashboard": 4,
    "appeals-tools": 5,
}


@pytest.mark.parametrize("member", MEMBERS, ids=lambda p: p.name)
def test_a_package_depends_only_on_packages_of_a_lower_layer(member: Path) -> None:
    project = _pyproject(member)["project"]
    assert isinstance(project, dict)
    mine = LAYERS[project["name"]]
    for requirement in _requirements(member):
        layer = LAYERS.get(canonicalize_name(requirement.name))
        assert layer is None or layer < mine, f"{project['name']} -> {requirement.name}"
