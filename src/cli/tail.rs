//! `homebus tail`: connect to an SSE stream and print what an EventSource
//! would dispatch.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;

use crate::sources::{Method, SseRequest, open_sse_stream};
use crate::sse::{SseItem, SseParser};

/// Options of `homebus tail`.
#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// Stream URL.
    pub url: String,
    /// One JSON object a line: `{"event","data","id"}`, and `{"retry":N}`.
    #[arg(long)]
    pub json: bool,
    /// HTTP method (GET or POST); POST when a body is given.
    #[arg(short = 'X', long = "request")]
    pub method: Option<String>,
    /// Extra header, `'Name: value'`; may be repeated.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body (implies POST unless -X says otherwise).
    #[arg(short = 'd', long = "data")]
    pub body: Option<String>,
    /// Send this `Last-Event-ID`.
    #[arg(long)]
    pub last_event_id: Option<String>,
    /// Largest line or event accepted, in bytes.
    #[arg(long, default_value_t = crate::sources::DEFAULT_MAX_EVENT_SIZE)]
    pub max_event_size: usize,
}

/// Prints events until the stream ends.
pub fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    let request = request(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(print_stream(&args, &request))?;
    Ok(ExitCode::SUCCESS)
}

fn request(args: &TailArgs) -> anyhow::Result<SseRequest> {
    let default = if args.body.is_some() { "POST" } else { "GET" };
    let method = match args
        .method
        .as_deref()
        .unwrap_or(default)
        .to_ascii_uppercase()
        .as_str()
    {
        "GET" => Method::GET,
        "POST" => Method::POST,
        other => anyhow::bail!("method `{other}` is not supported; use GET or POST"),
    };
    let mut headers = HeaderMap::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("header `{h}` has no `:`; write it as 'Name: value'"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).with_context(|| {
            format!(
                "`{}` is not a valid header name; use letters, digits and `-`",
                name.trim()
            )
        })?;
        let value = HeaderValue::from_str(value.trim()).with_context(|| {
            format!("the value of header `{name}` holds a line break or control character")
        })?;
        headers.append(name, value);
    }
    url::Url::parse(&args.url).with_context(|| format!("`{}` is not a URL", args.url))?;
    Ok(SseRequest {
        url: args.url.clone(),
        method,
        headers,
        body: args.body.clone(),
        last_event_id: args.last_event_id.clone(),
    })
}

async fn print_stream(args: &TailArgs, request: &SseRequest) -> anyhow::Result<()> {
    let client = crate::http_client::client_builder().build()?;
    let mut response = open_sse_stream(&client, request)
        .await
        .with_context(|| request.url.clone())?;
    let mut parser = SseParser::new(args.max_event_size);
    parser.set_last_event_id(request.last_event_id.as_deref().unwrap_or(""));
    let mut items = Vec::new();
    let stdout = std::io::stdout();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("{}: connection lost", request.url))?
    {
        parser
            .feed(&chunk, &mut items)
            .with_context(|| request.url.clone())?;
        let mut out = stdout.lock();
        for item in items.drain(..) {
            print_item(&mut out, &item, args.json)?;
        }
        out.flush()?;
    }
    Ok(())
}

/// One `--json` line, fields in the documented order.
#[derive(serde::Serialize)]
struct TailLine<'a> {
    event: &'a str,
    data: &'a str,
    id: &'a str,
}

/// Writes one item as EventSource would dispatch it: events without data print nothing.
fn print_item(out: &mut impl Write, item: &SseItem, as_json: bool) -> std::io::Result<()> {
    match item {
        SseItem::Retry(ms) if as_json => writeln!(out, "{}", json!({ "retry": ms })),
        SseItem::Retry(ms) => writeln!(out, "retry: {ms}\n"),
        SseItem::Event(event) => {
            let Some(data) = &event.data else {
                return Ok(());
            };
            let event_type = event.event_type.as_deref().unwrap_or("message");
            if as_json {
                let line = TailLine {
                    event: event_type,
                    data,
                    id: &event.last_event_id,
                };
                writeln!(out, "{}", serde_json::to_string(&line)?)
            } else {
                writeln!(out, "event: {event_type}")?;
                if !event.last_event_id.is_empty() {
                    writeln!(out, "id: {}", event.last_event_id)?;
                }
                for line in data.split('\n') {
                    writeln!(out, "data: {line}")?;
                }
                writeln!(out)
            }
        }
    }
}
