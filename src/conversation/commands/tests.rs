use super::*;
use chrono::TimeZone;

const BERLIN: Tz = chrono_tz::Europe::Berlin;

/// Wednesday 2025-03-12 10:00 UTC, 11:00 in Berlin (CET, UTC+1; CEST from 2025-03-30).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 12, 10, 0, 0).unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn p(text: &str) -> Parsed {
    parse(text, now(), BERLIN, Some("CoordBot"))
}

fn cmd(text: &str) -> Command {
    match p(text) {
        Parsed::Command(command) => command,
        other => panic!("{text:?} gave {other:?}"),
    }
}

fn usage_of(text: &str) -> String {
    match p(text) {
        Parsed::Usage(reply) => reply,
        other => panic!("{text:?} gave {other:?}"),
    }
}

fn due(date: &str) -> Result<DateTime<Utc>, String> {
    due_at(date, now())
}

fn due_at(date: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    match parse(&format!("/newtask Thing due {date}"), now, BERLIN, None) {
        Parsed::Command(Command::NewTask { due, .. }) => Ok(due.unwrap()),
        Parsed::Usage(reply) => Err(reply),
        other => panic!("{date:?} gave {other:?}"),
    }
}

#[test]
fn free_text_is_not_a_command() {
    assert_eq!(p("hello there"), Parsed::NotACommand);
    assert_eq!(p("  what about /tasks?"), Parsed::NotACommand);
    assert_eq!(p(""), Parsed::NotACommand);
    assert_eq!(p("/"), Parsed::NotACommand);
    assert_eq!(p("/ hello"), Parsed::NotACommand);
    assert_eq!(p("/usr/bin is full"), Parsed::NotACommand);
}

#[test]
fn help_and_start() {
    assert_eq!(cmd("/help"), Command::Help);
    assert_eq!(cmd("  /HELP  "), Command::Help);
    assert_eq!(cmd("/start"), Command::Help);
    let help = help_text();
    for (name, line) in USAGE {
        assert!(help.contains(line), "{name}");
        assert!(line.starts_with(&format!("/{name}")), "{line}");
    }
}

#[test]
fn unknown_command() {
    assert_eq!(
        p("/frobnicate now"),
        Parsed::Usage("Unknown command /frobnicate. Try /help.".into())
    );
}

#[test]
fn a_misspelt_command_gets_the_one_it_is_close_to() {
    for (typed, meant) in [
        ("/taks mine", "/tasks mine"),
        ("/newtsk Buy milk", "/newtask Buy milk"),
        ("/reminde me friday call", "/remind me friday call"),
        ("/standpu", "/standup"),
        ("/peopel", "/people"),
    ] {
        assert_eq!(
            p(typed),
            Parsed::Usage(format!(
                "Unknown command /{}. Did you mean {meant}? /help lists them all.",
                typed[1..].split(' ').next().unwrap()
            )),
            "{typed}"
        );
    }
    // Too far from any, or as close to two: no guess.
    assert_eq!(
        p("/xyz"),
        Parsed::Usage("Unknown command /xyz. Try /help.".into())
    );
}

#[test]
fn bot_suffix() {
    assert_eq!(cmd("/tasks@CoordBot mine"), Command::Tasks(TasksScope::Mine));
    assert_eq!(cmd("/Done@coordbot #7"), Command::Done { id: 7 });
    assert_eq!(p("/tasks@OtherBot mine"), Parsed::NotACommand);
    assert_eq!(p("/unknown@OtherBot"), Parsed::NotACommand);
    // Without our name, any addressee is accepted.
    let parsed = parse("/help@Whoever", now(), BERLIN, None);
    assert_eq!(parsed, Parsed::Command(Command::Help));
    let parsed = parse("/help@CoordBot", now(), BERLIN, Some("@CoordBot"));
    assert_eq!(parsed, Parsed::Command(Command::Help));
}

