//! The native engine: the catalogue's audio nodes run as Rust, behind the runtime's engine
//! contract.
//!
//! Each node takes the params and items its Python class takes and gives the same outputs (see
//! the module of each algorithm); invalid params and items get the same messages, raised as the
//! same exception types (`ConfigurationError`, `NodeError`). Placement asks [`support`] whether a
//! node runs here: a node type with a native implementation runs natively unless a param asks
//! for something the native node does not do, and then its Python class runs instead.

use indexmap::IndexMap;
use remotemedia_core::engine::{Emitter, Engine, NodeError, NodeInstance, NodeSpec};
use remotemedia_core::value::{Array, Buffer, Value};

use crate::decode::{AudioDecoder, AudioInput, Container};
use crate::frame::{AudioFrame, Format, FrameRef, MAX_CHANNELS, MAX_SAMPLE_RATE};
use crate::resample::{LinearResampler, Resampled};
use crate::sinc::{SincConfig, SincResampler};
use crate::transforms::{Gain, mix_down};
use crate::vad::{EnergyVad, EnergyVadConfig, Segment};
use crate::wav::WavWriter;

/// The engine's name in plans, metrics and errors.
pub const ENGINE_NAME: &str = "native";

/// The node types the native engine implements.
pub const NODE_TYPES: &[&str] = &[
    "WavReaderNode",
    "AudioReaderNode",
    "WavWriterNode",
    "MixDownNode",
    "GainNode",
    "ResampleNode",
    "SincResampleNode",
    "EnergyVADNode",
];

/// The only Kaiser `beta` the native sinc resampler stands for: its window (Blackman-Harris²)
/// attenuates at least as much as the reference's default; other betas ask for another trade-off.
const SINC_DEFAULT_BETA: f64 = 8.6;

/// Whether the native engine runs a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// It does.
    Native,
    /// No native implementation of this node type.
    NotImplemented,
    /// A native implementation exists, but not for these params (why, for `plan`).
    Unsupported(String),
}

/// Whether the native engine runs a node of `node_type` (a catalogue name; `module` must be
/// empty) with `params`. Invalid values are supported: the native node rejects them as the
/// Python class does. Params the Python class does not take are left to it, to report.
pub fn support<'a>(
    node_type: &str,
    module: Option<&str>,
    params: impl IntoIterator<Item = (&'a str, &'a serde_json::Value)>,
) -> Support {
    if module.is_some() || !NODE_TYPES.contains(&node_type) {
        return Support::NotImplemented;
    }
    let known: &[&str] = match node_type {
        "WavReaderNode" | "AudioReaderNode" => &["path", "frame_ms"],
        "WavWriterNode" => &["path"],
        "MixDownNode" => &[],
        "GainNode" => &["gain_db"],
        "ResampleNode" => &["target_rate"],
        "SincResampleNode" => &["target_rate", "zero_crossings", "rolloff", "beta"],
        "EnergyVADNode" => &[
            "threshold_db",
            "window_ms",
            "min_speech_ms",
            "min_silence_ms",
        ],
        _ => return Support::NotImplemented,
    };
    for (name, value) in params {
        if !known.contains(&name) {
            return Support::Unsupported(format!("{node_type} takes no param `{name}`"));
        }
        if node_type == "SincResampleNode"
            && name == "beta"
            && value.as_f64().is_some_and(|beta| beta != SINC_DEFAULT_BETA)
        {
            return Support::Unsupported(format!(
                "the native SincResampleNode has no Kaiser window: only the default beta {SINC_DEFAULT_BETA}, not {value}"
            ));
        }
    }
    Support::Native
}

/// Runs the native nodes.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeEngine;

