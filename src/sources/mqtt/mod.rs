//! The MQTT source: connects to `mqtt://host:1883` (or `mqtts://host:8883`
//! with rustls: the system's roots, or the source's `tls`), subscribes to
//! `topics` (QoS 0) on every connection, and hands each message to the
//! source's format with the topic as the event name. Reconnects with the
//! same rules as every connected source.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter};

mod config;

pub use config::MqttConfig;
pub(crate) use config::TYPE;

use super::SourceContext;
use super::connect::{self, Attempt, Ended, Transport, error_chain};
use super::tls::{SourceTls, mqtt_transport};
use crate::config_file::Secret;

/// How often the broker hears from homebus on a quiet connection.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Requests (subscriptions) queued towards the broker.
const REQUEST_QUEUE: usize = 16;

/// The broker options a source's config describes; `max_packet` is the
/// source's `max_event_size`, `shown` its URL without a password.
pub fn options(config: &MqttConfig, max_packet: usize, shown: &str) -> Result<MqttOptions, String> {
    // A random suffix keeps two hubs (or a restarted one) from taking each
    // other's session.
    let client_id = format!("homebus-{:08x}", fastrand::u32(..));
    let broker = BrokerAddress {
        url: &config.url,
        tls: config.tls.as_ref(),
        username: config.username.as_deref(),
        password: config.password.as_ref(),
        shown,
    };
    let mut options = broker.options(client_id)?;
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(true)
        .set_max_packet_size(max_packet, max_packet);
    Ok(options)
}

/// Where a broker is and how to log in: what an `mqtt` source and
/// `[mqtt_out]` both describe.
pub struct BrokerAddress<'a> {
    /// `mqtt://host:1883` or `mqtts://host:8883` (`tcp://`, `ssl://`), with
    /// an optional user and password.
    pub url: &'a str,
    /// The `tls` table, for `mqtts://`.
    pub tls: Option<&'a SourceTls>,
    /// The user; wins over one in the URL.
    pub username: Option<&'a str>,
    /// The password; wins over one in the URL.
    pub password: Option<&'a Secret>,
    /// The URL as messages show it (without a password).
    pub shown: &'a str,
}

impl BrokerAddress<'_> {
    /// rumqttc options for this broker: transport, host, port, credentials.
    pub fn options(&self, client_id: String) -> Result<MqttOptions, String> {
        let shown = self.shown;
        let url = url::Url::parse(self.url)
            .map_err(|e| format!("`{shown}` is not a URL ({e}); write it as `mqtt://host:1883`"))?;
        let (transport, default_port) = match url.scheme() {
            "mqtt" | "tcp" => (rumqttc::Transport::Tcp, 1883),
            "mqtts" | "ssl" => {
                crate::http_client::ensure_crypto_provider();
                let transport = match self.tls {
                    Some(tls) => mqtt_transport(tls.client.clone()),
                    None => rumqttc::Transport::tls_with_default_config(),
                };
                (transport, 8883)
            }
            other => {
                return Err(format!(
                    "`{other}://` is not an MQTT scheme; write `mqtt://host:1883` or `mqtts://host:8883`"
                ));
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| format!("`{shown}` has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = url.port().unwrap_or(default_port);
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_transport(transport);
        let user = self
            .username
            .map(str::to_string)
            .or_else(|| (!url.username().is_empty()).then(|| url.username().to_string()));
        let password = self
            .password
            .map(|p| p.expose().to_string())
            .or_else(|| url.password().map(str::to_string));
        if let Some(user) = user {
            options.set_credentials(user, password.unwrap_or_default());
        }
        Ok(options)
    }
}

/// Runs the source until the hub shuts down.
pub(super) async fn run(ctx: SourceContext, config: MqttConfig) {
    let url = ctx.status.view().url;
    let options = match options(&config, ctx.config.max_event_size, &url) {
        Ok(options) => options,
        Err(e) => {
            tracing::error!(source = %ctx.name, "{e}");
            ctx.status.failed(e);
            return;
        }
    };
    let (client, eventloop) = AsyncClient::new(options, REQUEST_QUEUE);
    let broker = Broker {
        client,
        eventloop,
        topics: &config.topics,
    };
    connect::run(&ctx, config.reconnect, broker).await;
}

/// The broker connection. rumqttc's event loop connects again on the poll
/// after an error, so one loop serves every try.
struct Broker<'c> {
    client: AsyncClient,
    eventloop: EventLoop,
    /// `topics`, subscribed to on every connection (the session is clean).
    topics: &'c [String],
}

impl Transport for Broker<'_> {
    /// Polls until the broker's ConnAck (the connection worked), then hands
    /// each message to the format until the connection breaks.
    async fn connect_once(&mut self, attempt: &mut Attempt<'_>) -> Ended {
        let ctx = attempt.ctx();
        let url = ctx.status.view().url;
        let mut connected = false;
        loop {
            let polled = tokio::select! {
                _ = ctx.shutdown.cancelled() => {
                    let _ = self.client.try_disconnect();
                    return Ended::Shutdown;
                }
                polled = self.eventloop.poll() => polled,
            };
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected = true;
                    attempt.connected();
                    let filters = self
                        .topics
                        .iter()
                        .map(|topic| SubscribeFilter::new(topic.clone(), QoS::AtMostOnce));
                    if let Err(e) = self.client.try_subscribe_many(filters) {
                        tracing::warn!(source = %ctx.name, %url, "cannot subscribe: {e}");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused = ack
                        .return_codes
                        .iter()
                        .filter(|code| matches!(code, rumqttc::SubscribeReasonCode::Failure))
                        .count();
                    if refused > 0 {
                        tracing::warn!(source = %ctx.name, %url, "the broker refused {refused} of the `topics`; check them and the user's rights");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(message))) => {
                    let Ok(payload) = std::str::from_utf8(&message.payload) else {
                        tracing::warn!(source = %ctx.name, topic = %message.topic, "a message of {} bytes is not UTF-8 text; skipped", message.payload.len());
                        continue;
                    };
                    if !ctx.deliver(&message.topic, Some(payload), None).await {
                        return Ended::Shutdown;
                    }
                }
                Ok(_) => {}
                Err(e) if connected => return Ended::lost(error_chain(&e)),
                Err(e) => return Ended::Failed(error_chain(&e)),
            }
        }
    }
}
