"""The dashboard's boundary with the deadlines service: it reads and changes the service only
through `deadlines.queries` and `deadlines.commands` (and takes the service's settings,
clock and context when mounted), holds no SQL of its own, and deadlines never imports it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import appeals_dashboard
import deadlines
from deadlines import pages

DASHBOARD = Path(appeals_dashboard.__file__).parent
DEADLINES = Path(deadlines.__file__).parent

# Data goes through queries and commands; pages, config, clocks and context are what the
# deadlines process hands a mount (deadlines.pages.Mount).
PUBLIC = {
    "deadlines.queries",
    "deadlines.commands",
    "deadlines.pages",
    "deadlines.config",
    "deadlines.clocks",
    "deadlines.context",
}
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.S)
DATABASE_CALLS = {
    "fetch",
    "fetchrow",
    "fetchval",
    "execute",
    "executemany",
    "copy_records_to_table",
}


def modules_imported(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # `from deadlines import queries` imports the module deadlines.queries.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(package: Path) -> dict[Path, ast.AST]:
    return {path: ast.parse(path.read_text("utf-8")) for path in package.rglob("*.py")}


def test_the_dashboard_imports_only_the_public_modules_of_deadlines() -> None:
    files = sources(DASHBOARD)
    assert len(files) > 10
    for path, tree in files.items():
        imported = modules_imported(tree)
        reached = {m for m in imported if m.startswith("deadlines.") and m.count(".") == 1} - PUBLIC
        assert not reached, f"{path.relative_to(DASHBOARD)} reaches into {sorted(reached)}"
        assert "asyncpg" not in imported, f"{path.relative_to(DASHBOARD)} talks to PostgreSQL"


def test_the_dashboard_holds_no_sql_and_runs_no_statement() -> None:
    for path, tree in sources(DASHBOARD).items():
        name = path.relative_to(DASHBOARD)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not SQL.search(node.value), f"SQL in {name}: {node.value[:60]!r}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in DATABASE_CALLS, f"{name} calls .{node.attr}()"
    for template in (DASHBOARD / "templates").iterdir():
        assert not SQL.search(template.read_text("utf-8")), template.name


def test_the_check_would_see_sql_and_a_private_module() -> None:
    """The two tests above are not vacuous: they catch what they look for."""
    tree = ast.parse(
        "from deadlines import db\nimport deadlines.alerts\n"
        "Q = 'SELECT id FROM alerts WHERE id = $1'\nawait conn.fetch(Q)\n"
    )
    assert {"deadlines.db", "deadlines.alerts"} <= modules_imported(tree) - PUBLIC
    assert any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and SQL.search(n.value)
        for n in ast.walk(tree)
    )
    assert any(isinstance(n, ast.Attribute) and n.attr == "fetch" for n in ast.walk(tree))


def test_deadlines_never_imports_the_dashboard_and_finds_it_installed() -> None:
    for path, tree in sources(DEADLINES).items():
        reached = {m for m in modules_imported(tree) if m.split(".")[0] == "appeals_dashboard"}
        assert not reached, f"deadlines/{path.relative_to(DEADLINES)} imports {reached}"
    from appeals_dashboard.mount import mount_dashboard

    assert mount_dashboard in pages.installed()
