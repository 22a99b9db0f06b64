"""Serving in seconds: a step-time model from the calibration and the ``replay`` command."""
