//! Decoding audio files and streams (WAV, FLAC, MP3, Ogg Vorbis) into frames, with `symphonia`.
//!
//! The frames are those of the Python `WavReaderNode`: `frame_ms` milliseconds each
//! (`max(1, rate * frame_ms // 1000)` samples per channel, the last one shorter), float32
//! interleaved, timestamped `position / rate`. Integer PCM converts as the reference does
//! (`value / 2^(bits-1)`, 8-bit unsigned around 128), so WAV input gives bit-identical frames.
//!
//! The input is read as it is decoded, never whole: a file, stdin or any `Read`. Memory stays
//! bounded by the packet being decoded plus one frame, whatever a header claims (symphonia grows
//! its buffers with the bytes that actually arrive). Everything that can go wrong — an empty,
//! truncated or garbage input, an unsupported codec, zero channels, a rate that changes mid-way —
//! is a [`DecodeError`] that names the input and where in it.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::{AudioDecoder as SymphoniaDecoder, AudioDecoderOptions};
use symphonia::core::common::Limit;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use crate::frame::{AudioFrame, Format};

/// Where audio comes from.
pub enum AudioInput {
    /// A file, read as it is decoded.
    File(PathBuf),
    /// The process's standard input (a pipe, e.g. from `sox … -t wav -`).
    Stdin,
    /// Any byte stream, named for errors.
    Stream {
        name: String,
        reader: Box<dyn Read + Send + Sync>,
    },
}

impl AudioInput {
    /// A command-line argument: `-` is stdin, anything else a file path.
    pub fn from_arg(arg: &str) -> AudioInput {
        if arg == "-" {
            AudioInput::Stdin
        } else {
            AudioInput::File(arg.into())
        }
    }

    /// How errors name the input: the path, or `stdin`.
    pub fn name(&self) -> String {
        match self {
            AudioInput::File(path) => path.display().to_string(),
            AudioInput::Stdin => "stdin".to_owned(),
            AudioInput::Stream { name, .. } => name.clone(),
        }
    }
}

impl fmt::Debug for AudioInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AudioInput({})", self.name())
    }
}

/// The container an input turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Wav,
    Flac,
    Mp3,
    Ogg,
}

impl Container {
    fn from_short_name(name: &str) -> Option<Container> {
        match name {
            "wave" => Some(Container::Wav),
            "flac" => Some(Container::Flac),
            "mpa" | "mp3" => Some(Container::Mp3),
            "ogg" => Some(Container::Ogg),
            _ => None,
        }
    }

    /// The container a symphonia error message is about (`wav: unsupported wave format`).
    fn from_error(message: &str) -> Option<Container> {
        let (prefix, _) = message.split_once(':')?;
        match prefix {
            "wav" | "riff" => Some(Container::Wav),
            "flac" => Some(Container::Flac),
            "mpa" | "mp3" => Some(Container::Mp3),
            "ogg" | "vorbis" => Some(Container::Ogg),
            _ => None,
        }
    }

    /// `WAV`, `FLAC`, `MP3` or `Ogg`.
    pub fn name(self) -> &'static str {
        match self {
            Container::Wav => "WAV",
            Container::Flac => "FLAC",
            Container::Mp3 => "MP3",
            Container::Ogg => "Ogg",
        }
    }

    /// Whether the container states its exact length in samples, so that a file ending early is
    /// known to be truncated (MP3 and Ogg only estimate it, or do not say).
    fn states_exact_length(self) -> bool {
        matches!(self, Container::Wav | Container::Flac)
    }
}

/// Audio that cannot be read, naming the input and, once reading started, where in it.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct DecodeError {
    /// The path, or `stdin`.
    pub input: String,
    pub problem: Problem,
    /// Bytes read from the input when the problem showed.
    pub byte: Option<u64>,
    /// Seconds of audio decoded before the problem.
    pub seconds: Option<f64>,
}

