"""Widgets: they get plain data and post messages; no I/O."""
