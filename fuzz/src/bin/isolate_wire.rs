//! The isolation channel's decoding (crates/isolate): a worker reading its parent's messages and a
//! parent reading a (possibly hostile, sandboxed) worker's. Shared-memory references point into
//! an empty arena, so each is checked and refused.

use remotemedia_isolate::shm::ArenaReader;
use remotemedia_isolate::wire;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let mut arena = ArenaReader::empty();
        let _ = wire::decode_to_worker(data, &mut arena);
        let _ = wire::decode_from_worker(data, &mut arena);
        let _ = wire::decode_value(data);
    });
}