impl DecodeError {
    /// `{input}: {problem} (near byte …)`; a WAV header the reference refuses reads as its
    /// message does: `cannot read WAV file '{path}': {what}`.
    fn message(&self) -> String {
        match &self.problem {
            Problem::WavHeader(what) => {
                format!("cannot read WAV file {}: {what}", py_quote(&self.input))
            }
            problem => format!("{}: {problem}{}", self.input, self.location()),
        }
    }

    fn location(&self) -> String {
        match (self.byte, self.seconds) {
            (Some(byte), Some(seconds)) => {
                format!(" (near byte {byte}, after {seconds:.3} s of audio)")
            }
            (Some(byte), None) => format!(" (near byte {byte})"),
            (None, Some(seconds)) => format!(" (after {seconds:.3} s of audio)"),
            (None, None) => String::new(),
        }
    }
}

/// What is wrong with an input.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    #[error("cannot read: {0}")]
    Read(#[source] io::Error),
    #[error("the input is empty (0 bytes)")]
    Empty,
    #[error("not a supported audio format (WAV, FLAC, MP3, Ogg Vorbis): {0}")]
    UnknownFormat(String),
    #[error("{TRUNCATED_HEADER}")]
    TruncatedHeader,
    #[error("has no audio track")]
    NoAudioTrack,
    #[error("unsupported {container} audio: {detail}")]
    Unsupported {
        container: &'static str,
        detail: String,
    },
    #[error("invalid header: {0}")]
    BadHeader(String),
    /// A WAV header the Python reader (`check_wav_format`) refuses too, in its words.
    #[error("{0}")]
    WavHeader(String),
    #[error("malformed audio data: {0}")]
    Malformed(String),
    #[error(
        "truncated: the header announces {expected} samples per channel, the data ends after {got}"
    )]
    Truncated { expected: u64, got: u64 },
    #[error("truncated: the data ends inside a packet")]
    TruncatedData,
    #[error(
        "the audio changed from {from} to {to} mid-stream; a stream keeps one rate and channel count"
    )]
    FormatChange { from: Format, to: Format },
}

const TRUNCATED_HEADER: &str = "the input ends inside its header: it is truncated, or not audio";

/// Sample rates above this are refused as a lying header (the highest studio rate is 768 kHz).
pub const MAX_SAMPLE_RATE: u32 = 1_536_000;

/// Channel counts above this are refused as a lying header.
pub const MAX_CHANNELS: usize = 256;

/// WAV writers that cannot seek back to patch the header (writing to a pipe) announce a length
/// they cannot know: sox writes 0x7ffff000 bytes, ffmpeg 0xffffffff. A WAV announcing this much
/// or more is read to its end, whatever the length says.
pub const STREAMING_WAV_LENGTH: u64 = 0x7fff_f000;

/// Reads an audio input as a stream of frames.
pub struct AudioDecoder {
    input: String,
    container: Container,
    format: Format,
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn SymphoniaDecoder>,
    track_id: u32,
    /// Samples per channel in a frame.
    frame_len: usize,
    /// The exact length the header announces, when the container states one and the input is a
    /// file (a stream writer cannot know the length it announces).
    expected_frames: Option<u64>,
    /// Decoded samples (interleaved) not yet emitted: less than a frame plus one packet.
    pending: Vec<f32>,
    /// Samples per channel emitted so far.
    emitted: u64,
    /// Samples per channel decoded so far.
    decoded: u64,
    bytes_read: Arc<AtomicU64>,
    state: State,
}

#[derive(Debug)]
enum State {
    Decoding,
    /// The input is exhausted, or failed: `pending` is being emitted, then the failure.
    Draining(Option<Box<DecodeError>>),
    Done,
}

impl fmt::Debug for AudioDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioDecoder")
            .field("input", &self.input)
            .field("container", &self.container)
            .field("format", &self.format)
            .field("frame_len", &self.frame_len)
            .finish_non_exhaustive()
    }
}

