//! The agent's own cost per turn, without the model: `Agent::run` over the scripted provider (no
//! network, no latency), on SQLite (a temporary file), built as the service builds it.
//!
//! 1. Turn overhead, median and p99, in a workspace of 10 tasks, each turn in a fresh chat:
//!    a plain answer; one `list_tasks` call then an answer; three tool calls at once then an
//!    answer. Then a turn in a chat that already has 50 earlier turns (memory at its budget).
//! 2. Prompt tokens of a turn (`TurnOutput::prompt_tokens_counted`, tiktoken) with 10, 1,000 and
//!    100,000 tasks in the workspace: the prompt carries a few facts, never the workspace, so the
//!    figure must stay flat. Also the tokens of the last step of a `list_tasks` turn (the tool's
//!    result is capped), and the turn's time at that size.
//!
//! Tasks are seeded with one SQL statement (`WITH RECURSIVE`) on the service's database.
//!
//! Run with `cargo bench --bench agent`. A plain `main`: it prints one table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use coordinator::app::App;
use coordinator::config::Settings;
use coordinator::conversation::agent::{Agent, TurnInput, TurnOutput};
use coordinator::conversation::count_tokens;
use coordinator::conversation::prompts::Prompts;
use coordinator::domain::Person;
use coordinator::llm::{LlmError, Message, Role, Scripted, ToolCall};
use coordinator::tools::Toolbox;
use coordinator::workspace::{Actor, NewPerson};
use serde_json::json;

/// Unmeasured turns before each series.
const WARM_UP: usize = 20;
/// Measured turns of each overhead series.
const SAMPLES: usize = 500;
/// Chats of 50 earlier turns, one measured turn in each.
const LONG_CHATS: usize = 20;
const EARLIER_TURNS: usize = 50;
/// Measured turns per workspace size.
const SIZE_SAMPLES: usize = 30;
const SIZES: [usize; 3] = [10, 1_000, 100_000];
/// People in the workspace; tasks are spread over them. The first is the sender.
const PEOPLE: usize = 20;
const ANSWER: &str = "You have 3 open tasks; the printer order (#12) is due tomorrow.";

/// A built workspace and who speaks in it.
struct Bench {
    app: App,
    anna: Person,
    actor: Actor,
    _dir: tempfile::TempDir,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

/// The service on a fresh SQLite file, with `PEOPLE` people and `tasks` tasks.
async fn workspace(tasks: usize) -> Bench {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let settings = Settings::with(&[
        ("DATABASE_URL", url.as_str()),
        // Benchmarks measure the service, not its per-token and per-chat allowances.
        ("COORDINATOR_MESSAGES_PER_MINUTE", "1000000"),
        ("COORDINATOR_AGENT_TURNS_PER_DAY", "1000000"),
        ("COORDINATOR_LLM_TOKENS_PER_DAY", "1000000000"),
        ("COORDINATOR_API_REQUESTS_PER_MINUTE", "1000000"),
    ])
    .expect("settings");
    let app = App::build(settings).await.expect("build the app");
    let system = Actor::system("bench");
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let new = NewPerson {
            handle: if i == 0 {
                "anna".into()
            } else {
                format!("person{i:02}")
            },
            name: if i == 0 {
                "Anna Berg".into()
            } else {
                format!("Person {i}")
            },
            role: Some(if i == 0 { "admin" } else { "member" }.into()),
            profile: (i == 0).then(|| "project-manager".into()),
            ..Default::default()
        };
        people.push(
            app.workspace
                .create_person(&system, new)
                .await
                .expect("seed a person"),
        );
    }
    seed_tasks(&url, people[0].id, tasks).await;
    let anna = people.swap_remove(0);
    let actor = Actor::person(&anna, "bench", chrono_tz::Tz::UTC);
    Bench {
        app,
        anna,
        actor,
        _dir: dir,
    }
}

