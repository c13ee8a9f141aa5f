//! `rafid dedup explain`: how a stored story was put together, so that a
//! wrong merge can be seen (and then undone with `rafid dedup split`).
//!
//! For each member: its outlet's copy, how it joined (the same link, the
//! same text, or a near-duplicate and its score), and, against the copy the
//! story shows, the same-story decision made again with today's method:
//! the resemblance, the conflict that would keep them apart if any, and the
//! longest run of words the two texts share.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Priorities, Split, Why, choose_shown, links_home};
use crate::config::DedupConfig;
use crate::dedup::near::{Doc, Reader, same_story};
use crate::model::{Item, OutletCopy, Source};

/// The longest text shared shown in full; longer runs are cut.
const MAX_SHARED_WORDS: usize = 60;

/// Words compared at most per text for the shared run (quadratic).
const MAX_RUN_WORDS: usize = 4000;

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub item: String,
    pub urn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The feed whose copy the story shows, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown: Option<Shown>,
    pub members: Vec<Member>,
    /// Members taken out of this story for good.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub split_off: Vec<Split>,
    /// The same story in another language, linked (not merged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub translations: Vec<crate::model::Translation>,
}

#[derive(Debug, Serialize)]
pub struct Shown {
    pub feed_url: String,
    pub why: Why,
    pub reason: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Member {
    pub feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    pub shown: bool,
    /// The feed is on the site its link points to.
    pub links_home: bool,
    pub priority: i32,
    /// `first`, `link`, `text`, `near`, or `unknown` (merged before rafid
    /// recorded how).
    pub joined_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<DateTime<Utc>>,
    /// Whether rafid holds this outlet's own copy (not for members merged
    /// before copies were kept, until their feed lists the item again).
    pub has_copy: bool,
    /// The decision against the shown copy, for the members not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against_shown: Option<Recheck>,
}

#[derive(Debug, Serialize)]
pub struct Recheck {
    pub duplicate: bool,
    pub score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// The longest run of (normalized) words both texts have.
    pub shared: String,
    pub shared_words: usize,
}

/// The longest run of consecutive words `a` and `b` both have, as a range
/// of `a`.
pub fn longest_common_run(a: &[String], b: &[String]) -> std::ops::Range<usize> {
    let (a, b) = (
        &a[..a.len().min(MAX_RUN_WORDS)],
        &b[..b.len().min(MAX_RUN_WORDS)],
    );
    // Dynamic programming over one row: run[j] is the length of the common
    // run ending at a[i] and b[j].
    let mut run = vec![0usize; b.len() + 1];
    let (mut best, mut end) = (0, 0);
    for (i, word) in a.iter().enumerate() {
        for j in (0..b.len()).rev() {
            run[j + 1] = if *word == b[j] { run[j] + 1 } else { 0 };
            if run[j + 1] > best {
                best = run[j + 1];
                end = i + 1;
            }
        }
    }
    end - best..end
}

fn words(doc: &Doc) -> Vec<String> {
    doc.title
        .iter()
        .chain(&doc.body)
        .map(|w| w.to_string())
        .collect()
}

fn doc_of(reader: &Reader, c: &OutletCopy) -> Doc {
    let body = c.content.as_deref().or(c.summary.as_deref());
    reader.doc(c.title.as_deref(), body)
}

fn recheck(reader: &Reader, threshold: f64, member: &OutletCopy, shown: &OutletCopy) -> Recheck {
    let (m, s) = (doc_of(reader, member), doc_of(reader, shown));
    let v = same_story(&m, &s, threshold);
    let (mw, sw) = (words(&m), words(&s));
    let run = longest_common_run(&mw, &sw);
    let n = run.len();
    let mut shared = mw[run.start..run.start + n.min(MAX_SHARED_WORDS)].join(" ");
    if n > MAX_SHARED_WORDS {
        shared.push_str(" …");
    }
    Recheck {
        duplicate: v.duplicate,
        score: (v.score * 1000.0).round() / 1000.0,
        conflict: v.conflict,
        shared,
        shared_words: n,
    }
}

/// Explains the stored `item`.
pub fn explain(
    item: &Item,
    splits: Vec<Split>,
    dedup: &DedupConfig,
    priorities: &Priorities,
) -> Explanation {
    let reader = Reader::new(dedup.boilerplate.iter().map(String::as_str));
    let chosen = choose_shown(item, priorities);
    let shown_copy = chosen.and_then(|(i, _)| item.sources[i].copy.as_ref());
    let members = item
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            member(
                i,
                s,
                chosen.map(|c| c.0),
                shown_copy,
                &reader,
                dedup,
                priorities,
            )
        })
        .collect();
    Explanation {
        item: item.id.to_hex(),
        urn: item.public_id().urn(),
        title: item.title.clone(),
        shown: chosen.map(|(i, why)| Shown {
            feed_url: item.sources[i].feed_url.clone(),
            why,
            reason: why.describe(),
        }),
        members,
        split_off: splits,
        translations: item.translations.clone(),
    }
}

