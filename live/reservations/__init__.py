"""Reservations (预约) of scheduled sessions, their reminders and the after-live no-show loop."""
