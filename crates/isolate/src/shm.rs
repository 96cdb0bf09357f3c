//! Shared memory for large arrays: one arena per direction, an anonymous memory file (memfd)
//! mapped by both processes.
//!
//! The parent creates both arenas before it starts the worker, which inherits them, so no file
//! descriptor is ever passed over the channel. The sender copies a message's large arrays into its
//! arena from the start and sends their offsets; the receiver copies them out before it answers,
//! and the protocol is strictly one message, one answer, so the sender never overwrites what the
//! receiver has not read. An arena grows (the sender enlarges the file, the receiver maps the new
//! size when an offset goes past its mapping) and is mapped once, not per item: a fresh mapping
//! would cost a page fault per 4 KiB of every array.

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapMut, MmapOptions};

use crate::lend::{Borrowed, Loan};
use crate::wire::padded;

/// The first size of an arena.
const MIN_ARENA_BYTES: usize = 1 << 20;

/// A new anonymous memory file (close-on-exec: the worker gets its copies by `dup2`), sealed
/// against shrinking: a hostile worker cannot truncate the arena under the parent's mapping, which
/// would end the parent with SIGBUS instead of the worker.
pub fn memfd(name: &str) -> io::Result<File> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::SEAL)?;
    Ok(File::from(fd))
}

/// The sending side of an arena.
#[derive(Debug)]
pub struct ArenaWriter {
    file: File,
    map: Option<MmapMut>,
    cursor: usize,
}

impl ArenaWriter {
    pub fn new(file: File) -> Self {
        ArenaWriter {
            file,
            map: None,
            cursor: 0,
        }
    }

    /// Starts a message that needs `needed` bytes, growing the arena when it is too small.
    pub(crate) fn reset(&mut self, needed: usize) -> io::Result<()> {
        self.cursor = 0;
        if needed == 0 || self.map.as_ref().is_some_and(|map| map.len() >= needed) {
            return Ok(());
        }
        let size = needed.next_power_of_two().max(MIN_ARENA_BYTES);
        self.map = None;
        self.file.set_len(size as u64)?;
        // SAFETY: the file is a memfd only this process and its worker hold; the worker maps it
        // read-only and reads only the ranges a message names, after this side wrote them.
        self.map = Some(unsafe { MmapMut::map_mut(&self.file)? });
        Ok(())
    }

    /// Copies `bytes` in; returns their offset. The space was reserved by [`reset`](Self::reset).
    pub(crate) fn push(&mut self, bytes: &[u8]) -> usize {
        let map = self.map.as_mut().expect("reset reserved the space");
        let offset = self.cursor;
        map[offset..offset + bytes.len()].copy_from_slice(bytes);
        self.cursor += padded(bytes.len());
        offset
    }
}

/// The receiving side of an arena, and in a worker that borrows, of the parent's array pool.
#[derive(Debug)]
pub struct ArenaReader {
    file: Option<File>,
    map: Option<Mmap>,
    pool: Option<Borrowed>,
}

impl ArenaReader {
    pub fn new(file: File) -> Self {
        ArenaReader {
            file: Some(file),
            map: None,
            pool: None,
        }
    }

    /// An arena with nothing in it: every shared reference is out of bounds (the fuzz targets).
    pub fn empty() -> Self {
        ArenaReader {
            file: None,
            map: None,
            pool: None,
        }
    }

    /// A worker's reader that can take arrays lent from the parent's pool.
    pub fn borrowing(self, pool: Borrowed) -> Self {
        ArenaReader {
            pool: Some(pool),
            ..self
        }
    }

    /// The block of a lent array of `length` bytes.
    pub(crate) fn borrow(
        &mut self,
        loan: Loan,
        length: u64,
    ) -> Result<Box<dyn remotemedia_core::buffer::Block>, String> {
        match &mut self.pool {
            Some(pool) => pool.borrow(loan, length),
            None => Err("an array was lent, but this side has no pool to borrow from".to_owned()),
        }
    }

    /// The `length` bytes at `offset`, mapping the arena's current size when they lie beyond
    /// what is mapped.
    pub(crate) fn slice(&mut self, offset: u64, length: u64) -> Result<&[u8], String> {
        let out_of_bounds = || format!("shared array at {offset}+{length} is outside the arena");
        let end = offset.checked_add(length).ok_or_else(out_of_bounds)?;
        let end = usize::try_from(end).map_err(|_| out_of_bounds())?;
        let mapped = self.map.as_ref().map_or(0, |map| map.len());
        if end > mapped {
            let Some(file) = &self.file else {
                return Err(out_of_bounds());
            };
            let size = file
                .metadata()
                .map_err(|err| format!("cannot read the arena's size: {err}"))?
                .len();
            if (size as u128) < end as u128 {
                return Err(out_of_bounds());
            }
            self.map = None;
            // SAFETY: a memfd shared with the other process, which only writes ranges that no
            // message in flight names; it never shrinks the file.
            let map = unsafe { MmapOptions::new().map(file) }
                .map_err(|err| format!("cannot map the arena: {err}"))?;
            self.map = Some(map);
        }
        let map = self.map.as_ref().ok_or_else(out_of_bounds)?;
        Ok(&map[offset as usize..end])
    }
}
