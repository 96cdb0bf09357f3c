//! Band-limited resampling (`SincResampleNode`) with `rubato`'s windowed-sinc resampler.
//!
//! The Python reference computes a Kaiser-windowed sinc polyphase filter with numpy. `rubato`
//! has no Kaiser window, so the native node uses the same cutoff — `rolloff` of the lower Nyquist
//! frequency — with a squared Blackman-Harris window, cubic interpolation between 256 precomputed
//! phases, in float64. That window's main lobe is about twice as wide as the reference's Kaiser
//! (beta 8.6), so the filter is twice as long — `4 × ceil(zero_crossings / cutoff)` input samples
//! — which gives a transition band no wider than the reference's and far less aliasing (the
//! benchmark's sinc_quality row: at 48 → 16 kHz, -0.34 dB at 6.9 kHz against the reference's
//! -0.68 dB, aliases below -150 dB against -89 dB). The outputs therefore differ from the
//! reference slightly near the cutoff; the differential tests pin the tolerance. The stream has the reference's timing: its
//! delay is removed, the output has `ceil(inputs × target / source)` samples per channel, and
//! frames are timestamped from the stream's start.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::frame::{
    AudioFrame, FormatChange, FrameRef, StreamFormat, TooMuchUpsampling, check_resampling,
};
use crate::resample::Resampled;

/// The filter's settings (the node's params).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SincConfig {
    pub target_rate: u32,
    /// Sinc lobes kept on each side, 1 to 64.
    pub zero_crossings: u32,
    /// Cutoff as a fraction of the lower Nyquist frequency, in (0, 1].
    pub rolloff: f64,
}

impl Default for SincConfig {
    fn default() -> Self {
        SincConfig {
            target_rate: 16000,
            zero_crossings: 16,
            rolloff: 0.945,
        }
    }
}

/// The resampler failed (it reports no failure for the buffers this module gives it; the error
/// is kept rather than a panic).
#[derive(Debug, thiserror::Error)]
pub enum SincError {
    #[error(transparent)]
    FormatChange(#[from] FormatChange),
    #[error(transparent)]
    TooMuchUpsampling(#[from] TooMuchUpsampling),
    #[error("cannot resample from {from} Hz to {to} Hz: {detail}")]
    Resampler { from: u32, to: u32, detail: String },
}

/// Input frames handed to the resampler per call.
const CHUNK: usize = 1024;

/// Converts a stream to the target rate through a windowed-sinc low-pass filter.
#[derive(Debug)]
pub struct SincResampler {
    config: SincConfig,
    stream: StreamFormat,
    running: Option<Running>,
}

struct Running {
    resampler: Async<f64>,
    source_rate: u32,
    channels: usize,
    /// Input samples (interleaved) not yet handed to the resampler.
    fifo: Vec<f64>,
    /// Output frames still to drop: the resampler's delay.
    delay: usize,
    /// Input frames received.
    inputs: u64,
    /// Output frames emitted.
    produced: u64,
    output: Vec<f64>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("source_rate", &self.source_rate)
            .field("channels", &self.channels)
            .field("inputs", &self.inputs)
            .field("produced", &self.produced)
            .finish_non_exhaustive()
    }
}

impl SincResampler {
    pub fn new(config: SincConfig) -> SincResampler {
        SincResampler {
            config,
            stream: StreamFormat::default(),
            running: None,
        }
    }

    /// Resamples one frame; the output lags the input by up to one internal chunk.
    pub fn process(&mut self, frame: FrameRef<'_>) -> Result<Resampled, SincError> {
        let first = self.stream.accept(&frame)?;
        if frame.format.sample_rate == self.config.target_rate {
            return Ok(Resampled::Unchanged);
        }
        check_resampling(frame.format.sample_rate, self.config.target_rate)?;
        if first {
            self.running = Some(Running::new(
                &self.config,
                frame.format.sample_rate,
                frame.format.channels as usize,
            )?);
        }
        let running = self.running.as_mut().expect("started at the first frame");
        running
            .fifo
            .extend(frame.samples.iter().map(|&v| f64::from(v)));
        running.inputs += (frame.samples.len() / running.channels) as u64;
        let samples = running.drain(false, &self.config)?;
        Ok(self.frame(samples))
    }

