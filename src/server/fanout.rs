//! One SSE subscriber: reads the bus at its own pace and turns what it reads
//! into body chunks for its connection.
//!
//! There is no per-subscriber queue besides the bus's broadcast ring: the
//! ring's lag limit is the bound. A subscriber that falls further behind is
//! told `event: error` and its stream ends; it resumes with `Last-Event-ID`.
//! Every message that is ready when the connection asks for more is written
//! in one chunk, and a lone message is written as the shared bytes
//! themselves, with no copy.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::metrics::{SubscriberGuard, Transport};
use super::sse_encode;
use crate::bus::{BusError, Envelope, Subscription};

/// Most bytes gathered into one write before it is handed to the socket.
const MAX_CHUNK: usize = 256 * 1024;
/// Most bus messages looked at in one poll, so a subscriber whose filter
/// drops everything still yields to the other tasks.
const MAX_POLLS: usize = 4096;

/// Picks and encodes the messages one subscriber wants.
pub trait Shape: Send + Unpin + 'static {
    /// The bytes to write for this message (shared, cached in the
    /// envelope), or `None` to skip it.
    fn encode(&self, envelope: &Envelope) -> Option<Bytes>;
}

/// The body of one SSE response.
pub struct SseBody<S: Shape> {
    /// What to send first (`retry:`, a reset notice), once.
    prelude: Option<Bytes>,
    /// The bus feed; `None` once the stream has ended.
    subscription: Option<Subscription>,
    shape: S,
    keepalive: Interval,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The seq of the last message written, for the cut-off notice.
    last_seq: Option<u64>,
    metrics: SubscriberGuard,
}

impl<S: Shape> SseBody<S> {
    /// A body that sends `prelude`, then what `shape` picks from
    /// `subscription`, with a keep-alive comment after each idle `keepalive`.
    pub fn new(
        prelude: Bytes,
        subscription: Subscription,
        shape: S,
        keepalive: Duration,
        shutdown: CancellationToken,
        metrics: SubscriberGuard,
    ) -> Self {
        let keepalive = keepalive.max(Duration::from_millis(10));
        let mut interval =
            tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        SseBody {
            prelude: Some(prelude),
            subscription: Some(subscription),
            shape,
            keepalive: interval,
            shutdown: Box::pin(shutdown.cancelled_owned()),
            last_seq: None,
            metrics,
        }
    }

    fn cut_off(&mut self, error: &BusError) -> Bytes {
        self.metrics.dropped();
        self.subscription = None;
        let message = serde_json::json!({
            "message": error.to_string(),
            "last_event_id": self.last_seq.map(|s| s.to_string()),
        });
        tracing::debug!("SSE subscriber cut off: {error}");
        sse_encode::event(None, Some("error"), &message.to_string())
    }
}

impl<S: Shape> Stream for SseBody<S> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(prelude) = this.prelude.take() {
            return Poll::Ready(Some(Ok(prelude)));
        }
        if this.subscription.is_none() {
            return Poll::Ready(None);
        }
        if this.shutdown.as_mut().poll(cx).is_ready() {
            this.subscription = None;
            return Poll::Ready(None);
        }
        let mut first: Option<Bytes> = None;
        let mut gathered: Option<BytesMut> = None;
        let mut count = 0u64;
        let mut ended = false;
        let mut tail: Option<Bytes> = None;
        let mut more_ready = true;
        for _ in 0..MAX_POLLS {
            let Some(subscription) = this.subscription.as_mut() else {
                break;
            };
            match subscription.as_mut().poll_next(cx) {
                Poll::Pending => {
                    more_ready = false;
                    break;
                }
                Poll::Ready(None) => {
                    ended = true;
                    break;
                }
                Poll::Ready(Some(Err(error))) => {
                    tail = Some(this.cut_off(&error));
                    ended = true;
                    break;
                }
                Poll::Ready(Some(Ok(envelope))) => {
                    let Some(bytes) = this.shape.encode(&envelope) else {
                        continue;
                    };
                    this.last_seq = Some(envelope.seq());
                    count += 1;
                    match (&mut first, &mut gathered) {
                        (None, _) => first = Some(bytes),
                        (Some(one), None) => {
                            let mut buffer = BytesMut::with_capacity((one.len() + bytes.len()) * 4);
                            buffer.extend_from_slice(one);
                            buffer.extend_from_slice(&bytes);
                            gathered = Some(buffer);
                        }
                        (Some(_), Some(buffer)) => buffer.extend_from_slice(&bytes),
                    }
                    let size = gathered.as_ref().map_or(0, BytesMut::len);
                    if size >= MAX_CHUNK {
                        break;
                    }
                }
            }
        }
        if ended {
            this.subscription = None;
        }
        let chunk = match (gathered, first, tail) {
            (Some(mut buffer), _, Some(tail)) => {
                buffer.extend_from_slice(&tail);
                Some(buffer.freeze())
            }
            (Some(buffer), _, None) => Some(buffer.freeze()),
            (None, Some(one), Some(tail)) => {
                let mut buffer = BytesMut::with_capacity(one.len() + tail.len());
                buffer.extend_from_slice(&one);
                buffer.extend_from_slice(&tail);
                Some(buffer.freeze())
            }
            (None, Some(one), None) => Some(one),
            (None, None, tail) => tail,
        };
        if count > 0 {
            this.metrics.sent(count);
        }
        if let Some(chunk) = chunk {
            this.keepalive.reset();
            return Poll::Ready(Some(Ok(chunk)));
        }
        if ended {
            return Poll::Ready(None);
        }
        if this.keepalive.poll_tick(cx).is_ready() {
            return Poll::Ready(Some(Ok(Bytes::from_static(b": keep-alive\n\n"))));
        }
        if more_ready {
            // Stopped at MAX_POLLS with every message filtered out: more
            // may be ready, so ask to be polled again.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// Where a subscriber wants to start: after `Last-Event-ID` (the header, or
/// `?lastEventId=` for clients that cannot set headers), or live.
pub fn resume_point(headers: &HeaderMap, last_event_id: Option<&str>) -> Option<u64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(last_event_id)
        .and_then(|id| id.trim().parse().ok())
}

