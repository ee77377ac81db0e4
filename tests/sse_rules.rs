//! The rules of WHATWG HTML "Interpreting an event stream", one test each,
//! plus homebus's additions (events without data, size limits).

use homebus::sse::{SseError, SseEvent, SseItem, SseParser};

const LIMIT: usize = 1024;

/// Feeds `chunks` to a new parser and returns every item it yields.
fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseItem> {
    let mut parser = SseParser::new(LIMIT);
    let mut items = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut items).expect("within limits");
    }
    items
}

fn parse(stream: &[u8]) -> Vec<SseItem> {
    parse_chunks(&[stream])
}

fn event(event_type: Option<&str>, data: Option<&str>, last_event_id: &str) -> SseItem {
    SseItem::Event(SseEvent {
        event_type: event_type.map(str::to_owned),
        data: data.map(str::to_owned),
        last_event_id: last_event_id.to_owned(),
    })
}

fn message(data: &str) -> SseItem {
    event(None, Some(data), "")
}

// --- decoding -------------------------------------------------------------

#[test]
fn utf8_value_is_decoded() {
    assert_eq!(parse("data: Grüße ☀\n\n".as_bytes()), [message("Grüße ☀")]);
}

#[test]
fn invalid_utf8_becomes_replacement_char() {
    assert_eq!(parse(b"data: a\xFFb\n\n"), [message("a\u{FFFD}b")]);
}

#[test]
fn invalid_utf8_split_across_chunks_becomes_one_replacement_char() {
    // E2 82 is the start of a three-byte character cut short by `x`: one maximal
    // subpart, so one U+FFFD, however the bytes were split.
    assert_eq!(
        parse_chunks(&[b"data: \xE2", b"\x82x\n\n"]),
        [message("\u{FFFD}x")]
    );
}

#[test]
fn multibyte_char_split_across_chunks_is_decoded_whole() {
    assert_eq!(
        parse_chunks(&[b"data: \xE2", b"\x80", b"\xA6\n\n"]),
        [message("…")]
    );
}

#[test]
fn nul_in_data_is_kept() {
    assert_eq!(parse(b"data: a\0b\n\n"), [message("a\0b")]);
}

#[test]
fn leading_bom_is_stripped() {
    assert_eq!(parse(b"\xEF\xBB\xBFdata: x\n\n"), [message("x")]);
}

#[test]
fn bom_split_across_chunks_is_stripped() {
    assert_eq!(
        parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]),
        [message("x")]
    );
}

#[test]
fn bom_is_stripped_only_once() {
    // The second BOM is part of the field name, which then is not `data`.
    assert_eq!(
        parse(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: 1\n\ndata: 2\n\n"),
        [message("2")]
    );
}

#[test]
fn bom_after_stream_start_is_not_stripped() {
    assert_eq!(
        parse(b"data: 1\n\n\xEF\xBB\xBFdata: 2\n\ndata: 3\n\n"),
        [message("1"), message("3")]
    );
}

// --- line ends ------------------------------------------------------------

#[test]
fn lf_ends_a_line() {
    assert_eq!(parse(b"data: a\ndata: b\n\n"), [message("a\nb")]);
}

#[test]
fn cr_ends_a_line() {
    assert_eq!(parse(b"data: a\rdata: b\r\r"), [message("a\nb")]);
}

#[test]
fn crlf_is_one_line_end() {
    assert_eq!(parse(b"data: a\r\ndata: b\r\n\r\n"), [message("a\nb")]);
}

#[test]
fn lf_cr_is_two_line_ends() {
    assert_eq!(
        parse(b"data: a\n\rdata: b\n\n"),
        [message("a"), message("b")]
    );
}

#[test]
fn cr_at_chunk_end_and_lf_at_next_start_is_one_line_end() {
    assert_eq!(
        parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]),
        [message("a\nb")]
    );
}

#[test]
fn cr_at_chunk_end_survives_an_empty_chunk() {
    assert_eq!(
        parse_chunks(&[b"data: a\r", b"", b"\ndata: b\n\n"]),
        [message("a\nb")]
    );
}

#[test]
fn cr_at_chunk_end_then_other_byte_starts_a_new_line() {
    assert_eq!(
        parse_chunks(&[b"data: a\r", b"data: b\r", b"\r"]),
        [message("a\nb")]
    );
}

#[test]
fn mixed_line_ends_in_one_block() {
    assert_eq!(
        parse(b"data: a\rdata: b\ndata: c\r\n\n"),
        [message("a\nb\nc")]
    );
}

// --- fields ---------------------------------------------------------------

#[test]
fn comment_line_is_ignored() {
    assert_eq!(parse(b": keep-alive\ndata: x\n:\n\n"), [message("x")]);
}

#[test]
fn block_of_only_comments_yields_nothing() {
    assert_eq!(parse(b": ping\n\n"), []);
}

#[test]
fn field_name_without_colon_has_empty_value() {
    assert_eq!(parse(b"data\n\n"), [message("")]);
}

