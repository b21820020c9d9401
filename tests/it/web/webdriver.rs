//! A small W3C WebDriver client (<https://www.w3.org/TR/webdriver2/>) over the HTTP client the
//! tests already use: chromedriver started on a free port, one headless Chromium session, and
//! the few commands the browser test needs (navigate, find, click, type, read text, run a
//! script, take a screenshot). A WebDriver crate would pull a second HTTP and TLS stack into
//! the test build for these dozen JSON requests.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

/// The key under which WebDriver returns an element's id.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    base: String,
    _driver: tokio::process::Child,
}

/// An element on the current page.
pub struct Element<'a> {
    session: &'a Session,
    id: String,
}

fn driver_path() -> Option<String> {
    if let Ok(path) = std::env::var("CHROMEDRIVER") {
        return Some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
    })
}

impl Session {
    /// chromedriver and a headless Chromium; `None` (with a note) when chromedriver is not
    /// installed, except under `CI=true`, where that fails the test.
    pub async fn start() -> Option<Self> {
        let Some(driver) = driver_path() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "chromedriver is not installed (apt-get install chromium chromium-driver), \
                     and CI=true requires the browser tests"
                );
            }
            eprintln!(
                "skipping the browser test: chromedriver is not installed \
                 (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver}: {e}"));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let root = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-GB"]}
        }}});
        let deadline = tokio::time::Instant::now() + WAIT;
        let id = loop {
            match http
                .post(format!("{root}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                Ok(response) => {
                    let body: Value = response.json().await.unwrap();
                    match body["value"]["sessionId"].as_str() {
                        Some(id) => break id.to_owned(),
                        None => panic!("chromedriver refused a session: {body}"),
                    }
                }
                Err(e) if tokio::time::Instant::now() > deadline => {
                    panic!("chromedriver did not answer: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Some(Self {
            http,
            base: format!("{root}/session/{id}"),
            _driver: child,
        })
    }

    /// One command; its `value`, or the WebDriver error as `Err`.
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let ok = response.status().is_success();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if ok {
            Ok(body["value"].clone())
        } else {
            Err(format!(
                "{}: {}",
                body["value"]["error"], body["value"]["message"]
            ))
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn open(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    async fn try_find(&self, using: &str, value: &str) -> Result<Element<'_>, String> {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": using, "value": value})),
            )
            .await?;
        let id = found[ELEMENT]
            .as_str()
            .ok_or_else(|| format!("no element id in {found}"))?;
        Ok(Element {
            session: self,
            id: id.to_owned(),
        })
    }

    /// The first element matching the CSS selector `css`.
    pub async fn find(&self, css: &str) -> Element<'_> {
        self.try_find("css selector", css)
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await;
    }

    /// Waits until an element whose own text contains `text` is on the page.
    pub async fn wait_for_text(&self, text: &str) {
        let xpath = format!("//*[contains(text(), {})]", xpath_literal(text));
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.try_find("xpath", &xpath).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{text:?} never appeared; the page says: {}",
                self.text("body").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The rendered text of the first element matching `css`; tried again while the page is
    /// still being replaced by the next one (a click that submits a form).
    pub async fn text(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let read = match self.try_find("css selector", css).await {
                Ok(element) => element.try_text().await,
                Err(e) => Err(e),
            };
            match read {
                Ok(text) => return text,
                Err(e) if tokio::time::Instant::now() > deadline => panic!("no text at {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the page's `h1` reads `expected` (the page a click led to has loaded).
    pub async fn wait_for_heading(&self, expected: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let heading = self.text("h1").await;
            if heading == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page is {heading:?}, not {expected:?}: {}",
                self.text("body").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page.
    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// The visible part of the page as PNG.
    pub async fn screenshot(&self) -> Vec<u8> {
        let shot = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap())
            .unwrap()
    }

    pub async fn quit(self) {
        let _ = self.command(reqwest::Method::DELETE, "", None).await;
    }
}

impl Element<'_> {
    pub async fn click(&self) {
        self.session
            .post(&format!("/element/{}/click", self.id), json!({}))
            .await;
    }

    pub async fn type_text(&self, text: &str) {
        self.session
            .post(&format!("/element/{}/clear", self.id), json!({}))
            .await;
        self.session
            .post(&format!("/element/{}/value", self.id), json!({"text": text}))
            .await;
    }

    async fn try_text(&self) -> Result<String, String> {
        let text = self
            .session
            .command(reqwest::Method::GET, &format!("/element/{}/text", self.id), None)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }
}

/// `text` as an XPath string literal (XPath 1.0 has no escapes: `concat` around quotes).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