fn member(
    i: usize,
    s: &Source,
    shown: Option<usize>,
    shown_copy: Option<&OutletCopy>,
    reader: &Reader,
    dedup: &DedupConfig,
    priorities: &Priorities,
) -> Member {
    let c = s.copy.as_ref();
    let joined = c.and_then(|c| c.joined.as_ref());
    // The member that made the story has a copy but joined nothing.
    let joined_by = match (joined, c) {
        (Some(j), _) => j.by.clone(),
        (None, Some(_)) => "first".to_string(),
        (None, None) => "unknown".to_string(),
    };
    let is_shown = shown == Some(i);
    let against_shown = match (c, shown_copy) {
        (Some(c), Some(sc)) if !is_shown => Some(recheck(reader, dedup.threshold, c, sc)),
        _ => None,
    };
    Member {
        feed_url: s.feed_url.clone(),
        feed_title: s.feed_title.clone(),
        title: c.and_then(|c| c.title.clone()),
        link: c
            .and_then(|c| c.link.clone())
            .or_else(|| s.item_link.clone()),
        published: c.and_then(|c| c.published),
        shown: is_shown,
        links_home: links_home(s),
        priority: priorities.get(&s.feed_url).copied().unwrap_or(0),
        joined_by,
        joined_score: joined.and_then(|j| j.score),
        joined_at: joined.map(|j| j.at),
        has_copy: c.is_some(),
        against_shown,
    }
}

impl Explanation {
    /// The plain-text report.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(o, "item {} ({})", self.item, self.urn);
        if let Some(t) = &self.title {
            let _ = writeln!(o, "  title: {t}");
        }
        match &self.shown {
            Some(s) => {
                let _ = writeln!(o, "  shows the copy of {}: {}", s.feed_url, s.reason);
            }
            None => {
                let _ = writeln!(o, "  no member's own copy is kept");
            }
        }
        let _ = writeln!(o, "members:");
        for (n, m) in self.members.iter().enumerate() {
            let feed_title = m
                .feed_title
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            let tag = if m.shown { " [shown]" } else { "" };
            let _ = writeln!(o, "  {}. {}{feed_title}{tag}", n + 1, m.feed_url);
            if let Some(t) = &m.title {
                let _ = writeln!(o, "     title: {t}");
            }
            if let Some(l) = &m.link {
                let _ = writeln!(o, "     link: {l}");
            }
            let how = match m.joined_by.as_str() {
                "first" => "the first member".to_string(),
                "link" => "by link: the same canonical link".to_string(),
                "text" => "by text: the same normalized title and text".to_string(),
                "near" => match m.joined_score {
                    Some(s) => format!("near-duplicate, score {s:.3}"),
                    None => "near-duplicate".to_string(),
                },
                "fold" => format!(
                    "with the story it began, once a later copy fitted both{}",
                    m.joined_score
                        .map(|s| format!(" (that copy's score {s:.3})"))
                        .unwrap_or_default()
                ),
                "unknown" if m.has_copy => {
                    "merged before rafid recorded how (its copy kept since)".to_string()
                }
                "unknown" => {
                    "merged before rafid kept each outlet's copy (how is not recorded)".to_string()
                }
                other => other.to_string(),
            };
            let when = m
                .joined_at
                .map(|t| format!(", {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default();
            let _ = writeln!(o, "     joined: {how}{when}");
            let mut site = Vec::new();
            if m.links_home {
                site.push("links to its own site".to_string());
            }
            if m.priority != 0 {
                site.push(format!("priority {}", m.priority));
            }
            if let Some(p) = m.published {
                site.push(format!("published {}", p.format("%Y-%m-%d %H:%M:%S UTC")));
            }
            if !site.is_empty() {
                let _ = writeln!(o, "     {}", site.join(", "));
            }
            if let Some(r) = &m.against_shown {
                let verdict = if r.duplicate {
                    "the same story"
                } else {
                    "kept apart"
                };
                let conflict = r
                    .conflict
                    .as_deref()
                    .map(|c| format!("; conflict: {c}"))
                    .unwrap_or_else(|| "; no conflict".to_string());
                let _ = writeln!(
                    o,
                    "     against the shown copy now: score {:.3}, {verdict}{conflict}",
                    r.score
                );
                if r.shared_words > 0 {
                    let _ = writeln!(
                        o,
                        "     shared text ({} words): «{}»",
                        r.shared_words, r.shared
                    );
                }
            }
        }
        if !self.split_off.is_empty() {
            let _ = writeln!(o, "split off for good:");
            for s in &self.split_off {
                let _ = writeln!(
                    o,
                    "  {} → item {} ({})",
                    s.feed_url,
                    s.item,
                    s.at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
        }
        if !self.translations.is_empty() {
            let _ = writeln!(
                o,
                "the same story in another language (linked, not merged):"
            );
            for t in &self.translations {
                let source = t
                    .source
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                let _ = writeln!(o, "  [{}] item {}{source}", t.lang, t.id);
                if let Some(title) = &t.title {
                    let _ = writeln!(o, "     title: {title}");
                }
                if let Some(l) = &t.link {
                    let _ = writeln!(o, "     link: {l}");
                }
                let _ = writeln!(
                    o,
                    "     score {:.3}; names and figures in common: {}",
                    t.score,
                    t.anchors.join(", ")
                );
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn the_longest_common_run_is_found() {
        let a = w("وصلت الطائرة السادسة الى مطار عدن اليوم");
        let b = w("اعلن المركز ان الطائرة السادسة الى مطار عدن وصلت");
        let r = longest_common_run(&a, &b);
        assert_eq!(a[r].join(" "), "الطائرة السادسة الى مطار عدن");
        assert!(longest_common_run(&w("ا ب"), &w("ج د")).is_empty());
    }
}