    /// End of stream: the tail, up to `ceil(inputs × target / source)` samples per channel.
    pub fn flush(&mut self) -> Result<Option<AudioFrame>, SincError> {
        let Some(running) = self.running.as_mut() else {
            return Ok(None);
        };
        let samples = running.drain(true, &self.config)?;
        Ok(match self.frame(samples) {
            Resampled::Frame(frame) => Some(frame),
            _ => None,
        })
    }

    fn frame(&mut self, samples: Vec<f32>) -> Resampled {
        let running = self.running.as_mut().expect("started");
        if samples.is_empty() {
            return Resampled::Nothing;
        }
        let target = self.config.target_rate;
        let timestamp = self.stream.start() + running.produced as f64 / f64::from(target);
        running.produced += (samples.len() / running.channels) as u64;
        Resampled::Frame(AudioFrame {
            samples,
            sample_rate: target,
            channels: running.channels as u32,
            timestamp,
        })
    }
}

impl Running {
    fn new(config: &SincConfig, source_rate: u32, channels: usize) -> Result<Running, SincError> {
        let ratio = f64::from(config.target_rate) / f64::from(source_rate);
        let cutoff = ratio.min(1.0) * config.rolloff;
        // Twice the reference's length (see above); rubato takes multiples of 8.
        let half = (f64::from(config.zero_crossings) / cutoff).ceil() as u64;
        let points = (4 * half).next_multiple_of(8);
        let parameters =
            SincInterpolationParameters::new(points as usize, WindowFunction::BlackmanHarris2)
                .f_cutoff(config.rolloff as f32)
                .oversampling_factor(256)
                .interpolation(SincInterpolationType::Cubic);
        let resampler =
            Async::<f64>::new_sinc(ratio, 1.0, &parameters, CHUNK, channels, FixedAsync::Input)
                .map_err(|err| SincError::Resampler {
                    from: source_rate,
                    to: config.target_rate,
                    detail: err.to_string(),
                })?;
        // rubato's output k stands for input time (k + 1) / ratio - points / 2: a delay of
        // points / 2 × ratio - 1 output samples, rarely a whole number. `pad` zeros in front of the
        // input make it one, so dropping whole outputs puts output k exactly at input time
        // k × source / target, as in the reference.
        let common = gcd(u64::from(source_rate), u64::from(config.target_rate));
        let (up, down) = (
            u64::from(config.target_rate) / common,
            u64::from(source_rate) / common,
        );
        let pad = (down - (points / 2) % down) % down;
        let delay = ((points / 2 + pad) * up / down - 1) as usize;
        let output = vec![0.0; resampler.output_frames_max() * channels];
        Ok(Running {
            resampler,
            source_rate,
            channels,
            fifo: vec![0.0; pad as usize * channels],
            delay,
            inputs: 0,
            produced: 0,
            output,
        })
    }

