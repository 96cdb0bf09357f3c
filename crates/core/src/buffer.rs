//! The elements of a typed array: immutable, shared by every clone, in the process heap or in a
//! block of memory the embedder provides.
//!
//! The second kind exists for process isolation: an array born in shared memory that a worker
//! process maps can be lent to that worker without a copy, so passing it costs the same whatever
//! its size. An embedder installs such memory once per process with [`set_array_memory`]; the
//! conversions that make arrays (out of an interpreter, off a wire) then ask it first, through
//! [`Buffer::filled`] and [`Buffer::copied`].

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A number an array may hold. Sealed: every bit pattern of these types is a valid value, which
/// is what lets a [`Block`]'s bytes be read as elements.
pub trait Element:
    Copy + Default + fmt::Debug + PartialEq + Send + Sync + 'static + sealed::Sealed
{
}

mod sealed {
    pub trait Sealed {
        /// One element from its first `size_of::<Self>()` bytes, little-endian or native.
        fn from_bytes(bytes: &[u8], little_endian: bool) -> Self;
    }
}

macro_rules! elements {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {
            fn from_bytes(bytes: &[u8], little_endian: bool) -> Self {
                let bytes = bytes[..size_of::<$t>()].try_into().expect("an element's bytes");
                if little_endian { <$t>::from_le_bytes(bytes) } else { <$t>::from_ne_bytes(bytes) }
            }
        }
        impl Element for $t {}
    )*};
}
elements!(i16, i32, i64, f32, f64);

/// Memory outside the heap that arrays can be born in (see [`set_array_memory`]).
pub trait ArrayMemory: Send + Sync + 'static {
    /// A block of at least `bytes` bytes for a new array, or `None` to use the heap (e.g. for an
    /// array too small to be worth it).
    fn allocate(&self, bytes: usize) -> Option<Box<dyn Block>>;
}

/// A block of memory holding one array's elements; dropped (returned to its memory) when the last
/// clone of the array goes.
///
/// # Safety
/// [`start`](Block::start) must point to [`size`](Block::size) initialized bytes, aligned to 64,
/// valid while the block lives, and written by nobody else while it lives: a [`Buffer`] reads them
/// as shared, immutable elements.
pub unsafe trait Block: Any + Send + Sync + fmt::Debug {
    fn start(&self) -> *mut u8;
    fn size(&self) -> usize;
}

static ARRAY_MEMORY: OnceLock<Box<dyn ArrayMemory>> = OnceLock::new();

/// Installs the memory new arrays are born in, for the rest of the process. Only the first call
/// installs anything; it says whether it was this one.
pub fn set_array_memory(memory: Box<dyn ArrayMemory>) -> bool {
    ARRAY_MEMORY.set(memory).is_ok()
}

/// The elements of a typed array (see the module documentation).
#[derive(Clone)]
pub struct Buffer<T: Element> {
    repr: Repr<T>,
}

#[derive(Clone)]
enum Repr<T> {
    Heap(Arc<[T]>),
    Block {
        block: Arc<dyn Block>,
        len: usize,
        elements: PhantomData<T>,
    },
}

impl<T: Element> Buffer<T> {
    /// `len` elements written by `fill`, born in the installed [`ArrayMemory`] when it takes them.
    pub fn filled(len: usize, fill: impl FnOnce(&mut [T])) -> Self {
        let bytes = len * size_of::<T>();
        if let Some(block) = ARRAY_MEMORY.get().and_then(|memory| memory.allocate(bytes))
            && block.size() >= bytes
        {
            // SAFETY: the block's contract: `bytes` initialized bytes, aligned to 64 (so for T),
            // that nobody else writes; every bit pattern is a valid `T` (sealed `Element`). This
            // is the only reference to them until the buffer below is made.
            let items = unsafe { std::slice::from_raw_parts_mut(block.start().cast::<T>(), len) };
            fill(items);
            return Self::in_block(block, len).expect("the block holds `len` elements (checked)");
        }
        let mut items = vec![T::default(); len];
        fill(&mut items);
        items.into()
    }

    /// A copy of `items`, born in the installed [`ArrayMemory`] when it takes them.
    pub fn copied(items: &[T]) -> Self {
        Self::filled(items.len(), |into| into.copy_from_slice(items))
    }

    /// The elements in `bytes`, little-endian (as the wire formats carry them); `None` when the
    /// bytes do not divide into elements.
    pub fn from_le_bytes(bytes: &[u8]) -> Option<Self> {
        Self::decode(bytes, true)
    }

    /// The elements in `bytes`, in this machine's byte order (an interpreter's buffer).
    pub fn from_ne_bytes(bytes: &[u8]) -> Option<Self> {
        Self::decode(bytes, false)
    }

