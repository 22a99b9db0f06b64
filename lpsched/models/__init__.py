"""Exact models (MILP, CP-SAT), LP relaxations and lower bounds."""