    /// Resamples every whole chunk waiting (at the end: everything, then silence until the last
    /// output), returning the new output samples after the delay.
    fn drain(&mut self, end: bool, config: &SincConfig) -> Result<Vec<f32>, SincError> {
        let total =
            (self.inputs * u64::from(config.target_rate)).div_ceil(u64::from(self.source_rate));
        let mut result = Vec::new();
        let mut emitted = self.produced;
        loop {
            let waiting = self.fifo.len() / self.channels;
            let needed = self.resampler.input_frames_next();
            let partial = if waiting >= needed {
                None
            } else if end && emitted < total {
                Some(waiting)
            } else {
                break;
            };
            let frames = partial.unwrap_or(needed);
            let input =
                InterleavedSlice::new(&self.fifo[..frames * self.channels], self.channels, frames)
                    .map_err(|err| self.error(config, err.to_string()))?;
            let capacity = self.output.len() / self.channels;
            let mut output = InterleavedSlice::new_mut(&mut self.output, self.channels, capacity)
                .map_err(|err| SincError::Resampler {
                from: self.source_rate,
                to: config.target_rate,
                detail: err.to_string(),
            })?;
            let indexing = partial.map(|frames| Indexing::new().partial_len(frames));
            let (read, written) = self
                .resampler
                .process_into_buffer(&input, &mut output, indexing.as_ref())
                .map_err(|err| SincError::Resampler {
                    from: self.source_rate,
                    to: config.target_rate,
                    detail: err.to_string(),
                })?;
            self.fifo.drain(..read.min(frames) * self.channels);
            let skip = self.delay.min(written);
            self.delay -= skip;
            let mut useful = written - skip;
            if end {
                useful = useful.min((total - emitted) as usize);
            }
            result.extend(
                self.output[skip * self.channels..(skip + useful) * self.channels]
                    .iter()
                    .map(|&v| v as f32),
            );
            emitted += useful as u64;
            if end && emitted >= total {
                break;
            }
        }
        Ok(result)
    }

    fn error(&self, config: &SincConfig, detail: String) -> SincError {
        SincError::Resampler {
            from: self.source_rate,
            to: config.target_rate,
            detail,
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Format;

    fn resample(input: &[f32], from: u32, to: u32, frame_len: usize) -> Vec<f32> {
        let mut resampler = SincResampler::new(SincConfig {
            target_rate: to,
            ..SincConfig::default()
        });
        let mut out = Vec::new();
        for chunk in input.chunks(frame_len) {
            let frame = FrameRef {
                samples: chunk,
                format: Format {
                    sample_rate: from,
                    channels: 1,
                },
                timestamp: 0.0,
            };
            if let Resampled::Frame(frame) = resampler.process(frame).unwrap() {
                assert_eq!(frame.timestamp, out.len() as f64 / f64::from(to));
                out.extend(frame.samples);
            }
        }
        if let Some(frame) = resampler.flush().unwrap() {
            out.extend(frame.samples);
        }
        out
    }

    fn sine(freq: f64, rate: u32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    #[test]
    fn output_length_and_alignment_follow_the_reference() {
        // 1 s at 48 kHz → exactly 16000 samples, and a 1 kHz sine stays in phase (no delay left).
        let out = resample(&sine(1000.0, 48000, 48000), 48000, 16000, 960);
        assert_eq!(out.len(), 16000);
        let expected = sine(1000.0, 16000, 16000);
        let worst = out[200..15800]
            .iter()
            .zip(&expected[200..15800])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-3,
            "largest difference from the ideal sine: {worst}"
        );
        // An odd count rounds up, as ceil(inputs × 1 / 3).
        assert_eq!(
            resample(&sine(1000.0, 48000, 1000), 48000, 16000, 333).len(),
            334
        );
    }

    #[test]
    fn frequencies_above_the_new_nyquist_are_removed() {
        // 10 kHz cannot exist at 16 kHz: it must not alias down to 6 kHz.
        let out = resample(&sine(10000.0, 48000, 48000), 48000, 16000, 960);
        let rms = (out[500..15500]
            .iter()
            .map(|v| f64::from(*v).powi(2))
            .sum::<f64>()
            / 15000.0)
            .sqrt();
        assert!(rms < 1e-4, "aliased energy, RMS {rms}");
    }

    #[test]
    fn upsampling_keeps_length_and_level() {
        let out = resample(&sine(440.0, 16000, 8000), 16000, 44100, 320);
        assert_eq!(out.len(), 22050);
        let peak = out[1000..21000].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 2e-3, "peak {peak}");
    }
}
