//! Reports (`/web/reports`): the weekly report for the workspace or one project, with its
//! chart (open and done per day) drawn as inline SVG, and the per-person breakdown, for
//! everyone or one person.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::{WebError, WebResult};
use super::layout::{page as shell, trusted, when, Frame};
use super::session::Signed;
use super::WebState;
use crate::domain::Period;
use crate::workspace::Paging;

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    project: String,
    #[serde(default)]
    person: String,
}

/// `GET /web/reports`.
pub async fn page(
    State(state): State<WebState>,
    Signed(session): Signed,
    Query(q): Query<ReportQuery>,
) -> WebResult<Response> {
    let frame = Frame::new(&state, session, "reports").await?;
    let actor = &frame.session.actor;
    let project_id = match q.project.trim() {
        "" => None,
        p => Some(
            p.parse::<i64>()
                .map_err(|_| WebError::Invalid(format!("project '{p}' is not a project id")))?,
        ),
    };
    let person = q.person.trim().trim_start_matches('@').to_owned();
    let now = crate::store::now();
    let data = state
        .workspace
        .report_data(actor, project_id, Period::Weekly.length(), now)
        .await?;
    let projects = state
        .workspace
        .list_projects(
            actor,
            Paging {
                limit: 500,
                offset: 0,
            },
        )
        .await?
        .items;
    let c = &data.counts;
    let scope = data
        .project
        .as_ref()
        .map_or("all projects".to_owned(), |p| p.name.clone());
    let tz = frame.tz();
    let people: Vec<_> = data
        .people
        .iter()
        .filter(|p| person.is_empty() || p.handle == person)
        .collect();
    let body = html! {
        form.filters method="get" action="/web/reports" {
            label { "Project "
                select name="project" {
                    option value="" { "all" }
                    @for p in &projects { option value=(p.id) selected[project_id == Some(p.id)] { (p.name) } }
                }
            }
            label { "Person " input name="person" value=(q.person) placeholder="@handle" size="10"; }
            button type="submit" { "Show" }
        }
        h2 { "Weekly report, " (scope) }
        p.note { (when(data.from, tz)) " – " (when(data.to, tz)) }
        dl.facts {
            dt { "Done" } dd { (c.done) }
            dt { "Open" } dd { (c.open) }
            dt { "Overdue" } dd { (c.overdue) }
            dt { "At risk" } dd { (c.at_risk) }
            dt { "Due next week" } dd { (c.upcoming) }
            dt { "Time spent" } dd { (format!("{:.1} h of {:.1} h estimated", c.time_spent, c.time_estimate)) }
        }
        (chart(&format!("Open and done, {scope}"), &data.series, tz))
        h2 { "By person" }
        @if people.is_empty() { p { "Nobody has work in this report." } }
        @else {
            table {
                thead { tr { th scope="col" { "Person" } th scope="col" { "Done" } th scope="col" { "Open" } th scope="col" { "Overdue" } } }
                tbody { @for p in &people { tr { td { a href={ "/web?assignee=" (p.handle) } { "@" (p.handle) } } td { (p.done) } td { (p.open) } td { (p.overdue) } } } }
            }
        }
    };
    Ok(shell(&frame, "Reports", body).into_response())
}

/// Open and done tasks per day as an accessible inline SVG line chart.
pub fn chart(title: &str, series: &[(DateTime<Utc>, i64, i64)], tz: Tz) -> Markup {
    const W: f64 = 640.0;
    const H: f64 = 240.0;
    const PAD: f64 = 36.0;
    let max = series
        .iter()
        .map(|(_, o, d)| (*o).max(*d))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = series.len().max(2) as f64 - 1.0;
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / n;
    let y = |v: i64| H - PAD - (H - 2.0 * PAD) * v as f64 / max;
    let line = |pick: fn(&(DateTime<Utc>, i64, i64)) -> i64| {
        series
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(pick(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let summary = series
        .iter()
        .map(|(at, open, done)| {
            format!(
                "{}: {open} open, {done} done",
                at.with_timezone(&tz).format("%a %-d %b")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut svg = format!(
        r##"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"##,
        maud::html! { (title) }.into_string(),
        maud::html! { (summary) }.into_string()
    );
    svg.push_str(&format!(
        r##"<line x1="{PAD}" y1="{0}" x2="{1}" y2="{0}" stroke="#555"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{0}" stroke="#555"/><text x="4" y="{2}" font-size="11">{3}</text><text x="4" y="{0}" font-size="11">0</text>"##,
        H - PAD,
        W - PAD,
        PAD + 4.0,
        max as i64
    ));
    for (i, (at, _, _)) in series.iter().enumerate() {
        svg.push_str(&format!(
            r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
            x(i),
            H - PAD + 16.0,
            at.with_timezone(&tz).format("%a")
        ));
    }
    svg.push_str(&format!(
        r##"<polyline fill="none" stroke="#b35900" stroke-width="2.5" points="{}"/><polyline fill="none" stroke="#1a6b2f" stroke-width="2.5" stroke-dasharray="6 3" points="{}"/>"##,
        line(|p| p.1),
        line(|p| p.2)
    ));
    svg.push_str(&format!(
        r##"<text x="{0}" y="16" font-size="12" fill="#b35900">— open</text><text x="{1}" y="16" font-size="12" fill="#1a6b2f">- - done</text></svg>"##,
        W - 160.0,
        W - 90.0
    ));
    trusted(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_an_accessible_svg_with_one_point_per_day() {
        let start = chrono::DateTime::parse_from_rfc3339("2030-01-07T00:00:00Z")
            .unwrap()
            .to_utc();
        let series: Vec<_> = (0..8)
            .map(|d| (start + chrono::Duration::days(d), 10 - d, d))
            .collect();
        let svg = chart("Open & done", &series, Tz::UTC).into_string();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(
            svg.contains("<title id=\"chart-title\">Open &amp; done</title>"),
            "{svg}"
        );
        assert!(svg.contains("Mon 7 Jan: 10 open, 0 done"), "{svg}");
        let points = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(points.split(' ').count(), 8);
    }
}
