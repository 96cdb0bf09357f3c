//! Native media nodes for remotemedia (internal API): the catalogue's audio nodes in Rust —
//! decoding any audio file or stream (`symphonia`), writing WAV (`hound`), mix-down, gain,
//! linear and sinc resampling (`rubato`) and energy VAD.
//!
//! The Python classes in `remotemedia.nodes.audio` are the reference: frames have the same
//! parts, and the WAV reader, mix-down, gain, linear resampler and VAD give bit-identical results
//! (each module says how); the sinc resampler matches its numpy reference within a stated
//! tolerance.
//!
//! - [`engine`]: the native engine: these nodes behind the runtime's engine contract.
//! - [`frame`]: audio frames and the stream format stateful nodes hold them to.
//! - [`decode`]: files and streams (WAV, FLAC, MP3, Ogg Vorbis) into frames.
//! - [`wav`]: writing frames to a 16-bit WAV file.
//! - [`transforms`]: gain and mix-down.
//! - [`resample`]: linear-interpolation resampling.
//! - [`sinc`]: band-limited resampling.
//! - [`vad`]: voice activity detection by energy.

pub mod decode;
pub mod engine;
pub mod frame;
mod pyfloat;
pub mod resample;
pub mod sinc;
pub mod transforms;
pub mod vad;
pub mod wav;

pub use decode::{AudioDecoder, AudioInput, Container, DecodeError};
pub use engine::NativeEngine;
pub use frame::{AudioFrame, Format, FormatChange, FrameRef, StreamFormat};
