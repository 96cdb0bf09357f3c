"""Reading and writing WAV files (PCM) as streams of audio frames."""

from __future__ import annotations

import sys
import wave
from array import array
from collections.abc import Iterator
from typing import Any

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import MAX_CHANNELS, MAX_SAMPLE_RATE, Frame, StreamFormat

_INT16_MAX = 32767


class WavReaderNode(Node):
    """Reads a PCM WAV file and emits it as frames of `frame_ms` milliseconds (the last may be shorter).

    The input item is the file's path; an item of None reads the `path` parameter instead, so a
    pipeline can name its file in the manifest. 8-, 16-, 24- and 32-bit integer PCM are read.
    """

    def __init__(self, path: str | None = None, frame_ms: int = 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(frame_ms, int) or isinstance(frame_ms, bool) or frame_ms <= 0:
            raise ConfigurationError(f"frame_ms must be a positive integer, got {frame_ms!r}")
        self.path = path
        self.frame_ms = frame_ms

    _file_kind = "a WAV file"
    """What the path names, for the error on an input that is not one."""

    def process(self, data: Any) -> Iterator[dict[str, Any]]:
        path = self.path if data is None else data
        if not isinstance(path, str):
            raise NodeError(
                f"{self.name} expects {self._file_kind} path (str) or None for its `path` parameter, "
                f"got {type(data).__name__}"
            )
        yield from self._frames(path)

    def _frames(self, path: str) -> Iterator[dict[str, Any]]:
        return read_wav(path, self.frame_ms, self.name)


def read_wav(path: str, frame_ms: int, node: str) -> Iterator[dict[str, Any]]:
    """The frames of the PCM WAV file at `path`, `frame_ms` long (the last may be shorter).

    A file that ends before the length its header announces is truncated: its frames are given,
    then a NodeError says so — unless the length is the placeholder of a writer that could not
    seek back to patch it (see STREAMING_WAV_LENGTH), when the file is read to its end.
    """
    try:
        reader = wave.open(path, "rb")
    except wave.Error as exc:
        if str(exc) == "bad # of channels":  # `wave`'s words for 0 channels; the native reader's are these
            raise NodeError(f"cannot read WAV file {path!r}: 0 channels (1 to {MAX_CHANNELS} expected)") from exc
        raise NodeError(f"cannot read WAV file {path!r}: {exc}") from exc
    except EOFError as exc:  # a bare EOFError: the file ends inside a chunk `wave` reads
        raise NodeError(
            f"cannot read WAV file {path!r}: the input ends inside its header: it is truncated, or not audio"
        ) from exc
    except OSError as exc:
        raise NodeError(f"cannot read WAV file {path!r}: {exc}") from exc
    except RuntimeError as exc:  # the wave module's bare error for a chunk running past its parent
        raise NodeError(f"cannot read WAV file {path!r}: a chunk's size runs past the end of the file") from exc
    with reader:
        channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
        check_wav_format(path, channels, rate)
        frames_per_chunk = max(1, rate * frame_ms // 1000)
        frame_size = channels * width
        position = 0
        while True:
            chunk = reader.readframes(frames_per_chunk)
            whole = len(chunk) - len(chunk) % frame_size
            if not whole:
                break
            samples = pcm_to_float(chunk[:whole], width)
            yield Frame(samples, rate, channels, position / rate).to_item()
            position += len(samples) // channels
        announced = reader.getnframes()
        if position < announced and announced * frame_size + frame_size <= STREAMING_WAV_LENGTH:
            raise NodeError(
                f"{node}: WAV file {path!r} is truncated: the header announces {announced} samples per channel, "
                f"the data ends after {position}"
            )


STREAMING_WAV_LENGTH = 0x7FFFF000
"""WAV writers that cannot seek back to patch the header (writing to a pipe) announce a length they
cannot know: sox writes 0x7ffff000 bytes, ffmpeg 0xffffffff. Lengths this large mean "read to the end"."""


def check_wav_format(path: str, channels: int, rate: int) -> None:
    """Refuse a header whose rate or channel count no frame may carry (see `frames.Frame`), saying which."""
    if not 1 <= rate <= MAX_SAMPLE_RATE:
        raise NodeError(f"cannot read WAV file {path!r}: sample rate {rate} Hz (1 to {MAX_SAMPLE_RATE} Hz expected)")
    if not 1 <= channels <= MAX_CHANNELS:
        raise NodeError(f"cannot read WAV file {path!r}: {channels} channels (1 to {MAX_CHANNELS} expected)")


class WavWriterNode(Node):
    """Writes the incoming frames to `path` as 16-bit PCM.

    The file takes the first frame's rate and channel count (later frames must match). At end of
    stream the file is completed and the node emits one summary
    `{"path", "sample_rate", "channels", "frames", "duration"}` — it is meant as a sink, or as
    one branch of a fan-out. A stream without any frame writes no file and emits nothing.
    """

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(path, str) or not path:
            raise ConfigurationError(f"WavWriterNode needs a file path, got {path!r}")
        self.path = path
        self._writer: Any = None
        self._stream = StreamFormat()
        self._frames = 0

    def process(self, data: Any) -> None:
        frame = Frame.from_item(data, self.name)
        if self._stream.accept(frame, self.name):
            self._writer = wave.open(self.path, "wb")
            self._writer.setnchannels(frame.channels)
            self._writer.setsampwidth(2)
            self._writer.setframerate(frame.sample_rate)
        self._writer.writeframes(float_to_pcm16(frame.samples))
        self._frames += len(frame.samples) // frame.channels

    def flush(self) -> dict[str, Any] | None:
        if not self._stream.sample_rate:
            return None
        self._close()
        stream = self._stream
        return {
            "path": self.path,
            "sample_rate": stream.sample_rate,
            "channels": stream.channels,
            "frames": self._frames,
            "duration": round(self._frames / stream.sample_rate, 3),
        }

    def cleanup(self) -> None:
        self._close()  # after a failure, keep what was written as a valid file

    def _close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()


def pcm_to_float(data: bytes, width: int) -> array:
    """Little-endian integer PCM bytes → float32 samples in [-1, 1)."""
    if width == 1:  # 8-bit WAV is unsigned
        return array("f", [(byte - 128) / 128.0 for byte in data])
    if width == 2:
        return array("f", [value / 32768.0 for value in _little_endian(array("h"), data)])
    if width == 3:
        return array(
            "f", [int.from_bytes(data[i : i + 3], "little", signed=True) / 8388608.0 for i in range(0, len(data), 3)]
        )
    if width == 4:
        return array("f", [value / 2147483648.0 for value in _little_endian(_int32_array(), data)])
    raise NodeError(f"unsupported WAV sample width: {width} bytes")


def float_to_pcm16(samples: Any) -> bytes:
    """Float samples → little-endian 16-bit PCM, clipped to the representable range."""
    pcm = array("h", [round(max(-1.0, min(1.0, value)) * _INT16_MAX) for value in samples])
    if sys.byteorder == "big":
        pcm.byteswap()
    return pcm.tobytes()


def _little_endian(target: array, data: bytes) -> array:
    target.frombytes(data)
    if sys.byteorder == "big":
        target.byteswap()
    return target


def _int32_array() -> array:
    return array("i") if array("i").itemsize == 4 else array("l")