#[test]
fn tasks_scopes() {
    assert_eq!(cmd("/tasks"), Command::Tasks(TasksScope::All));
    assert_eq!(cmd("/tasks all"), Command::Tasks(TasksScope::All));
    assert_eq!(cmd("/Tasks MINE"), Command::Tasks(TasksScope::Mine));
    assert_eq!(cmd("/tasks overdue"), Command::Tasks(TasksScope::Overdue));
    assert_eq!(
        cmd("/tasks project  Website relaunch \n"),
        Command::Tasks(TasksScope::Project("Website relaunch".into()))
    );
    assert!(usage_of("/tasks project").contains("Which project?"));
    let reply = usage_of("/tasks someday");
    assert!(reply.contains("'someday'"), "{reply}");
    assert!(reply.contains("Usage: /tasks [mine|overdue|project NAME]"));
    assert!(usage_of("/tasks mine please").contains("'mine please'"));
}

#[test]
fn done_takes_one_id() {
    assert_eq!(cmd("/done 42"), Command::Done { id: 42 });
    assert_eq!(cmd("/done #42"), Command::Done { id: 42 });
    assert_eq!(cmd("/done\n  42 \n"), Command::Done { id: 42 });
    assert_eq!(
        usage_of("/done"),
        "/done needs a task ID.\nUsage: /done ID — e.g. /done 42"
    );
    assert!(usage_of("/done abc").starts_with("'abc' is not a task ID."));
    for bad in ["/done 0", "/done -3", "/done +3", "/done #", "/done 4.5"] {
        assert!(usage_of(bad).contains("is not a task ID"), "{bad}");
    }
    assert!(usage_of("/done 99999999999999999999").contains("is not a task ID"));
    assert!(usage_of("/done 1 2").contains("just one task ID"));
}

#[test]
fn status_is_lenient_and_lists_valid_values() {
    let status = |text| match cmd(text) {
        Command::Status { id: 5, status } => status,
        other => panic!("{other:?}"),
    };
    assert_eq!(status("/status 5 done"), TaskStatus::Done);
    assert_eq!(status("/status #5 In Progress"), TaskStatus::InProgress);
    assert_eq!(status("/status 5 in-progress"), TaskStatus::InProgress);
    assert_eq!(status("/status 5 BLOCKED"), TaskStatus::Blocked);
    let reply = usage_of("/status 5 finished");
    assert!(reply.contains("'finished' is not a status"), "{reply}");
    assert!(reply.contains("todo, in_progress, done, blocked"), "{reply}");
    assert!(usage_of("/status 5").contains("needs a status"));
    assert!(usage_of("/status").contains("needs a task ID"));
    assert!(usage_of("/status done 5").contains("'done' is not a task ID"));
}

#[test]
fn comment_keeps_inner_newlines() {
    assert_eq!(
        cmd("/comment #12  \n First line\n\nsecond line  \n"),
        Command::Comment {
            id: 12,
            text: "First line\n\nsecond line".into()
        }
    );
    assert!(usage_of("/comment 12").contains("no text"));
    assert!(usage_of("/comment").contains("needs a task ID"));
    assert!(usage_of("/comment hello there").contains("'hello' is not a task ID"));
}

#[test]
fn ask_report_link() {
    assert_eq!(
        cmd("/ask  What is late?\nAnd why? "),
        Command::Ask {
            question: "What is late?\nAnd why?".into()
        }
    );
    assert!(usage_of("/ask").contains("Usage: /ask QUESTION"));
    let report = |period| Command::Report { period };
    assert_eq!(cmd("/report"), report(Period::Daily));
    assert_eq!(cmd("/report daily"), report(Period::Daily));
    assert_eq!(cmd("/REPORT Weekly"), report(Period::Weekly));
    assert!(usage_of("/report monthly").contains("'monthly' is not a report period"));
    assert_eq!(
        cmd("/link 7f3k9qab"),
        Command::Link {
            code: "7f3k9qab".into()
        }
    );
    assert!(usage_of("/link").contains("Usage: /link CODE"));
    assert!(usage_of("/link AB CD").contains("one word"));
}