    fn decode(bytes: &[u8], little_endian: bool) -> Option<Self> {
        let size = size_of::<T>();
        if !bytes.len().is_multiple_of(size) {
            return None;
        }
        let len = bytes.len() / size;
        if (!little_endian || cfg!(target_endian = "little"))
            && bytes.as_ptr().cast::<T>().is_aligned()
        {
            // SAFETY: aligned for T (checked), `len` whole elements (checked), in this machine's
            // byte order (checked), and every bit pattern is a valid `T` (sealed `Element`).
            let items = unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), len) };
            return Some(Self::copied(items));
        }
        Some(Self::filled(len, |items| {
            for (item, chunk) in items.iter_mut().zip(bytes.chunks_exact(size)) {
                *item = T::from_bytes(chunk, little_endian);
            }
        }))
    }

    /// The first `len` elements of a block someone else filled (an array lent by another process).
    /// `None` when the block is too small for them.
    pub fn in_block(block: Box<dyn Block>, len: usize) -> Option<Self> {
        (len.checked_mul(size_of::<T>())? <= block.size()).then(|| Buffer {
            repr: Repr::Block {
                block: Arc::from(block),
                len,
                elements: PhantomData,
            },
        })
    }

    /// The block the elements live in, when they are not in the heap.
    pub fn block(&self) -> Option<&dyn Block> {
        match &self.repr {
            Repr::Heap(_) => None,
            Repr::Block { block, .. } => Some(block.as_ref()),
        }
    }

    /// The elements as bytes, in this machine's byte order.
    pub fn as_bytes(&self) -> &[u8] {
        let items: &[T] = self;
        // SAFETY: plain numbers have no padding; the bytes are exactly the elements' memory.
        unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), size_of_val(items)) }
    }
}

impl<T: Element> Deref for Buffer<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.repr {
            Repr::Heap(items) => items,
            // SAFETY: `len` elements fit the block (checked when it was wrapped), which is aligned,
            // initialized and not written while it lives (the `Block` contract).
            Repr::Block { block, len, .. } => unsafe {
                std::slice::from_raw_parts(block.start().cast::<T>(), *len)
            },
        }
    }
}

impl<T: Element> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Element> PartialEq for Buffer<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Element> From<Vec<T>> for Buffer<T> {
    fn from(items: Vec<T>) -> Self {
        Buffer {
            repr: Repr::Heap(items.into()),
        }
    }
}

impl<T: Element> From<Arc<[T]>> for Buffer<T> {
    fn from(items: Arc<[T]>) -> Self {
        Buffer {
            repr: Repr::Heap(items),
        }
    }
}

impl<T: Element> From<&[T]> for Buffer<T> {
    fn from(items: &[T]) -> Self {
        Self::copied(items)
    }
}

impl<T: Element> FromIterator<T> for Buffer<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        items.into_iter().collect::<Vec<T>>().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block in the heap, as a test's stand-in for shared memory.
    #[derive(Debug)]
    struct HeapBlock(Box<[u64]>);

    // SAFETY: a boxed slice of u64 is initialized, 8-aligned (the tests only use it for elements
    // of 8 bytes or less), lives as long as the block and is written only through `start` before
    // the buffer is made.
    unsafe impl Block for HeapBlock {
        fn start(&self) -> *mut u8 {
            self.0.as_ptr().cast_mut().cast()
        }
        fn size(&self) -> usize {
            self.0.len() * 8
        }
    }

    #[test]
    fn heap_and_block_buffers_compare_by_elements() {
        let heap: Buffer<f32> = vec![1.0, 2.5].into();
        let mut words = vec![0u64; 1].into_boxed_slice();
        let halves: [f32; 2] = [1.0, 2.5];
        words[0] = u64::from(halves[0].to_bits()) | (u64::from(halves[1].to_bits()) << 32);
        let lent = Buffer::<f32>::in_block(Box::new(HeapBlock(words)), 2).unwrap();
        assert_eq!(heap, lent);
        assert!(lent.block().is_some() && heap.block().is_none());
        assert_eq!(lent.clone().as_bytes().len(), 8);
    }

    #[test]
    fn elements_decode_from_bytes_aligned_or_not() {
        let bytes: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let mut unaligned = vec![0u8];
        unaligned.extend_from_slice(&bytes);
        for bytes in [&bytes[..], &unaligned[1..]] {
            assert_eq!(&*Buffer::<f32>::from_le_bytes(bytes).unwrap(), &[1.5, -2.0]);
            assert_eq!(&*Buffer::<f32>::from_ne_bytes(bytes).unwrap(), &[1.5, -2.0]);
        }
        assert!(Buffer::<f32>::from_le_bytes(&bytes[..7]).is_none());
    }

    #[test]
    fn a_block_too_small_is_refused() {
        let block = Box::new(HeapBlock(vec![0u64; 1].into_boxed_slice()));
        assert!(Buffer::<f64>::in_block(block, 2).is_none());
    }

    #[test]
    fn without_array_memory_arrays_are_born_in_the_heap() {
        let buffer = Buffer::<i16>::filled(3, |items| items.copy_from_slice(&[1, -2, 3]));
        assert_eq!(&*buffer, &[1, -2, 3]);
        assert!(buffer.block().is_none());
    }
}
