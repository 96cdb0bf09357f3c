"""A spoken test corpus made on the spot with espeak-ng and sox, and the word error rate.

Sentences are spoken in two voices at two speeds (every combination occurs), trimmed of
espeak's own silence and joined with `GAP_SECONDS` of silence into one 16 kHz mono 16-bit WAV,
so a VAD finds one segment per sentence. Where each sentence starts and ends is known by
construction, as in examples/audio.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

SENTENCES = (
    "The weather is nice today, so we will walk to the park.",
    "Please send the report to my office before noon.",
    "She bought three apples and a loaf of bread.",
    "The train to the city leaves every hour.",
    "We are going to meet our friends for dinner tonight.",
    "Turn off the lights when you leave the room.",
)
VOICES = ("en-us", "en-gb")
SPEEDS = (140, 175)  # words per minute
RATE = 16000
LEAD_SECONDS = 0.5
GAP_SECONDS = 1.0


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: str
    speed: int
    start: float
    end: float


@dataclass(frozen=True)
class Corpus:
    wav: Path
    utterances: tuple[Utterance, ...]

    @property
    def text(self) -> str:
        return " ".join(utterance.text for utterance in self.utterances)


def make_corpus(directory: Path, sentences: tuple[str, ...] = SENTENCES) -> Corpus:
    """Speak `sentences` into `directory`/corpus.wav; voices and speeds cycle through all pairs."""
    for tool, package in (("espeak-ng", "espeak-ng"), ("sox", "sox")):
        if shutil.which(tool) is None:
            raise RuntimeError(f"the speech corpus needs `{tool}`: apt-get install {package}")
    pairs = cycle([(voice, speed) for speed in SPEEDS for voice in VOICES])
    pieces: list[Path] = []
    utterances = []
    position = LEAD_SECONDS
    for index, (sentence, (voice, speed)) in enumerate(zip(sentences, pairs)):
        raw, trimmed = directory / f"raw{index}.wav", directory / f"sentence{index}.wav"
        _run("espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), sentence)
        # Trim espeak's leading and trailing silence, at the corpus rate, so the gaps are exact.
        _run("sox", str(raw), "-r", str(RATE), "-b", "16", str(trimmed),
             "silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse")
        duration = float(_run("soxi", "-D", str(trimmed)))
        utterances.append(Utterance(sentence, voice, speed, round(position, 3), round(position + duration, 3)))
        position += duration + GAP_SECONDS
        pieces.append(trimmed)
    gap = directory / "gap.wav"
    _run("sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(gap), "trim", "0", str(GAP_SECONDS))
    joined = [str(part) for piece in pieces for part in (piece, gap)][:-1]
    wav = directory / "corpus.wav"
    _run("sox", *joined, str(wav), "pad", str(LEAD_SECONDS), str(LEAD_SECONDS))
    return Corpus(wav, tuple(utterances))


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def words(text: str) -> list[str]:
    """Lower-case words without punctuation: "Good-bye, Bob!" → ["good", "bye", "bob"]."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions turning `reference` into `hypothesis` (word Levenshtein)."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER: all errors over all reference words, for (reference, hypothesis) pairs."""
    errors = sum(word_errors(reference, hypothesis) for reference, hypothesis in pairs)
    total = sum(len(words(reference)) for reference, _ in pairs)
    return errors / total