impl Engine for NativeEngine {
    fn name(&self) -> &str {
        ENGINE_NAME
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        let params = Params {
            values: &spec.params,
        };
        let id = spec.id.clone();
        let node: Box<dyn NodeInstance> = match spec.node_type.as_str() {
            "WavReaderNode" | "AudioReaderNode" => Box::new(Reader {
                id,
                wav_only: spec.node_type == "WavReaderNode",
                path: params.optional_str("path")?,
                frame_ms: params.positive_int(
                    "frame_ms",
                    20,
                    "frame_ms must be a positive integer",
                )?,
            }),
            "WavWriterNode" => {
                let path = match spec.params.get("path") {
                    Some(Value::Str(path)) if !path.is_empty() => path.to_string(),
                    other => {
                        return Err(config_error(format!(
                            "WavWriterNode needs a file path, got {}",
                            py_repr(other.unwrap_or(&Value::Null))
                        )));
                    }
                };
                Box::new(Writer {
                    id,
                    path: path.clone(),
                    writer: WavWriter::new(path),
                })
            }
            "MixDownNode" => Box::new(Stateless { id, gain: None }),
            "GainNode" => {
                let gain_db = params.number("gain_db", 0.0, "gain_db must be a finite number")?;
                if !gain_db.is_finite() {
                    return Err(config_error(format!(
                        "gain_db must be a finite number, got {}",
                        py_repr(&spec.params["gain_db"])
                    )));
                }
                Box::new(Stateless {
                    id,
                    gain: Some(Gain::from_db(gain_db)),
                })
            }
            "ResampleNode" => Box::new(Linear {
                id,
                resampler: LinearResampler::new(params.positive_int(
                    "target_rate",
                    16000,
                    "target_rate must be a positive integer (Hz)",
                )?),
            }),
            "SincResampleNode" => Box::new(Sinc {
                id,
                resampler: SincResampler::new(sinc_config(&params)?),
            }),
            "EnergyVADNode" => Box::new(Vad {
                id,
                vad: EnergyVad::new(vad_config(&params)?),
            }),
            other => {
                return Err(NodeError::exception(
                    "ConfigurationError",
                    format!("the native engine has no node `{other}`"),
                ));
            }
        };
        Ok(node)
    }
}

fn sinc_config(params: &Params<'_>) -> Result<SincConfig, NodeError> {
    let target_rate = params.positive_int(
        "target_rate",
        16000,
        "target_rate must be a positive integer (Hz)",
    )?;
    let zero_crossings = match params.values.get("zero_crossings") {
        None => 16,
        Some(Value::Int(value)) if (1..=64).contains(value) => *value,
        Some(_) => {
            return Err(params.invalid(
                "zero_crossings",
                "zero_crossings must be an integer from 1 to 64",
            ));
        }
    };
    let rolloff = params.number("rolloff", 0.945, "rolloff must be in (0, 1]")?;
    if !(rolloff > 0.0 && rolloff <= 1.0) {
        return Err(params.invalid("rolloff", "rolloff must be in (0, 1]"));
    }
    let beta = params.number("beta", SINC_DEFAULT_BETA, "beta must be in [0, 50]")?;
    if !(0.0..=50.0).contains(&beta) {
        return Err(params.invalid("beta", "beta must be in [0, 50]"));
    }
    Ok(SincConfig {
        target_rate,
        zero_crossings: zero_crossings as u32,
        rolloff,
    })
}

fn vad_config(params: &Params<'_>) -> Result<EnergyVadConfig, NodeError> {
    let millis = |name: &str, default: u32, minimum: i64| -> Result<u32, NodeError> {
        let kind = if minimum > 0 {
            "positive"
        } else {
            "non-negative"
        };
        let message = format!("{name} must be a {kind} integer (milliseconds)");
        match params.values.get(name) {
            None => Ok(default),
            Some(Value::Int(value)) if *value >= minimum && *value <= i64::from(u32::MAX) => {
                Ok(*value as u32)
            }
            Some(_) => Err(params.invalid(name, &message)),
        }
    };
    // Checked in the Python class's order, so the first complaint is the same.
    let window_ms = millis("window_ms", 30, 1)?;
    let min_speech_ms = millis("min_speech_ms", 150, 0)?;
    let min_silence_ms = millis("min_silence_ms", 400, 0)?;
    let threshold_db = match params.values.get("threshold_db") {
        None => -40.0,
        Some(Value::Int(value)) => *value as f64,
        Some(Value::Float(value)) => *value,
        Some(_) => {
            return Err(params.invalid("threshold_db", "threshold_db must be a number (dBFS)"));
        }
    };
    Ok(EnergyVadConfig {
        threshold_db,
        window_ms,
        min_speech_ms,
        min_silence_ms,
    })
}

/// A node's params, read as its Python class reads its keyword arguments.
struct Params<'a> {
    values: &'a IndexMap<String, Value>,
}

