//! `/docs`: the API reference (RapiDoc over `/openapi.json`), served entirely from the binary.
//! The script is vendored in `assets/rapidoc` at a pinned version and named with it, so the
//! page works offline, never runs code from another origin, and a browser's cache never mixes
//! versions. The page's Content-Security-Policy allows nothing but this origin (fonts included:
//! the page asks for the system's fonts).

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

/// The vendored RapiDoc release: its file in `assets/rapidoc` and its URL carry it.
macro_rules! rapidoc_version {
    () => {
        "9.3.8"
    };
}

/// Where the page loads RapiDoc from.
pub const RAPIDOC_PATH: &str = concat!("/docs/rapidoc-", rapidoc_version!(), ".min.js");
const RAPIDOC: &[u8] = include_bytes!(concat!(
    "../../assets/rapidoc/rapidoc-",
    rapidoc_version!(),
    ".min.js"
));

const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'self'";

const PAGE: &str = concat!(
    r#"<!doctype html>
<html lang="en">
<head>
  <title>coordinator API</title>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <script type="module" src="/docs/rapidoc-"#,
    rapidoc_version!(),
    r#".min.js"></script>
</head>
<body>
  <rapi-doc spec-url="/openapi.json" render-style="read" show-header="false"
    allow-server-selection="false" allow-authentication="true"
    regular-font="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
    mono-font="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"></rapi-doc>
</body>
</html>"#
);

/// The page.
pub async fn page() -> Response {
    ([(header::CONTENT_SECURITY_POLICY, CSP)], Html(PAGE)).into_response()
}

/// RapiDoc's script; its URL names its version, so it may be cached for good.
pub async fn rapidoc() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        RAPIDOC,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_what_the_binary_serves() {
        assert!(PAGE.contains(&format!(r#"src="{RAPIDOC_PATH}""#)));
        assert!(RAPIDOC_PATH.contains(rapidoc_version!()));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        assert!(RAPIDOC.len() > 100_000);
    }
}
