//! Resuming a subscriber from a seq the in-memory ring no longer holds:
//! pages from the store, read off the async runtime, until the ring covers
//! the rest; then the ring's backlog and the live feed, without gap or
//! duplicate.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::{StreamExt, stream};

use super::Store;
use crate::bus::{Bus, BusError, BusMessage, Envelope, InProcessBus, Subscription};

/// Messages read from the store per replay query.
const REPLAY_PAGE: usize = 1000;

/// A subscription resuming after `after`, which the ring `inner` no longer
/// holds (its oldest is `ring_oldest`): pages read from `store` until the
/// ring covers the rest, then the ring's backlog and live feed. `TooOld`
/// when the store does not reach back to `after` either.
pub(super) fn replay_then_live(
    store: &Arc<Store>,
    inner: &Arc<InProcessBus>,
    after: u64,
    ring_oldest: u64,
) -> Result<Subscription, BusError> {
    let oldest_stored = match store.oldest_seq() {
        Ok(oldest) => oldest,
        Err(e) => {
            tracing::error!("cannot read the event log to resume a subscriber: {e}");
            return Err(BusError::TooOld {
                after,
                oldest: ring_oldest,
            });
        }
    };
    match oldest_stored {
        Some(oldest) if after + 1 >= oldest => {}
        Some(oldest) => return Err(BusError::TooOld { after, oldest }),
        None => {
            return Err(BusError::TooOld {
                after,
                oldest: ring_oldest,
            });
        }
    }
    let start = Replay::Store {
        after,
        page: VecDeque::new(),
    };
    let store = store.clone();
    let inner = inner.clone();
    Ok(Box::pin(stream::unfold(start, move |mut phase| {
        let store = store.clone();
        let inner = inner.clone();
        async move {
            loop {
                match phase {
                    Replay::Store { after, mut page } => {
                        if let Some(envelope) = page.pop_front() {
                            let after = envelope.seq();
                            return Some((Ok(envelope), Replay::Store { after, page }));
                        }
                        match inner.subscribe(Some(after)) {
                            Ok(live) => {
                                phase = Replay::Live(live);
                                continue;
                            }
                            Err(BusError::TooOld { oldest, .. }) => {
                                let reader = store.clone();
                                let read = tokio::task::spawn_blocking(move || {
                                    reader.replay(after, REPLAY_PAGE)
                                })
                                .await;
                                let messages = match read {
                                    Ok(Ok(messages)) if !messages.is_empty() => messages,
                                    Ok(Ok(_)) => {
                                        return Some((
                                            Err(BusError::TooOld { after, oldest }),
                                            Replay::Done,
                                        ));
                                    }
                                    Ok(Err(e)) => {
                                        tracing::error!("replay from the event log failed: {e}");
                                        return Some((
                                            Err(BusError::TooOld { after, oldest }),
                                            Replay::Done,
                                        ));
                                    }
                                    Err(e) => {
                                        tracing::error!("replay from the event log failed: {e}");
                                        return None;
                                    }
                                };
                                // Resume after the page's last seq, even
                                // when that one is not served.
                                let last = messages.last().map_or(after, BusMessage::seq);
                                page = messages
                                    .into_iter()
                                    .filter(|m| !m.is_received())
                                    .map(|m| Arc::new(Envelope::new(m)))
                                    .collect();
                                let after = if page.is_empty() { last } else { after };
                                phase = Replay::Store { after, page };
                            }
                            Err(e) => return Some((Err(e), Replay::Done)),
                        }
                    }
                    Replay::Live(mut live) => {
                        let item = live.next().await?;
                        return Some((item, Replay::Live(live)));
                    }
                    Replay::Done => return None,
                }
            }
        }
    })))
}

/// Where a resuming subscription is.
enum Replay {
    /// Reading the store; `after` is the last seq yielded.
    Store {
        after: u64,
        page: VecDeque<Arc<Envelope>>,
    },
    /// Caught up: the ring's backlog and live feed.
    Live(Subscription),
    /// Ended after an error.
    Done,
}
