//! The messages between the parent and a worker, and how values travel in them.
//!
//! A message is a little-endian `u32` length and that many bytes: a tag, then the body. Values are
//! encoded field by field (no JSON, no Python pickles); a typed array or a bytes value of
//! [`SHARED_MIN_BYTES`] or more travels through the sender's shared-memory arena ([`crate::shm`])
//! and the message carries only where it is. Decoding trusts nothing: every length is checked
//! against what is there, nesting is bounded, and a bad message is a [`WireError`], never a panic
//! (the decoder is fuzzed: `fuzz/`).

use std::io::{self, Read, Write};
use std::sync::Arc;

use indexmap::IndexMap;
use num_bigint::BigInt;
use remotemedia_core::engine::NodeError;
use remotemedia_core::value::{Array, Value};

use crate::shm::{ArenaReader, ArenaWriter};

/// Arrays and bytes of at least this many bytes go through shared memory; smaller ones are copied
/// into the message, where a system call costs more than the copy.
pub const SHARED_MIN_BYTES: usize = 64 * 1024;

/// The largest message accepted (the inline part; shared arrays are not counted).
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// How deeply lists and maps may nest in one value.
pub const MAX_DEPTH: usize = 512;

/// A message from the parent to a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ToWorker {
    /// The first message: how to set up (JSON of [`crate::WorkerConfig`]) and the node's params.
    Start {
        config: String,
        params: Value,
    },
    Initialize,
    Process(Value),
    Flush,
    Cleanup,
    /// The answer to an [`FromWorker::Emit`]: whether the run is stopping.
    Emitted {
        stopped: bool,
    },
}

/// A message from a worker to the parent.
#[derive(Debug, Clone, PartialEq)]
pub enum FromWorker {
    /// The node was created (or could not be).
    Ready(Result<(), NodeError>),
    /// One output; the worker waits for [`ToWorker::Emitted`].
    Emit(Value),
    /// The step the parent asked for is over.
    Done(Result<(), NodeError>),
}

/// A message that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the channel is closed")]
    Closed,
    #[error("reading from the channel failed: {0}")]
    Io(#[from] io::Error),
    #[error("a message of {0} bytes is larger than the limit of {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
}

fn malformed(what: impl Into<String>) -> WireError {
    WireError::Malformed(what.into())
}

mod tag {
    pub const START: u8 = 1;
    pub const INITIALIZE: u8 = 2;
    pub const PROCESS: u8 = 3;
    pub const FLUSH: u8 = 4;
    pub const CLEANUP: u8 = 5;
    pub const EMITTED: u8 = 6;
    pub const READY: u8 = 16;
    pub const EMIT: u8 = 17;
    pub const DONE: u8 = 18;

    pub const NULL: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const INT: u8 = 3;
    pub const BIG_INT: u8 = 4;
    pub const FLOAT: u8 = 5;
    pub const STR: u8 = 6;
    pub const BYTES: u8 = 7;
    pub const LIST: u8 = 8;
    pub const MAP: u8 = 9;
    pub const ARRAY: u8 = 10;
    pub const SHARED_ARRAY: u8 = 11;
    pub const SHARED_BYTES: u8 = 12;
}

/// Writes messages: encodes into a reused buffer, large arrays into the arena.
#[derive(Debug)]
pub struct Sender<W: Write> {
    out: W,
    buffer: Vec<u8>,
    arena: ArenaWriter,
}

impl<W: Write> Sender<W> {
    pub fn new(out: W, arena: ArenaWriter) -> Self {
        Sender {
            out,
            buffer: Vec::new(),
            arena,
        }
    }

    /// The stream messages are written to.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Sends one message to the parent.
    pub fn send_to_parent(&mut self, message: &FromWorker) -> io::Result<()> {
        self.begin(shared_bytes_of_reply(message))?;
        match message {
            FromWorker::Ready(result) => {
                self.buffer.push(tag::READY);
                put_result(&mut self.buffer, result);
            }
            FromWorker::Emit(value) => {
                self.buffer.push(tag::EMIT);
                self.put_value(value);
            }
            FromWorker::Done(result) => {
                self.buffer.push(tag::DONE);
                put_result(&mut self.buffer, result);
            }
        }
        self.finish()
    }

