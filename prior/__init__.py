"""Diff4Steer prior: a steerable conditional diffusion model over music embeddings.

This package is the machine-learning library of the project. It imports torch and numpy and never Django,
so it can be trained and evaluated on files alone (``python -m prior --help``).
"""
