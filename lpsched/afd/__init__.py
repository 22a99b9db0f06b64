"""Attention-FFN disaggregation (AFD) sizing."""
