"""Voice activity detection with Silero VAD's ONNX model, run by onnxruntime (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from remotemedia.core.exceptions import ConfigurationError, NodeError
from remotemedia.core.node import Node
from remotemedia.nodes.audio.frames import Frame, StreamFormat
from remotemedia.nodes.audio.segments import SpeechSegments, check_durations
from remotemedia.nodes.ml.requirements import import_dependency

# The model judges 512-sample windows at 16 kHz (256 at 8 kHz), each preceded by the last 64 (32)
# samples of the previous one, and carries a recurrent state of shape (2, 1, 128) between them.
WINDOW = {16000: 512, 8000: 256}
CONTEXT = {16000: 64, 8000: 32}
INSTALL = "pip install --no-deps silero-vad onnxruntime numpy"


class SileroVADNode(Node):
    """Emits speech segments `{"start": s, "end": s}` found by the Silero VAD neural network.

    Uses the ONNX model shipped inside the `silero-vad` package (`silero_vad/data/<model>`), or a
    path to another copy, with onnxruntime directly: the package's own Python code needs torch,
    so install it without dependencies (`pip install --no-deps silero-vad onnxruntime numpy`).
    Needs mono 16 or 8 kHz audio. A window is speech from `threshold` up, and stays speech down to
    `threshold - 0.15` (hysteresis, as Silero's own segmenter does); windows become segments as
    in the EnergyVADNode. Runs in CPython.
    """

    runtime_hint = "cpython"

    def __init__(self, threshold: float = 0.5, min_speech_ms: int = 250, min_silence_ms: int = 400,
                 model: str = "silero_vad.onnx", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold < 1:
            raise ConfigurationError(f"threshold must be a probability in (0, 1), got {threshold!r}")
        check_durations(type(self).__name__, min_speech_ms=min_speech_ms, min_silence_ms=min_silence_ms)
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"model must be a file name in silero_vad/data or a path, got {model!r}")
        self.threshold = float(threshold)
        self.model = model
        self._segments = SpeechSegments(min_speech_ms / 1000, min_silence_ms / 1000)
        self._stream = StreamFormat()
        self._np: Any = None
        self._session: Any = None
        self._state: Any = None
        self._context: Any = None
        self._pending: Any = None
        self._judged = 0
        self._speaking = False

    def initialize(self) -> None:
        np = self._np = import_dependency("numpy", "numpy", type(self).__name__)
        onnxruntime = import_dependency("onnxruntime", "onnxruntime", type(self).__name__)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one node, one core: other nodes run on the others
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the model's unused initializers are warned about on load
        self._session = onnxruntime.InferenceSession(str(self._model_path()), sess_options=options,
                                                     providers=["CPUExecutionProvider"])
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def _model_path(self) -> Path:
        given = Path(self.model)
        if given.is_absolute() or given.parent != Path("."):
            if not given.is_file():
                raise ConfigurationError(f"{self.name}: Silero VAD model {given} does not exist")
            return given
        import importlib.util

        # find_spec locates the package without importing it: its __init__ imports torch.
        spec = importlib.util.find_spec("silero_vad")
        if spec is None or not spec.submodule_search_locations:
            raise ConfigurationError(f"{type(self).__name__} needs the model from the 'silero-vad' package: {INSTALL}")
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / self.model
        if not path.is_file():
            raise ConfigurationError(f"{self.name}: the silero-vad package has no data/{self.model}")
        return path

    def process(self, data: Any) -> Iterator[dict[str, float]]:
        frame = Frame.from_item(data, self.name)
        if self._stream.accept(frame, self.name):
            if frame.channels != 1 or frame.sample_rate not in WINDOW:
                raise NodeError(f"{self.name} needs mono audio at 16 or 8 kHz, got {frame.sample_rate} Hz with "
                                f"{frame.channels} channel(s); add MixDownNode and SincResampleNode(target_rate=16000)")
            self._context = self._np.zeros(CONTEXT[frame.sample_rate], dtype=self._np.float32)
        np = self._np
        self._pending = np.concatenate([self._pending, np.asarray(frame.samples, dtype=np.float32)])
        rate = self._stream.sample_rate
        window = WINDOW[rate]
        while len(self._pending) >= window:
            chunk, self._pending = self._pending[:window], self._pending[window:]
            begin = self._stream.start + self._judged / rate
            self._judged += window
            yield from self._segments.add(begin, self._stream.start + self._judged / rate, self._is_speech(chunk))

    def flush(self) -> Iterator[dict[str, float]]:
        yield from self._segments.finish()

    def _is_speech(self, chunk: Any) -> bool:
        np = self._np
        rate = self._stream.sample_rate
        model_input = np.concatenate([self._context, chunk])[None, :]
        probability, self._state = self._session.run(
            None, {"input": model_input, "state": self._state, "sr": np.array(rate, dtype=np.int64)})
        self._context = chunk[-len(self._context):]
        level = float(probability[0][0])
        self._speaking = level >= (self.threshold - 0.15 if self._speaking else self.threshold)
        return self._speaking
