//! Audio frames as the nodes pass them on, and the stream format that the stateful nodes hold
//! them to.

use std::fmt;

/// A run of interleaved float32 samples, as every audio node emits it: the same parts as the
/// Python frame dict `{"samples", "sample_rate", "channels", "timestamp"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    /// Interleaved samples, nominally in [-1, 1].
    pub samples: Vec<f32>,
    /// Samples per second, per channel.
    pub sample_rate: u32,
    /// Channels interleaved in `samples`.
    pub channels: u32,
    /// Seconds from the start of the stream to the frame's first sample.
    pub timestamp: f64,
}

impl AudioFrame {
    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }

    /// A borrowed view, as the processing nodes take their input.
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            samples: &self.samples,
            format: Format {
                sample_rate: self.sample_rate,
                channels: self.channels,
            },
            timestamp: self.timestamp,
        }
    }
}

/// A frame's parts, borrowed: what the processing nodes read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameRef<'a> {
    pub samples: &'a [f32],
    pub format: Format,
    pub timestamp: f64,
}

/// Sample rate and channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub sample_rate: u32,
    pub channels: u32,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz, {} channel(s)", self.sample_rate, self.channels)
    }
}

/// The highest sample rate a frame may declare (Hz), as the Python frames check it: 8× the
/// highest studio rate. Far beyond it a rate is a mistake or an attack, and the nodes' buffers
/// and outputs scale with it.
pub const MAX_SAMPLE_RATE: u32 = 1_536_000;

/// The most channels a frame may declare.
pub const MAX_CHANNELS: u32 = 256;

/// The most a resampler multiplies a frame's length (8 kHz → 384 kHz passes): a frame claiming
/// 1 Hz resampled to 16 kHz would turn kilobytes of input into hundreds of megabytes.
pub const MAX_UPSAMPLING: u32 = 64;

/// A resampling whose output would be more than [`MAX_UPSAMPLING`] times its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "resampling {from} Hz to {to} Hz would make the frame {} times larger (at most {MAX_UPSAMPLING})",
    to / from
)]
pub struct TooMuchUpsampling {
    pub from: u32,
    pub to: u32,
}

/// Refuses to resample `from` Hz (positive) to `to` Hz when the output would exceed
/// [`MAX_UPSAMPLING`] times the input.
pub fn check_resampling(from: u32, to: u32) -> Result<(), TooMuchUpsampling> {
    if u64::from(to) > u64::from(from) * u64::from(MAX_UPSAMPLING) {
        return Err(TooMuchUpsampling { from, to });
    }
    Ok(())
}

/// The format of a stream, fixed by its first frame: nodes that keep state across frames
/// (resampling, detection, writing a file) cannot follow a change of rate or channel count.
#[derive(Debug, Clone, Default)]
pub struct StreamFormat {
    first: Option<(Format, f64)>,
}

/// A frame whose rate or channel count differs from the stream's first frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the stream changed from {from} to {to}")]
pub struct FormatChange {
    pub from: Format,
    pub to: Format,
}

impl StreamFormat {
    /// Checks `frame` against the stream; true for the stream's first frame.
    pub fn accept(&mut self, frame: &FrameRef<'_>) -> Result<bool, FormatChange> {
        match self.first {
            None => {
                self.first = Some((frame.format, frame.timestamp));
                Ok(true)
            }
            Some((format, _)) if format == frame.format => Ok(false),
            Some((format, _)) => Err(FormatChange {
                from: format,
                to: frame.format,
            }),
        }
    }

    /// The stream's format, once a frame has arrived.
    pub fn format(&self) -> Option<Format> {
        self.first.map(|(format, _)| format)
    }

    /// The timestamp of the stream's first frame (0 before any frame).
    pub fn start(&self) -> f64 {
        self.first.map_or(0.0, |(_, start)| start)
    }
}
