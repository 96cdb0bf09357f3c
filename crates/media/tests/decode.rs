//! The decoder on real files: WAV of every integer width and float, FLAC, MP3, Ogg Vorbis, from a
//! file and from a stream, and on bad media of every kind.

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use common::{TempDir, riff, wav_header};
use remotemedia_media::AudioFrame;
use remotemedia_media::decode::{AudioDecoder, AudioInput, Container, DecodeError, Problem};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn decode_all(input: AudioInput, frame_ms: u32) -> (Vec<AudioFrame>, Option<DecodeError>) {
    let decoder = match AudioDecoder::open(input, frame_ms) {
        Ok(decoder) => decoder,
        Err(err) => return (Vec::new(), Some(err)),
    };
    let mut frames = Vec::new();
    for item in decoder {
        match item {
            Ok(frame) => frames.push(frame),
            Err(err) => return (frames, Some(err)),
        }
    }
    (frames, None)
}

fn samples(frames: &[AudioFrame]) -> Vec<f32> {
    frames
        .iter()
        .flat_map(|f| f.samples.iter().copied())
        .collect()
}

/// Integer samples spanning the whole range of `bits`, extremes included.
fn test_ints(bits: u16, count: usize) -> Vec<i32> {
    let max = (1i64 << (bits - 1)) - 1;
    let min = -(1i64 << (bits - 1));
    let mut values = vec![min as i32, max as i32, 0, -1, 1];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    while values.len() < count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values.push((min + (state % (max - min + 1) as u64) as i64) as i32);
    }
    values
}

#[test]
fn wav_integer_widths_convert_as_the_python_reader_does() {
    let dir = TempDir::new("widths");
    for bits in [8u16, 16, 24, 32] {
        for (channels, rate) in [(1u16, 8000u32), (2, 44100), (3, 22050)] {
            let path = dir.path(&format!("w{bits}-{channels}.wav"));
            let count = 1003 * channels as usize; // not a whole number of 20 ms frames
            let ints = test_ints(bits, count);
            let spec = hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: bits,
                sample_format: hound::SampleFormat::Int,
            };
            let mut writer = hound::WavWriter::create(&path, spec).unwrap();
            for &v in &ints {
                match bits {
                    8 => writer.write_sample(v as i8).unwrap(),
                    16 => writer.write_sample(v as i16).unwrap(),
                    _ => writer.write_sample(v).unwrap(),
                }
            }
            writer.finalize().unwrap();

            let (frames, error) = decode_all(AudioInput::File(path), 20);
            assert!(error.is_none(), "{bits}-bit: {error:?}");
            // As Python: (byte - 128) / 128.0 for 8-bit, value / 2^(bits-1) otherwise, in float64,
            // stored as float32.
            let expected: Vec<f32> = ints
                .iter()
                .map(|&v| (f64::from(v) / f64::from(1u32 << (bits - 1))) as f32)
                .collect();
            assert_eq!(samples(&frames).len(), expected.len());
            assert!(
                samples(&frames)
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{bits}-bit {channels}-channel samples differ"
            );
            let frame_len = (rate * 20 / 1000) as usize;
            for (i, frame) in frames.iter().enumerate() {
                assert_eq!(frame.sample_rate, rate);
                assert_eq!(frame.channels, u32::from(channels));
                assert_eq!(frame.timestamp, (i * frame_len) as f64 / f64::from(rate));
                if i + 1 < frames.len() {
                    assert_eq!(frame.frames(), frame_len);
                }
            }
            assert_eq!(frames.last().unwrap().frames(), 1003 % frame_len);
        }
    }
}