    /// Sends one message to the worker.
    pub fn send_to_worker(&mut self, message: &ToWorker) -> io::Result<()> {
        let shared = match message {
            ToWorker::Start { params, .. } => shared_bytes(params),
            ToWorker::Process(value) => shared_bytes(value),
            _ => 0,
        };
        self.begin(shared)?;
        match message {
            ToWorker::Start { config, params } => {
                self.buffer.push(tag::START);
                put_str(&mut self.buffer, config);
                self.put_value(params);
            }
            ToWorker::Initialize => self.buffer.push(tag::INITIALIZE),
            ToWorker::Process(value) => {
                self.buffer.push(tag::PROCESS);
                self.put_value(value);
            }
            ToWorker::Flush => self.buffer.push(tag::FLUSH),
            ToWorker::Cleanup => self.buffer.push(tag::CLEANUP),
            ToWorker::Emitted { stopped } => {
                self.buffer.push(tag::EMITTED);
                self.buffer.push(u8::from(*stopped));
            }
        }
        self.finish()
    }

    /// Starts a message whose shared arrays take `shared` bytes: the receiver has copied the
    /// previous message's arrays out before answering it, so the arena is reused from its start.
    fn begin(&mut self, shared: usize) -> io::Result<()> {
        self.buffer.clear();
        self.buffer.extend_from_slice(&[0; 4]);
        self.arena.reset(shared)
    }

    fn finish(&mut self) -> io::Result<()> {
        let length = self.buffer.len() - 4;
        if length > MAX_MESSAGE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a value of {length} bytes (outside shared arrays) is larger than the limit of {MAX_MESSAGE_BYTES}"
                ),
            ));
        }
        self.buffer[..4].copy_from_slice(&(length as u32).to_le_bytes());
        self.out.write_all(&self.buffer)?;
        self.out.flush()
    }

    fn put_value(&mut self, value: &Value) {
        match value {
            Value::Null => self.buffer.push(tag::NULL),
            Value::Bool(false) => self.buffer.push(tag::FALSE),
            Value::Bool(true) => self.buffer.push(tag::TRUE),
            Value::Int(i) => {
                self.buffer.push(tag::INT);
                self.buffer.extend_from_slice(&i.to_le_bytes());
            }
            Value::BigInt(big) => {
                self.buffer.push(tag::BIG_INT);
                put_bytes(&mut self.buffer, &big.to_signed_bytes_le());
            }
            Value::Float(f) => {
                self.buffer.push(tag::FLOAT);
                self.buffer.extend_from_slice(&f.to_le_bytes());
            }
            Value::Str(s) => {
                self.buffer.push(tag::STR);
                put_str(&mut self.buffer, s);
            }
            Value::Bytes(bytes) if bytes.len() >= SHARED_MIN_BYTES => {
                let offset = self.arena.push(bytes);
                self.buffer.push(tag::SHARED_BYTES);
                put_u64(&mut self.buffer, offset as u64);
                put_u64(&mut self.buffer, bytes.len() as u64);
            }
            Value::Bytes(bytes) => {
                self.buffer.push(tag::BYTES);
                put_bytes(&mut self.buffer, bytes);
            }
            Value::List(items) => {
                self.buffer.push(tag::LIST);
                put_u64(&mut self.buffer, items.len() as u64);
                for item in items {
                    self.put_value(item);
                }
            }
            Value::Map(map) => {
                self.buffer.push(tag::MAP);
                put_u64(&mut self.buffer, map.len() as u64);
                for (key, item) in map {
                    put_str(&mut self.buffer, key);
                    self.put_value(item);
                }
            }
            Value::Array(array) => {
                let bytes = array_bytes(array);
                if bytes.len() >= SHARED_MIN_BYTES {
                    let offset = self.arena.push(bytes);
                    self.buffer.push(tag::SHARED_ARRAY);
                    self.buffer.push(array.typecode() as u8);
                    put_u64(&mut self.buffer, offset as u64);
                    put_u64(&mut self.buffer, bytes.len() as u64);
                } else {
                    self.buffer.push(tag::ARRAY);
                    self.buffer.push(array.typecode() as u8);
                    put_bytes(&mut self.buffer, bytes);
                }
            }
        }
    }
}

/// Bytes of shared memory a value's large arrays take, each padded to 64 bytes.
fn shared_bytes(value: &Value) -> usize {
    match value {
        Value::Bytes(bytes) if bytes.len() >= SHARED_MIN_BYTES => padded(bytes.len()),
        Value::Array(array) => {
            let size = array_bytes(array).len();
            if size >= SHARED_MIN_BYTES {
                padded(size)
            } else {
                0
            }
        }
        Value::List(items) => items.iter().map(shared_bytes).sum(),
        Value::Map(map) => map.values().map(shared_bytes).sum(),
        _ => 0,
    }
}

