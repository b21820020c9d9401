//! The test kit. `TestApp::builder` (and its short forms `spawn_app`, `spawn_app_with`): the real
//! service on 127.0.0.1:0 with a fresh database per test (a temporary SQLite file, or a new
//! schema on `TEST_DATABASE_URL`), wired to the fake Bot API and the fake OpenAI server when a
//! test asks for them; requests to it (`call`, `deliver_telegram`, `metrics`); and the
//! `both_dbs!` macro that runs a test body on each engine.

use coordinator::app::App;
use coordinator::config::Settings;
use coordinator::domain::Role;
use coordinator::store::{ScratchSchema, Store};
use coordinator::workspace::{Actor, Workspace};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::fake_openai::FakeOpenAi;
use crate::fake_telegram::FakeTelegram;

pub const ADMIN_TOKEN: &str = "test-admin-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub workspace: Workspace,
    pub store: Store,
    /// The app's database, for tests that set what the API cannot (such as `updated_at`).
    pub database_url: String,
    /// The webhook secret given to `AppBuilder::with_telegram`, for `deliver_telegram`.
    telegram_secret: Option<String>,
    /// What the app printed for the operator at start (`serve` prints it on standard output).
    printed: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            tracing_subscriber::fmt()
                .with_env_filter("info,sqlx=warn")
                .with_test_writer()
                .init();
        }
    });
}

/// The PostgreSQL server the tests use: `TEST_DATABASE_URL`, or the local default.
pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether the PostgreSQL half of a test should run. Off CI an unreachable server skips it
/// (with a note); on CI (`CI=true`) it fails the test.
pub async fn postgres_ready() -> bool {
    let url = postgres_url();
    let reachable =
        match tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::PgPool::connect(&url)).await {
            Ok(Ok(pool)) => {
                pool.close().await;
                true
            }
            _ => false,
        };
    if !reachable {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("PostgreSQL at TEST_DATABASE_URL ({url}) is unreachable, and CI=true requires it");
        }
        eprintln!("skipping the PostgreSQL run: {url} is unreachable (set TEST_DATABASE_URL)");
    }
    reachable
}

/// A fresh, empty schema on the test server, as a database URL that uses it.
async fn fresh_postgres_url() -> String {
    ScratchSchema::create(&postgres_url(), "t")
        .await
        .expect("a schema on TEST_DATABASE_URL")
        .url
}

/// A database URL for a fresh database on `db`; the folder keeps the SQLite file alive.
pub async fn fresh_database(db: Db) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("test.db").display()),
        Db::Postgres => fresh_postgres_url().await,
    };
    (url, dir)
}

pub async fn spawn_app(db: Db) -> TestApp {
    TestApp::builder(db).spawn().await
}

/// Starts the app with extra settings on top of the test defaults.
pub async fn spawn_app_with(db: Db, extra: &[(&str, &str)]) -> TestApp {
    TestApp::builder(db).with_settings(extra).spawn().await
}

/// The settings of a `TestApp` to be: the test defaults, then what the test adds (a setting
/// given twice takes the later value).
pub struct AppBuilder {
    db: Db,
    settings: Vec<(String, String)>,
    telegram_secret: Option<String>,
}

impl AppBuilder {
    /// Any setting, by its environment variable's name.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Several settings at once, in order.
    pub fn with_settings(self, settings: &[(&str, &str)]) -> Self {
        settings
            .iter()
            .fold(self, |builder, (name, value)| builder.with(name, value))
    }

    /// Telegram in webhook mode against the fake Bot API; `deliver_telegram` sends `secret`.
    pub fn with_telegram(mut self, fake: &FakeTelegram, secret: &str) -> Self {
        self.telegram_secret = Some(secret.to_owned());
        self.with("TELEGRAM_BOT_TOKEN", &fake.token)
            .with("TELEGRAM_API_URL", &fake.url)
            .with("TELEGRAM_WEBHOOK_SECRET", secret)
    }

    /// The language model (chat, embeddings, transcription) served by the fake OpenAI server.
    pub fn with_openai(self, fake: &FakeOpenAi) -> Self {
        self.with("OPENAI_API_KEY", "test-key")
            .with("OPENAI_BASE_URL", &fake.base_url)
    }

