"""The monitoring dashboard of the deadlines service: live alerts, compliance, appeals."""

from deadlines.dashboard.feed import AlertFeed, on_alert_records
from deadlines.dashboard.pages import dashboard_router

__all__ = ["AlertFeed", "dashboard_router", "on_alert_records"]