#[test]
fn exactly_one_leading_space_is_stripped_from_value() {
    assert_eq!(parse(b"data:  two\n\n"), [message(" two")]);
}

#[test]
fn value_without_leading_space_is_kept_whole() {
    assert_eq!(parse(b"data:x\n\n"), [message("x")]);
}

#[test]
fn leading_tab_is_not_stripped() {
    assert_eq!(parse(b"data:\tx\n\n"), [message("\tx")]);
}

#[test]
fn only_the_first_colon_separates_name_from_value() {
    assert_eq!(parse(b"data: a: b\n\n"), [message("a: b")]);
}

#[test]
fn field_names_are_case_sensitive() {
    assert_eq!(parse(b"Data: x\ndata: y\n\n"), [message("y")]);
}

#[test]
fn unknown_field_is_ignored() {
    assert_eq!(parse(b"foo: bar\ndata: x\n\n"), [message("x")]);
}

#[test]
fn data_lines_are_joined_with_lf() {
    assert_eq!(parse(b"data: a\ndata:\ndata: c\n\n"), [message("a\n\nc")]);
}

#[test]
fn empty_data_field_is_yielded_as_empty_data() {
    // The data buffer holds one LF, so EventSource dispatches an empty message.
    assert_eq!(parse(b"data:\n\n"), [message("")]);
}

#[test]
fn block_with_neither_data_nor_event_is_not_yielded() {
    assert_eq!(parse(b"id: 1\nretry: x\nfoo: bar\n\n"), []);
}

#[test]
fn event_with_name_and_no_data_is_yielded_without_data() {
    let items = parse(b"event: Motion\n\n");
    assert_eq!(items, [event(Some("Motion"), None, "")]);
    let SseItem::Event(motion) = &items[0] else {
        unreachable!()
    };
    assert!(!motion.is_dispatched());
}

#[test]
fn final_event_without_blank_line_is_not_yielded() {
    assert_eq!(parse(b"data: 1\n\ndata: 2\n"), [message("1")]);
}

#[test]
fn event_type_defaults_to_message() {
    let items = parse(b"data: x\n\n");
    let SseItem::Event(event) = &items[0] else {
        panic!("expected an event, got {items:?}")
    };
    assert_eq!(event.event_type, None);
    assert_eq!(event.event_type_or_default(), "message");
}

#[test]
fn event_field_sets_the_type() {
    assert_eq!(
        parse(b"event: temperature\ndata: 21\n\n"),
        [event(Some("temperature"), Some("21"), "")]
    );
}

#[test]
fn empty_event_field_leaves_the_type_unset() {
    assert_eq!(parse(b"event: x\nevent:\ndata: d\n\n"), [message("d")]);
}

#[test]
fn event_type_does_not_carry_over_to_the_next_block() {
    assert_eq!(
        parse(b"event: a\ndata: 1\n\ndata: 2\n\n"),
        [event(Some("a"), Some("1"), ""), message("2")]
    );
}

// --- ids ------------------------------------------------------------------

#[test]
fn id_sets_the_last_event_id_of_its_event() {
    assert_eq!(parse(b"id: 7\ndata: x\n\n"), [event(None, Some("x"), "7")]);
}

#[test]
fn last_event_id_persists_across_events() {
    assert_eq!(
        parse(b"id: 7\ndata: a\n\ndata: b\n\n"),
        [event(None, Some("a"), "7"), event(None, Some("b"), "7")]
    );
}

