"""The demo prior's steering: the setting chosen for the MiniLM text-proxy space through the real API.

``python -m prior train`` writes :class:`~prior.config.SteeringConfig`'s defaults, which were chosen on the synthetic
worlds (the sigma^2 schedule, k = 10). In the demo's 384-d caption space that schedule barely moves a playlist (it
needed k ~ 300 for 72 % genre share, and then erased the picture's mood), so the demo prior records its own
choice, made through the API on validation sessions (``python bench/steer_api.py``, sampling-seed offset 0;
docs/steering.md "Through the API"): the constant schedule with the tag budget 1.2, each seed retrieving with
0.05 x the picture's direction added, and the candidates re-ranked by the prior's affinity for the picture at
weight 4 (:mod:`prior.affinity`): of the settings tried, the one whose smaller margin over the two targets (80 %
genre share, two thirds of the picture's mood kept), in standard errors, was largest. Checked once on held-out
sessions (docs/steering.md): 82 % genre share with 92 % of the picture's mood kept.
"""

from __future__ import annotations

from prior.config import SteeringConfig

DEMO_STEERING = SteeringConfig(tag_k=1.2, avoid_k=0.1, liked_k=0.05, skipped_k=0.05, fade=0.5, schedule="constant",
                               condition_weight=0.05, affinity_weight=4.0)