/// The SSE response for one subscriber: `retry:` first, then the held
/// changes after `after`, then live ones. When changes after `after` are no
/// longer held, an `event: reset` comes first, telling the client to reload
/// `/api/states`, and the stream goes on live.
pub fn sse_response<S: Shape>(
    state: &AppState,
    after: Option<u64>,
    shape: S,
    transport: Transport,
) -> Response {
    let bus = state.hub.bus();
    let mut prelude = sse_encode::retry(state.retry.as_millis() as u64).to_vec();
    let last = bus.last_seq();
    let subscribed = match after {
        // An id this hub never gave (it restarted without its store, so
        // numbering began again): resuming would skip every change until
        // the numbers catch up, so the client must reload instead.
        Some(after) if after > last => Err(format!(
            "Last-Event-ID {after} is ahead of this hub's last change ({last}); it restarted \
             without its history"
        )),
        _ => bus.subscribe(after).map_err(|error| error.to_string()),
    };
    let subscription = match subscribed {
        Ok(subscription) => subscription,
        Err(reason) => {
            let notice = serde_json::json!({
                "message": format!("{reason}: reload /api/states, then follow this stream"),
                "reload": "/api/states",
            });
            sse_encode::push_event(&mut prelude, None, Some("reset"), &notice.to_string());
            match bus.subscribe(None) {
                Ok(subscription) => subscription,
                Err(error) => {
                    return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
                        .into_response();
                }
            }
        }
    };
    let body = SseBody::new(
        Bytes::from(prelude),
        subscription,
        shape,
        state.keepalive,
        state.shutdown.clone(),
        state.metrics.subscriber(transport),
    );
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::StreamExt;
    use serde_json::json;

    use super::*;
    use crate::bus::{Bus, BusMessage, FiredEvent, InProcessBus};
    use crate::server::metrics::Metrics;
    use crate::server::shapes;

    struct All;

    impl Shape for All {
        fn encode(&self, envelope: &Envelope) -> Option<Bytes> {
            shapes::ha_stream(envelope)
        }
    }

    fn fire(bus: &InProcessBus, seq: u64) -> Arc<Envelope> {
        bus.publish(BusMessage::Event(FiredEvent {
            seq,
            event_type: "test".into(),
            data: json!({}),
            time: chrono::Utc::now(),
        }))
    }

    fn body(bus: &InProcessBus, metrics: &Arc<Metrics>) -> SseBody<All> {
        SseBody::new(
            Bytes::from_static(b"retry: 1000\n\n"),
            bus.subscribe(None).unwrap(),
            All,
            Duration::from_secs(3600),
            CancellationToken::new(),
            metrics.subscriber(Transport::HaStream),
        )
    }

    #[tokio::test]
    async fn ready_messages_are_coalesced_into_one_chunk() {
        let bus = InProcessBus::new(16, 16);
        let metrics = Arc::new(Metrics::default());
        let mut body = body(&bus, &metrics);
        assert_eq!(body.next().await.unwrap().unwrap(), &b"retry: 1000\n\n"[..]);
        let blocks: Vec<Bytes> = (1..=3)
            .map(|seq| shapes::ha_stream(&fire(&bus, seq)).unwrap())
            .collect();
        let chunk = body.next().await.unwrap().unwrap();
        assert_eq!(chunk, blocks.concat());
    }

    #[tokio::test]
    async fn a_lone_message_is_written_as_the_shared_bytes() {
        let bus = InProcessBus::new(16, 16);
        let metrics = Arc::new(Metrics::default());
        let mut body = body(&bus, &metrics);
        body.next().await.unwrap().unwrap();
        let envelope = fire(&bus, 1);
        let chunk = body.next().await.unwrap().unwrap();
        assert_eq!(
            chunk.as_ptr(),
            shapes::ha_stream(&envelope).unwrap().as_ptr()
        );
    }

    #[tokio::test]
    async fn a_lagging_subscriber_gets_error_then_the_end() {
        let bus = InProcessBus::new(0, 4);
        let metrics = Arc::new(Metrics::default());
        let mut body = body(&bus, &metrics);
        body.next().await.unwrap().unwrap();
        for seq in 1..=10 {
            fire(&bus, seq);
        }
        let chunk = body.next().await.unwrap().unwrap();
        let text = std::str::from_utf8(&chunk).unwrap();
        assert!(text.starts_with("event: error\ndata: "), "{text}");
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn shutdown_ends_the_body() {
        let bus = InProcessBus::new(16, 16);
        let metrics = Arc::new(Metrics::default());
        let token = CancellationToken::new();
        let mut body = SseBody::new(
            Bytes::new(),
            bus.subscribe(None).unwrap(),
            All,
            Duration::from_secs(3600),
            token.clone(),
            metrics.subscriber(Transport::HaStream),
        );
        body.next().await.unwrap().unwrap();
        token.cancel();
        assert!(body.next().await.is_none());
    }

    #[test]
    fn last_event_id_header_wins_over_the_query_parameter() {
        let mut headers = HeaderMap::new();
        headers.insert("last-event-id", "12".parse().unwrap());
        assert_eq!(resume_point(&headers, Some("5")), Some(12));
        assert_eq!(resume_point(&HeaderMap::new(), Some("5")), Some(5));
        assert_eq!(resume_point(&HeaderMap::new(), Some("abc")), None);
    }
}