#[test]
fn id_with_nul_is_ignored() {
    assert_eq!(
        parse(b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"),
        [event(None, Some("a"), "1"), event(None, Some("b"), "1")]
    );
}

#[test]
fn empty_id_resets_the_last_event_id() {
    assert_eq!(
        parse(b"id: 1\ndata: a\n\nid\ndata: b\n\n"),
        [event(None, Some("a"), "1"), event(None, Some("b"), "")]
    );
}

#[test]
fn last_event_id_is_set_at_a_blank_line_even_without_an_event() {
    let mut parser = SseParser::new(LIMIT);
    let mut items = Vec::new();
    parser.feed(b"id: 42\n\n", &mut items).unwrap();
    assert_eq!(items, []);
    assert_eq!(parser.last_event_id(), "42");
}

#[test]
fn id_is_not_in_force_before_the_blank_line() {
    let mut parser = SseParser::new(LIMIT);
    let mut items = Vec::new();
    parser.feed(b"id: 42\ndata: x\n", &mut items).unwrap();
    assert_eq!(parser.last_event_id(), "");
}

#[test]
fn set_last_event_id_stays_in_force_until_the_server_sends_an_id() {
    let mut parser = SseParser::new(LIMIT);
    parser.set_last_event_id("99");
    let mut items = Vec::new();
    parser
        .feed(b"data: a\n\nid: 100\ndata: b\n\n", &mut items)
        .unwrap();
    assert_eq!(
        items,
        [event(None, Some("a"), "99"), event(None, Some("b"), "100")]
    );
    assert_eq!(parser.last_event_id(), "100");
}

#[test]
fn set_last_event_id_is_reported_before_any_event() {
    let mut parser = SseParser::new(LIMIT);
    parser.set_last_event_id("99");
    let mut items = Vec::new();
    parser.feed(b": hello\n\n", &mut items).unwrap();
    assert_eq!(parser.last_event_id(), "99");
}

// --- retry ----------------------------------------------------------------

#[test]
fn retry_with_ascii_digits_sets_the_reconnection_time() {
    assert_eq!(parse(b"retry: 02500\n"), [SseItem::Retry(2500)]);
}

#[test]
fn retry_with_anything_but_digits_is_ignored() {
    for line in [
        &b"retry: 10x\n"[..],
        b"retry: -1\n",
        b"retry: 1.5\n",
        b"retry:  10\n",
        b"retry: \xD9\xA1\n",
    ] {
        assert_eq!(parse(line), [], "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn retry_with_empty_value_is_ignored() {
    assert_eq!(parse(b"retry\nretry:\n"), []);
}

#[test]
fn retry_too_large_for_u64_is_ignored() {
    assert_eq!(parse(b"retry: 18446744073709551616\n"), []);
}

#[test]
fn retry_is_yielded_in_stream_order() {
    assert_eq!(
        parse(b"data: a\n\nretry: 5\ndata: b\n\n"),
        [message("a"), SseItem::Retry(5), message("b")]
    );
}

// --- limits ---------------------------------------------------------------

#[test]
fn line_at_the_limit_is_accepted() {
    let line = format!("data:{}\n\n", "x".repeat(LIMIT - 5));
    assert_eq!(parse(line.as_bytes()).len(), 1);
}

#[test]
fn line_longer_than_the_limit_is_an_error() {
    let line = format!("data:{}\n\n", "x".repeat(LIMIT - 4));
    let mut parser = SseParser::new(LIMIT);
    let result = parser.feed(line.as_bytes(), &mut Vec::new());
    assert_eq!(result, Err(SseError::LineTooLong { limit: LIMIT }));
}

#[test]
fn unfinished_line_past_the_limit_is_an_error_before_its_end() {
    let mut parser = SseParser::new(LIMIT);
    let mut items = Vec::new();
    parser.feed(&[b'a'; LIMIT], &mut items).unwrap();
    assert_eq!(
        parser.feed(b"a", &mut items),
        Err(SseError::LineTooLong { limit: LIMIT })
    );
}

#[test]
fn data_growing_past_the_limit_is_an_error() {
    let line = format!("data: {}\n", "x".repeat(LIMIT / 4));
    let mut parser = SseParser::new(LIMIT);
    let mut items = Vec::new();
    let mut result = Ok(());
    for _ in 0..4 {
        result = parser.feed(line.as_bytes(), &mut items);
    }
    assert_eq!(result, Err(SseError::EventTooLarge { limit: LIMIT }));
}

#[test]
fn data_limit_applies_per_event() {
    let block = format!("data: {}\n\n", "x".repeat(LIMIT / 2));
    let mut parser = SseParser::new(LIMIT);
    let mut items = Vec::new();
    for _ in 0..8 {
        parser.feed(block.as_bytes(), &mut items).unwrap();
    }
    assert_eq!(items.len(), 8);
}

#[test]
fn hundred_mib_line_errors_without_buffering_it() {
    const MIB: usize = 1 << 20;
    let chunk = vec![b'a'; MIB];
    let mut parser = SseParser::new(8 * MIB);
    let mut items = Vec::new();
    let mut fed = 0;
    let error = loop {
        assert!(fed < 100 * MIB, "a 100 MiB line was accepted");
        fed += chunk.len();
        if let Err(error) = parser.feed(&chunk, &mut items) {
            break error;
        }
    };
    assert_eq!(error, SseError::LineTooLong { limit: 8 * MIB });
    assert!(fed <= 9 * MIB, "the error came after {fed} bytes");
}

#[test]
fn parser_is_dead_after_an_error() {
    let mut parser = SseParser::new(8);
    let mut items = Vec::new();
    assert!(parser.feed(b"data: too long\n\n", &mut items).is_err());
    assert_eq!(
        parser.feed(b"data: x\n\n", &mut items),
        Err(SseError::LineTooLong { limit: 8 })
    );
    assert_eq!(items, []);
}

#[test]
fn items_before_an_error_are_kept() {
    let mut parser = SseParser::new(16);
    let mut items = Vec::new();
    let result = parser.feed(b"data: ok\n\ndata: far too long\n\n", &mut items);
    assert!(result.is_err());
    assert_eq!(items, [message("ok")]);
}

#[test]
fn limit_error_says_the_limit_and_that_the_stream_is_dropped() {
    let text = SseError::LineTooLong { limit: 4096 }.to_string();
    assert!(text.contains("4096") && text.contains("dropped"), "{text}");
    let text = SseError::EventTooLarge { limit: 4096 }.to_string();
    assert!(text.contains("4096") && text.contains("dropped"), "{text}");
}
