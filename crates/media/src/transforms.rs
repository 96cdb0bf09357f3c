//! Sample-level transforms without state: gain and channel mix-down.
//!
//! Each computes in float64 from the float32 samples and rounds once to float32, as the Python
//! reference (`remotemedia.nodes.audio.transforms`) does, so the output is bit-identical.

use crate::pyfloat;

/// Scales samples by a gain in decibels, clipping to [-1, 1] (`GainNode`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gain {
    factor: f64,
}

impl Gain {
    /// The gain of `gain_db` decibels: a factor of `10 ** (gain_db / 20)`.
    pub fn from_db(gain_db: f64) -> Gain {
        Gain {
            factor: 10f64.powf(gain_db / 20.0),
        }
    }

    /// The scaled, clipped samples.
    pub fn apply(&self, samples: &[f32]) -> Vec<f32> {
        samples
            .iter()
            .map(|&value| clip(f64::from(value) * self.factor) as f32)
            .collect()
    }
}

/// `max(-1.0, min(1.0, value))` as Python evaluates it (NaN becomes 1.0, as there).
fn clip(value: f64) -> f64 {
    let upper = if value < 1.0 { value } else { 1.0 };
    if upper > -1.0 { upper } else { -1.0 }
}

/// Averages the channels of interleaved `samples` into one (`MixDownNode`); mono passes as is.
pub fn mix_down(samples: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return samples.to_vec();
    }
    let count = channels as f64;
    samples
        .chunks_exact(channels)
        .map(|frame| (pyfloat::sum(frame.iter().map(|&v| f64::from(v))) / count) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_scales_and_clips() {
        let gain = Gain::from_db(20.0);
        assert_eq!(
            gain.apply(&[0.05, 0.5, -0.5, 0.0]),
            vec![0.5, 1.0, -1.0, 0.0]
        );
        assert_eq!(Gain::from_db(0.0).apply(&[0.25, -0.75]), vec![0.25, -0.75]);
    }

    #[test]
    fn clip_follows_python_min_max() {
        // min(1.0, nan) keeps 1.0 (nan < 1.0 is false); max(-1.0, 1.0) is 1.0.
        assert_eq!(clip(f64::NAN), 1.0);
        assert_eq!(clip(f64::INFINITY), 1.0);
        assert_eq!(clip(f64::NEG_INFINITY), -1.0);
        assert!(clip(-0.0).is_sign_negative());
    }

    #[test]
    fn mix_down_averages_frames() {
        assert_eq!(mix_down(&[1.0, 0.0, 0.5, 0.25], 2), vec![0.5, 0.375]);
        assert_eq!(
            mix_down(&[0.3, 0.6, 0.9], 3),
            vec![((0.0 + 0.3f32 as f64 + 0.6f32 as f64 + 0.9f32 as f64) / 3.0) as f32]
        );
        assert_eq!(mix_down(&[0.1, 0.2], 1), vec![0.1, 0.2]);
    }
}
