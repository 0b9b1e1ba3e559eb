"""Paired data for the prior: the NPZ file contract (DESIGN.md §6) and the data sets that produce it."""