    /// Builds the app on a fresh database and serves it on 127.0.0.1:0 until the `TestApp` drops.
    pub async fn spawn(self) -> TestApp {
        init_logs();
        let (url, dir) = fresh_database(self.db).await;
        let data_dir = dir.path().join("data");
        let data_dir = data_dir.to_str().unwrap().to_owned();
        let mut values = vec![
            ("DATABASE_URL", url.as_str()),
            ("COORDINATOR_API_TOKEN", ADMIN_TOKEN),
            ("COORDINATOR_DATA_DIR", data_dir.as_str()),
            ("COORDINATOR_ADDR", "127.0.0.1:0"),
            ("HANDBOOK_MODEL_URL", "off"),
        ];
        values.extend(self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let settings = Settings::with(&values).expect("test settings");
        // The last `DATABASE_URL` is the one the app uses, as with any setting.
        let database_url = values
            .iter()
            .rev()
            .find(|(name, _)| *name == "DATABASE_URL")
            .map(|(_, value)| (*value).to_owned())
            .expect("a DATABASE_URL");
        let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = printed.clone();
        let app = App::build(settings)
            .await
            .expect("build app")
            .with_start_output(move |text| sink.lock().unwrap().push(text.to_owned()));
        let workspace = app.workspace.clone();
        let store = app.store.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
        TestApp {
            base,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
            workspace,
            store,
            database_url,
            telegram_secret: self.telegram_secret,
            printed,
            shutdown,
            _dir: dir,
        }
    }
}

/// Posts a Bot API update to `{base}/webhooks/telegram` with `secret` in the header Telegram
/// sends; the status. Also for a service in a process of its own (`crash`).
pub async fn deliver_telegram_to(client: &reqwest::Client, base: &str, secret: &str, update: &Value) -> u16 {
    client
        .post(format!("{base}/webhooks/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", secret)
        .json(update)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A response's status and JSON body (`Null` when the body is empty).
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// An app to configure: `TestApp::builder(db).with_telegram(&tg, SECRET).spawn().await`.
    pub fn builder(db: Db) -> AppBuilder {
        AppBuilder {
            db,
            settings: Vec::new(),
            telegram_secret: None,
        }
    }

    /// Posts a Bot API update to the webhook, as Telegram would with the secret the app was
    /// built with (`AppBuilder::with_telegram`); the status.
    pub async fn deliver_telegram(&self, update: &Value) -> u16 {
        let secret = self
            .telegram_secret
            .as_deref()
            .expect("deliver_telegram needs an app built with `with_telegram`");
        deliver_telegram_to(&self.client, &self.base, secret, update).await
    }

    /// What the app printed for the operator at start, once it has printed something.
    pub async fn printed(&self) -> String {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let text = self.printed.lock().unwrap().join("\n");
            if !text.is_empty() || std::time::Instant::now() > until {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The claim code of the line `/claim CODE` that the app printed at start.
    pub async fn claim_code(&self) -> String {
        let printed = self.printed().await;
        printed
            .lines()
            .find_map(|line| line.strip_prefix("/claim "))
            .unwrap_or_else(|| panic!("no /claim line was printed: {printed:?}"))
            .trim()
            .to_owned()
    }

    /// `deliver_telegram`, for the tests that expect the update acknowledged (200).
    pub async fn deliver_telegram_ok(&self, update: &Value) {
        assert_eq!(self.deliver_telegram(update).await, 200, "update {update}");
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{}", self.base, path));
        match token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        }
    }

    pub async fn send(builder: RequestBuilder) -> Reply {
        let response = builder.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    /// An admin request with a JSON body (or none).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(ADMIN_TOKEN, method, path, body).await
    }

    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut builder = self.request(method, path, Some(token));
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        Self::send(builder).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A stored API token with `role`.
    pub async fn token(&self, name: &str, role: Role) -> String {
        self.workspace
            .create_token(&Actor::system("test"), name, role)
            .await
            .unwrap()
    }

    /// Creates a person through the API and returns it as JSON.
    pub async fn person(&self, handle: &str, role: &str) -> Value {
        let reply = self
            .post(
                "/api/people",
                serde_json::json!({"handle": handle, "name": handle, "role": role}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }
}

/// Runs each named `async fn name(db: Db)` on SQLite and on PostgreSQL.
macro_rules! both_dbs {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if $crate::helpers::postgres_ready().await {
                        super::$name($crate::helpers::Db::Postgres).await
                    }
                }
            )*
        }
    };
}
pub(crate) use both_dbs;