impl Params<'_> {
    /// `ConfigurationError: {message}, got {repr(value)}`.
    fn invalid(&self, name: &str, message: &str) -> NodeError {
        let value = self.values.get(name).unwrap_or(&Value::Null);
        config_error(format!("{message}, got {}", py_repr(value)))
    }

    fn optional_str(&self, name: &str) -> Result<Option<String>, NodeError> {
        Ok(match self.values.get(name) {
            Some(Value::Str(value)) => Some(value.to_string()),
            // The Python readers check the path when they read it, not before: so does this.
            _ => None,
        })
    }

    fn positive_int(&self, name: &str, default: u32, message: &str) -> Result<u32, NodeError> {
        match self.values.get(name) {
            None => Ok(default),
            Some(Value::Int(value)) if *value > 0 && *value <= i64::from(u32::MAX) => {
                Ok(*value as u32)
            }
            Some(_) => Err(self.invalid(name, message)),
        }
    }

    fn number(&self, name: &str, default: f64, message: &str) -> Result<f64, NodeError> {
        match self.values.get(name) {
            None => Ok(default),
            Some(Value::Int(value)) => Ok(*value as f64),
            Some(Value::Float(value)) => Ok(*value),
            Some(_) => Err(self.invalid(name, message)),
        }
    }
}

fn config_error(message: String) -> NodeError {
    NodeError::exception("ConfigurationError", message)
}

fn node_error(message: String) -> NodeError {
    NodeError::exception("NodeError", message)
}

/// `repr()` of the Python value a [`Value`] stands for, as the Python classes quote bad values.
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Int(value) => value.to_string(),
        Value::BigInt(value) => value.to_string(),
        Value::Float(value) if value.is_nan() => "nan".to_owned(),
        Value::Float(value) if value.is_infinite() => {
            if *value > 0.0 { "inf" } else { "-inf" }.to_owned()
        }
        Value::Float(value) => format!("{value:?}"),
        Value::Str(value) => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Bytes(_) => "b'…'".to_owned(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(key, value)| format!("'{key}': {}", py_repr(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(array) => format!("array('{}', …)", array.typecode()),
    }
}

/// [`py_repr`], cut to 40 characters as the Python frames quote a bad value.
fn short_repr(value: &Value) -> String {
    let text = py_repr(value);
    if text.chars().count() <= 40 {
        return text;
    }
    let head: String = text.chars().take(37).collect();
    format!("{head}...")
}

/// The Python type name of the value a [`Value`] stands for.
fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::BigInt(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) => "str",
        Value::Bytes(_) => "bytes",
        Value::List(_) => "list",
        Value::Map(_) => "dict",
        Value::Array(_) => "array",
    }
}

/// An incoming audio frame, checked as `Frame.from_item` checks it.
struct InFrame {
    samples: Buffer<f32>,
    format: Format,
    timestamp: f64,
}

