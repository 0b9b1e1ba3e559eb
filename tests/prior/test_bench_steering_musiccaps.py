"""The MusicCaps world of the steering bench (bench/steering.py --world musiccaps) on a hand-made CSV read by the
project's MusicCaps reader: the condition never names the steered genre, relevance is by aspect. Tiny, no encoder."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from prior.data.musiccaps import read_clips

ROWS = [  # ytid, aspects, caption, is_audioset_eval
    ("c1", ["punk rock", "male vocals", "electric guitar", "aggressive"], "A punk rock song with male vocals.", False),
    ("c2", ["rock music", "male vocals", "live recording"], "A rock music live recording.", False),
    ("c3", ["jazzy", "piano", "upbeat", "male vocals"], "A jazzy piano tune.", False),
    ("c4", ["electronic drums", "piano", "calm"], "Electronic drums and a calm piano.", False),
    ("c5", ["hip-hop", "rap", "male vocals"], "A Hip-Hop track with rap.", True),
    ("c6", ["rock", "pop"], "Rock and pop, nothing else.", True),  # no non-genre aspect: never a query
    ("c7", ["ambient room noises", "acoustic guitar", "calm"], "Ambient room noise, acoustic guitar.", True),
]



@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    path = tmp_path_factory.mktemp("musiccaps") / "musiccaps-public.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list", "caption",
                         "author_id", "is_balanced_subset", "is_audioset_eval"])
        for ytid, aspects, caption, is_eval in ROWS:
            writer.writerow([ytid, 0, 10, "", repr(aspects), caption, 1, False, is_eval])
    return read_clips(path)


GENRES = ["hip hop", "jazz", "electronic", "rock", "pop"]


def test_aspects_name_genres_unless_a_sound_noun_follows(bench):
    assert bench.aspect_genres("punk rock", GENRES) == {"rock"}
    assert bench.aspect_genres("jazzy", GENRES) == {"jazz"}
    assert bench.aspect_genres("hip-hop", GENRES) == bench.aspect_genres("hip hop beat", GENRES) == {"hip hop"}
    assert bench.aspect_genres("electronic drums", GENRES) == set()  # an instrument, not the genre
    assert bench.aspect_genres("ambient room noises") == set()
    assert bench.mentions_genre("electronic drums") and bench.mentions_genre("ambient room noises")
    assert not bench.mentions_genre("male vocals") and not bench.mentions_genre("rocking chair")


def test_the_condition_never_names_the_steered_genre_and_relevance_is_by_aspect(bench, clips):
    split = bench.make_musiccaps_split(clips, GENRES, None, seed=0)
    assert [clips[i].ytid for i in split.queries] == ["c1", "c2", "c3", "c5"]  # c4, c7: no genre; c6: no condition
    _, conditions, steers = bench.split_texts(split, "musiccaps")
    for i, genre, cond, text, steer in zip(split.queries, split.genre, split.condition, conditions, steers,
                                           strict=True):
        assert genre in bench.clip_genres(clips[i], GENRES) and steer == f"{genre} music"
        assert not any(bench.mentions_genre(a) for a in cond) and not bench.mentions_genre(text)
        assert genre not in text and cond == set(clips[i].aspects) - {a for a in clips[i].aspects if
                                                                      bench.mentions_genre(a)}
    assert conditions[0] == "male vocals, electric guitar, aggressive"
    assert conditions[3] == "male vocals"  # "rap" names a genre too: out of the condition
    relevant = {g: [clips[i].ytid for i, tags in enumerate(split.tag_sets) if g in tags] for g in GENRES}
    assert relevant == {"hip hop": ["c5"], "jazz": ["c3"], "electronic": [], "rock": ["c1", "c2", "c6"],
                        "pop": ["c6"]}
    # rock from c1: c2 carries rock and shares "male vocals"; c6 carries rock only; c3 shares "male vocals" only
    one = bench.Split(split.tracks, split.tag_sets, split.artists, split.queries[:1], ["rock"],
                      split.condition[:1])
    m = bench.list_metrics([[1, 5, 2, 3]], one, np.eye(len(clips), dtype=np.float32))
    assert (m["steered_p@20"], m["condition_kept@20"], m["joint_p@20"]) == (0.5, 0.5, 0.25)


def test_catalog_text_with_and_without_genre_words(bench, clips):
    assert bench.clip_text(clips[4], "musiccaps") == "A Hip-Hop track with rap."
    assert bench.clip_text(clips[4], "musiccaps-no-genre") == "A track with ."
    assert bench.strip_genres("Jazzy piano, classical guitar and Rock.") == "piano, guitar and ."
    cond, music = bench.pair_texts(clips, "musiccaps-no-genre")
    assert len(cond) == len(music) == 6 and not any(bench.mentions_genre(t) for t in cond + music)


def test_splits_and_vocabulary_follow_the_training_clips(bench, clips):
    train, val, test = bench.musiccaps_splits(clips)
    assert [c.ytid for c in test] == ["c5", "c6", "c7"]  # is_audioset_eval
    assert len(val) == 1 and {c.ytid for c in train} | {val[0].ytid} == {"c1", "c2", "c3", "c4"}
    assert bench.musiccaps_splits(clips) == (train, val, test)  # seeded
    assert bench.genre_vocabulary(clips[:4], n=1) == ["rock"]  # c1, c2
    assert bench.genre_vocabulary(clips[:4], n=2) == ["jazz", "rock"]
    split = bench.make_musiccaps_split(clips, GENRES, None, seed=0)
    avoid = dict(zip(split.queries.tolist(), bench.avoid_aspects(split), strict=True))
    assert avoid[1] == "electric guitar"  # c2 steered to rock: the rock clips' aspect outside c2's condition


def test_a_missing_or_malformed_csv_is_a_one_line_error(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))
    assert bench.main(["--world", "musiccaps"]) == 2
    assert "musiccaps-public.csv" in capsys.readouterr().err
    (tmp_path / "musiccaps").mkdir()
    (tmp_path / "musiccaps" / "musiccaps-public.csv").write_text("a,b\n1,2\n")
    assert bench.main(["--world", "musiccaps-no-genre"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a MusicCaps CSV" in err and err.count("\n") == 1
