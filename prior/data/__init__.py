"""Paired data for the prior: the NPZ file contract (:mod:`prior.data.npz`) and the data sets that produce it."""
