"""One row per fault case, the table printed at the end, and the same as JSON for the tests."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    case: str
    title: str
    ran: bool = True
    # Why the case did not run (a feature not on this branch yet), or why it stopped early.
    reason: str = ""
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    recover_s: float | None = None
    # Named facts beyond lost and duplicated, e.g. "poison records ended where they belong".
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (
            self.ran
            and not self.reason
            and self.lost == 0
            and self.duplicated == 0
            and all(self.checks.values())
        )

    @property
    def verdict(self) -> str:
        if not self.ran:
            return "not run"
        return "pass" if self.passed else "FAIL"


def table(rows: list[Row]) -> str:
    header = (
        f"{'fault':44} {'accepted':>9} {'lost':>6} {'dup':>5} {'dead-lettered':>14} "
        f"{'recover s':>10}  verdict"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        recover = f"{row.recover_s:.1f}" if row.recover_s is not None else "-"
        if not row.ran:
            lines.append(f"{row.title:44} {'':>9} {'':>6} {'':>5} {'':>14} {'':>10}  not run")
            continue
        lines.append(
            f"{row.title:44} {row.accepted:>9,} {row.lost:>6,} {row.duplicated:>5,} "
            f"{row.dead_lettered:>14,} {recover:>10}  {row.verdict}"
        )
    return "\n".join(lines)


def explanations(rows: list[Row]) -> str:
    """Per case: why it did not run, the checks that failed, and what was seen."""
    parts = []
    for row in rows:
        lines = []
        if row.reason:
            lines.append(f"  {'not run' if not row.ran else 'stopped'}: {row.reason}")
        lines += [f"  check {'ok  ' if ok else 'FAIL'} {name}" for name, ok in row.checks.items()]
        lines += [f"  - {note}" for note in row.notes]
        if matrix := row.details.get("poison_matrix"):
            lines += ["  " + line for line in str(matrix).splitlines()]
        if lines:
            parts.append(f"{row.title}:\n" + "\n".join(lines))
    return "\n".join(parts)


def save(rows: list[Row], path: Path) -> None:
    path.write_text(
        json.dumps(
            [{**asdict(row), "passed": row.passed, "verdict": row.verdict} for row in rows],
            indent=2,
            ensure_ascii=False,
        )
    )