impl AudioDecoder {
    /// Opens `input` and reads its header; frames of `frame_ms` milliseconds (positive) follow.
    pub fn open(input: AudioInput, frame_ms: u32) -> Result<AudioDecoder, DecodeError> {
        let name = input.name();
        let fail = |problem| DecodeError {
            input: name.clone(),
            problem,
            byte: None,
            seconds: None,
        };
        let bytes_read = Arc::new(AtomicU64::new(0));
        let mut hint = Hint::new();
        let (source, input) = match input {
            AudioInput::File(path) => {
                if let Some(extension) = path.extension().and_then(|e| e.to_str()) {
                    hint.with_extension(extension);
                }
                let file = File::open(&path).map_err(|err| fail(Problem::Open(err)))?;
                let source = Counted::file(file, &path, Arc::clone(&bytes_read))
                    .map_err(|err| fail(Problem::Open(err)))?;
                (source, AudioInput::File(path))
            }
            AudioInput::Stdin => (
                Counted::stream(Box::new(io::stdin()), Arc::clone(&bytes_read)),
                AudioInput::Stdin,
            ),
            AudioInput::Stream { reader, name } => (
                Counted::stream(reader, Arc::clone(&bytes_read)),
                AudioInput::Stream {
                    name,
                    reader: Box::new(io::empty()),
                },
            ),
        };
        let seekable = source.is_seekable();
        let empty_file = source.byte_len() == Some(0);
        if empty_file {
            return Err(fail(Problem::Empty));
        }
        if let AudioInput::File(path) = &input
            && seekable
        {
            check_wav_chunks(path, source.byte_len().unwrap_or(0)).map_err(|err| {
                fail(match err {
                    WavCheck::Refused(what) => Problem::WavHeader(what),
                    WavCheck::Io(err) => Problem::Read(err),
                })
            })?;
        }
        let mut probed = probe(source, &hint);
        let mut seekable = seekable;
        if let (Err(SymphoniaError::IoError(err)), AudioInput::File(path)) = (&probed, &input)
            && err.kind() == io::ErrorKind::UnexpectedEof
            && seekable
        {
            // A file cut short: some readers look for its end when they open it (Ogg's last page)
            // and fail. Read it as a stream instead, up to the cut, which is reported there.
            let file = File::open(path).map_err(|err| fail(Problem::Open(err)))?;
            bytes_read.store(0, Ordering::Relaxed);
            probed = probe(
                Counted::stream(Box::new(file), Arc::clone(&bytes_read)),
                &hint,
            );
            seekable = false;
        }
        let at = |problem| DecodeError {
            input: name.clone(),
            problem,
            byte: Some(bytes_read.load(Ordering::Relaxed)),
            seconds: None,
        };
        let reader = probed.map_err(|err| {
            if bytes_read.load(Ordering::Relaxed) == 0 {
                return fail(Problem::Empty);
            }
            at(match err {
                SymphoniaError::IoError(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    Problem::TruncatedHeader
                }
                SymphoniaError::IoError(err) => Problem::Read(err),
                SymphoniaError::Unsupported(what) => match Container::from_error(what) {
                    // The container is known; what it holds is not (a codec, a variant).
                    Some(container) => Problem::Unsupported {
                        container: container.name(),
                        detail: what.to_owned(),
                    },
                    None => Problem::UnknownFormat(what.to_owned()),
                },
                other => Problem::BadHeader(other.to_string()),
            })
        })?;
        let short_name = reader.format_info().short_name;
        let container = Container::from_short_name(short_name).ok_or_else(|| {
            at(Problem::UnknownFormat(format!(
                "`{short_name}` containers are not read"
            )))
        })?;
        let track = reader
            .default_track(TrackType::Audio)
            .ok_or_else(|| at(Problem::NoAudioTrack))?;
        let Some(CodecParameters::Audio(params)) = &track.codec_params else {
            return Err(at(Problem::NoAudioTrack));
        };
        let header = |what: String| {
            if container == Container::Wav {
                Problem::WavHeader(what)
            } else {
                Problem::BadHeader(what)
            }
        };
        let sample_rate = match params.sample_rate {
            Some(rate) if (1..=MAX_SAMPLE_RATE).contains(&rate) => rate,
            Some(rate) => return Err(at(header(rate_problem(rate)))),
            None => return Err(at(Problem::BadHeader("no sample rate".to_owned()))),
        };
        let channels = params
            .channels
            .as_ref()
            .map_or(0, |channels| channels.count());
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(at(header(channels_problem(channels as u64))));
        }
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|err| {
                at(Problem::Unsupported {
                    container: container.name(),
                    detail: err.to_string(),
                })
            })?;
        let bytes_per_sample = u64::from(params.bits_per_coded_sample.unwrap_or(32).div_ceil(8));
        let expected_frames = track.num_frames.filter(|&frames| {
            let block = channels as u64 * bytes_per_sample;
            let announced = frames.saturating_mul(block);
            frames > 0
                && seekable
                && container.states_exact_length()
                && !(container == Container::Wav && announced + block > STREAMING_WAV_LENGTH)
        });
        let track_id = track.id;
        let frame_len = (u64::from(sample_rate) * u64::from(frame_ms) / 1000).max(1) as usize;
        Ok(AudioDecoder {
            input: name,
            container,
            format: Format {
                sample_rate,
                channels: channels as u32,
            },
            reader,
            decoder,
            track_id,
            frame_len,
            expected_frames,
            pending: Vec::new(),
            emitted: 0,
            decoded: 0,
            bytes_read,
            state: State::Decoding,
        })
    }

    /// The container the input turned out to be.
    pub fn container(&self) -> Container {
        self.container
    }

    /// The stream's sample rate and channel count.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The input's name, as errors give it.
    pub fn input(&self) -> &str {
        &self.input
    }

    fn error(&self, problem: Problem) -> DecodeError {
        DecodeError {
            input: self.input.clone(),
            problem,
            byte: Some(self.bytes_read.load(Ordering::Relaxed)),
            seconds: Some(self.decoded as f64 / f64::from(self.format.sample_rate)),
        }
    }

    /// Decodes the next packet into `pending`; false at the end of the input.
    fn decode_packet(&mut self) -> Result<bool, DecodeError> {
        loop {
            let packet = match self.reader.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(false),
                // The input ended before the length its header announces: the end, when that
                // length cannot be trusted (a WAV written to a pipe); else the file is truncated
                // (checked against the announced length at the end).
                Err(SymphoniaError::IoError(err)) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    if self.container == Container::Wav || self.expected_frames.is_some() {
                        return Ok(false);
                    }
                    return Err(self.error(Problem::TruncatedData));
                }
                Err(SymphoniaError::IoError(err)) => return Err(self.error(Problem::Read(err))),
                Err(SymphoniaError::ResetRequired) => {
                    return Err(self.error(Problem::Unsupported {
                        container: self.container.name(),
                        detail: "the stream starts a new track with new parameters (chained streams are not read)".to_owned(),
                    }));
                }
                Err(other) => return Err(self.error(Problem::Malformed(other.to_string()))),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let buffer = match self.decoder.decode(&packet) {
                Ok(buffer) => buffer,
                Err(SymphoniaError::IoError(err)) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(self.error(Problem::TruncatedData));
                }
                Err(err) => {
                    return Err(self
                        .format_change(&packet)
                        .unwrap_or_else(|| self.error(Problem::Malformed(err.to_string()))));
                }
            };
            let spec = buffer.spec();
            let format = Format {
                sample_rate: spec.rate(),
                channels: spec.channels().count() as u32,
            };
            let frames = buffer.frames();
            if frames == 0 {
                continue;
            }
            if format != self.format {
                let (from, to) = (self.format, format);
                return Err(self.error(Problem::FormatChange { from, to }));
            }
            let start = self.pending.len();
            self.pending
                .resize(start + buffer.samples_interleaved(), 0.0);
            buffer.copy_to_slice_interleaved(&mut self.pending[start..]);
            self.decoded += frames as u64;
            return Ok(true);
        }
    }

    /// Whether a packet the decoder refused is a change of format: decoders refuse a packet whose
    /// rate or channel count differs from the stream's (MP3 frames each state theirs). A decoder
    /// told only the codec decodes it, and says what it found.
    fn format_change(&self, packet: &symphonia::core::packet::Packet) -> Option<DecodeError> {
        let mut params = symphonia::core::codecs::audio::AudioCodecParameters::new();
        params.for_codec(self.decoder.codec_params().codec);
        let mut fresh = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .ok()?;
        let buffer = fresh.decode(packet).ok()?;
        let to = Format {
            sample_rate: buffer.spec().rate(),
            channels: buffer.spec().channels().count() as u32,
        };
        (to != self.format).then(|| {
            self.error(Problem::FormatChange {
                from: self.format,
                to,
            })
        })
    }

    /// The next `frame_len` samples per channel (fewer at the end) from `pending`.
    fn take_frame(&mut self, frames: usize) -> AudioFrame {
        let channels = self.format.channels as usize;
        let rest = self.pending.split_off(frames * channels);
        let samples = std::mem::replace(&mut self.pending, rest);
        let timestamp = self.emitted as f64 / f64::from(self.format.sample_rate);
        self.emitted += frames as u64;
        AudioFrame {
            samples,
            sample_rate: self.format.sample_rate,
            channels: self.format.channels,
            timestamp,
        }
    }

    /// The input ended before the length its header announces.
    fn truncation(&self) -> Option<DecodeError> {
        let expected = self.expected_frames?;
        (self.decoded < expected).then(|| {
            self.error(Problem::Truncated {
                expected,
                got: self.decoded,
            })
        })
    }

    fn pending_frames(&self) -> usize {
        self.pending.len() / self.format.channels as usize
    }
}