#[test]
fn float_wav_is_read_as_is() {
    let dir = TempDir::new("float");
    let path = dir.path("f.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let values: Vec<f32> = (0..700).map(|i| ((i as f32) * 0.01).sin() * 0.9).collect();
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for &v in &values {
        writer.write_sample(v).unwrap();
    }
    writer.finalize().unwrap();
    let (frames, error) = decode_all(AudioInput::File(path), 10);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(samples(&frames), values);
    assert_eq!(frames.len(), 5); // 160, 160, 160, 160, 60
}

#[test]
fn a_stream_decodes_like_the_file() {
    let bytes = std::fs::read(data("tone.wav")).unwrap();
    let (from_file, _) = decode_all(AudioInput::File(data("tone.wav")), 20);
    let (from_stream, error) = decode_all(
        AudioInput::Stream {
            name: "pipe".into(),
            reader: Box::new(Cursor::new(bytes)),
        },
        20,
    );
    assert!(error.is_none(), "{error:?}");
    assert_eq!(from_stream, from_file);
    assert_eq!(from_file.len(), 25); // 0.5 s in 20 ms frames
}

#[test]
fn flac_is_bit_identical_to_the_wav_it_was_made_from() {
    let (wav, _) = decode_all(AudioInput::File(data("tone.wav")), 20);
    let decoder = AudioDecoder::open(AudioInput::File(data("tone.flac")), 20).unwrap();
    assert_eq!(decoder.container(), Container::Flac);
    let flac: Vec<AudioFrame> = decoder.map(Result::unwrap).collect();
    assert_eq!(flac, wav);
}

#[test]
fn lossy_formats_give_the_same_stream_within_their_loss() {
    let (wav, _) = decode_all(AudioInput::File(data("tone.wav")), 20);
    let reference = samples(&wav);
    for (name, container) in [("tone.mp3", Container::Mp3), ("tone.ogg", Container::Ogg)] {
        let decoder = AudioDecoder::open(AudioInput::File(data(name)), 20).unwrap();
        assert_eq!(decoder.container(), container);
        let frames: Vec<AudioFrame> = decoder.map(Result::unwrap).collect();
        assert_eq!(
            (frames[0].sample_rate, frames[0].channels),
            (22050, 2),
            "{name}"
        );
        let decoded = samples(&frames);
        // Encoder delay and padding are trimmed: the same length as the original.
        assert_eq!(decoded.len(), reference.len(), "{name}");
        let error: f64 = decoded
            .iter()
            .zip(&reference)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / reference.len() as f64;
        let power: f64 =
            reference.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / reference.len() as f64;
        let snr = 10.0 * (power / error).log10();
        assert!(snr > 15.0, "{name}: signal-to-error {snr:.1} dB");
    }
}

fn problem(input: AudioInput) -> (usize, DecodeError) {
    let (frames, error) = decode_all(input, 20);
    (frames.len(), error.expect("an error"))
}

fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> AudioInput {
    let path = dir.path(name);
    std::fs::write(&path, bytes).unwrap();
    AudioInput::File(path)
}

#[test]
fn empty_and_garbage_inputs_are_named_errors() {
    let dir = TempDir::new("bad");
    let (_, err) = problem(file(&dir, "empty.wav", b""));
    assert!(matches!(err.problem, Problem::Empty), "{err}");
    assert!(err.to_string().contains("empty.wav"), "{err}");

    let (_, err) = problem(AudioInput::Stream {
        name: "stdin".into(),
        reader: Box::new(Cursor::new(Vec::new())),
    });
    assert_eq!(err.to_string(), "stdin: the input is empty (0 bytes)");

    let mut state = 7u32;
    let garbage: Vec<u8> = (0..65536)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        })
        .collect();
    let (frames, err) = problem(file(&dir, "garbage.bin", &garbage));
    assert_eq!(frames, 0);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", dir.path("garbage.bin").display())),
        "{err}"
    );

    let (_, err) = problem(file(&dir, "text.wav", b"hello, this is not audio at all\n"));
    assert!(matches!(err.problem, Problem::UnknownFormat(_)), "{err}");
}

