//! The in-process bus: a broadcast ring that subscribers read at their own
//! pace, plus a bounded backlog for clients that resume.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use futures_util::stream;
use tokio::sync::broadcast;

use super::{Bus, BusError, BusMessage, Envelope, Subscription};

/// A bus inside one process.
pub struct InProcessBus {
    /// Live fan-out: one shared ring, a cursor per subscriber.
    live: broadcast::Sender<Arc<Envelope>>,
    /// Recent messages for subscribers that resume after a seq.
    held: Mutex<Held>,
    /// Broadcasts for crowds, when set (see [`InProcessBus::with_fanout_thread`]).
    fanout: Option<FanoutThread>,
}

/// A thread that broadcasts live messages in the publisher's stead.
struct FanoutThread {
    sender: mpsc::Sender<Arc<Envelope>>,
    /// Handed to the thread and not yet broadcast.
    queued: Arc<AtomicUsize>,
    /// Subscribers from which messages go through the thread.
    from_subscribers: usize,
}

struct Held {
    /// Oldest first; at most `capacity`.
    messages: VecDeque<Arc<Envelope>>,
    capacity: usize,
    last_seq: u64,
}

impl InProcessBus {
    /// A bus that holds the last `held` messages for resuming clients and
    /// lets a live subscriber fall `lag_limit` messages behind before it is
    /// cut off.
    pub fn new(held: usize, lag_limit: usize) -> Self {
        let (live, _) = broadcast::channel(lag_limit.max(1));
        InProcessBus {
            live,
            held: Mutex::new(Held {
                messages: VecDeque::with_capacity(held.min(65_536)),
                capacity: held,
                last_seq: 0,
            }),
            fanout: None,
        }
    }

    /// Like [`InProcessBus::new`], but once `from_subscribers` subscribers
    /// are connected, live messages are broadcast by a thread of the bus's
    /// own, outside the async runtime.
    ///
    /// Why: waking a subscriber from a runtime worker puts it on that
    /// worker's own queue, so one change published by a REST handler or a
    /// source wakes thousands of subscribers onto one worker, and the other
    /// has to steal them. Woken from outside the runtime they go to the
    /// runtime's shared queue and every worker starts on them at once: with
    /// 10,000 subscribers p99 fell by 15–25 % (`docs/PERFORMANCE.md`).
    /// With few subscribers the thread hop would only add latency, so
    /// messages are broadcast in place until the crowd is there.
    pub fn with_fanout_thread(
        held: usize,
        lag_limit: usize,
        from_subscribers: usize,
    ) -> std::io::Result<Self> {
        let mut bus = Self::new(held, lag_limit);
        let (sender, receiver) = mpsc::channel::<Arc<Envelope>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let (live, pending) = (bus.live.clone(), queued.clone());
        std::thread::Builder::new()
            .name("homebus-fanout".into())
            .spawn(move || {
                for envelope in receiver {
                    let _ = live.send(envelope);
                    pending.fetch_sub(1, Ordering::Release);
                }
            })?;
        bus.fanout = Some(FanoutThread {
            sender,
            queued,
            from_subscribers,
        });
        Ok(bus)
    }

    /// Sets the seq the next publish must exceed (after a restore from the store).
    pub fn start_after(&self, seq: u64) {
        let mut held = self.held.lock().expect("bus lock");
        held.last_seq = held.last_seq.max(seq);
    }

    /// Publishes an envelope made elsewhere, so a wrapping bus (the
    /// persistent one) shares one envelope, and its encodings, with every
    /// subscriber.
    pub fn publish_shared(&self, envelope: Arc<Envelope>) {
        let mut held = self.held.lock().expect("bus lock");
        debug_assert!(envelope.seq() > held.last_seq, "seq must increase");
        held.last_seq = envelope.seq();
        if held.capacity > 0 {
            if held.messages.len() == held.capacity {
                held.messages.pop_front();
            }
            held.messages.push_back(envelope.clone());
        }
        // Sending under the lock keeps backlog and live feed in one order.
        // An event that changed nothing is kept (a resuming client's
        // backlog stays gap-free) but not broadcast: no subscriber serves
        // it, and waking every subscriber for it is the cost of a whole
        // fan-out for nothing.
        if envelope.message.is_received() {
            return;
        }
        match &self.fanout {
            // Through the thread while a crowd listens, or while earlier
            // messages still wait there (so the order never changes).
            Some(fanout)
                if fanout.queued.load(Ordering::Acquire) > 0
                    || self.live.receiver_count() >= fanout.from_subscribers =>
            {
                fanout.queued.fetch_add(1, Ordering::AcqRel);
                if let Err(mpsc::SendError(envelope)) = fanout.sender.send(envelope) {
                    fanout.queued.fetch_sub(1, Ordering::AcqRel);
                    let _ = self.live.send(envelope);
                }
            }
            _ => {
                let _ = self.live.send(envelope);
            }
        }
    }
}

impl Bus for InProcessBus {
    fn publish(&self, message: BusMessage) -> Arc<Envelope> {
        let envelope = Arc::new(Envelope::new(message));
        self.publish_shared(envelope.clone());
        envelope
    }