impl Iterator for AudioDecoder {
    type Item = Result<AudioFrame, DecodeError>;

    /// The next frame. An error ends the stream, after the frames decoded before it.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.state {
                State::Done => return None,
                State::Draining(_) => {
                    let frames = self.pending_frames().min(self.frame_len);
                    if frames > 0 {
                        return Some(Ok(self.take_frame(frames)));
                    }
                    let State::Draining(failure) = std::mem::replace(&mut self.state, State::Done)
                    else {
                        unreachable!("matched above")
                    };
                    return failure.map(|err| Err(*err));
                }
                State::Decoding => {
                    if self.pending_frames() >= self.frame_len {
                        return Some(Ok(self.take_frame(self.frame_len)));
                    }
                    let failure = match self.decode_packet() {
                        Ok(true) => continue,
                        Ok(false) => self.truncation(),
                        Err(err) => Some(err),
                    };
                    self.state = State::Draining(failure.map(Box::new));
                }
            }
        }
    }
}

fn rate_problem(rate: u32) -> String {
    format!("sample rate {rate} Hz (1 to {MAX_SAMPLE_RATE} Hz expected)")
}

fn channels_problem(channels: u64) -> String {
    format!("{channels} channels (1 to {MAX_CHANNELS} expected)")
}

/// Why [`check_wav_chunks`] refused a file.
enum WavCheck {
    Refused(String),
    Io(io::Error),
}