fn shared_bytes_of_reply(message: &FromWorker) -> usize {
    match message {
        FromWorker::Emit(value) => shared_bytes(value),
        _ => 0,
    }
}

/// `size` rounded up to the arena's alignment.
pub(crate) fn padded(size: usize) -> usize {
    size.div_ceil(64) * 64
}

/// An array's elements as little-endian bytes (the only byte order the parent and its worker,
/// one executable on one machine, can have between them).
fn array_bytes(array: &Array) -> &[u8] {
    fn raw<T>(items: &[T]) -> &[u8] {
        // SAFETY: plain numeric elements have no padding and every byte pattern is valid as u8;
        // the slice covers exactly the elements' memory.
        unsafe {
            std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items))
        }
    }
    match array {
        Array::I16(a) => raw(a),
        Array::I32(a) => raw(a),
        Array::I64(a) => raw(a),
        Array::F32(a) => raw(a),
        Array::F64(a) => raw(a),
    }
}

fn put_u64(buffer: &mut Vec<u8>, n: u64) {
    buffer.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(buffer: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(buffer, bytes.len() as u64);
    buffer.extend_from_slice(bytes);
}

fn put_str(buffer: &mut Vec<u8>, s: &str) {
    put_bytes(buffer, s.as_bytes());
}

fn put_opt_str(buffer: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            buffer.push(1);
            put_str(buffer, s);
        }
        None => buffer.push(0),
    }
}

fn put_result(buffer: &mut Vec<u8>, result: &Result<(), NodeError>) {
    match result {
        Ok(()) => buffer.push(0),
        Err(error) => {
            buffer.push(1);
            put_str(buffer, &error.message);
            put_opt_str(buffer, error.kind.as_deref());
            put_opt_str(buffer, error.traceback.as_deref());
        }
    }
}

/// Reads messages: one length-prefixed frame at a time, shared arrays copied out of the arena.
#[derive(Debug)]
pub struct Receiver<R: Read> {
    input: R,
    buffer: Vec<u8>,
    arena: ArenaReader,
}

impl<R: Read> Receiver<R> {
    pub fn new(input: R, arena: ArenaReader) -> Self {
        Receiver {
            input,
            buffer: Vec::new(),
            arena,
        }
    }

    /// The next message from the worker.
    pub fn recv_from_worker(&mut self) -> Result<FromWorker, WireError> {
        self.read_frame()?;
        decode_from_worker(&self.buffer, &mut self.arena)
    }

    /// The next message from the parent.
    pub fn recv_from_parent(&mut self) -> Result<ToWorker, WireError> {
        self.read_frame()?;
        decode_to_worker(&self.buffer, &mut self.arena)
    }

    fn read_frame(&mut self) -> Result<(), WireError> {
        let mut length = [0u8; 4];
        match self.input.read_exact(&mut length) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(WireError::Closed);
            }
            Err(err) => return Err(err.into()),
        }
        let length = u32::from_le_bytes(length) as usize;
        if length > MAX_MESSAGE_BYTES {
            return Err(WireError::TooLarge(length));
        }
        self.buffer.clear();
        self.buffer.resize(length, 0);
        self.input.read_exact(&mut self.buffer).map_err(|err| {
            if err.kind() == io::ErrorKind::UnexpectedEof {
                WireError::Closed
            } else {
                err.into()
            }
        })
    }
}

/// Decodes a message for a worker (public for the fuzz target).
pub fn decode_to_worker(bytes: &[u8], arena: &mut ArenaReader) -> Result<ToWorker, WireError> {
    let mut reader = Reader { bytes, arena };
    let message = match reader.u8()? {
        tag::START => {
            let config = reader.string()?;
            let params = reader.value(0)?;
            ToWorker::Start { config, params }
        }
        tag::INITIALIZE => ToWorker::Initialize,
        tag::PROCESS => ToWorker::Process(reader.value(0)?),
        tag::FLUSH => ToWorker::Flush,
        tag::CLEANUP => ToWorker::Cleanup,
        tag::EMITTED => ToWorker::Emitted {
            stopped: reader.bool()?,
        },
        other => return Err(malformed(format!("unknown message tag {other}"))),
    };
    reader.end()?;
    Ok(message)
}

