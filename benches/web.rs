//! The web page's response times over a workspace of 10,000 tasks in 10 projects, through real
//! HTTP with a signed-in session: the board (everyone's, one project's, one assignee's, the
//! signed-in person's own, text-filtered, one column's next page), a task's page, the alerts
//! feed (40 proposals waiting), approvals, deliveries, the handbook, people and the weekly
//! report; medians and p90 of 100 requests each, on SQLite (a temporary file) and PostgreSQL (a
//! fresh schema on `TEST_DATABASE_URL`, skipped with a note when unreachable). The goal is a
//! median under 50 ms.
//!
//! Run with `cargo bench --bench web` (optimized) or `cargo bench --profile dev --bench web`
//! (reuses the test build; slower figures).

use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::app::App;
use coordinator::config::Settings;
use coordinator::store::ScratchSchema;
use coordinator::workspace::{Actor, NewPerson, NewProject, Proposal, TaskRequest, Workspace};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-token";
const TASKS: usize = 10_000;
const PEOPLE: usize = 20;
const PROJECTS: usize = 10;
const PROPOSALS: i64 = 40;
const RUNS: usize = 100;
const STATUSES: [&str; 4] = ["todo", "in_progress", "done", "blocked"];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];

fn handle(i: usize) -> String {
    if i == 0 {
        "anna".into()
    } else {
        format!("person{i:02}")
    }
}

/// `PEOPLE` people, `PROJECTS` active projects with a deadline, and `TASKS` tasks over every
/// status, person, project and priority; a quarter of the open tasks are overdue, so the
/// board's marks have work to do. Then `PROPOSALS` proposals waiting for approval (the alerts
/// feed and the approvals page). Anna, the first person.
async fn seed(workspace: &Workspace, workers: usize) -> coordinator::domain::Person {
    let actor = Arc::new(Actor::system("bench"));
    let mut anna = None;
    for i in 0..PEOPLE {
        let new = NewPerson {
            handle: handle(i),
            name: format!("Person {i}"),
            ..Default::default()
        };
        let person = workspace.create_person(&actor, new).await.expect("seed a person");
        anna.get_or_insert(person);
    }
    let mut projects = Vec::new();
    for i in 0..PROJECTS {
        let new = NewProject {
            name: format!("Project {i}"),
            deadline: Some("2035-06-30".into()),
            ..Default::default()
        };
        projects.push(
            workspace
                .create_project(&actor, new)
                .await
                .expect("seed a project")
                .id,
        );
    }
    let projects = Arc::new(projects);
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let workspace = workspace.clone();
        let actor = actor.clone();
        let projects = projects.clone();
        set.spawn(async move {
            for i in (w..TASKS).step_by(workers) {
                let new = TaskRequest {
                    title: format!("Seeded task {i}"),
                    description: Some("A task the benchmark put in the workspace.".into()),
                    status: Some(STATUSES[i % STATUSES.len()].into()),
                    priority: Some(PRIORITIES[(i / 7) % PRIORITIES.len()].into()),
                    assigned_to: Some(handle((i / STATUSES.len()) % PEOPLE)),
                    project_id: Some(projects[i % PROJECTS]),
                    due_date: Some(if i % 4 == 1 { "2020-01-15" } else { "2035-01-15" }.into()),
                    ..Default::default()
                };
                workspace
                    .submit_task(&actor, new, None)
                    .await
                    .expect("seed a task");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("a seeding worker panicked");
    }
    let agent = Actor::system("agent");
    for task_id in 1..=PROPOSALS {
        workspace
            .propose_action(&agent, Proposal::DeleteTask { task_id }, "a duplicate", None)
            .await
            .expect("seed a proposal");
    }
    anna.expect("people were seeded")
}

fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
}

/// Signs in with the bootstrap token through the sign-in form; the session cookie.
async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let page = client
        .get(format!("{base}/web"))
        .send()
        .await
        .expect("sign-in page");
    let pre = cookie_of(&page, "coordinator_signin").expect("a sign-in cookie");
    let done = client
        .post(format!("{base}/web/sign-in/token"))
        .header(reqwest::header::COOKIE, format!("coordinator_signin={pre}"))
        .form(&[("csrf", pre.as_str()), ("token", TOKEN)])
        .send()
        .await
        .expect("sign in");
    cookie_of(&done, "coordinator_session").expect("a session cookie")
}

