//! Properties of the SSE parser over generated streams: chunk boundaries never
//! change what it yields, and no input makes it panic.

use homebus::sse::{SseError, SseItem, SseParser};
use proptest::prelude::*;

/// Pieces that SSE streams are made of, including the awkward ones: every line
/// end, BOMs, multi-byte characters (which splits may cut) and invalid UTF-8.
const FRAGMENTS: &[&[u8]] = &[
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"event: ",
    b"id:",
    b"id: ",
    b"retry:",
    b"retry: ",
    b"Data:",
    b":",
    b" ",
    b"x",
    b"42",
    b"0",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b"\n\n",
    b"\xEF\xBB\xBF",
    "é".as_bytes(),
    "…".as_bytes(),
    "😀".as_bytes(),
    b"\xFF",
    b"\xE2\x82",
    b"\xF0\x9F",
    b"\0",
];

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..80).prop_map(|parts| parts.concat())
}

/// What a parser yields for a stream fed in the given pieces.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    items: Vec<SseItem>,
    last_event_id: String,
    error: Option<SseError>,
}

fn run(limit: usize, pieces: &[&[u8]]) -> Outcome {
    let mut parser = SseParser::new(limit);
    let mut items = Vec::new();
    let mut error = None;
    for piece in pieces {
        if let Err(e) = parser.feed(piece, &mut items) {
            error = Some(e);
            break;
        }
    }
    Outcome {
        items,
        last_event_id: parser.last_event_id().to_owned(),
        error,
    }
}

/// Cuts `stream` at the given positions (taken modulo its length).
fn split_at_points<'a>(stream: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&stream[start..cut]);
        start = cut;
    }
    pieces.push(&stream[start..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_into_chunks_yields_the_same_as_feeding_whole(
        stream in stream(),
        points in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = run(1 << 16, &[&stream]);
        prop_assert_eq!(&run(1 << 16, &split_at_points(&stream, &points)), &whole);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(&run(1 << 16, &bytes), &whole);
    }

    #[test]
    fn any_split_hits_the_same_limit_error_as_feeding_whole(
        stream in stream(),
        points in prop::collection::vec(any::<usize>(), 0..12),
        limit in 4usize..40,
    ) {
        let whole = run(limit, &[&stream]);
        prop_assert_eq!(&run(limit, &split_at_points(&stream, &points)), &whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        stream in prop::collection::vec(any::<u8>(), 0..1024),
        points in prop::collection::vec(any::<usize>(), 0..12),
        limit in 0usize..256,
    ) {
        run(limit, &split_at_points(&stream, &points));
    }
}
