//! Throughput of homebus's SSE parser next to the `eventsource-stream` crate, on the same bytes.
//!
//! Both parsers get the stream in 16 KiB chunks, the order of size a TCP read
//! hands over, and both build an owned event per block.

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use homebus::sse::{SseItem, SseParser};

const CHUNK: usize = 16 * 1024;
const TOTAL: usize = 1 << 20;

/// Many small sensor events, as a home-automation server sends them.
fn small_events() -> Vec<u8> {
    let mut stream = Vec::with_capacity(TOTAL + 64);
    let mut n = 0u32;
    while stream.len() < TOTAL {
        let block = format!("event: temperature\ndata: {}\n\n", 15 + n % 20);
        stream.extend_from_slice(block.as_bytes());
        n += 1;
    }
    stream
}

/// Events whose data is one 64 KiB line (big JSON documents, camera snapshots in base64).
fn large_data_lines() -> Vec<u8> {
    let mut stream = Vec::with_capacity(TOTAL + 64);
    let payload: String = (0..64 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    while stream.len() < TOTAL {
        stream.extend_from_slice(b"data: ");
        stream.extend_from_slice(payload.as_bytes());
        stream.extend_from_slice(b"\n\n");
    }
    stream
}

/// Small events with ids, every line ended by CRLF as some servers write them.
fn crlf_events() -> Vec<u8> {
    let mut stream = Vec::with_capacity(TOTAL + 64);
    let mut n = 0u32;
    while stream.len() < TOTAL {
        let block = format!("event: motion\r\nid: {n}\r\ndata: {{\"on\":true}}\r\n\r\n");
        stream.extend_from_slice(block.as_bytes());
        n += 1;
    }
    stream
}

fn chunks(stream: &Bytes) -> Vec<Bytes> {
    (0..stream.len())
        .step_by(CHUNK)
        .map(|start| stream.slice(start..(start + CHUNK).min(stream.len())))
        .collect()
}

fn homebus_parse(chunks: &[Bytes]) -> usize {
    let mut parser = SseParser::new(8 << 20);
    let mut items = Vec::new();
    let mut events = 0;
    for chunk in chunks {
        parser.feed(chunk, &mut items).expect("within limits");
        events += items
            .drain(..)
            .filter(|item| matches!(item, SseItem::Event(_)))
            .map(black_box)
            .count();
    }
    events
}

fn eventsource_stream_parse(runtime: &tokio::runtime::Runtime, chunks: &[Bytes]) -> usize {
    let input = futures_util::stream::iter(chunks.iter().cloned().map(Ok::<_, Infallible>));
    runtime.block_on(async {
        let mut events = input.eventsource();
        let mut count = 0;
        while let Some(event) = events.next().await {
            black_box(event.expect("valid stream"));
            count += 1;
        }
        count
    })
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let cases = [
        ("small_events", small_events()),
        ("64KiB_data_lines", large_data_lines()),
        ("crlf_events", crlf_events()),
    ];
    for (name, stream) in cases {
        let stream = Bytes::from(stream);
        let chunks = chunks(&stream);
        assert_eq!(
            homebus_parse(&chunks),
            eventsource_stream_parse(&runtime, &chunks),
            "both parsers must see the same events in {name}"
        );
        let mut group = c.benchmark_group(format!("sse_parser/{name}"));
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_function("homebus", |b| b.iter(|| homebus_parse(&chunks)));
        group.bench_function("eventsource-stream", |b| {
            b.iter(|| eventsource_stream_parse(&runtime, &chunks))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