async fn measure(client: &reqwest::Client, url: &str, session: &str) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS + 5 {
        let started = Instant::now();
        let response = client
            .get(url)
            .header(reqwest::header::COOKIE, format!("coordinator_session={session}"))
            .send()
            .await
            .expect("a page");
        assert_eq!(response.status().as_u16(), 200, "{url}");
        bytes = response.bytes().await.expect("a body").len();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let mut times = times.split_off(5);
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], times[RUNS * 9 / 10], bytes)
}

async fn run(engine: &str) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut schema = None;
    let url = if engine == "sqlite" {
        format!("sqlite://{}", dir.path().join("bench.db").display())
    } else {
        let base = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        match tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&base)).await {
            Ok(Ok(pool)) => pool.close().await,
            _ => {
                eprintln!("note: PostgreSQL at {base} is unreachable (set TEST_DATABASE_URL); SQLite only");
                return;
            }
        }
        let scratch = ScratchSchema::create(&base, "w").await.expect("a bench schema");
        let url = scratch.url.clone();
        schema = Some(scratch);
        url
    };
    let data_dir = dir.path().join("data").to_string_lossy().into_owned();
    let settings = Settings::with(&[
        ("DATABASE_URL", url.as_str()),
        ("COORDINATOR_API_TOKEN", TOKEN),
        ("COORDINATOR_DATA_DIR", data_dir.as_str()),
        ("COORDINATOR_ADDR", "127.0.0.1:0"),
        ("COORDINATOR_SCHEDULER_TICK", "1h"),
        ("HANDBOOK_MODEL_URL", "off"),
    ])
    .expect("bench settings");
    let app = App::build(settings).await.expect("build the app");
    let started = Instant::now();
    let anna = seed(&app.workspace, 8).await;
    let workspace = app.workspace.clone();
    eprintln!("{engine}: seeded {TASKS} tasks in {:.1?}", started.elapsed());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    // Redirects are not followed: the sign-in answer's own `Set-Cookie` is the session.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let admin = sign_in(&client, &base).await;
    // Anna's own session, as a sign-in link opens it, for her board ("mine").
    let now = chrono::Utc::now();
    let code = workspace
        .web_sign_in_code(&Actor::person(&anna, "web", chrono_tz::Tz::UTC), now)
        .await
        .expect("a sign-in code");
    let own = workspace
        .web_sign_in_with_code(&code.code, now)
        .await
        .expect("anna's session")
        .cookie;
    println!("| {engine} | page | median | p90 | bytes |");
    for (path, session) in [
        ("/web", &admin),
        ("/web?project=3", &admin),
        ("/web?assignee=anna", &admin),
        ("/web?scope=mine", &own),
        ("/web?q=task%2042&priority=high", &admin),
        ("/web?status=todo&offset=100", &admin),
        ("/web/tasks/42", &admin),
        ("/web/alerts", &admin),
        ("/web/approvals", &admin),
        ("/web/deliveries", &admin),
        ("/web/handbook", &admin),
        ("/web/people", &admin),
        ("/web/reports", &admin),
    ] {
        let (median, p90, bytes) = measure(&client, &format!("{base}{path}"), session).await;
        println!("| {engine} | `{path}` | {median:.1} ms | {p90:.1} ms | {bytes} |");
    }
    shutdown.cancel();
    let _ = server.await;
    if let Some(schema) = schema {
        let _ = schema.drop_now().await;
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no options.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        run("sqlite").await;
        run("postgres").await;
    });
}
