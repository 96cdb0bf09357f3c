//! Arrays lent to a worker without a copy.
//!
//! Once a process starts an isolated node, the arrays it makes from then on (out of an
//! interpreter, off a wire) of [`SHARED_MIN_BYTES`] or more are born in its **array pool**: one
//! memory file, mapped in segments that are never unmapped, which every isolated worker that may
//! borrow maps read-only through a read-only file descriptor. Passing such an array to a worker
//! sends where it is and a loan number; the worker reads it in place (numpy views it), and says
//! which loans it gave back with its next message. The parent keeps each lent array alive until
//! then, so its block is not reused while the worker can still see it. The cost is the same for
//! 64 KiB and for 1 GiB: no copy, and no page fault once a segment has been touched.
//!
//! Workers under a sandbox, or with a memory limit, do not borrow: the pool holds every array of
//! the process, which an untrusted node must not read, and its mapping would count against the
//! limit. They get copies through the arenas ([`crate::shm`]) as before.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use memmap2::{Mmap, MmapOptions, MmapRaw};
use remotemedia_core::buffer::{ArrayMemory, Block, set_array_memory};
use remotemedia_core::value::Array;

use crate::shm::memfd;
use crate::wire::SHARED_MIN_BYTES;

/// The first segment's size; segment `k ≥ 1` covers `[FIRST << (k-1), FIRST << k)`, so each new
/// segment doubles the pool and an array of any size fits in one segment.
const FIRST_SEGMENT: u64 = 64 << 20;
/// The most address space the pool takes (it is a sparse file: only what arrays use is memory).
const MAX_POOL: u64 = 64 << 30;
/// Freed blocks keep their memory, for the next array of their size, up to this many bytes in
/// all; past it a freed block's memory goes back to the system.
const MAX_CACHED: usize = 256 << 20;

fn segment_of(offset: u64) -> usize {
    if offset < FIRST_SEGMENT {
        0
    } else {
        (offset / FIRST_SEGMENT).ilog2() as usize + 1
    }
}

