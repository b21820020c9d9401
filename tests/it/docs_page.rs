//! `/docs` is served entirely from the binary: the page and the script it loads come from the
//! service itself, the HTML names no other origin, and its Content-Security-Policy allows only
//! this one.

use crate::helpers::{spawn_app, Db};

#[tokio::test]
async fn the_api_reference_loads_nothing_from_elsewhere() {
    let app = spawn_app(Db::Sqlite).await;
    let page = app.client.get(format!("{}/docs", app.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("http"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
    assert!(!html.contains("//cdn") && !html.contains("src=\"//"), "{html}");
    // Every script and link the page loads is a path on this service, and each loads.
    let sources: Vec<&str> = html
        .split('"')
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0].ends_with("src=") || w[0].ends_with("href=") || w[0].ends_with("spec-url="))
        .map(|w| w[1])
        .collect();
    assert!(sources.len() >= 2, "{sources:?}");
    for source in sources {
        assert!(source.starts_with('/') && !source.starts_with("//"), "{source}");
        let asset = app
            .client
            .get(format!("{}{source}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200, "{source}");
        let body = asset.bytes().await.unwrap();
        assert!(!body.is_empty(), "{source}");
        if source.ends_with(".js") {
            let script = String::from_utf8_lossy(&body);
            assert!(script.contains("rapi-doc"), "{source} is not RapiDoc");
        }
    }
}