#[test]
fn newtask_with_all_options_in_any_order() {
    let expected = Command::NewTask {
        title: TaskTitle::parse("Update the release notes").unwrap(),
        assignee: Some(Handle::parse("anna").unwrap()),
        due: Some(utc("2025-03-14T22:59:59Z")),
        priority: Some(Priority::High),
        recurrence: None,
    };
    for text in [
        "/newtask Update the release notes @Anna due next friday !high",
        "/newtask Update the release notes !HIGH @anna DUE Next Friday",
        "/NewTask  Update the release notes due friday @anna !high ",
    ] {
        assert_eq!(cmd(text), expected, "{text}");
    }
}

#[test]
fn newtask_title_only_and_option_like_words() {
    let only_title = |title: &str| Command::NewTask {
        title: TaskTitle::parse(title).unwrap(),
        assignee: None,
        due: None,
        priority: None,
        recurrence: None,
    };
    assert_eq!(cmd("/newtask Call the bank"), only_title("Call the bank"));
    assert_eq!(
        cmd("/newtask Update overdue invoices, duel stats & mail a@b.c now!"),
        only_title("Update overdue invoices, duel stats & mail a@b.c now!")
    );
    match cmd("/newtask Update  the due-date docs @bob") {
        Command::NewTask { title, assignee, .. } => {
            assert_eq!(title.as_str(), "Update  the due-date docs");
            assert_eq!(assignee.as_ref().map(Handle::as_str), Some("bob"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn newtask_every_is_a_repetition_only_when_it_reads_as_one() {
    match cmd("/newtask Send the monthly report every month on the 1st @anna") {
        Command::NewTask {
            title,
            assignee,
            recurrence,
            ..
        } => {
            assert_eq!(title.as_str(), "Send the monthly report");
            assert_eq!(assignee.as_ref().map(Handle::as_str), Some("anna"));
            assert_eq!(recurrence.unwrap().rule(), "FREQ=MONTHLY;BYMONTHDAY=1");
        }
        other => panic!("{other:?}"),
    }
    match cmd("/newtask Review every PR @bob") {
        Command::NewTask {
            title, recurrence, ..
        } => {
            assert_eq!(title.as_str(), "Review every PR");
            assert_eq!(recurrence, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(usage_of("/newtask Report every month every week").contains("one repetition"));
}

#[test]
fn newtask_bad_usage() {
    assert!(usage_of("/newtask").contains("needs a title"));
    assert!(usage_of("/newtask   @anna due friday").contains("needs a title"));
    let reply = usage_of("/newtask Fix it !soon");
    assert!(reply.contains("'!soon' is not a priority"), "{reply}");
    assert!(reply.contains("Usage: /newtask TITLE [@handle] [due DATE] [!priority]"));
    assert!(usage_of("/newtask Fix it @bad/handle").contains("is not a handle"));
    assert!(usage_of("/newtask Fix it @a @b").contains("one assignee"));
    assert!(usage_of("/newtask Fix it !low !high").contains("one !priority"));
    assert!(usage_of("/newtask Fix it due").contains("'due' needs a date"));
    assert!(usage_of("/newtask Fix it due friday due monday").contains("'friday due monday'"));
    assert!(usage_of("/newtask Fix it @anna tomorrow").contains("'tomorrow' after the title"));
    let long = format!("/newtask {}", "x".repeat(301));
    assert!(usage_of(&long).contains("at most 300"));
}

#[test]
fn relative_dates_in_berlin() {
    assert_eq!(due("today"), Ok(utc("2025-03-12T22:59:59Z")));
    assert_eq!(due("tomorrow"), Ok(utc("2025-03-13T22:59:59Z")));
    assert_eq!(due("Tomorrow 17:00"), Ok(utc("2025-03-13T16:00:00Z")));
    assert_eq!(due("tomorrow at 5PM"), Ok(utc("2025-03-13T16:00:00Z")));
    assert_eq!(due("tomorrow 12pm"), Ok(utc("2025-03-13T11:00:00Z")));
    assert_eq!(due("tomorrow 12 am"), Ok(utc("2025-03-12T23:00:00Z")));
    assert_eq!(due("friday noon"), Ok(utc("2025-03-14T11:00:00Z")));
    assert_eq!(due("friday"), Ok(utc("2025-03-14T22:59:59Z")));
    assert_eq!(due("next friday"), Ok(utc("2025-03-14T22:59:59Z")));
    assert_eq!(due("next friday 9:30"), Ok(utc("2025-03-14T08:30:00Z")));
    assert_eq!(due("in 3 days"), Ok(utc("2025-03-15T22:59:59Z")));
    assert_eq!(due("in 2 weeks"), Ok(utc("2025-03-26T22:59:59Z")));
    assert_eq!(due("in a week"), Ok(utc("2025-03-19T22:59:59Z")));
    // Across the switch to summer time: 23:59:59 CEST is 21:59:59 UTC.
    assert_eq!(due("in 3 weeks"), Ok(utc("2025-04-02T21:59:59Z")));
    assert_eq!(due("in 2 hours"), Ok(utc("2025-03-12T12:00:00Z")));
}

#[test]
fn local_day_differs_from_utc_day() {
    // 23:30 UTC on the 12th is already 00:30 on the 13th in Berlin.
    let late = Utc.with_ymd_and_hms(2025, 3, 12, 23, 30, 0).unwrap();
    assert_eq!(due_at("today", late), Ok(utc("2025-03-13T22:59:59Z")));
    assert_eq!(due_at("tomorrow", late), Ok(utc("2025-03-14T22:59:59Z")));
    // On a Friday, "next friday" is a week later; plain "friday" too once it has begun.
    let friday = Utc.with_ymd_and_hms(2025, 3, 14, 9, 0, 0).unwrap();
    assert_eq!(due_at("next friday", friday), Ok(utc("2025-03-21T22:59:59Z")));
}

#[test]
fn absolute_dates() {
    assert_eq!(due("2030-01-15"), Ok(utc("2030-01-15T22:59:59Z")));
    assert_eq!(due("2030-01-15 08:00"), Ok(utc("2030-01-15T07:00:00Z")));
    assert_eq!(due("2030-01-15T08:00"), Ok(utc("2030-01-15T07:00:00Z")));
    assert_eq!(due("20 march"), Ok(utc("2025-03-20T22:59:59Z")));
    // A day and month already passed this year means next year's.
    assert_eq!(due("15 jan"), Ok(utc("2026-01-15T22:59:59Z")));
    assert_eq!(due("Jan 15 9:00"), Ok(utc("2026-01-15T08:00:00Z")));
    assert_eq!(due("1/15"), Ok(utc("2026-01-15T22:59:59Z")));
    assert_eq!(due("february"), Ok(utc("2026-02-01T22:59:59Z")));
}

#[test]
fn past_dates_are_refused() {
    for date in [
        "yesterday",
        "2020-01-01",
        "today 9:00",
        "15 jan 2025",
        "2 days ago",
    ] {
        let reply = due(date).unwrap_err();
        assert!(reply.contains(&format!("'{date}'")), "{reply}");
        assert!(reply.contains("is in the past"), "{reply}");
        assert!(reply.contains("Usage: /newtask"), "{reply}");
    }
}

#[test]
fn unparseable_dates_name_the_text() {
    for date in ["someday", "the 5th", "tomorrow 5", "32 jan", "15/01", "soon-ish!"] {
        let reply = due(date).unwrap_err();
        assert!(
            reply.contains(&format!("couldn't understand the date '{date}'")),
            "{reply}"
        );
        assert!(reply.contains("next friday, in 3 days"), "{reply}");
    }
    // Long words must not reach interim, which would panic on them.
    let long = "tomorrow 5abcdefghijklmnopqrstuvwxyz";
    assert!(due(long).unwrap_err().contains("couldn't understand"));
    assert!(due("tomorrow 5ABCDEFGHIJKL").is_err());
}
