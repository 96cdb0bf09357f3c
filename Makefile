# The two set-up commands of the README are `make demo` and `make test`.
# One cargo profile (release) for everything: RustPython is heavy to build and slow unoptimised.

CARGO ?= cargo
PYTHON ?= python3
# Cargo.lock pins parser crates that declare rust-version 1.96 but build on 1.95 (see .cargo/config.toml).
CARGO_FLAGS := --release --locked --ignore-rust-version
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BIN := $(TARGET_DIR)/release/remotemedia
export REMOTEMEDIA_BIN := $(abspath $(BIN))
# The SDK's sources are compiled into the binary (crates/python-sdk), and cargo rebuilds on any file below
# python/: bytecode written there by the tests would rebuild the crates that embed the SDK mid-run.
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: build demo test test-rust test-python python-deps bench fuzz

# The whole workspace, in the one profile the tests use too: the binary, the CPython bridge it loads at
# run time (libremotemedia_cpython_bridge.so, kept next to it) and the Python extension module.
build:
	$(CARGO) build $(CARGO_FLAGS) --workspace

# The main job on bundled examples: the seed pipeline serialized by the SDK (embedded RustPython), then
# an MP3 streamed in with --audio -> mono -> 16 kHz -> VAD segments + a WAV recording, every node native
# Rust, no Python started; then the same audio transcribed offline, Whisper (tiny.en from the pinned model
# package) on the CPython the binary loads at run time, the audio nodes in-process — plan shows which runs where.
demo: build python-deps
	PYTHONPATH=python $(PYTHON) examples/seed_pipeline.py > $(TARGET_DIR)/seed_manifest.json
	$(BIN) run $(TARGET_DIR)/seed_manifest.json --input 10
	$(BIN) run examples/manifests/speech_audio.json --audio examples/audio/speech.mp3
	@echo "speech segments above (seconds); 16 kHz mono recording written to speech-16k-mono.wav"
	$(BIN) plan examples/manifests/transcribe.json
	HF_HUB_OFFLINE=1 REMOTEMEDIA_PYTHON=$$(command -v $(PYTHON)) $(BIN) run examples/manifests/transcribe.json --input null
	@echo "transcript above, one line per speech segment; subtitles written to speech-transcript.srt"

test: test-rust test-python

test-rust:
	$(CARGO) test $(CARGO_FLAGS) --workspace

test-python: build python-deps
	$(PYTHON) -m pytest

python-deps:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps silero-vad

# The runtime against CPython, side by side (benchmarks/README.md): builds the release artefacts once,
# prints the table, rewrites benchmarks/results.md and results.json. The CPython contenders need the test
# requirements (numpy for array passing). BENCH_ARGS=--quick for a smoke run.
bench: python-deps
	$(PYTHON) -m benchmarks $(BENCH_ARGS)

# Coverage-guided fuzzing with AFL++ (cargo afl, stable toolchain; fuzz/README.md): builds the
# instrumented targets in fuzz/target, fuzzes them side by side for FUZZ_SECONDS (default 60), prints
# executions and coverage; a crash or hang fails it. FUZZ_TARGETS="manifest protocol" picks some.
fuzz:
	fuzz/run.sh
