//! Voice activity detection by signal energy (`EnergyVADNode`), with the same segments as the
//! Python reference: the same windows, the same float64 arithmetic, the same rounding.

use crate::frame::{FormatChange, FrameRef, StreamFormat};
use crate::pyfloat;

/// A speech segment, in seconds rounded to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
}

/// The detector's settings (the node's params).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyVadConfig {
    /// A window is speech when its RMS level reaches this many dBFS.
    pub threshold_db: f64,
    /// Window length in milliseconds (positive).
    pub window_ms: u32,
    /// Shorter segments are dropped.
    pub min_speech_ms: u32,
    /// A segment closes after this much non-speech.
    pub min_silence_ms: u32,
}

impl Default for EnergyVadConfig {
    fn default() -> Self {
        EnergyVadConfig {
            threshold_db: -40.0,
            window_ms: 30,
            min_speech_ms: 150,
            min_silence_ms: 400,
        }
    }
}

/// Cuts a stream into windows, judges each by its RMS level and reports speech segments as they
/// close.
#[derive(Debug, Clone)]
pub struct EnergyVad {
    config: EnergyVadConfig,
    min_speech: f64,
    min_silence: f64,
    stream: StreamFormat,
    /// Samples (interleaved) not yet judged.
    pending: Vec<f32>,
    /// Samples per channel already judged.
    consumed: u64,
    segment_start: Option<f64>,
    speech_end: f64,
}

impl EnergyVad {
    pub fn new(config: EnergyVadConfig) -> EnergyVad {
        EnergyVad {
            config,
            min_speech: f64::from(config.min_speech_ms) / 1000.0,
            min_silence: f64::from(config.min_silence_ms) / 1000.0,
            stream: StreamFormat::default(),
            pending: Vec::new(),
            consumed: 0,
            segment_start: None,
            speech_end: 0.0,
        }
    }

    /// Takes one frame; returns the segments it closes.
    pub fn process(&mut self, frame: FrameRef<'_>) -> Result<Vec<Segment>, FormatChange> {
        self.stream.accept(&frame)?;
        self.pending.extend_from_slice(frame.samples);
        let per_channel =
            (u64::from(frame.format.sample_rate) * u64::from(self.config.window_ms) / 1000).max(1);
        let window = per_channel as usize * frame.format.channels as usize;
        let mut segments = Vec::new();
        let mut judged = 0;
        while self.pending.len() - judged >= window {
            let level = level_db(&self.pending[judged..judged + window]);
            judged += window;
            self.judge(window, level, &mut segments);
        }
        self.pending.drain(..judged);
        Ok(segments)
    }

    /// End of stream: judges the last partial window and closes an open segment.
    pub fn flush(&mut self) -> Vec<Segment> {
        let mut segments = Vec::new();
        if !self.pending.is_empty() {
            let level = level_db(&self.pending);
            let samples = std::mem::take(&mut self.pending).len();
            self.judge(samples, level, &mut segments);
        }
        if self.segment_start.is_some() {
            self.close(&mut segments);
        }
        segments
    }

    /// Classifies the next window of `samples` (interleaved) by its `level` and advances the
    /// segment state.
    fn judge(&mut self, samples: usize, level: f64, segments: &mut Vec<Segment>) {
        let Some(format) = self.stream.format() else {
            return;
        };
        let (start, rate) = (self.stream.start(), f64::from(format.sample_rate));
        let begin = start + self.consumed as f64 / rate;
        self.consumed += (samples / format.channels as usize) as u64;
        let end = start + self.consumed as f64 / rate;
        if level >= self.config.threshold_db {
            if self.segment_start.is_none() {
                self.segment_start = Some(begin);
            }
            self.speech_end = end;
        } else if self.segment_start.is_some() && end - self.speech_end >= self.min_silence {
            self.close(segments);
        }
    }

    fn close(&mut self, segments: &mut Vec<Segment>) {
        if let Some(start) = self.segment_start.take()
            && self.speech_end - start >= self.min_speech
        {
            segments.push(Segment {
                start: pyfloat::round3(start),
                end: pyfloat::round3(self.speech_end),
            });
        }
    }
}

/// RMS level in dBFS; -inf for digital silence.
fn level_db(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return f64::NEG_INFINITY;
    }
    let energy =
        pyfloat::sum(samples.iter().map(|&v| f64::from(v) * f64::from(v))) / samples.len() as f64;
    if energy > 0.0 {
        10.0 * energy.log10()
    } else {
        f64::NEG_INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Format;

    fn mono(samples: &[f32], sample_rate: u32) -> FrameRef<'_> {
        FrameRef {
            samples,
            format: Format {
                sample_rate,
                channels: 1,
            },
            timestamp: 0.0,
        }
    }

    #[test]
    fn a_burst_between_silences_is_one_segment() {
        // 1 kHz: 30 ms windows of 30 samples. 0.3 s silence, 0.5 s at -6 dBFS, 0.6 s silence.
        let mut audio = vec![0.0f32; 300];
        audio.extend(std::iter::repeat_n(0.5f32, 500));
        audio.extend(vec![0.0f32; 600]);
        let mut vad = EnergyVad::new(EnergyVadConfig::default());
        let mut segments = Vec::new();
        for chunk in audio.chunks(20) {
            segments.extend(vad.process(mono(chunk, 1000)).unwrap());
        }
        segments.extend(vad.flush());
        // Speech windows: [0.3, 0.33) … the window [0.78, 0.81) still holds speech.
        assert_eq!(
            segments,
            vec![Segment {
                start: 0.3,
                end: 0.81
            }]
        );
    }

    #[test]
    fn short_clicks_are_dropped_and_open_segments_close_at_the_end() {
        let mut vad = EnergyVad::new(EnergyVadConfig::default());
        let mut click = vec![0.0f32; 300];
        click.extend([0.9f32; 30]);
        click.extend(vec![0.0f32; 600]);
        click.extend([0.9f32; 300]);
        let mut segments = vad.process(mono(&click, 1000)).unwrap();
        segments.extend(vad.flush());
        assert_eq!(
            segments,
            vec![Segment {
                start: 0.93,
                end: 1.23
            }]
        );
    }

    #[test]
    fn level_of_silence_and_of_full_scale() {
        assert_eq!(level_db(&[0.0, 0.0]), f64::NEG_INFINITY);
        assert_eq!(level_db(&[1.0, -1.0]), 0.0);
    }
}