#[test]
fn a_truncated_wav_gives_its_frames_then_says_so() {
    let dir = TempDir::new("truncated");
    // The header announces 16000 frames of 16-bit mono; 4000 are there.
    let mut bytes = wav_header(1, 1, 16000, 16, 32000);
    bytes.extend(std::iter::repeat_n(0x10u8, 8000));
    let (frames, err) = problem(file(&dir, "cut.wav", &bytes));
    assert_eq!(frames, 13); // 12 whole 20 ms frames and the 160 samples after them
    match err.problem {
        Problem::Truncated {
            expected: 16000,
            got: 4000,
        } => {}
        other => panic!("unexpected {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("cut.wav") && message.contains("near byte 8044"),
        "{message}"
    );

    // The same bytes through a pipe: a stream writer cannot know its length (sox announces
    // 2 GB), so the stream simply ends.
    let (frames, error) = decode_all(
        AudioInput::Stream {
            name: "stdin".into(),
            reader: Box::new(Cursor::new(bytes)),
        },
        20,
    );
    assert_eq!((frames.len(), error.is_none()), (13, true));
}

#[test]
fn lying_and_impossible_headers_are_refused() {
    let dir = TempDir::new("headers");
    // Refused as the Python reader refuses them, in its words (`check_wav_format`).
    let refused = |name: &str, bytes: &[u8], what: &str| {
        let (_, err) = problem(file(&dir, name, bytes));
        assert!(
            matches!(&err.problem, Problem::WavHeader(got) if got == what),
            "{err}"
        );
        let path = dir.path(name);
        assert_eq!(
            err.to_string(),
            format!("cannot read WAV file '{}': {what}", path.display())
        );
    };
    refused(
        "zero-channels.wav",
        &wav_header(1, 0, 16000, 16, 0),
        "0 channels (1 to 256 expected)",
    );
    refused(
        "257-channels.wav",
        &wav_header(1, 257, 16000, 16, 0),
        "257 channels (1 to 256 expected)",
    );
    refused(
        "zero-rate.wav",
        &wav_header(1, 1, 0, 16, 0),
        "sample rate 0 Hz (1 to 1536000 Hz expected)",
    );
    refused(
        "fast.wav",
        &wav_header(1, 1, 4_000_000_000, 16, 0),
        "sample rate 4000000000 Hz (1 to 1536000 Hz expected)",
    );
    refused(
        "cut-in-fmt.wav",
        &wav_header(1, 1, 16000, 16, 0)[..30],
        "the input ends inside its header: it is truncated, or not audio",
    );
    let mut list = wav_header(1, 1, 16000, 16, 0);
    list.truncate(36); // before the data chunk: a LIST chunk claiming 4 GB
    list.extend(b"LIST\xf0\xff\xff\xffINFO");
    list.extend(b"data\0\0\0\0");
    refused(
        "list-past-end.wav",
        &list,
        "a chunk's size runs past the end of the file",
    );

    // An unknown codec (format tag 0x0055: MP3 inside WAV).
    let (_, err) = problem(file(
        &dir,
        "mp3-in-wav.wav",
        &wav_header(0x55, 1, 16000, 16, 0),
    ));
    assert!(
        matches!(
            err.problem,
            Problem::Unsupported { .. } | Problem::BadHeader(_)
        ),
        "{err}"
    );

    // A data chunk claiming 1.5 GB in a 1 KB file is truncated …
    let mut bytes = wav_header(1, 1, 16000, 16, 1_500_000_000);
    bytes.extend(vec![0u8; 1000]);
    let (frames, err) = problem(file(&dir, "data-1.5gb.wav", &bytes));
    assert_eq!(frames, 2);
    assert!(
        matches!(err.problem, Problem::Truncated { got: 500, .. }),
        "{err}"
    );
    // … while 4 GB is what writers to a pipe announce: read to the end.
    let mut bytes = wav_header(1, 1, 16000, 16, u32::MAX);
    bytes.extend(vec![0u8; 1000]);
    let (frames, error) = decode_all(file(&dir, "data-4gb.wav", &bytes), 20);
    assert_eq!((frames.len(), error.is_none()), (2, true));

    // A LIST chunk claiming 4 GB before the format chunk.
    let bytes = riff(&[(
        b"LIST",
        u32::MAX - 8,
        b"INFOISFT\x04\x00\x00\x00abc\x00".as_slice(),
    )]);
    let (_, err) = problem(file(&dir, "list-4gb.wav", &bytes));
    assert!(err.to_string().contains("list-4gb.wav"), "{err}");
}

#[test]
fn a_rate_change_mid_stream_is_an_error_after_the_first_part() {
    let (frames, err) = problem(AudioInput::File(data("ratechange.mp3")));
    assert!(frames > 0);
    assert!(
        frames.is_multiple_of(1) && matches!(err.problem, Problem::FormatChange { .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("16000 Hz, 1 channel(s) to 44100 Hz, 1 channel(s)")
            && message.contains("ratechange.mp3"),
        "{message}"
    );
}

#[test]
fn a_truncated_flac_says_so() {
    let dir = TempDir::new("flac");
    let bytes = std::fs::read(data("tone.flac")).unwrap();
    let (frames, err) = problem(file(&dir, "half.flac", &bytes[..bytes.len() / 2]));
    assert!(frames > 0 && frames < 25, "{frames} frames");
    assert!(
        matches!(
            err.problem,
            Problem::Truncated {
                expected: 11025,
                ..
            } | Problem::TruncatedData
        ),
        "{err}"
    );
}

/// Reads at most `step` bytes per call, as a pipe from a slow writer does.
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    step: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn short_reads_from_a_pipe_lose_nothing() {
    let (from_file, _) = decode_all(AudioInput::File(data("tone.wav")), 20);
    for name in ["tone.wav", "tone.flac", "tone.mp3", "tone.ogg"] {
        let (reference, _) = decode_all(AudioInput::File(data(name)), 20);
        for step in [1, 7, 333, 4097] {
            let (frames, error) = decode_all(
                AudioInput::Stream {
                    name: "pipe".into(),
                    reader: Box::new(Trickle {
                        bytes: std::fs::read(data(name)).unwrap(),
                        at: 0,
                        step,
                    }),
                },
                20,
            );
            assert!(error.is_none(), "{name} in reads of {step}: {error:?}");
            assert_eq!(
                samples(&frames),
                samples(&reference),
                "{name} in reads of {step}"
            );
        }
    }
    assert_eq!(from_file.len(), 25);
}