/// `count` tasks in one statement: every status, priority and person, a fifth without a due
/// date, a fifth overdue at `now()`, the rest due later.
async fn seed_tasks(url: &str, first_person: i64, count: usize) {
    let pool = sqlx::SqlitePool::connect(url)
        .await
        .expect("open the bench database");
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO tasks (title, description, status, priority, project_id, assignee_id, time_estimate,
                            time_spent, due_date, labels, origin_channel, origin_chat, created_by,
                            created_at, updated_at, source_key)
         WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $1)
         SELECT 'Task ' || n || ': follow up with the client about the layout',
                'Generated for the agent benchmark.',
                CASE n % 4 WHEN 0 THEN 'todo' WHEN 1 THEN 'in_progress' WHEN 2 THEN 'done' ELSE 'blocked' END,
                CASE (n / 4) % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'urgent' END,
                NULL, $2 + (n % $3), NULL, NULL,
                CASE n % 5 WHEN 0 THEN NULL WHEN 1 THEN '2026-11-20T17:00:00+00:00'
                           ELSE '2027-01-15T17:00:00+00:00' END,
                '[]', NULL, NULL, 'bench',
                '2026-10-01T09:00:00+00:00', '2026-10-01T09:00:00+00:00', NULL
         FROM seq",
    )
    .bind(count as i64)
    .bind(first_person)
    .bind(PEOPLE as i64)
    .execute(&pool)
    .await
    .expect("seed the tasks");
    pool.close().await;
    eprintln!("seeded {count} tasks in {:.2?}", started.elapsed());
}

fn call(id: &str, name: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.to_string(),
    }
}

fn calls(tool_calls: Vec<ToolCall>) -> Message {
    Message {
        role: Role::Assistant,
        content: String::new(),
        tool_calls,
        tool_call_id: None,
    }
}

/// What the model does in a turn, step by step; the last step answers `ANSWER`.
#[derive(Clone, Copy)]
enum Kind {
    Plain,
    OneTool,
    ThreeTools,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Plain => "plain answer",
            Kind::OneTool => "list_tasks, then answer",
            Kind::ThreeTools => "3 tool calls at once, then answer",
        }
    }

    fn steps(self) -> Vec<Message> {
        let tools = match self {
            Kind::Plain => None,
            Kind::OneTool => Some(vec![call("call_1", "list_tasks", json!({"assigned_to": "anna"}))]),
            Kind::ThreeTools => Some(vec![
                call("call_1", "list_tasks", json!({"assigned_to": "anna"})),
                call("call_2", "list_tasks", json!({"overdue": true})),
                call("call_3", "list_people", json!({})),
            ]),
        };
        tools
            .map(calls)
            .into_iter()
            .chain([Message::assistant(ANSWER)])
            .collect()
    }
}

/// An agent whose model plays `kind` for `turns` turns (then answers plainly).
fn agent(bench: &Bench, kind: Kind, turns: usize) -> (Agent, Arc<Scripted>) {
    let script: Vec<Result<Message, LlmError>> = (0..turns).flat_map(|_| kind.steps()).map(Ok).collect();
    let scripted = Arc::new(Scripted::new(script, Message::assistant(ANSWER)));
    let agent = Agent::new(
        scripted.clone(),
        Toolbox::default(),
        Prompts::bundled().expect("bundled prompts"),
        bench.app.workspace.clone(),
    );
    (agent, scripted)
}

/// One turn in `chat`, timed.
async fn turn(agent: &Agent, bench: &Bench, chat: &str, text: &str) -> (Duration, TurnOutput) {
    let input = TurnInput {
        actor: &bench.actor,
        person: Some(&bench.anna),
        channel: "bench",
        chat_id: chat,
        text,
        source_key: None,
        now: now(),
    };
    let started = Instant::now();
    let output = agent.run(input).await.expect("the turn runs");
    (started.elapsed(), output)
}

/// Tokens of the last request the model saw: messages and tool specs, counted as the agent does.
fn last_request_tokens(scripted: &Scripted) -> usize {
    let requests = scripted.requests();
    let Some(last) = requests.last() else { return 0 };
    let messages: usize = last
        .messages
        .iter()
        .map(|m| {
            count_tokens(&m.content)
                + m.tool_calls
                    .iter()
                    .map(|c| count_tokens(&c.arguments))
                    .sum::<usize>()
        })
        .sum();
    messages + count_tokens(&serde_json::to_string(&last.tools).unwrap_or_default())
}

