//! Figures and tables: percentiles, a markdown table, and writing a table into a section of a
//! document between `<!-- load:KEY -->` and `<!-- /load:KEY -->`, so that the prose around it
//! stays as written.

use std::path::Path;
use std::time::Duration;

/// Sorted samples.
pub struct Stats(Vec<Duration>);

impl Stats {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self(samples)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Nearest-rank percentile (zero when empty).
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.0.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.0[rank.clamp(1, n) - 1]
    }

    pub fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }

    /// "median / p99 ms".
    pub fn median_p99(&self) -> String {
        format!("{} / {} ms", ms(self.percentile(50.0)), ms(self.percentile(99.0)))
    }
}

/// Milliseconds with one decimal under 100, whole above.
pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A markdown table.
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Lines printed under the table.
    pub notes: Vec<String>,
}

impl Table {
    pub fn new(title: impl Into<String>, headers: &[&str]) -> Self {
        Self {
            title: title.into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain([&self.headers[i]])
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| format!("{:<w$}", cells.get(i).map_or("", String::as_str)))
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = format!("**{}**\n\n", self.title);
        out.push_str(&line(&self.headers));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        for note in &self.notes {
            out.push_str(&format!("\n{note}\n"));
        }
        out
    }
}

/// Replaces the section `key` of the document at `path` with `body` (appends the section when
/// the document does not have it yet).
pub fn write_section(path: &Path, key: &str, body: &str) -> anyhow::Result<()> {
    let open = format!("<!-- load:{key} -->");
    let close = format!("<!-- /load:{key} -->");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{open}\n{}\n{close}", body.trim_end());
    let updated = match (doc.find(&open), doc.find(&close)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{section}{}", &doc[..start], &doc[end + close.len()..])
        }
        _ => format!("{}\n{section}\n", doc.trim_end()),
    };
    std::fs::write(path, updated)?;
    Ok(())
}

/// The rows of several runs of one measurement as one set: a rate (`1,234/s`) becomes the
/// median of the runs with their range, `1,234/s (1,100–1,300, 3 runs)`; any other figure is
/// the first run's. One run's rows are returned as they are.
pub fn median_rows(mut runs: Vec<Vec<(String, String)>>) -> Vec<(String, String)> {
    if runs.len() < 2 {
        return runs.pop().unwrap_or_default();
    }
    let first = runs[0].clone();
    first
        .into_iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let rates: Option<Vec<f64>> = runs
                .iter()
                .map(|run| run.get(i).and_then(|(_, v)| rate(v)))
                .collect();
            match rates {
                Some(mut rates) => {
                    rates.sort_by(f64::total_cmp);
                    let mid = rates.len() / 2;
                    let median = if rates.len() % 2 == 0 {
                        (rates[mid - 1] + rates[mid]) / 2.0
                    } else {
                        rates[mid]
                    };
                    let (low, high) = (rates[0], rates[rates.len() - 1]);
                    let value = format!(
                        "{}/s ({}–{}, {} runs)",
                        crate::measure::thousands(median),
                        crate::measure::thousands(low),
                        crate::measure::thousands(high),
                        rates.len()
                    );
                    (label, value)
                }
                None => (label, value),
            }
        })
        .collect()
}

/// The number in a rate such as `1,234/s`.
fn rate(value: &str) -> Option<f64> {
    value.strip_suffix("/s")?.replace(',', "").parse().ok()
}
