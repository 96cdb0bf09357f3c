//! Linear-interpolation resampling across frames (`ResampleNode`), bit-identical to the Python
//! reference.
//!
//! Output positions are exact integers in units of `1 / (source_rate * target_rate)` seconds, so
//! nothing drifts over long streams. Each output sample is `a + (b - a) * fraction` computed in
//! float64 from the float32 inputs (or `a` itself at a whole position) and rounded once to float32;
//! the fraction is `(position mod target) / target` in float64 — the same operations, in the same
//! order, as the Python code, hence the same bits.

use crate::frame::{
    AudioFrame, FormatChange, FrameRef, StreamFormat, TooMuchUpsampling, check_resampling,
};

/// A frame the resampler cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResampleError {
    #[error(transparent)]
    FormatChange(#[from] FormatChange),
    #[error(transparent)]
    TooMuchUpsampling(#[from] TooMuchUpsampling),
}

/// Converts a stream to `target_rate` Hz by linear interpolation, seamlessly across frames.
#[derive(Debug, Clone)]
pub struct LinearResampler {
    target_rate: u32,
    stream: StreamFormat,
    /// The last input sample per channel: the left end of the next gap.
    previous: Vec<f32>,
    /// The next output position, in input samples × target rate, counted from `previous`.
    position: u128,
    /// Output samples per channel emitted so far.
    produced: u64,
}

/// What one input frame gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Resampled {
    /// The stream is already at the target rate: the input frame goes on unchanged.
    Unchanged,
    /// New samples at the target rate.
    Frame(AudioFrame),
    /// Not enough input yet for another output sample.
    Nothing,
}

impl LinearResampler {
    /// A resampler to `target_rate` Hz (positive).
    pub fn new(target_rate: u32) -> LinearResampler {
        LinearResampler {
            target_rate,
            stream: StreamFormat::default(),
            previous: Vec::new(),
            position: 0,
            produced: 0,
        }
    }

    /// Resamples one frame of the stream.
    pub fn process(&mut self, frame: FrameRef<'_>) -> Result<Resampled, ResampleError> {
        self.stream.accept(&frame)?;
        if frame.format.sample_rate == self.target_rate {
            return Ok(Resampled::Unchanged);
        }
        check_resampling(frame.format.sample_rate, self.target_rate)?;
        let channels = frame.format.channels as usize;
        let samples = self.interpolate(frame.samples, channels, frame.format.sample_rate);
        if samples.is_empty() {
            return Ok(Resampled::Nothing);
        }
        let timestamp = self.stream.start() + self.produced as f64 / f64::from(self.target_rate);
        self.produced += (samples.len() / channels) as u64;
        Ok(Resampled::Frame(AudioFrame {
            samples,
            sample_rate: self.target_rate,
            channels: frame.format.channels,
            timestamp,
        }))
    }

    fn interpolate(&mut self, input: &[f32], channels: usize, source_rate: u32) -> Vec<f32> {
        // Index 0 of the working buffer is the previous frame's last sample, when there is one.
        let mut buffer = Vec::with_capacity(self.previous.len() + input.len());
        buffer.extend_from_slice(&self.previous);
        buffer.extend_from_slice(input);
        let total = buffer.len() / channels;
        if total == 0 {
            return Vec::new();
        }
        let (source, target) = (u128::from(source_rate), u128::from(self.target_rate));
        let end = (total as u128 - 1) * target;
        let count = if self.position > end {
            0
        } else {
            (end - self.position) / source + 1
        };
        let rate = target as f64;
        // Positions step by `source`: the whole and fractional parts are advanced incrementally
        // (no 128-bit division per sample); the remainder is below `target`, a u32.
        let (step_whole, step_rest) = ((source / target) as usize, (source % target) as u64);
        let target_rate = u64::from(self.target_rate);
        let mut index = (self.position / target) as usize;
        let mut rest = (self.position % target) as u64;
        let mut output = Vec::with_capacity(count as usize * channels);
        for _ in 0..count {
            let fraction = rest as f64 / rate;
            let left = &buffer[index * channels..(index + 1) * channels];
            if fraction == 0.0 {
                output.extend_from_slice(left);
            } else {
                let right = &buffer[(index + 1) * channels..(index + 2) * channels];
                output.extend(left.iter().zip(right).map(|(&a, &b)| {
                    let (a, b) = (f64::from(a), f64::from(b));
                    (a + (b - a) * fraction) as f32
                }));
            }
            index += step_whole;
            rest += step_rest;
            if rest >= target_rate {
                rest -= target_rate;
                index += 1;
            }
        }
        self.position = self.position + count * source - end;
        self.previous = buffer[buffer.len() - channels..].to_vec();
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Format;

    fn frame(samples: &[f32], sample_rate: u32, timestamp: f64) -> FrameRef<'_> {
        FrameRef {
            samples,
            format: Format {
                sample_rate,
                channels: 1,
            },
            timestamp,
        }
    }

    fn samples(result: Resampled) -> Vec<f32> {
        match result {
            Resampled::Frame(frame) => frame.samples,
            other => panic!("expected samples, got {other:?}"),
        }
    }

    #[test]
    fn upsampling_by_two_interpolates_midpoints_across_frames() {
        let mut resampler = LinearResampler::new(2);
        assert_eq!(
            samples(resampler.process(frame(&[0.0, 1.0], 1, 0.0)).unwrap()),
            vec![0.0, 0.5, 1.0]
        );
        // The gap between the frames is filled from the carried-over last sample.
        let Resampled::Frame(second) = resampler.process(frame(&[0.0], 1, 2.0)).unwrap() else {
            panic!("expected a frame")
        };
        assert_eq!(second.samples, vec![0.5, 0.0]);
        assert_eq!(second.timestamp, 1.5);
    }

    #[test]
    fn same_rate_passes_and_rate_change_is_refused() {
        let mut resampler = LinearResampler::new(16000);
        assert_eq!(
            resampler.process(frame(&[0.5], 16000, 0.0)).unwrap(),
            Resampled::Unchanged
        );
        let err = resampler.process(frame(&[0.5], 8000, 0.0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the stream changed from 16000 Hz, 1 channel(s) to 8000 Hz, 1 channel(s)"
        );
    }

    #[test]
    fn split_frames_give_the_same_samples_as_one() {
        let input: Vec<f32> = (0..480).map(|i| ((i as f32) * 0.37).sin()).collect();
        let mut whole = LinearResampler::new(16000);
        let expected = samples(whole.process(frame(&input, 44100, 0.0)).unwrap());
        let mut split = LinearResampler::new(16000);
        let mut got = Vec::new();
        for chunk in input.chunks(7) {
            if let Resampled::Frame(out) = split.process(frame(chunk, 44100, 0.0)).unwrap() {
                got.extend(out.samples);
            }
        }
        assert_eq!(got, expected);
        assert_eq!(expected.len(), (479 * 16000) / 44100 + 1);
    }
}
