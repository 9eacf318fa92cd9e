"""Law as data: appeal terms per type, the Kazakhstan working-day calendar, due-date arithmetic.

Shared by the deadlines service (clocks) and intake (the due date it shows integrations), so
both compute exactly the same moment.
"""
