"""The subtitle writer: SRT and WebVTT cues from timed text, passing every item on."""

from __future__ import annotations

import pytest
from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.subtitles import SubtitleWriterNode

ITEMS = [
    {"start": 0.27, "end": 1.59, "text": "Hello and welcome.", "language": "en"},
    {"start": 2.0, "end": 2.5, "text": "   ", "language": "en"},
    {"start": 3661.5, "end": 3662.25, "text": "Two\n\nlines --> here", "language": "en"},
]


def test_srt_numbers_cues_and_passes_items_on(tmp_path):
    path = tmp_path / "out.srt"
    assert Pipeline("subs").add_node(SubtitleWriterNode(path=str(path))).run(ITEMS) == ITEMS
    assert path.read_text() == (
        "1\n00:00:00,270 --> 00:00:01,590\nHello and welcome.\n\n"
        "2\n01:01:01,500 --> 01:01:02,250\nTwo\nlines -> here\n\n"
    )


def test_webvtt_follows_the_extension(tmp_path):
    path = tmp_path / "out.vtt"
    Pipeline("subs").add_node(SubtitleWriterNode(path=str(path))).run(ITEMS[:1])
    assert path.read_text() == "WEBVTT\n\n00:00:00.270 --> 00:00:01.590\nHello and welcome.\n\n"


def test_a_run_without_speech_leaves_a_file_without_cues(tmp_path):
    path = tmp_path / "out.srt"
    Pipeline("subs").add_node(SubtitleWriterNode(path=str(path))).run([])
    assert path.read_text() == ""


@pytest.mark.parametrize(
    "item, message",
    [
        ("text", "expects timed text"),
        ({"start": 2.0, "end": 1.0, "text": "x"}, "0 <= start <= end"),
        ({"start": 0, "end": 1, "text": 5}, "text must be a string"),
    ],
)
def test_bad_items_name_the_node(tmp_path, item, message):
    with pytest.raises(NodeError, match=message):
        Pipeline("subs").add_node(SubtitleWriterNode(name="subs", path=str(tmp_path / "s.srt"))).run([item])


def test_bad_parameters(tmp_path):
    with pytest.raises(ConfigurationError, match="format must be one of srt, vtt"):
        SubtitleWriterNode(path="x.txt", format="ass")
    with pytest.raises(NodeError, match="cannot write subtitles to"):
        Pipeline("subs").add_node(SubtitleWriterNode(path=str(tmp_path / "no" / "dir.srt"))).run([])