/// The checks the Python `read_wav` makes on a WAV file's header (`check_wav_format`, and
/// Python's `wave` refusing a chunk that runs past the end of the file or a format of 0
/// channels), made before symphonia reads it so that both readers refuse the same files in the
/// same words. Only a RIFF/WAVE file is looked at (anything else is left to the probe), and only
/// its chunks before `data` (the data chunk's length is checked as truncation, at its end);
/// whatever this walk cannot read is left to symphonia too.
fn check_wav_chunks(path: &Path, len: u64) -> Result<(), WavCheck> {
    let mut file = io::BufReader::new(File::open(path).map_err(WavCheck::Io)?);
    let mut head = [0u8; 12];
    if read_full(&mut file, &mut head).map_err(WavCheck::Io)? < head.len()
        || &head[0..4] != b"RIFF"
        || &head[8..12] != b"WAVE"
    {
        return Ok(());
    }
    let mut position = 12u64;
    loop {
        let mut chunk = [0u8; 8];
        if read_full(&mut file, &mut chunk).map_err(WavCheck::Io)? < chunk.len() {
            return Ok(());
        }
        let size = u64::from(u32::from_le_bytes(chunk[4..8].try_into().expect("4 bytes")));
        let body = position + 8;
        if &chunk[0..4] == b"data" {
            return Ok(());
        }
        if body + size > len {
            // The format chunk is read, not skipped: a file ending inside it is cut short.
            return Err(WavCheck::Refused(if &chunk[0..4] == b"fmt " {
                TRUNCATED_HEADER.to_owned()
            } else {
                "a chunk's size runs past the end of the file".to_owned()
            }));
        }
        if &chunk[0..4] == b"fmt " && size >= 8 {
            let mut format = [0u8; 8];
            read_full(&mut file, &mut format).map_err(WavCheck::Io)?;
            let channels = u16::from_le_bytes([format[2], format[3]]);
            let rate = u32::from_le_bytes(format[4..8].try_into().expect("4 bytes"));
            // In the reference's order: `wave` refuses 0 channels, then the rate, then too many.
            if channels == 0 {
                return Err(WavCheck::Refused(channels_problem(0)));
            }
            if !(1..=MAX_SAMPLE_RATE).contains(&rate) {
                return Err(WavCheck::Refused(rate_problem(rate)));
            }
            if usize::from(channels) > MAX_CHANNELS {
                return Err(WavCheck::Refused(channels_problem(channels.into())));
            }
        }
        // Chunks are word-aligned: an odd size is followed by a pad byte.
        position = body + size + (size & 1);
        file.seek(SeekFrom::Start(position)).map_err(WavCheck::Io)?;
    }
}

