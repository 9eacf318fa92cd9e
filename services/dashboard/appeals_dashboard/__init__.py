"""The monitoring dashboard: live alerts, compliance, appeals and backlogs, in the deadlines
process. It reads and changes the service only through `deadlines.queries` and
`deadlines.commands` (see README.md)."""

from appeals_dashboard.feed import AlertFeed, on_alert_records
from appeals_dashboard.mount import mount_dashboard

__all__ = ["AlertFeed", "mount_dashboard", "on_alert_records"]