fn segment_range(segment: usize) -> (u64, u64) {
    match segment {
        0 => (0, FIRST_SEGMENT),
        k => (FIRST_SEGMENT << (k - 1), FIRST_SEGMENT << k),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This process's array pool (see the module documentation).
#[derive(Debug)]
pub struct ArrayPool {
    file: File,
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Segments `0..len`, mapped read-write.
    segments: Vec<MmapRaw>,
    /// Where the next new block starts.
    next: u64,
    /// Freed blocks by size, and whether their memory is still there.
    free: HashMap<usize, Vec<(u64, bool)>>,
    cached: usize,
}

static POOL: OnceLock<Option<Arc<ArrayPool>>> = OnceLock::new();

impl ArrayPool {
    /// The pool, created and made the process's array memory on first use; `None` when it cannot
    /// be (no memfd, or an embedder installed other array memory): then workers get copies.
    pub fn get() -> Option<&'static Arc<ArrayPool>> {
        POOL.get_or_init(|| {
            let pool = match ArrayPool::new() {
                Ok(pool) => pool,
                Err(err) => {
                    tracing::debug!("no array pool, isolated nodes get copies: {err}");
                    return None;
                }
            };
            set_array_memory(Box::new(PoolMemory(Arc::clone(&pool)))).then_some(pool)
        })
        .as_ref()
    }

    /// A pool of its own (the process's is [`ArrayPool::get`]).
    fn new() -> std::io::Result<Arc<ArrayPool>> {
        Ok(Arc::new(ArrayPool {
            file: memfd("remotemedia-arrays")?,
            state: Mutex::default(),
        }))
    }

    /// A read-only descriptor of the pool's file, for a worker: it can map the pool but not
    /// write it.
    pub fn read_only_file(&self) -> std::io::Result<File> {
        File::open(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    fn allocate_block(self: &Arc<Self>, bytes: usize) -> Option<PoolBlock> {
        if bytes < SHARED_MIN_BYTES {
            return None;
        }
        let size = bytes.checked_next_power_of_two()?;
        let mut state = lock(&self.state);
        let reused = state.free.get_mut(&size).and_then(Vec::pop);
        let offset = match reused {
            Some((offset, resident)) => {
                if resident {
                    state.cached -= size;
                }
                offset
            }
            None => self.grow(&mut state, size as u64)?,
        };
        let segment = segment_of(offset);
        let (start, _) = segment_range(segment);
        // SAFETY: `offset + size` lies inside segment `segment`, which is mapped (`grow`).
        let pointer = unsafe {
            state.segments[segment]
                .as_mut_ptr()
                .add((offset - start) as usize)
        };
        Some(PoolBlock {
            pool: Arc::clone(self),
            offset,
            size,
            pointer,
        })
    }

    /// A new block of `size` bytes at the end of the pool, mapping a new segment when needed.
    fn grow(&self, state: &mut PoolState, size: u64) -> Option<u64> {
        loop {
            let segment = segment_of(state.next);
            let (_, end) = segment_range(segment);
            if end > MAX_POOL {
                return None;
            }
            if state.next + size > end {
                state.next = end;
                continue;
            }
            while state.segments.len() <= segment {
                let (start, end) = segment_range(state.segments.len());
                let mapped = self.file.set_len(end).and_then(|()| {
                    MmapOptions::new()
                        .offset(start)
                        .len((end - start) as usize)
                        .map_raw(&self.file)
                });
                match mapped {
                    Ok(map) => state.segments.push(map),
                    Err(err) => {
                        tracing::debug!("the array pool cannot grow to {end} bytes: {err}");
                        return None;
                    }
                }
            }
            let offset = state.next;
            state.next += size;
            return Some(offset);
        }
    }

    fn free(&self, offset: u64, size: usize) {
        let mut state = lock(&self.state);
        let resident = state.cached + size <= MAX_CACHED;
        if resident {
            state.cached += size;
        } else {
            // SAFETY: a plain system call on a descriptor this pool owns; the range is a block
            // nobody uses any more (its last array was dropped).
            unsafe {
                libc::fallocate(
                    self.file.as_raw_fd(),
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    offset as libc::off_t,
                    size as libc::off_t,
                );
            }
        }
        state.free.entry(size).or_default().push((offset, resident));
    }
}

/// The pool as the process's array memory.
#[derive(Debug)]
struct PoolMemory(Arc<ArrayPool>);

impl ArrayMemory for PoolMemory {
    fn allocate(&self, bytes: usize) -> Option<Box<dyn Block>> {
        Some(Box::new(self.0.allocate_block(bytes)?))
    }
}

/// One array's block in the pool; back to the pool's free blocks when the array's last clone goes.
#[derive(Debug)]
struct PoolBlock {
    pool: Arc<ArrayPool>,
    offset: u64,
    size: usize,
    pointer: *mut u8,
}

// SAFETY: the pointer is into a mapping the pool keeps for as long as the process lives; the
// block's bytes are only written by `Buffer::filled` before any other reference to them exists.
unsafe impl Send for PoolBlock {}
unsafe impl Sync for PoolBlock {}

// SAFETY: `size` bytes at a 64 KiB multiple of a page-aligned mapping, initialized (file memory),
// alive while the pool is; the pool hands the block to nobody else until it is dropped, and
// workers map the pool read-only.
unsafe impl Block for PoolBlock {
    fn start(&self) -> *mut u8 {
        self.pointer
    }
    fn size(&self) -> usize {
        self.size
    }
}

impl Drop for PoolBlock {
    fn drop(&mut self) {
        self.pool.free(self.offset, self.size);
    }
}

/// Where a lent array is, as a message carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loan {
    pub id: u64,
    pub offset: u64,
}

/// The arrays a parent lent to one worker and has not had back.
#[derive(Debug, Default)]
pub struct Loans {
    lent: Mutex<HashMap<u64, Array>>,
    /// The last loan's number.
    last: AtomicU64,
}

impl Loans {
    /// Lends `array` when it lives in the pool: keeps it until the worker gives it back.
    pub fn lend(&self, array: &Array) -> Option<Loan> {
        let offset = pool_offset(array)?;
        let id = self.last.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.lent).insert(id, array.clone());
        Some(Loan { id, offset })
    }

    /// The worker gave these loans back (unknown numbers are ignored: a worker cannot free what it
    /// was not lent).
    pub fn settle(&self, ids: &[u64]) {
        let mut lent = lock(&self.lent);
        for id in ids {
            lent.remove(id);
        }
    }

    /// How many arrays are out on loan.
    pub fn outstanding(&self) -> usize {
        lock(&self.lent).len()
    }
}

/// Where `array` lives in the pool, when it does.
pub(crate) fn pool_offset(array: &Array) -> Option<u64> {
    let block = match array {
        Array::I16(a) => a.block(),
        Array::I32(a) => a.block(),
        Array::I64(a) => a.block(),
        Array::F32(a) => a.block(),
        Array::F64(a) => a.block(),
    }?;
    let block: &dyn std::any::Any = block;
    Some(block.downcast_ref::<PoolBlock>()?.offset)
}

/// A worker's read-only view of its parent's pool, and the loans it has given back since its
/// last message.
#[derive(Debug)]
pub struct Borrowed {
    file: File,
    segments: Vec<Option<Arc<Mmap>>>,
    returned: Arc<Mutex<Vec<u64>>>,
}

impl Borrowed {
    pub fn new(file: File) -> Self {
        Borrowed {
            file,
            segments: Vec::new(),
            returned: Arc::default(),
        }
    }

    /// The loans given back since the last call, to tell the parent.
    pub fn returned(&self) -> Arc<Mutex<Vec<u64>>> {
        Arc::clone(&self.returned)
    }

    /// The `bytes` bytes of loan `loan`: a block read in place, given back when dropped.
    pub fn borrow(&mut self, loan: Loan, bytes: u64) -> Result<Box<dyn Block>, String> {
        let outside = || {
            format!(
                "lent array at {}+{bytes} is outside the parent's pool",
                loan.offset
            )
        };
        if loan.offset >= MAX_POOL {
            return Err(outside());
        }
        if !loan.offset.is_multiple_of(64) {
            return Err(format!("lent array at {} is not aligned", loan.offset));
        }
        let segment = segment_of(loan.offset);
        let (start, end) = segment_range(segment);
        if end > MAX_POOL || loan.offset.checked_add(bytes).is_none_or(|last| last > end) {
            return Err(outside());
        }
        if self.segments.len() <= segment {
            self.segments.resize(segment + 1, None);
        }
        let map = match &self.segments[segment] {
            Some(map) => Arc::clone(map),
            None => {
                let size = self
                    .file
                    .metadata()
                    .map_err(|err| format!("cannot read the pool's size: {err}"))?
                    .len();
                if size < end {
                    return Err(outside());
                }
                // SAFETY: a read-only mapping of the parent's pool, which never shrinks (sealed)
                // and never writes a block while it is lent.
                let map = unsafe {
                    MmapOptions::new()
                        .offset(start)
                        .len((end - start) as usize)
                        .map(&self.file)
                }
                .map_err(|err| format!("cannot map the parent's pool: {err}"))?;
                let map = Arc::new(map);
                self.segments[segment] = Some(Arc::clone(&map));
                map
            }
        };
        Ok(Box::new(LentBlock {
            map,
            at: (loan.offset - start) as usize,
            len: bytes as usize,
            id: loan.id,
            returned: Arc::clone(&self.returned),
        }))
    }
}

/// A block lent by the parent, read in place; given back when the array's last clone goes.
#[derive(Debug)]
struct LentBlock {
    map: Arc<Mmap>,
    at: usize,
    len: usize,
    id: u64,
    returned: Arc<Mutex<Vec<u64>>>,
}

// SAFETY: `len` bytes at `at` inside `map` (checked by `borrow`), 64-byte aligned in a
// page-aligned mapping that the block keeps alive; the parent does not write them until the loan
// is given back, after this block is dropped. Nothing writes through `start` (only freshly
// allocated blocks are filled).
unsafe impl Block for LentBlock {
    fn start(&self) -> *mut u8 {
        self.map[self.at..].as_ptr().cast_mut()
    }
    fn size(&self) -> usize {
        self.len
    }
}

impl Drop for LentBlock {
    fn drop(&mut self) {
        lock(&self.returned).push(self.id);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use remotemedia_core::buffer::Buffer;

    /// A pool of its own, for tests (the process's would serve every test at once).
    pub(crate) fn pool() -> Arc<ArrayPool> {
        ArrayPool::new().unwrap()
    }

    /// `items` copied into a block of `pool`, as an array born there.
    pub(crate) fn born_in(pool: &Arc<ArrayPool>, items: &[f32]) -> Buffer<f32> {
        let block = pool.allocate_block(size_of_val(items)).unwrap();
        // SAFETY: a fresh block of at least this many bytes, aligned, that nothing else uses.
        unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), block.start().cast(), items.len()) };
        Buffer::in_block(Box::new(block), items.len()).unwrap()
    }

    #[test]
    fn small_arrays_stay_in_the_heap_and_freed_blocks_are_reused() {
        let pool = pool();
        assert!(pool.allocate_block(SHARED_MIN_BYTES - 1).is_none());
        let first = pool.allocate_block(100_000).unwrap();
        let second = pool.allocate_block(100_000).unwrap();
        assert_eq!(first.size(), 128 * 1024);
        assert_ne!(first.offset, second.offset);
        let offset = first.offset;
        drop(first);
        assert_eq!(pool.allocate_block(70_000).unwrap().offset, offset);
    }

    #[test]
    fn an_array_larger_than_the_first_segment_gets_a_segment_it_fits() {
        let pool = pool();
        let small = pool.allocate_block(SHARED_MIN_BYTES).unwrap();
        let large = pool.allocate_block(FIRST_SEGMENT as usize + 1).unwrap();
        let (start, end) = segment_range(segment_of(large.offset));
        assert!(large.offset >= start && large.offset + large.size() as u64 <= end);
        assert_eq!(small.offset, 0);
    }

    #[test]
    fn a_worker_borrows_only_what_lies_in_the_pool() {
        let pool = pool();
        let kept = born_in(&pool, &[1.0; 20_000]);
        let mut borrowed = Borrowed::new(pool.read_only_file().unwrap());
        let at = |offset| Loan { id: 1, offset };
        assert!(borrowed.borrow(at(0), 80_000).is_ok());
        assert!(
            borrowed
                .borrow(at(8), 64)
                .unwrap_err()
                .contains("not aligned")
        );
        // Past the pool's file (only the first segment exists), and across a segment's end.
        assert!(
            borrowed
                .borrow(at(FIRST_SEGMENT), 64)
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            borrowed
                .borrow(at(0), FIRST_SEGMENT + 64)
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            borrowed
                .borrow(at(u64::MAX - 63), 64)
                .unwrap_err()
                .contains("outside")
        );
        drop(kept);
    }

    #[test]
    fn the_read_only_descriptor_cannot_write_the_pool() {
        let pool = pool();
        let _block = pool.allocate_block(SHARED_MIN_BYTES).unwrap();
        let file = pool.read_only_file().unwrap();
        // SAFETY: only attempts the mapping; nothing is read or written through it.
        let writable = unsafe { MmapOptions::new().len(4096).map_mut(&file) };
        assert!(writable.is_err());
    }
}
