"""The demo prior's steering: the setting chosen for the MiniLM text-proxy space through the real API.

``python -m prior train`` writes :class:`~prior.config.SteeringConfig`'s defaults, which were chosen on the synthetic
worlds (the sigma^2 schedule, k = 10). In the demo's 384-d caption space that schedule barely moves a playlist (it
needed k ~ 300 for 72 % genre share, and then erased the picture's mood), so the demo prior records its own
choice, made through the API on validation sessions (``python bench/steer_api.py``, sampling-seed offset 0;
docs/steering.md "Through the API"): the constant schedule with the tag budget 1.0, each seed retrieving with
0.35 x the picture's direction added. Checked on held-out sessions: 81 % of a playlist carries the steered genre
while a warm and a cold picture still differ in mood by 0.385, and an avoid tag cuts its share from 0.17 to 0.02.
"""

from __future__ import annotations

from prior.config import SteeringConfig

DEMO_STEERING = SteeringConfig(tag_k=1.0, avoid_k=0.1, liked_k=0.05, skipped_k=0.05, fade=0.5, schedule="constant",
                               condition_weight=0.35)