/// Decodes a message from a worker (public for the fuzz target).
pub fn decode_from_worker(bytes: &[u8], arena: &mut ArenaReader) -> Result<FromWorker, WireError> {
    let mut reader = Reader { bytes, arena };
    let message = match reader.u8()? {
        tag::READY => FromWorker::Ready(reader.result()?),
        tag::EMIT => FromWorker::Emit(reader.value(0)?),
        tag::DONE => FromWorker::Done(reader.result()?),
        other => return Err(malformed(format!("unknown message tag {other}"))),
    };
    reader.end()?;
    Ok(message)
}

/// Decodes one value as messages carry it (the fuzz targets make values from bytes with it).
pub fn decode_value(bytes: &[u8]) -> Result<Value, WireError> {
    let mut arena = ArenaReader::empty();
    let mut reader = Reader {
        bytes,
        arena: &mut arena,
    };
    let value = reader.value(0)?;
    reader.end()?;
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    arena: &'a mut ArenaReader,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        if n > self.bytes.len() {
            return Err(malformed(format!(
                "{n} bytes expected, {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, WireError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(malformed(format!("{other} is not a boolean"))),
        }
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A length, which cannot exceed what is left of the message.
    fn length(&mut self) -> Result<usize, WireError> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or_else(|| malformed(format!("length {n} exceeds the message")))
    }

    fn bytes(&mut self) -> Result<&[u8], WireError> {
        let n = self.length()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|err| malformed(format!("invalid UTF-8 in a string: {err}")))
    }

    fn opt_string(&mut self) -> Result<Option<String>, WireError> {
        Ok(if self.bool()? {
            Some(self.string()?)
        } else {
            None
        })
    }

    fn result(&mut self) -> Result<Result<(), NodeError>, WireError> {
        if !self.bool()? {
            return Ok(Ok(()));
        }
        let message = self.string()?;
        let kind = self.opt_string()?;
        let traceback = self.opt_string()?;
        Ok(Err(NodeError {
            message,
            kind,
            traceback,
        }))
    }

    fn end(&self) -> Result<(), WireError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(malformed(format!(
                "{} bytes after the end of the message",
                self.bytes.len()
            )))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(malformed(format!("values nest deeper than {MAX_DEPTH}")));
        }
        Ok(match self.u8()? {
            tag::NULL => Value::Null,
            tag::FALSE => Value::Bool(false),
            tag::TRUE => Value::Bool(true),
            tag::INT => Value::Int(i64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            tag::BIG_INT => Value::BigInt(Arc::new(BigInt::from_signed_bytes_le(self.bytes()?))),
            tag::FLOAT => Value::Float(f64::from_le_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            tag::STR => Value::Str(self.string()?.into()),
            tag::BYTES => Value::Bytes(self.bytes()?.into()),
            tag::LIST => {
                // Every item takes at least one byte, so the count is bounded by the message.
                let count = self.length()?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Value::List(items)
            }
            tag::MAP => {
                let count = self.length()?;
                let mut map = IndexMap::with_capacity(count);
                for _ in 0..count {
                    let key = self.string()?;
                    let item = self.value(depth + 1)?;
                    map.insert(key, item);
                }
                Value::Map(map)
            }
            tag::ARRAY => {
                let typecode = self.u8()?;
                let bytes = self.bytes()?;
                Value::Array(array_from_bytes(typecode, bytes)?)
            }
            tag::SHARED_ARRAY => {
                let typecode = self.u8()?;
                let (offset, length) = (self.u64()?, self.u64()?);
                let bytes = self.arena.slice(offset, length).map_err(malformed)?;
                Value::Array(array_from_bytes(typecode, bytes)?)
            }
            tag::SHARED_BYTES => {
                let (offset, length) = (self.u64()?, self.u64()?);
                Value::Bytes(self.arena.slice(offset, length).map_err(malformed)?.into())
            }
            other => return Err(malformed(format!("unknown value tag {other}"))),
        })
    }
}

