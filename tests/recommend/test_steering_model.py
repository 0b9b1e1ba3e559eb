"""The API steers with the steering model the evaluation measures (prior.steering), with the checkpoint's defaults
and the RECOMMEND_STEER_* overrides; retrieval by one query keeps the tag and the picture in force."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from django.test import override_settings

from prior.config import SteeringConfig
from prior.data.npz import Pairs
from prior.evaluate import EvalData, SamplingChoice, diffusion_seeds
from prior.service import PriorSampler
from prior.spaces import MINILM
from recommend.models import Playlist
from recommend.services.steering_vectors import steering_config
from serving import engine
from tests.helpers.api import TAG, served, start, steer


class RecordingSampler:
    """Wraps the served prior: remembers what every sample call got (a real sample is still drawn)."""

    def __init__(self, prior):
        self.prior, self.calls = prior, []
        self.defaults, self.steering = prior.defaults, prior.steering

    def sample(self, cond, *args, **kwargs):
        self.calls.append(kwargs)
        return self.prior.sample(cond, *args, **kwargs)


@pytest.fixture
def recorded(monkeypatch):
    """Every call the service makes to engine.sample_seeds: its steer pairs and schedule."""
    calls = []
    real = engine.sample_seeds

    def sample_seeds(cond, n_seeds, guidance, steer=(), seed=None, steer_schedule=None):
        seeds = real(cond, n_seeds, guidance, steer, seed=seed, steer_schedule=steer_schedule)
        calls.append({"steer": list(steer), "steer_schedule": steer_schedule, "guidance": guidance, "seed": seed,
                      "seeds": seeds})
        return seeds

    monkeypatch.setattr(engine, "sample_seeds", sample_seeds)
    return calls


def test_the_service_and_the_evaluation_give_the_sampler_the_same_inputs(api, catalog, minilm, recorded, settings,
                                                                         tiny_prior):
    session_id, token, _ = start(api)
    assert steer(api, session_id, token, tags=[TAG]).status_code == 201
    served_call = recorded[-1]

    prior = RecordingSampler(PriorSampler.load(tiny_prior, device="cpu"))
    z = minilm.encode_texts([TAG])
    pairs = Pairs(cond=np.zeros((1, prior.prior.cond_space.dim), np.float32), music=z, steer=z,
                  track_id=np.array(["x"]), cond_space=prior.prior.cond_space, music_space=MINILM, fingerprint="t")
    data = EvalData(pairs, catalog=None, true_index=np.zeros(1, int), other_index=np.zeros(1, int))
    diffusion_seeds(prior, data, SamplingChoice(n_seeds=2, steer_k=None))  # steer_k None: the checkpoint's budget
    evaluated = prior.calls[-1]

    assert served_call["steer_schedule"] == evaluated["steer_schedule"] == prior.steering.schedule
    assert len(served_call["steer"]) == len(evaluated["steer"]) == 1
    (served_vec, served_k), (eval_vec, eval_k) = served_call["steer"][0], evaluated["steer"][0]
    assert served_k == eval_k == prior.steering.tag_k
    assert np.allclose(served_vec, eval_vec[0], atol=1e-5)


def test_ten_tags_steer_no_harder_than_one(api, catalog, recorded):
    session_id, token, _ = start(api)
    tags = [f"{TAG} {i}" for i in range(10)]
    assert steer(api, session_id, token, tags=tags, avoid=["vocals", "piano"]).status_code == 201
    ks = np.array([k for _, k in recorded[-1]["steer"]])
    config = steering_config()
    assert np.isclose(ks[ks > 0].sum(), config.tag_k) and np.isclose(ks[ks < 0].sum(), -config.avoid_k)


def test_settings_override_the_checkpoints_steering(api, catalog, recorded, tiny_prior):
    from prior.checkpoint import load_checkpoint

    assert steering_config() == load_checkpoint(tiny_prior).steering_config()
    with override_settings(RECOMMEND_STEER_TAG_K=0.7, RECOMMEND_STEER_SCHEDULE="snr",
                           RECOMMEND_STEER_CONDITION_WEIGHT=0.0):
        assert steering_config() == replace(load_checkpoint(tiny_prior).steering_config(), tag_k=0.7,
                                            schedule="snr", condition_weight=0.0)
        session_id, token, _ = start(api)
        assert steer(api, session_id, token, tags=[TAG]).status_code == 201
    assert recorded[-1]["steer_schedule"] == "snr" and recorded[-1]["steer"][0][1] == pytest.approx(0.7)
    stored = Playlist.objects.get(session_id=session_id, version=2).params["steering"]
    assert stored["tag_k"] == 0.7 and stored["schedule"] == "snr", "each version records how it was steered"
    with override_settings(RECOMMEND_STEER_FADE=1.5):
        with pytest.raises(ValueError, match="fade"):
            steering_config()


def test_each_seed_retrieves_with_the_pictures_direction_added(api, catalog, recorded):
    """With a condition weight the service draws the paired null seeds and every seed's ANN query is
    prior.steering.retrieval_vectors of the two draws (the playlist is the nearest tracks to those)."""
    from prior.steering import NULL_GUIDANCE, condition_direction

    vectors = catalog["vectors"]
    with override_settings(RECOMMEND_STEER_CONDITION_WEIGHT=0.5, RECOMMEND_MMR_LAMBDA=1.0,
                           RECOMMEND_MAX_PER_ARTIST=20, RECOMMEND_STEER_AFFINITY_WEIGHT=0.0):  # retrieval alone
        session_id, token, v1 = start(api, size=10)
        v2 = steer(api, session_id, token, tags=[TAG]).json()["playlist"]
    steered, null = recorded[-2], recorded[-1]
    assert null["guidance"] == NULL_GUIDANCE and null["seed"] == steered["seed"], "a paired draw"
    assert [k for _, k in null["steer"]] == [k for _, k in steered["steer"]], "steered the same way"
    queries = steered["seeds"] + 0.5 * condition_direction(steered["seeds"], null["seeds"])
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    candidates = np.array([t for t in vectors if t not in served(v1)])
    best = {int(candidates[np.argmax(np.stack([vectors[t] for t in candidates]) @ q)]) for q in queries}
    assert best <= served(v2) | served(v1), "every query's nearest unserved track is in the playlist"
    assert len(best & served(v2)) >= min(len(best), 10) - 1


def test_a_liked_track_is_kept_when_the_condition_is_added(api, catalog):
    with override_settings(RECOMMEND_STEER_CONDITION_WEIGHT=0.5):
        session_id, token, v1 = start(api)
        liked = v1["items"][2]["track"]["id"]
        api.post(f"/api/sessions/{session_id}/feedback", {"liked": [liked]}, format="json",
                 HTTP_X_SESSION_TOKEN=token)
        v2 = steer(api, session_id, token, tags=[TAG]).json()["playlist"]
    assert liked in served(v2)


def test_code_defaults_are_a_valid_steering_config():
    SteeringConfig().check()


def test_candidates_are_reranked_by_the_priors_affinity_for_the_picture(api, catalog, recorded, monkeypatch):
    """With an affinity weight the service asks the prior how well each candidate fits the picture (same seed as the
    draw) and ranks by prior.steering.affinity_relevance: at a huge weight the playlist follows the affinity."""
    calls = []
    real = engine.condition_affinity

    def condition_affinity(cond, tracks, seed=None):
        values = real(cond, tracks, seed=seed)
        calls.append({"tracks": tracks, "seed": seed, "values": values})
        return values

    monkeypatch.setattr(engine, "condition_affinity", condition_affinity)
    playlists = {}
    with override_settings(RECOMMEND_MMR_LAMBDA=1.0, RECOMMEND_MAX_PER_ARTIST=20, RECOMMEND_RNG_SEED=5):
        for weight in (0.0, 1e6):  # two sessions, same sampling seed: the same seeds and candidates
            with override_settings(RECOMMEND_STEER_AFFINITY_WEIGHT=weight):
                session_id, token, _ = start(api, size=10)
                playlists[weight] = steer(api, session_id, token, tags=[TAG]).json()["playlist"]
                assert len(calls) == (weight > 0), "weight 0: no re-ranking, no affinity asked for"
        other, other_token, _ = start(api, size=10)
        with override_settings(RECOMMEND_STEER_AFFINITY_WEIGHT=1e6):
            assert steer(api, other, other_token, avoid=["piano"]).status_code == 201
    assert len(calls) == 1, "only a session with a wanted tag re-ranks"
    call = calls[0]
    assert call["seed"] == recorded[-2]["seed"] == 5, "the affinity draws its noise from the request's seed"
    by_vector = {tuple(np.round(v, 5)): a for v, a in zip(call["tracks"], call["values"], strict=True)}

    def affinities(playlist):
        return [by_vector[tuple(np.round(catalog["vectors"][item["track"]["id"]], 5))] for item in playlist["items"]]

    reranked, plain = affinities(playlists[1e6]), affinities(playlists[0.0])
    assert np.mean(reranked) > np.mean(plain), "the re-ranked list fits the picture better"
    assert reranked[0] == max(reranked)
    inversions = int((np.diff(reranked) > 0).sum())
    assert inversions <= 2, "in affinity order, up to the artist separation's swaps of neighbours"
    assert Playlist.objects.get(session_id=session_id, version=2).params["steering"]["affinity_weight"] == 1e6
