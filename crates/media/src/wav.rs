//! Writing a stream of frames to a 16-bit PCM WAV file (`WavWriterNode`), with `hound`.
//!
//! Samples convert as the Python reference does — clipped to [-1, 1], times 32767, rounded half
//! to even — so the samples written are identical. For mono and stereo the file is identical byte
//! for byte too (both write the 44-byte PCM header); with more channels `hound` writes the
//! WAVE_FORMAT_EXTENSIBLE header that format requires, where Python's `wave` writes plain PCM.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::frame::{Format, FormatChange, FrameRef, StreamFormat};
use crate::pyfloat;

/// A file being written.
#[derive(Debug, thiserror::Error)]
pub enum WavWriteError {
    #[error("cannot write WAV file `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: hound::Error,
    },
    #[error("`{path}`: {source}")]
    FormatChange {
        path: PathBuf,
        #[source]
        source: FormatChange,
    },
    #[error("cannot write WAV file `{path}`: {channels} channels (a WAV file holds at most 65535)")]
    TooManyChannels { path: PathBuf, channels: u32 },
}

/// What was written, once the file is complete.
#[derive(Debug, Clone, PartialEq)]
pub struct WavSummary {
    pub path: PathBuf,
    pub format: Format,
    /// Samples per channel.
    pub frames: u64,
    /// Seconds, rounded to the millisecond.
    pub duration: f64,
}

/// Writes the incoming frames to `path`. The file is created at the first frame and takes its
/// format; later frames must match. Dropping the writer completes the file (after a failure,
/// what was written stays a valid file).
pub struct WavWriter {
    path: PathBuf,
    stream: StreamFormat,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    frames: u64,
}

impl std::fmt::Debug for WavWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavWriter")
            .field("path", &self.path)
            .field("open", &self.writer.is_some())
            .field("frames", &self.frames)
            .finish()
    }
}

impl WavWriter {
    pub fn new(path: impl AsRef<Path>) -> WavWriter {
        WavWriter {
            path: path.as_ref().to_owned(),
            stream: StreamFormat::default(),
            writer: None,
            frames: 0,
        }
    }

    /// Appends one frame.
    pub fn write(&mut self, frame: FrameRef<'_>) -> Result<(), WavWriteError> {
        let first = self
            .stream
            .accept(&frame)
            .map_err(|source| WavWriteError::FormatChange {
                path: self.path.clone(),
                source,
            })?;
        if first {
            let channels = u16::try_from(frame.format.channels).map_err(|_| {
                WavWriteError::TooManyChannels {
                    path: self.path.clone(),
                    channels: frame.format.channels,
                }
            })?;
            let spec = hound::WavSpec {
                channels,
                sample_rate: frame.format.sample_rate,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            self.writer = Some(hound::WavWriter::create(&self.path, spec).map_err(|e| self.io(e))?);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Ok(()); // closed by `finish`: nothing more is written
        };
        let mut samples = writer.get_i16_writer(frame.samples.len() as u32);
        for &value in frame.samples {
            samples.write_sample(to_pcm16(value));
        }
        let result = samples.flush();
        result.map_err(|e| self.io(e))?;
        self.frames += (frame.samples.len() / frame.format.channels as usize) as u64;
        Ok(())
    }

    /// Completes the file; `None` when no frame came (then no file is written).
    pub fn finish(&mut self) -> Result<Option<WavSummary>, WavWriteError> {
        let Some(writer) = self.writer.take() else {
            return Ok(None);
        };
        writer.finalize().map_err(|e| self.io(e))?;
        let format = self.stream.format().expect("a frame was written");
        Ok(Some(WavSummary {
            path: self.path.clone(),
            format,
            frames: self.frames,
            duration: pyfloat::round3(self.frames as f64 / f64::from(format.sample_rate)),
        }))
    }

    fn io(&self, source: hound::Error) -> WavWriteError {
        WavWriteError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// A float sample as 16-bit PCM: `round(max(-1, min(1, value)) * 32767)`, ties to even.
fn to_pcm16(value: f32) -> i16 {
    let value = f64::from(value);
    let clipped = if value < 1.0 { value } else { 1.0 };
    let clipped = if clipped > -1.0 { clipped } else { -1.0 };
    (clipped * 32767.0).round_ties_even() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm16_rounds_half_to_even_and_clips() {
        assert_eq!(to_pcm16(1.5), 32767);
        assert_eq!(to_pcm16(-2.0), -32767);
        assert_eq!(to_pcm16(0.5), 16384); // 16383.5 → 16384 (even)
        assert_eq!(to_pcm16(f32::NAN), 32767); // as Python: min(1.0, nan) is 1.0
    }
}
