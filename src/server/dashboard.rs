//! The dashboard: the page at `/` and its assets, compiled into the binary
//! from `web/` so a single file runs the whole thing.
//!
//! These routes are public on purpose: the page itself holds no data, and
//! when the API answers 401 it asks the user for a key.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
struct Asset {
    /// The URL path it is served at.
    path: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes, read from `web/` at build time.
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `web/`. A test checks that none is missing.
const ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8"),
    asset!("/style.css", "style.css", "text/css; charset=utf-8"),
    asset!("/favicon.svg", "favicon.svg", "image/svg+xml"),
    asset!("/app.js", "app.js", JS),
    asset!("/api.js", "api.js", JS),
    asset!("/format.js", "format.js", JS),
    asset!("/history.js", "history.js", JS),
    asset!("/icons.js", "icons.js", JS),
    asset!("/outputs.js", "outputs.js", JS),
    asset!("/sources.js", "sources.js", JS),
    asset!("/stream.js", "stream.js", JS),
    asset!("/tiles.js", "tiles.js", JS),
    asset!("/unmatched.js", "unmatched.js", JS),
];

/// The dashboard's routes, without auth and without state, for the server
/// to merge into its main router.
pub fn dashboard_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for asset in ASSETS {
        router = router.route(asset.path, get(move || async move { serve(asset) }));
    }
    router.route("/index.html", get(|| async { serve(&ASSETS[0]) }))
}

/// The file with its type. `no-cache` makes the browser revalidate, so a
/// new homebus binary never runs against an old script.
fn serve(asset: &'static Asset) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves the dashboard alone on a free loopback port.
    async fn start() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, dashboard_router::<()>())
                .await
                .unwrap();
        });
        format!("http://{addr}")
    }

    async fn get(url: &str) -> reqwest::Response {
        crate::http_client::client_builder()
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap()
    }

    fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn root_serves_the_page_as_html_without_caching() {
        let base = start().await;
        let response = get(&format!("{base}/")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, "cache-control"), "no-cache");
        let body = response.text().await.unwrap();
        assert!(body.contains("<script type=\"module\" src=\"/app.js\">"));
    }

    #[tokio::test]
    async fn scripts_are_served_as_javascript_modules() {
        let base = start().await;
        let response = get(&format!("{base}/app.js")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type"), JS);
        assert!(response.text().await.unwrap().contains("import "));
    }

    #[tokio::test]
    async fn stylesheet_is_served_as_css() {
        let base = start().await;
        let response = get(&format!("{base}/style.css")).await;
        assert_eq!(header(&response, "content-type"), "text/css; charset=utf-8");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("prefers-color-scheme")
        );
    }

    #[test]
    fn every_file_in_web_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/web");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let path = if name == "index.html" {
                "/".to_string()
            } else {
                format!("/{name}")
            };
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "web/{name} is not in ASSETS; add it to src/server/dashboard.rs"
            );
        }
    }

    #[test]
    fn every_module_a_script_imports_is_embedded() {
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let module = line
                    .rsplit_once("from '")
                    .map(|(_, rest)| rest.trim_end_matches("';"))
                    .unwrap_or_else(|| panic!("{}: unusual import `{line}`", asset.path));
                let path = module.trim_start_matches('.');
                assert!(
                    ASSETS.iter().any(|a| a.path == path),
                    "{} imports {module}, which is not embedded",
                    asset.path
                );
            }
        }
    }
}
