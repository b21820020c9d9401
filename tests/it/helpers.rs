//! `spawn_app`: the real service on 127.0.0.1:0 with a fresh database per test (a temporary
//! SQLite file, or a new schema on `TEST_DATABASE_URL`), and the `both_dbs!` macro that runs a
//! test body on each engine.

use coordinator::app::App;
use coordinator::config::Settings;
use coordinator::domain::Role;
use coordinator::store::{ScratchSchema, Store};
use coordinator::workspace::{Actor, Workspace};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

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
    spawn_app_with(db, &[]).await
}

/// Starts the app with extra settings on top of the test defaults.
pub async fn spawn_app_with(db: Db, extra: &[(&str, &str)]) -> TestApp {
    init_logs();
    let (url, dir) = fresh_database(db).await;
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap().to_owned();
    let mut values = vec![
        ("DATABASE_URL", url.as_str()),
        ("COORDINATOR_API_TOKEN", ADMIN_TOKEN),
        ("COORDINATOR_DATA_DIR", data_dir.as_str()),
        ("COORDINATOR_ADDR", "127.0.0.1:0"),
    ];
    values.extend_from_slice(extra);
    let settings = Settings::with(&values).expect("test settings");
    let app = App::build(settings).await.expect("build app");
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
        shutdown,
        _dir: dir,
    }
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
