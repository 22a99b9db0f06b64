"""Heuristic scheduling algorithms and simulator policies."""
