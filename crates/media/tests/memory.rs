//! Headers that claim gigabytes must not make the decoder allocate them: this test binary counts
//! every allocation and checks the peak while decoding lying files.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{TempDir, riff, wav_header};
use remotemedia_media::decode::{AudioDecoder, AudioInput};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One measurement at a time: the peak is process-wide.
static MEASURING: Mutex<()> = Mutex::new(());

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = CURRENT.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Decodes `bytes` as a file and returns the peak of memory allocated meanwhile, above what was
/// allocated before, and whether it failed.
fn peak_while_decoding(dir: &TempDir, name: &str, bytes: &[u8]) -> (usize, bool) {
    let path = dir.path(name);
    std::fs::write(&path, bytes).unwrap();
    let _one = MEASURING.lock().unwrap();
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let failed = match AudioDecoder::open(AudioInput::File(path), 20) {
        Err(_) => true,
        Ok(decoder) => decoder.into_iter().any(|item| item.is_err()),
    };
    (PEAK.load(Ordering::Relaxed) - base, failed)
}

/// Generous for decoding buffers (symphonia reads in blocks of up to 4 MB); far below the claims.
const BOUND: usize = 16 << 20;

#[test]
fn lying_lengths_allocate_what_is_there_not_what_is_claimed() {
    let dir = TempDir::new("memory");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // A LIST/INFO chunk that claims 4 GB, in a file whose RIFF length claims 4 GB too.
        ("list.wav", {
            let mut bytes = riff(&[(
                b"LIST",
                u32::MAX - 16,
                b"INFOISFT\xf0\xff\xff\xffabc".as_slice(),
            )]);
            bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
            bytes
        }),
        // A data chunk of 4 GB (the streaming marker) and of 1.5 GB, in 1 KB files.
        (
            "data-4gb.wav",
            [wav_header(1, 2, 48000, 16, u32::MAX), vec![1u8; 1000]].concat(),
        ),
        (
            "data-1.5gb.wav",
            [wav_header(1, 2, 48000, 16, 1_500_000_000), vec![1u8; 1000]].concat(),
        ),
        // The largest rate and channel count a header may state, which would make 20 ms frames
        // of 30 720 × 256 samples if frames were allocated by the header.
        (
            "wide.wav",
            [wav_header(1, 256, 1_536_000, 16, 4096), vec![1u8; 4096]].concat(),
        ),
        // A format chunk that claims 4 GB of extension.
        (
            "fmt.wav",
            riff(&[(
                b"fmt ",
                u32::MAX - 12,
                b"\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00".as_slice(),
            )]),
        ),
    ];
    for (name, bytes) in cases {
        let (peak, failed) = peak_while_decoding(&dir, name, &bytes);
        eprintln!("{name}: peak {peak} bytes, failed: {failed}");
        assert!(
            peak < BOUND,
            "{name}: {peak} bytes allocated at the peak (failed: {failed})"
        );
        // The count works: every decoder holds a read buffer — the WAV header check's 8 KiB (which
        // refuses list.wav and fmt.wav), then symphonia's 64 KiB read-ahead.
        assert!(peak >= 8 << 10, "{name}: only {peak} bytes counted");
    }
}