/// Reads into `buf` until it is full or the input ends; how many bytes were read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// A string as Python's `repr` quotes it (the reference's messages quote paths so).
fn py_quote(text: &str) -> String {
    // Single quotes, unless the text holds one and no double quote.
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push(quote);
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c == quote => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                quoted.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => quoted.push(c),
        }
    }
    quoted.push(quote);
    quoted
}

/// Finds the container of `source` and opens its reader.
fn probe(source: Counted, hint: &Hint) -> Result<Box<dyn FormatReader>, SymphoniaError> {
    let stream = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
    // Tags and pictures are of no use here: keep what they may hold in memory small.
    let metadata = MetadataOptions::default()
        .limit_tag_bytes(Limit::Maximum(64 * 1024))
        .limit_visual_bytes(Limit::Maximum(0));
    symphonia::default::get_probe().probe(hint, stream, FormatOptions::default(), metadata)
}

/// A media source that counts the bytes read from it, so errors can say where they happened.
struct Counted {
    inner: Inner,
    position: Arc<AtomicU64>,
    len: Option<u64>,
}

enum Inner {
    File(File),
    Stream(Box<dyn Read + Send + Sync>),
}

impl Counted {
    fn file(file: File, path: &Path, position: Arc<AtomicU64>) -> io::Result<Counted> {
        let metadata = file.metadata()?;
        if metadata.is_dir() {
            return Err(io::Error::other(format!(
                "`{}` is a directory",
                path.display()
            )));
        }
        // A FIFO or a device is read as a stream.
        let len = metadata.is_file().then_some(metadata.len());
        Ok(Counted {
            inner: if len.is_some() {
                Inner::File(file)
            } else {
                Inner::Stream(Box::new(file))
            },
            position,
            len,
        })
    }

    fn stream(reader: Box<dyn Read + Send + Sync>, position: Arc<AtomicU64>) -> Counted {
        Counted {
            inner: Inner::Stream(reader),
            position,
            len: None,
        }
    }
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = loop {
            let result = match &mut self.inner {
                Inner::File(file) => file.read(buf),
                Inner::Stream(stream) => stream.read(buf),
            };
            match result {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.position.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

impl Seek for Counted {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match &mut self.inner {
            Inner::File(file) => {
                let position = file.seek(pos)?;
                self.position.store(position, Ordering::Relaxed);
                Ok(position)
            }
            Inner::Stream(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a stream cannot seek",
            )),
        }
    }
}

impl MediaSource for Counted {
    fn is_seekable(&self) -> bool {
        matches!(self.inner, Inner::File(_))
    }

    fn byte_len(&self) -> Option<u64> {
        self.len
    }
}