impl InFrame {
    fn from_item(item: &Value, node: &str) -> Result<InFrame, NodeError> {
        let map = match item {
            Value::Map(map)
                if ["samples", "sample_rate", "channels"]
                    .iter()
                    .all(|key| map.contains_key(*key)) =>
            {
                map
            }
            other => {
                return Err(node_error(format!(
                    "{node} expects an audio frame (a dict with samples, sample_rate, channels), got {}",
                    py_type(other)
                )));
            }
        };
        let (sample_rate, channels) = match (&map["sample_rate"], &map["channels"]) {
            (Value::Int(rate), Value::Int(channels))
                if (1..=i64::from(MAX_SAMPLE_RATE)).contains(rate)
                    && (1..=i64::from(MAX_CHANNELS)).contains(channels) =>
            {
                (*rate as u32, *channels as u32)
            }
            (rate, channels) => {
                return Err(node_error(format!(
                    "{node}: invalid audio frame: sample_rate={}, channels={} (integers from 1 to \
                     {MAX_SAMPLE_RATE} Hz and from 1 to {MAX_CHANNELS} channels expected)",
                    short_repr(rate),
                    short_repr(channels)
                )));
            }
        };
        // Frames from every audio node carry float32 arrays; other numbers are rounded to float32.
        let samples: Buffer<f32> = match &map["samples"] {
            Value::Array(Array::F32(samples)) => samples.clone(),
            Value::Array(Array::F64(samples)) => samples.iter().map(|&v| v as f32).collect(),
            Value::Array(Array::I16(samples)) => samples.iter().map(|&v| f32::from(v)).collect(),
            Value::Array(Array::I32(samples)) => samples.iter().map(|&v| v as f32).collect(),
            Value::Array(Array::I64(samples)) => samples.iter().map(|&v| v as f32).collect(),
            Value::List(items) => items
                .iter()
                .map(|item| match item {
                    Value::Float(v) => Ok(*v as f32),
                    Value::Int(v) => Ok(*v as f32),
                    other => Err(node_error(format!(
                        "{node}: audio samples must be numbers, got {}",
                        py_type(other)
                    ))),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(node_error(format!(
                    "{node}: audio samples must be an array of numbers, got {}",
                    py_type(other)
                )));
            }
        };
        if !samples.len().is_multiple_of(channels as usize) {
            return Err(node_error(format!(
                "{node}: {} samples do not divide into {channels} channels",
                samples.len()
            )));
        }
        let timestamp = match map.get("timestamp") {
            None => 0.0,
            Some(Value::Float(value)) => *value,
            Some(Value::Int(value)) => *value as f64,
            Some(other) => {
                return Err(node_error(format!(
                    "{node}: the frame's timestamp must be a number, got {}",
                    py_type(other)
                )));
            }
        };
        Ok(InFrame {
            samples,
            format: Format {
                sample_rate,
                channels,
            },
            timestamp,
        })
    }

    fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            samples: &self.samples,
            format: self.format,
            timestamp: self.timestamp,
        }
    }

    /// The frame as it goes on (`Frame.to_item()`), sharing its samples.
    fn to_value(&self) -> Value {
        frame_value(
            Array::F32(self.samples.clone()),
            self.format,
            self.timestamp,
        )
    }
}

/// The frame item `{"samples", "sample_rate", "channels", "timestamp"}`.
pub fn frame_value(samples: Array, format: Format, timestamp: f64) -> Value {
    let mut map = IndexMap::with_capacity(4);
    map.insert("samples".to_owned(), Value::Array(samples));
    map.insert(
        "sample_rate".to_owned(),
        Value::Int(i64::from(format.sample_rate)),
    );
    map.insert(
        "channels".to_owned(),
        Value::Int(i64::from(format.channels)),
    );
    map.insert("timestamp".to_owned(), Value::Float(timestamp));
    Value::Map(map)
}

/// A decoded frame as an item.
pub fn audio_frame_value(frame: AudioFrame) -> Value {
    let format = Format {
        sample_rate: frame.sample_rate,
        channels: frame.channels,
    };
    frame_value(Array::F32(frame.samples.into()), format, frame.timestamp)
}

fn segment_value(segment: Segment) -> Value {
    let mut map = IndexMap::with_capacity(2);
    map.insert("start".to_owned(), Value::Float(segment.start));
    map.insert("end".to_owned(), Value::Float(segment.end));
    Value::Map(map)
}

/// `WavReaderNode` and `AudioReaderNode`: the item is a path, or None for the `path` param.
struct Reader {
    id: String,
    wav_only: bool,
    path: Option<String>,
    frame_ms: u32,
}

impl NodeInstance for Reader {
    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let path = match (&item, &self.path) {
            (Value::Str(path), _) => path.to_string(),
            (Value::Null, Some(path)) => path.clone(),
            (other, _) => {
                let what = if self.wav_only {
                    "a WAV file"
                } else {
                    "an audio file"
                };
                return Err(node_error(format!(
                    "{} expects {what} path (str) or None for its `path` parameter, got {}",
                    self.id,
                    py_type(other)
                )));
            }
        };
        let decoder = AudioDecoder::open(AudioInput::File(path.clone().into()), self.frame_ms)
            .map_err(|err| node_error(format!("{}: {err}", self.id)))?;
        if self.wav_only && decoder.container() != Container::Wav {
            return Err(node_error(format!(
                "{}: {path} is {}, not WAV (AudioReaderNode reads WAV, FLAC, MP3 and Ogg Vorbis)",
                self.id,
                decoder.container().name()
            )));
        }
        for frame in decoder {
            let frame = frame.map_err(|err| node_error(format!("{}: {err}", self.id)))?;
            out.emit(audio_frame_value(frame))?;
        }
        Ok(())
    }
}