/// `warm_up + samples` turns of `kind`, each in a fresh chat; the measured times and outputs.
async fn series(bench: &Bench, kind: Kind, warm_up: usize, samples: usize) -> Series {
    let (agent, scripted) = agent(bench, kind, warm_up + samples);
    let expected_steps = kind.steps().len();
    let mut series = Series::default();
    for n in 0..warm_up + samples {
        let chat = format!("{}-{n}", kind.label());
        let (elapsed, output) = turn(&agent, bench, &chat, "What is on my plate this week?").await;
        assert_eq!(
            output.steps,
            expected_steps,
            "{}: the script went astray",
            kind.label()
        );
        assert_eq!(output.reply, ANSWER);
        if n >= warm_up {
            series.times.push(elapsed);
            series.tokens.push(output.prompt_tokens_counted);
        }
    }
    series.last_step_tokens = last_request_tokens(&scripted);
    series.times.sort();
    series.tokens.sort();
    series
}

#[derive(Default)]
struct Series {
    times: Vec<Duration>,
    /// `prompt_tokens_counted` of each measured turn, sorted.
    tokens: Vec<usize>,
    /// Tokens of the last request of the last turn.
    last_step_tokens: usize,
}

impl Series {
    fn time(&self, p: f64) -> String {
        let at = ((self.times.len() as f64 - 1.0) * p).round() as usize;
        format!("{:.2} ms", self.times[at].as_secs_f64() * 1000.0)
    }

    fn tokens(&self) -> String {
        let (min, max) = (self.tokens[0], self.tokens[self.tokens.len() - 1]);
        if min == max {
            min.to_string()
        } else {
            format!("{min}–{max}")
        }
    }
}

/// `LONG_CHATS` chats of `EARLIER_TURNS` turns each (through the agent), then one measured turn
/// in each.
async fn long_chats(bench: &Bench) -> Series {
    let (agent, _) = agent(bench, Kind::Plain, 0);
    let mut series = Series::default();
    for c in 0..LONG_CHATS {
        let chat = format!("long-{c}");
        for t in 0..EARLIER_TURNS {
            let text = format!(
                "Turn {t}: can you check whether the brochure layout for the Müller account is on track, \
                 and who is waiting on the printer quote before Friday?"
            );
            turn(&agent, bench, &chat, &text).await;
        }
        let (elapsed, output) = turn(&agent, bench, &chat, "And what is overdue now?").await;
        series.times.push(elapsed);
        series.tokens.push(output.prompt_tokens_counted);
    }
    series.times.sort();
    series.tokens.sort();
    series
}

async fn run() {
    let started = Instant::now();
    let small = workspace(10).await;
    let mut overhead = Vec::new();
    for kind in [Kind::Plain, Kind::OneTool, Kind::ThreeTools] {
        overhead.push((
            kind.label().to_owned(),
            series(&small, kind, WARM_UP, SAMPLES).await,
        ));
    }
    overhead.push((
        format!("plain answer, {EARLIER_TURNS} earlier turns in the chat"),
        long_chats(&small).await,
    ));
    drop(small);

    let mut sizes = Vec::new();
    for tasks in SIZES {
        let bench = workspace(tasks).await;
        let plain = series(&bench, Kind::Plain, 5, SIZE_SAMPLES).await;
        let tool = series(&bench, Kind::OneTool, 5, SIZE_SAMPLES).await;
        sizes.push((tasks, plain, tool));
    }

    println!("\nAgent turn overhead (scripted model, SQLite, 10 tasks, fresh chat per turn)\n");
    println!("| turn | turns | median | p99 | prompt tokens (tiktoken) |");
    println!("|---|---|---|---|---|");
    for (label, s) in &overhead {
        println!(
            "| {label} | {} | {} | {} | {} |",
            s.times.len(),
            s.time(0.5),
            s.time(0.99),
            s.tokens()
        );
    }
    println!("\nPrompt tokens per turn by workspace size ({SIZE_SAMPLES} turns each, fresh chat per turn)\n");
    println!(
        "| tasks | prompt tokens (plain) | list_tasks turn: first prompt | last step | plain turn median | p99 |"
    );
    println!("|---|---|---|---|---|---|");
    for (tasks, plain, tool) in &sizes {
        println!(
            "| {tasks} | {} | {} | {} | {} | {} |",
            plain.tokens(),
            tool.tokens(),
            tool.last_step_tokens,
            plain.time(0.5),
            plain.time(0.99)
        );
    }
    eprintln!("\ntotal {:.1?}", started.elapsed());
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}
