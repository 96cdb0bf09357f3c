"""Reading any audio file — WAV, FLAC, MP3, Ogg Vorbis — as a stream of audio frames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from remotemedia.core.exceptions import NodeError
from remotemedia.nodes.audio.frames import Frame
from remotemedia.nodes.audio.wav import WavReaderNode, read_wav


class AudioReaderNode(WavReaderNode):
    """Reads an audio file (WAV, FLAC, MP3, Ogg Vorbis) and emits it as frames of `frame_ms`
    milliseconds (the last may be shorter), the frames WavReaderNode emits for a WAV file.

    Its parameters and inputs are WavReaderNode's: the input item is the file's path; an item of
    None reads the `path` parameter instead. The runtime decodes every format natively (in Rust, no
    Python package needed). In Python, PCM WAV files are read with the standard library's `wave`;
    the other formats (and float WAV) need the `soundfile` package (pip install soundfile).
    """

    _file_kind = "an audio file"

    def _frames(self, path: str) -> Iterator[dict[str, Any]]:
        if _is_pcm_wav(path):
            return read_wav(path, self.frame_ms, self.name)
        return self._read_with_soundfile(path)

    def _read_with_soundfile(self, path: str) -> Iterator[dict[str, Any]]:
        try:
            import soundfile
        except ImportError as exc:
            raise NodeError(
                f"{self.name}: reading {path!r} needs the 'soundfile' package (pip install soundfile), which "
                "is not installed; the standard library reads only PCM WAV. The remotemedia runtime reads "
                "WAV, FLAC, MP3 and Ogg Vorbis natively."
            ) from exc
        from array import array

        try:
            info = soundfile.info(path)
            rate, channels = info.samplerate, info.channels
            frames_per_chunk = max(1, rate * self.frame_ms // 1000)
            position = 0
            for block in soundfile.blocks(path, blocksize=frames_per_chunk, dtype="float32", always_2d=True):
                samples = array("f", block.tobytes())
                yield Frame(samples, rate, channels, position / rate).to_item()
                position += len(block)
        except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
            raise NodeError(f"{self.name}: cannot read audio file {path!r}: {exc}") from exc


def _is_pcm_wav(path: str) -> bool:
    """A RIFF/WAVE file with integer PCM samples (what `wave` reads), by its header."""
    try:
        with open(path, "rb") as file:
            header = file.read(22)
    except OSError as exc:
        raise NodeError(f"cannot read audio file {path!r}: {exc}") from exc
    return len(header) == 22 and header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt " and header[20:22] == b"\x01\x00"
