//! `rafid rules test`: what the configured rules would do with the items of
//! one feed document, as readable text.

use std::fmt::Write as _;

use super::{Doc, Rules, Verdict};
use crate::config::{Config, FeedConfig, redact_str};
use crate::model::ParsedFeed;

/// One rule set being tried, and whether it applies to the document at all.
struct Judge<'a> {
    name: String,
    rules: Option<&'a Rules>,
    /// Why the set does not see this feed's items (a river whose tags the
    /// feed does not carry), if it does not.
    excluded: Option<String>,
    /// Per rule of `rules`: the items it decides on its own: a drop rule,
    /// those it matches; a keep rule, those it matches that are kept (every
    /// matching keep rule counts an item, not only the first).
    decided: Vec<usize>,
}

/// The report for `doc` (read from `shown`), under the rules of `feed` (when
/// the document is one of the configured feeds) and of every river.
pub fn report(config: &Config, feed: Option<&FeedConfig>, shown: &str, doc: &ParsedFeed) -> String {
    let mut judges = Vec::new();
    let feed_name = match feed {
        Some(f) => format!("feed {}", redact_str(f.key())),
        None => "feed (not in the config)".to_string(),
    };
    judges.push(Judge {
        name: feed_name,
        rules: feed.and_then(|f| f.rules.as_deref()),
        excluded: None,
        decided: Vec::new(),
    });
    for river in config.rivers() {
        let excluded = match feed {
            Some(f) if !river.tags.is_empty() && !f.tags.iter().any(|t| river.tags.contains(t)) => {
                Some(format!(
                    "draws on tags {} only, which this feed does not carry",
                    river.tags.join(", ")
                ))
            }
            _ => None,
        };
        judges.push(Judge {
            name: format!("river {}", river.name),
            rules: Some(&river.rules),
            excluded,
            decided: Vec::new(),
        });
    }
    for j in &mut judges {
        j.decided = vec![0; j.rules.map_or(0, |r| r.rules().len())];
    }
    let width = judges
        .iter()
        .map(|j| j.name.chars().count())
        .max()
        .unwrap_or(0)
        + 1;

    let mut out = String::new();
    let n = doc.entries.len();
    let _ = writeln!(
        out,
        "{shown}: {n} item{}{}",
        if n == 1 { "" } else { "s" },
        doc.meta
            .title
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default()
    );
    for (i, e) in doc.entries.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{}. {}",
            i + 1,
            e.title.as_deref().unwrap_or("(no title)")
        );
        if let Some(l) = &e.link {
            let _ = writeln!(out, "   {l}");
        }
        let d = Doc::of_entry(e);
        for j in &mut judges {
            let label = format!("{}:", j.name);
            let what = if let Some(why) = &j.excluded {
                format!("not shown: {why}")
            } else {
                match j.rules.filter(|r| !r.is_empty()) {
                    None => "kept (no rules)".to_string(),
                    Some(r) => {
                        let v = r.judge(&d);
                        for (k, m) in r.matches(&d).into_iter().enumerate() {
                            let counts = match r.rules()[k].kind {
                                super::Kind::Drop => m,
                                super::Kind::Keep => m && v.kept(),
                            };
                            j.decided[k] += usize::from(counts);
                        }
                        let (kept, dropped) = if j.name.starts_with("river") {
                            ("shown", "not shown")
                        } else {
                            ("stored", "dropped")
                        };
                        match v {
                            Verdict::Keep(None) => {
                                format!("{kept} (no keep rule, no drop rule matched)")
                            }
                            Verdict::Keep(Some(k)) => {
                                format!("{kept}: {}", r.rules()[k].label())
                            }
                            Verdict::Dropped(k) => {
                                format!("{dropped}: {}", r.rules()[k].label())
                            }
                            Verdict::NoKeepMatched => format!("{dropped}: no keep rule matched"),
                            Verdict::Language(l) => format!(
                                "{dropped}: language {} is not one of {}",
                                l.as_deref().unwrap_or("unknown"),
                                r.lang().join(", ")
                            ),
                        }
                    }
                }
            };
            let _ = writeln!(out, "   {label:<width$} {what}");
        }
    }
    let _ = writeln!(out, "\nrules:");
    let mut any = false;
    for j in &judges {
        let Some(r) = j.rules else { continue };
        for (k, rule) in r.rules().iter().enumerate() {
            any = true;
            let verb = match rule.kind {
                super::Kind::Drop => "drops",
                super::Kind::Keep => "keeps",
            };
            let c = j.decided[k];
            let _ = writeln!(
                out,
                "   {:<width$} {}: {verb} {c} item{}",
                format!("{}:", j.name),
                rule.label(),
                if c == 1 { "" } else { "s" }
            );
        }
        if !r.lang().is_empty() {
            any = true;
            let _ = writeln!(
                out,
                "   {:<width$} lang: {}",
                format!("{}:", j.name),
                r.lang().join(", ")
            );
        }
    }
    if !any {
        let _ = writeln!(out, "   (none in {})", config.path.display());
    }
    out
}
