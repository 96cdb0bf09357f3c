//! The messages between the parent and a worker, and how values travel in them.
//!
//! A message is a little-endian `u32` length and that many bytes: a tag, then the body. Values are
//! encoded field by field (no JSON, no Python pickles); a typed array or a bytes value of
//! [`SHARED_MIN_BYTES`] or more travels through the sender's shared-memory arena ([`crate::shm`])
//! and the message carries only where it is — or, for an array born in the parent's pool that
//! the worker may borrow, is lent without any copy ([`crate::lend`]). Decoding trusts nothing: every length is checked
//! against what is there, nesting is bounded, and a bad message is a [`WireError`], never a panic
//! (the decoder is fuzzed: `fuzz/`).

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;
use num_bigint::BigInt;
use remotemedia_core::buffer::{Block, Element};
use remotemedia_core::engine::NodeError;
use remotemedia_core::value::{Array, Buffer, Value};

use crate::lend::{Loan, Loans, pool_offset};
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
    /// Loans the worker gave back (sent before another message, never answered).
    Returned(Vec<u64>),
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
    pub const RETURNED: u8 = 19;

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
    pub const LENT_ARRAY: u8 = 13;
}

/// Writes messages: encodes into a reused buffer, large arrays into the arena (or lent).
#[derive(Debug)]
pub struct Sender<W: Write> {
    out: W,
    buffer: Vec<u8>,
    arena: ArenaWriter,
    /// The parent's: the arrays it lends this worker instead of copying them.
    loans: Option<Arc<Loans>>,
    /// The worker's: the loans it gave back, to tell the parent before its next message.
    returned: Option<Arc<Mutex<Vec<u64>>>>,
}

impl<W: Write> Sender<W> {
    pub fn new(out: W, arena: ArenaWriter) -> Self {
        Sender {
            out,
            buffer: Vec::new(),
            arena,
            loans: None,
            returned: None,
        }
    }

    /// A parent's sender that lends the worker arrays born in the pool.
    pub fn lending(self, loans: Arc<Loans>) -> Self {
        Sender {
            loans: Some(loans),
            ..self
        }
    }

    /// A worker's sender that gives back the loans in `returned` before each message.
    pub fn returning(self, returned: Arc<Mutex<Vec<u64>>>) -> Self {
        Sender {
            returned: Some(returned),
            ..self
        }
    }

    /// The stream messages are written to.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Sends one message to the parent, after the loans given back since the last one.
    pub fn send_to_parent(&mut self, message: &FromWorker) -> io::Result<()> {
        let returned = self.returned.as_ref().map(|returned| {
            std::mem::take(&mut *returned.lock().unwrap_or_else(PoisonError::into_inner))
        });
        if let Some(ids) = returned.filter(|ids| !ids.is_empty()) {
            self.write_to_parent(&FromWorker::Returned(ids))?;
        }
        self.write_to_parent(message)
    }

