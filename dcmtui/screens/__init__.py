"""Screens: each calls services from workers and composes widgets."""