/// A typed array copied out of little-endian bytes: in one `memcpy` when they are aligned for the
/// element type (always in shared memory, where every array starts on 64 bytes), element by
/// element otherwise.
fn array_from_bytes(typecode: u8, bytes: &[u8]) -> Result<Array, WireError> {
    fn elements<T: Copy, const N: usize>(
        bytes: &[u8],
        from: fn([u8; N]) -> T,
    ) -> Result<Arc<[T]>, WireError> {
        if !bytes.len().is_multiple_of(N) {
            return Err(malformed(format!(
                "an array of {} bytes is not made of {N}-byte elements",
                bytes.len()
            )));
        }
        debug_assert_eq!(std::mem::size_of::<T>(), N);
        if cfg!(target_endian = "little") && bytes.as_ptr().cast::<T>().is_aligned() {
            // SAFETY: the pointer is aligned for T (checked), the bytes cover exactly
            // `len / N` elements of size N (checked above), and every bit pattern is a valid
            // i16/i32/i64/f32/f64; the bytes are little-endian, as this machine is.
            let items =
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / N) };
            return Ok(Arc::from(items));
        }
        Ok(bytes
            .chunks_exact(N)
            .map(|chunk| from(chunk.try_into().expect("N bytes")))
            .collect())
    }
    Ok(match typecode {
        b'h' => Array::I16(elements(bytes, i16::from_le_bytes)?),
        b'i' => Array::I32(elements(bytes, i32::from_le_bytes)?),
        b'q' => Array::I64(elements(bytes, i64::from_le_bytes)?),
        b'f' => Array::F32(elements(bytes, f32::from_le_bytes)?),
        b'd' => Array::F64(elements(bytes, f64::from_le_bytes)?),
        other => return Err(malformed(format!("unknown array typecode {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::memfd;

    fn sample() -> Value {
        let mut map = IndexMap::new();
        map.insert("gain".to_owned(), Value::Float(-0.0));
        map.insert(
            "samples".to_owned(),
            Value::Array(Array::F32(vec![0.5f32; 100_000].into())),
        );
        Value::List(vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::BigInt(Arc::new("-123456789012345678901234567890".parse().unwrap())),
            Value::Str("héllo".into()),
            Value::Bytes(vec![7u8; 10].into()),
            Value::Bytes(vec![9u8; SHARED_MIN_BYTES].into()),
            Value::Array(Array::I16(vec![1i16, -2].into())),
            Value::Array(Array::F64(vec![f64::MAX; SHARED_MIN_BYTES].into())),
            Value::Map(map),
        ])
    }

    /// A sender and a receiver over one arena file, as the parent and the worker have them.
    fn pair() -> (Sender<Vec<u8>>, ArenaReader) {
        let arena = memfd("test").unwrap();
        let reader = ArenaReader::new(arena.try_clone().unwrap());
        (Sender::new(Vec::new(), ArenaWriter::new(arena)), reader)
    }

    #[test]
    fn values_cross_unchanged_with_large_arrays_in_shared_memory() {
        let (mut sender, mut arena) = pair();
        let message = ToWorker::Process(sample());
        sender.send_to_worker(&message).unwrap();
        let bytes = &sender.get_ref()[4..];
        // The two large arrays and the large bytes are not in the message.
        assert!(bytes.len() < SHARED_MIN_BYTES);
        assert_eq!(decode_to_worker(bytes, &mut arena).unwrap(), message);
    }

    #[test]
    fn every_reply_round_trips() {
        let error = NodeError::exception("ValueError", "bad").with_traceback("Traceback ...");
        for reply in [
            FromWorker::Ready(Ok(())),
            FromWorker::Ready(Err(NodeError::new("no such node"))),
            FromWorker::Emit(sample()),
            FromWorker::Done(Err(error)),
        ] {
            let (mut sender, mut arena) = pair();
            sender.send_to_parent(&reply).unwrap();
            assert_eq!(
                decode_from_worker(&sender.get_ref()[4..], &mut arena).unwrap(),
                reply
            );
        }
    }

    #[test]
    fn malformed_messages_are_errors() {
        let mut arena = ArenaReader::empty();
        let cases: [&[u8]; 6] = [
            &[],
            &[99],
            &[
                tag::PROCESS,
                tag::LIST,
                255,
                255,
                255,
                255,
                255,
                255,
                255,
                255,
            ],
            &[
                tag::PROCESS,
                tag::SHARED_ARRAY,
                b'f',
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                64,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
            &[
                tag::PROCESS,
                tag::ARRAY,
                b'f',
                3,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
                2,
                3,
            ],
            &[tag::INITIALIZE, 0],
        ];
        for bytes in cases {
            assert!(
                matches!(
                    decode_to_worker(bytes, &mut arena),
                    Err(WireError::Malformed(_))
                ),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut bytes = vec![tag::PROCESS];
        for _ in 0..=MAX_DEPTH + 1 {
            bytes.push(tag::LIST);
            bytes.extend_from_slice(&1u64.to_le_bytes());
        }
        bytes.push(tag::NULL);
        let error = decode_to_worker(&bytes, &mut ArenaReader::empty()).unwrap_err();
        assert!(error.to_string().contains("nest deeper"), "{error}");
    }
}