/// `WavWriterNode`: writes frames, then emits the file's summary at end of stream.
struct Writer {
    id: String,
    path: String,
    writer: WavWriter,
}

impl NodeInstance for Writer {
    fn process(&mut self, item: Value, _out: &mut dyn Emitter) -> Result<(), NodeError> {
        let frame = InFrame::from_item(&item, &self.id)?;
        self.writer
            .write(frame.as_ref())
            .map_err(|err| node_error(format!("{}: {err}", self.id)))
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let summary = self
            .writer
            .finish()
            .map_err(|err| node_error(format!("{}: {err}", self.id)))?;
        if let Some(summary) = summary {
            let mut map = IndexMap::with_capacity(5);
            map.insert("path".to_owned(), Value::Str(self.path.as_str().into()));
            map.insert(
                "sample_rate".to_owned(),
                Value::Int(i64::from(summary.format.sample_rate)),
            );
            map.insert(
                "channels".to_owned(),
                Value::Int(i64::from(summary.format.channels)),
            );
            map.insert("frames".to_owned(), Value::Int(summary.frames as i64));
            map.insert("duration".to_owned(), Value::Float(summary.duration));
            out.emit(Value::Map(map))?;
        }
        Ok(())
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        // After a failure, what was written stays a valid file.
        self.writer
            .finish()
            .map(|_| ())
            .map_err(|err| node_error(format!("{}: {err}", self.id)))
    }
}

/// `MixDownNode` (no gain) and `GainNode`.
struct Stateless {
    id: String,
    gain: Option<Gain>,
}

impl NodeInstance for Stateless {
    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let frame = InFrame::from_item(&item, &self.id)?;
        let value = match self.gain {
            Some(gain) => frame_value(
                Array::F32(gain.apply(&frame.samples).into()),
                frame.format,
                frame.timestamp,
            ),
            None if frame.format.channels > 1 => {
                let mono = Format {
                    channels: 1,
                    ..frame.format
                };
                let samples = mix_down(&frame.samples, frame.format.channels as usize);
                frame_value(Array::F32(samples.into()), mono, frame.timestamp)
            }
            None => frame.to_value(),
        };
        out.emit(value)?;
        Ok(())
    }
}

/// `ResampleNode`.
struct Linear {
    id: String,
    resampler: LinearResampler,
}

impl NodeInstance for Linear {
    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        resample_item(&self.id, &item, out, |frame| self.resampler.process(frame))
    }
}

/// Passes one frame item through `resample` and emits what it gives: the same frame when the
/// stream is already at the target rate, a new frame, or nothing yet.
fn resample_item<E: std::fmt::Display>(
    id: &str,
    item: &Value,
    out: &mut dyn Emitter,
    resample: impl FnOnce(FrameRef<'_>) -> Result<Resampled, E>,
) -> Result<(), NodeError> {
    let frame = InFrame::from_item(item, id)?;
    match resample(frame.as_ref()).map_err(|err| node_error(format!("{id}: {err}")))? {
        Resampled::Unchanged => out.emit(frame.to_value())?,
        Resampled::Frame(frame) => out.emit(audio_frame_value(frame))?,
        Resampled::Nothing => {}
    }
    Ok(())
}

/// `SincResampleNode`.
struct Sinc {
    id: String,
    resampler: SincResampler,
}

impl NodeInstance for Sinc {
    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        resample_item(&self.id, &item, out, |frame| self.resampler.process(frame))
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let tail = self
            .resampler
            .flush()
            .map_err(|err| node_error(format!("{}: {err}", self.id)))?;
        if let Some(frame) = tail {
            out.emit(audio_frame_value(frame))?;
        }
        Ok(())
    }
}

/// `EnergyVADNode`.
struct Vad {
    id: String,
    vad: EnergyVad,
}

impl NodeInstance for Vad {
    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        let frame = InFrame::from_item(&item, &self.id)?;
        let segments = self
            .vad
            .process(frame.as_ref())
            .map_err(|err| node_error(format!("{}: {err}", self.id)))?;
        for segment in segments {
            out.emit(segment_value(segment))?;
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        for segment in self.vad.flush() {
            out.emit(segment_value(segment))?;
        }
        Ok(())
    }
}