    fn subscribe(&self, after: Option<u64>) -> Result<Subscription, BusError> {
        let held = self.held.lock().expect("bus lock");
        let receiver = self.live.subscribe();
        let backlog: VecDeque<Arc<Envelope>> = match after {
            None => VecDeque::new(),
            Some(after) if after == held.last_seq => VecDeque::new(),
            // A seq this bus never gave: the client saw an earlier life of
            // the hub whose history is gone (a restart without a store).
            // Following on from it would skip every change up to `after`.
            Some(after) if after > held.last_seq => {
                return Err(BusError::TooOld {
                    after,
                    oldest: held.last_seq + 1,
                });
            }
            Some(after) => {
                let oldest = held.messages.front().map_or(held.last_seq + 1, |e| e.seq());
                // Nothing lost if the next seq after `after` is still held
                // (seqs may have gaps, so compare with the oldest held).
                if after + 1 < oldest {
                    return Err(BusError::TooOld { after, oldest });
                }
                held.messages
                    .iter()
                    .filter(|e| e.seq() > after && !e.message.is_received())
                    .cloned()
                    .collect()
            }
        };
        let last = after.unwrap_or(held.last_seq);
        drop(held);
        Ok(Box::pin(stream::unfold(
            (backlog, receiver, last, false),
            |(mut backlog, mut receiver, mut last, ended)| async move {
                if ended {
                    return None;
                }
                if let Some(envelope) = backlog.pop_front() {
                    last = envelope.seq();
                    return Some((Ok(envelope), (backlog, receiver, last, false)));
                }
                loop {
                    match receiver.recv().await {
                        Ok(envelope) if envelope.seq() <= last => continue,
                        Ok(envelope) => {
                            last = envelope.seq();
                            return Some((Ok(envelope), (backlog, receiver, last, false)));
                        }
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            return Some((
                                Err(BusError::Lagged { missed }),
                                (backlog, receiver, last, true),
                            ));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )))
    }

    fn last_seq(&self) -> u64 {
        self.held.lock().expect("bus lock").last_seq
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use serde_json::json;

    use super::*;
    use crate::bus::FiredEvent;

    fn event(seq: u64) -> BusMessage {
        BusMessage::Event(FiredEvent {
            seq,
            event_type: "test".into(),
            data: json!({}),
            time: chrono::Utc::now(),
        })
    }

    async fn seqs(sub: &mut Subscription, n: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(sub.next().await.unwrap().unwrap().seq());
        }
        out
    }

    #[tokio::test]
    async fn live_subscriber_gets_changes_published_after_it_subscribed() {
        let bus = InProcessBus::new(16, 16);
        bus.publish(event(1));
        let mut sub = bus.subscribe(None).unwrap();
        bus.publish(event(2));
        bus.publish(event(3));
        assert_eq!(seqs(&mut sub, 2).await, vec![2, 3]);
    }

    #[tokio::test]
    async fn resuming_subscriber_gets_backlog_then_live_without_gap_or_duplicate() {
        let bus = InProcessBus::new(16, 16);
        for seq in 1..=5 {
            bus.publish(event(seq));
        }
        let mut sub = bus.subscribe(Some(2)).unwrap();
        bus.publish(event(6));
        assert_eq!(seqs(&mut sub, 4).await, vec![3, 4, 5, 6]);
    }

    #[tokio::test]
    async fn resuming_from_before_the_held_backlog_is_too_old() {
        let bus = InProcessBus::new(3, 16);
        for seq in 1..=10 {
            bus.publish(event(seq));
        }
        assert!(matches!(
            bus.subscribe(Some(2)),
            Err(BusError::TooOld {
                after: 2,
                oldest: 8
            })
        ));
        assert!(bus.subscribe(Some(7)).is_ok());
    }

    #[tokio::test]
    async fn resuming_after_a_seq_the_bus_never_gave_is_too_old() {
        let bus = InProcessBus::new(16, 16);
        for seq in 1..=3 {
            bus.publish(event(seq));
        }
        assert!(matches!(
            bus.subscribe(Some(50)),
            Err(BusError::TooOld { after: 50, .. })
        ));
        assert!(bus.subscribe(Some(3)).is_ok());
    }

    #[tokio::test]
    async fn events_that_changed_nothing_do_not_reach_live_subscribers() {
        let bus = InProcessBus::new(16, 16);
        let mut sub = bus.subscribe(None).unwrap();
        let unchanged = crate::event::Event::new(Arc::from("src"), "LAMP", Some("on".into()));
        bus.publish(BusMessage::Received(crate::event::Event {
            seq: 1,
            ..unchanged
        }));
        bus.publish(event(2));
        assert_eq!(seqs(&mut sub, 1).await, vec![2]);
        assert_eq!(bus.last_seq(), 2);
    }

    #[tokio::test]
    async fn the_fanout_thread_keeps_every_message_in_order() {
        let bus = InProcessBus::with_fanout_thread(16, 2000, 0).unwrap();
        let mut sub = bus.subscribe(None).unwrap();
        for seq in 1..=1000 {
            bus.publish(event(seq));
        }
        assert_eq!(seqs(&mut sub, 1000).await, (1..=1000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn switching_to_and_from_the_fanout_thread_loses_and_reorders_nothing() {
        let bus = InProcessBus::with_fanout_thread(16, 4000, 2).unwrap();
        let mut first = bus.subscribe(None).unwrap();
        let mut seq = 0;
        let mut publish = |n: u64| {
            for _ in 0..n {
                seq += 1;
                bus.publish(event(seq));
            }
        };
        publish(500); // one subscriber: broadcast in place
        let second = bus.subscribe(None).unwrap();
        publish(500); // two: through the thread
        drop(second);
        publish(500); // one again: in place once the thread is drained
        assert_eq!(seqs(&mut first, 1500).await, (1..=1500).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn slow_subscriber_is_cut_off_with_lagged() {
        let bus = InProcessBus::new(0, 4);
        let mut sub = bus.subscribe(None).unwrap();
        for seq in 1..=10 {
            bus.publish(event(seq));
        }
        assert!(matches!(
            sub.next().await,
            Some(Err(BusError::Lagged { .. }))
        ));
        assert!(sub.next().await.is_none());
    }
}
