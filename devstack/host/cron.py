"""Timer-trigger schedules: the project's one NCRONTAB parser lives in dr/ncrontab.py (plans validate their
drill schedules with it); the host runs timer triggers with the same one."""

from __future__ import annotations

from dr.ncrontab import CronSchedule, IntervalSchedule, ScheduleError, parse_schedule

__all__ = ["CronSchedule", "IntervalSchedule", "ScheduleError", "parse_schedule"]
