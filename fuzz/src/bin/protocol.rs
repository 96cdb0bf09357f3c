//! The server's decoding of protocol messages: bytes → a `NodeRequest` (protobuf) → what
//! `remotemedia serve` makes of it (the node to open, or an item's value).

use prost::Message as _;
use remotemedia_remote::convert;
use remotemedia_remote::proto::NodeRequest;
use remotemedia_remote::proto::node_request::Kind;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(request) = NodeRequest::decode(data) else {
            return;
        };
        match request.kind {
            Some(Kind::Open(open)) => {
                let _ = convert::decode_open(open);
            }
            Some(Kind::Item(value)) => {
                if let Ok(decoded) = convert::decode_value(value, "item") {
                    // What the server decodes, a client encodes back to the same value.
                    let again = convert::decode_value(convert::encode_value(&decoded), "item")
                        .expect("an encoded value decodes");
                    assert_eq!(format!("{decoded:?}"), format!("{again:?}"));
                }
            }
            _ => {}
        }
    });
}
