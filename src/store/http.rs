//! `GET /api/history`: past states from the store, in Home Assistant's
//! shape. The server merges this router into its own; its auth middleware
//! applies to it like to every other route.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::{HistoryQuery, Store};

/// States per page when the client does not say.
pub const DEFAULT_LIMIT: usize = 10_000;
/// The largest page a client may ask for.
pub const MAX_LIMIT: usize = 100_000;
/// Entities one request may name.
const MAX_ENTITIES: usize = 1000;

/// The history routes:
///
/// - `GET /api/history?entity_id=a,b&since=RFC3339&until=RFC3339&limit=N&after=SEQ`
/// - `GET /api/history/period/{since}?filter_entity_id=a,b&end_time=RFC3339`
///   (Home Assistant's spelling of the same query)
///
/// The answer is `[[{entity_id,state,attributes,last_changed,last_updated}, …], …]`,
/// one list per entity, oldest first. `since` defaults to one day ago,
/// `until` to now. A full page carries `Link: <…&after=SEQ>; rel="next"`.
pub fn history_router<S: Clone + Send + Sync + 'static>(store: Arc<Store>) -> Router<S> {
    Router::new()
        .route("/api/history", get(history))
        .route("/api/history/period/{since}", get(history_period))
        .with_state(store)
}

/// The history routes of a hub that keeps no database (`server.database =
/// ":memory:"`): they answer 404 with a sentence that says why, instead of
/// an empty history a client would take for "nothing happened".
pub fn history_unavailable_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    async fn unavailable() -> Response {
        error(
            StatusCode::NOT_FOUND,
            "this hub keeps no history: `server.database` is \":memory:\"; set it to a file to keep history",
        )
    }
    Router::new()
        .route("/api/history", get(unavailable))
        .route("/api/history/period/{since}", get(unavailable))
}

async fn history(State(store): State<Arc<Store>>, RawQuery(query): RawQuery) -> Response {
    let pairs = parse_pairs(query.as_deref());
    answer(store, "/api/history", pairs, None).await
}

async fn history_period(
    State(store): State<Arc<Store>>,
    Path(since): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = parse_pairs(query.as_deref());
    let path = format!("/api/history/period/{since}");
    answer(store, &path, pairs, Some(since)).await
}

fn parse_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn answer(
    store: Arc<Store>,
    path: &str,
    pairs: Vec<(String, String)>,
    path_since: Option<String>,
) -> Response {
    let query = match parse_query(&pairs, path_since.as_deref()) {
        Ok(query) => query,
        Err(message) => return bad_request(&message),
    };
    let read = tokio::task::spawn_blocking(move || store.history(&query)).await;
    let page = match read {
        Ok(Ok(page)) => page,
        Ok(Err(e)) => {
            tracing::error!("history query failed: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the history could not be read; see the hub's log",
            );
        }
        Err(e) => {
            tracing::error!("history query failed: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the history could not be read; see the hub's log",
            );
        }
    };
    let mut response =
        ([(header::CONTENT_TYPE, "application/json")], page.to_json()).into_response();
    if let Some(next) = page.next {
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "after") {
            link.append_pair(k, v);
        }
        link.append_pair("after", &next.to_string());
        let value = format!("<{path}?{}>; rel=\"next\"", link.finish());
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// Reads the parameters; an error is a sentence for a 400 answer.
fn parse_query(
    pairs: &[(String, String)],
    path_since: Option<&str>,
) -> Result<HistoryQuery, String> {
    let mut entity_ids = Vec::new();
    let mut since = path_since.map(|s| parse_time("since", s)).transpose()?;
    let mut until = None;
    let mut limit = DEFAULT_LIMIT;
    let mut after = None;
    for (key, value) in pairs {
        match key.as_str() {
            "entity_id" | "filter_entity_id" => entity_ids.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_string),
            ),
            "since" | "start_time" => since = Some(parse_time(key, value)?),
            "until" | "end_time" => until = Some(parse_time(key, value)?),
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!("`limit={value}` is not a number from 1 to {MAX_LIMIT}")
                    })?;
            }
            "after" => {
                after = Some(value.parse::<u64>().map_err(|_| {
                    format!("`after={value}` is not a seq; pass the `after` of the previous page's `Link` header")
                })?);
            }
            // Home Assistant's presentation flags (minimal_response, …) do
            // not change what is stored; accept and ignore them.
            _ => {}
        }
    }
    if entity_ids.len() > MAX_ENTITIES {
        return Err(format!(
            "{} entity ids asked; at most {MAX_ENTITIES} per request",
            entity_ids.len()
        ));
    }
    let since = since.unwrap_or_else(|| Utc::now() - chrono::Duration::days(1));
    if let Some(until) = until
        && until < since
    {
        return Err(format!(
            "`until` ({}) is before `since` ({}); swap them",
            until.to_rfc3339(),
            since.to_rfc3339()
        ));
    }
    Ok(HistoryQuery {
        entity_ids,
        since,
        until,
        limit,
        after,
    })
}

fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    // An unescaped `+00:00` in a query string arrives as ` 00:00`.
    let text = value.trim().replace(' ', "+");
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "`{name}={value}` is not an RFC 3339 time ({e}); write it like 2026-11-22T10:00:00Z"
            )
        })
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        parse_pairs(Some(q))
    }

    #[test]
    fn entity_ids_are_a_comma_list() {
        let q = parse_query(&pairs("entity_id=a.b,c.d"), None).unwrap();
        assert_eq!(q.entity_ids, vec!["a.b", "c.d"]);
    }

    #[test]
    fn an_unescaped_plus_in_a_time_is_read_as_plus() {
        let q = parse_query(&pairs("since=2026-11-22T10:00:00+01:00"), None).unwrap();
        assert_eq!(q.since.to_rfc3339(), "2026-11-22T09:00:00+00:00");
    }

    #[test]
    fn a_bad_time_names_the_parameter() {
        let e = parse_query(&pairs("since=yesterday"), None).unwrap_err();
        assert!(e.contains("`since=yesterday`"), "{e}");
    }

    #[test]
    fn limit_zero_is_refused() {
        assert!(parse_query(&pairs("limit=0"), None).is_err());
    }
}
