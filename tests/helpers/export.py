"""Reading exported playlists back: the XSPF schema and namespace, and an extended-M3U parser."""

from __future__ import annotations

from pathlib import Path

XSD = Path(__file__).resolve().parents[1] / "recommend" / "schemas" / "xspf-1.xsd"
NS = {"x": "http://xspf.org/ns/0/"}


def parse_m3u8(text: str) -> list[tuple[int, str, str]]:
    """(seconds, name, url) per entry of an extended M3U: a #EXTINF line, then the URL line."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    entries, info = [], None
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            seconds, name = line[len("#EXTINF:"):].split(",", 1)
            info = (int(seconds), name)
        elif line and not line.startswith("#"):
            assert info is not None, f"{line} has no #EXTINF line before it"
            entries.append((*info, line))
            info = None
    return entries
