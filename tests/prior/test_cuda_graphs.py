"""prior.cuda_graphs off the GPU: asking for CUDA graphs on a CPU changes nothing (the replays are tested on CUDA in
tests/prior/test_cuda.py, which CI skips)."""

import numpy as np
import pytest

from prior.cuda_graphs import GraphedPass
from prior.service import PriorSampler
from tests.prior.prior_toys import query


def test_cuda_graphs_are_ignored_on_cpu(checkpoint, sampler):
    graphed = PriorSampler.load(checkpoint, device="cpu", cuda_graphs=True)
    assert graphed.graphs is None
    np.testing.assert_array_equal(graphed.sample(query(1), 6, seed=3), sampler.sample(query(1), 6, seed=3))


def test_graph_cache_needs_room_for_one():
    with pytest.raises(ValueError, match="max_graphs"):
        GraphedPass(max_graphs=0)