    fn write_to_parent(&mut self, message: &FromWorker) -> io::Result<()> {
        let shared = match message {
            FromWorker::Emit(value) => self.shared_bytes(value),
            _ => 0,
        };
        self.begin(shared)?;
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
            FromWorker::Returned(ids) => {
                self.buffer.push(tag::RETURNED);
                put_u64(&mut self.buffer, ids.len() as u64);
                for id in ids {
                    put_u64(&mut self.buffer, *id);
                }
            }
        }
        self.finish()
    }

    /// Sends one message to the worker.
    pub fn send_to_worker(&mut self, message: &ToWorker) -> io::Result<()> {
        let shared = match message {
            ToWorker::Start { params, .. } => self.shared_bytes(params),
            ToWorker::Process(value) => self.shared_bytes(value),
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
                if let Some(loan) = self.loans.as_ref().and_then(|loans| loans.lend(array)) {
                    self.buffer.push(tag::LENT_ARRAY);
                    self.buffer.push(array.typecode() as u8);
                    put_u64(&mut self.buffer, loan.id);
                    put_u64(&mut self.buffer, loan.offset);
                    put_u64(&mut self.buffer, bytes.len() as u64);
                } else if bytes.len() >= SHARED_MIN_BYTES {
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

impl<W: Write> Sender<W> {
    /// Bytes of the arena a value's large arrays take, each padded to 64 bytes (lent ones none).
    fn shared_bytes(&self, value: &Value) -> usize {
        match value {
            Value::Bytes(bytes) if bytes.len() >= SHARED_MIN_BYTES => padded(bytes.len()),
            Value::Array(array) => {
                let size = array_bytes(array).len();
                let lent = self.loans.is_some() && pool_offset(array).is_some();
                if size >= SHARED_MIN_BYTES && !lent {
                    padded(size)
                } else {
                    0
                }
            }
            Value::List(items) => items.iter().map(|item| self.shared_bytes(item)).sum(),
            Value::Map(map) => map.values().map(|item| self.shared_bytes(item)).sum(),
            _ => 0,
        }
    }
}

/// `size` rounded up to the arena's alignment.
pub(crate) fn padded(size: usize) -> usize {
    size.div_ceil(64) * 64
}

/// An array's elements as little-endian bytes (the only byte order the parent and its worker,
/// one executable on one machine, can have between them).
fn array_bytes(array: &Array) -> &[u8] {
    match array {
        Array::I16(a) => a.as_bytes(),
        Array::I32(a) => a.as_bytes(),
        Array::I64(a) => a.as_bytes(),
        Array::F32(a) => a.as_bytes(),
        Array::F64(a) => a.as_bytes(),
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

/// Reads messages: one length-prefixed frame at a time, shared arrays copied out of the arena
/// (lent ones read in place).
#[derive(Debug)]
pub struct Receiver<R: Read> {
    input: R,
    buffer: Vec<u8>,
    arena: ArenaReader,
    /// The parent's: the loans the worker gives back.
    loans: Option<Arc<Loans>>,
}

impl<R: Read> Receiver<R> {
    pub fn new(input: R, arena: ArenaReader) -> Self {
        Receiver {
            input,
            buffer: Vec::new(),
            arena,
            loans: None,
        }
    }

    /// A parent's receiver that settles the loans the worker gives back.
    pub fn settling(self, loans: Arc<Loans>) -> Self {
        Receiver {
            loans: Some(loans),
            ..self
        }
    }

    /// The next message from the worker (loans given back are settled on the way).
    pub fn recv_from_worker(&mut self) -> Result<FromWorker, WireError> {
        loop {
            self.read_frame()?;
            match decode_from_worker(&self.buffer, &mut self.arena)? {
                FromWorker::Returned(ids) => {
                    if let Some(loans) = &self.loans {
                        loans.settle(&ids);
                    }
                }
                message => return Ok(message),
            }
        }
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
        tag::RETURNED => {
            // Every number takes 8 bytes, so the count is bounded by the message.
            let count = reader.length()?;
            let ids = (0..count).map(|_| reader.u64()).collect::<Result<_, _>>()?;
            FromWorker::Returned(ids)
        }
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
            tag::LENT_ARRAY => {
                let typecode = self.u8()?;
                let loan = Loan {
                    id: self.u64()?,
                    offset: self.u64()?,
                };
                let length = self.u64()?;
                let block = self.arena.borrow(loan, length).map_err(malformed)?;
                Value::Array(array_in_block(typecode, block, length)?)
            }
            tag::SHARED_BYTES => {
                let (offset, length) = (self.u64()?, self.u64()?);
                Value::Bytes(self.arena.slice(offset, length).map_err(malformed)?.into())
            }
            other => return Err(malformed(format!("unknown value tag {other}"))),
        })
    }
}

/// A typed array copied out of little-endian bytes (in one `memcpy` when they are aligned for the
/// element type, as in shared memory, where every array starts on 64 bytes).
fn array_from_bytes(typecode: u8, bytes: &[u8]) -> Result<Array, WireError> {
    fn elements<T: Element>(bytes: &[u8]) -> Result<Buffer<T>, WireError> {
        element_count::<T>(bytes.len() as u64)?;
        Ok(Buffer::from_le_bytes(bytes).expect("whole elements (checked)"))
    }
    Ok(match typecode {
        b'h' => Array::I16(elements(bytes)?),
        b'i' => Array::I32(elements(bytes)?),
        b'q' => Array::I64(elements(bytes)?),
        b'f' => Array::F32(elements(bytes)?),
        b'd' => Array::F64(elements(bytes)?),
        other => return Err(malformed(format!("unknown array typecode {other}"))),
    })
}

/// A lent array: its `length` bytes read in place in `block`.
fn array_in_block(typecode: u8, block: Box<dyn Block>, length: u64) -> Result<Array, WireError> {
    fn elements<T: Element>(block: Box<dyn Block>, length: u64) -> Result<Buffer<T>, WireError> {
        let len = element_count::<T>(length)?;
        Buffer::in_block(block, len).ok_or_else(|| malformed("a lent array overruns its block"))
    }
    Ok(match typecode {
        b'h' => Array::I16(elements(block, length)?),
        b'i' => Array::I32(elements(block, length)?),
        b'q' => Array::I64(elements(block, length)?),
        b'f' => Array::F32(elements(block, length)?),
        b'd' => Array::F64(elements(block, length)?),
        other => return Err(malformed(format!("unknown array typecode {other}"))),
    })
}

/// How many `T` make `bytes` bytes; an error when they do not divide.
fn element_count<T>(bytes: u64) -> Result<usize, WireError> {
    let size = std::mem::size_of::<T>() as u64;
    if !bytes.is_multiple_of(size) {
        return Err(malformed(format!(
            "an array of {bytes} bytes is not made of {size}-byte elements"
        )));
    }
    usize::try_from(bytes / size).map_err(|_| malformed(format!("an array of {bytes} bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lend::Borrowed;
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
    fn arrays_born_in_the_pool_are_lent_in_place_and_given_back() {
        let pool = crate::lend::tests::pool();
        let samples: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
        let array = Array::F32(crate::lend::tests::born_in(&pool, &samples));
        let message = ToWorker::Process(Value::List(vec![Value::Array(array), Value::Int(7)]));

        let loans = Arc::new(Loans::default());
        let (sender, _) = pair();
        let mut parent = sender.lending(Arc::clone(&loans));
        parent.send_to_worker(&message).unwrap();
        // Only where the array is travels: no copy in the message or the arena.
        assert!(parent.get_ref().len() < 64);
        assert_eq!(loans.outstanding(), 1);

        let borrowed = Borrowed::new(pool.read_only_file().unwrap());
        let returned = borrowed.returned();
        let mut arena = ArenaReader::empty().borrowing(borrowed);
        let received = decode_to_worker(&parent.get_ref()[4..], &mut arena).unwrap();
        assert_eq!(received, message);
        let ToWorker::Process(Value::List(items)) = &received else {
            panic!("{received:?}")
        };
        let Value::Array(Array::F32(lent)) = &items[0] else {
            panic!("{items:?}")
        };
        assert!(lent.block().is_some(), "read in place, not copied");
        assert!(returned.lock().unwrap().is_empty());
        drop(received);

        // The worker's next message gives the loan back first; the parent settles it.
        let (sender, _) = pair();
        let mut worker = sender.returning(returned);
        worker.send_to_parent(&FromWorker::Done(Ok(()))).unwrap();
        let mut receiver =
            Receiver::new(&worker.get_ref()[..], ArenaReader::empty()).settling(Arc::clone(&loans));
        assert_eq!(
            receiver.recv_from_worker().unwrap(),
            FromWorker::Done(Ok(()))
        );
        assert_eq!(loans.outstanding(), 0);
    }

    #[test]
    fn a_lent_array_without_a_pool_to_borrow_from_is_an_error() {
        let pool = crate::lend::tests::pool();
        let array = Array::F32(crate::lend::tests::born_in(&pool, &[0.5; 20_000]));
        let (sender, mut arena) = pair();
        let mut parent = sender.lending(Arc::new(Loans::default()));
        parent
            .send_to_worker(&ToWorker::Process(Value::Array(array)))
            .unwrap();
        let error = decode_to_worker(&parent.get_ref()[4..], &mut arena).unwrap_err();
        assert!(error.to_string().contains("no pool"), "{error}");
    }

    #[test]
    fn every_reply_round_trips() {
        let error = NodeError::exception("ValueError", "bad").with_traceback("Traceback ...");
        for reply in [
            FromWorker::Ready(Ok(())),
            FromWorker::Ready(Err(NodeError::new("no such node"))),
            FromWorker::Emit(sample()),
            FromWorker::Done(Err(error)),
            FromWorker::Returned(vec![1, u64::MAX]),
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
