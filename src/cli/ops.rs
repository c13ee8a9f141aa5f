//! The commands that read the store (`render`, `export`, `store check`,
//! `feeds list`, `dedup explain`, and `dedup split`, which changes one
//! story in one transaction). The command line runs them on the store it
//! opens; a running daemon runs the very same [`execute`] for a client of
//! its control socket, which is what makes the two outputs the same.

use std::io::{self, Write};

use chrono::Utc;

use crate::cli::failure::Failure;
use crate::cli::{Command, DedupCommand, FeedsCommand, RenderFormat, StoreCommand};
use crate::config::{self, Config};
use crate::publish::{Cursor, Format, Scope, render_page_from_store};
use crate::store::Store;

/// Whether `command` reads the store, and so goes to a running daemon
/// (`dedup split` writes it too: one transaction, beside the daemon's own).
pub fn reads_store(command: &Command) -> bool {
    matches!(
        command,
        Command::Render { .. }
            | Command::Export
            | Command::Store(StoreCommand::Check)
            | Command::Feeds(FeedsCommand::List)
            | Command::Dedup(DedupCommand::Explain { .. } | DedupCommand::Split { .. })
    )
}

/// Runs a store-reading command against `store`, writing what it prints to
/// `out`. Both the command line (no daemon) and the daemon (for a client)
/// call this, which is what makes their outputs the same.
pub fn execute(
    command: &Command,
    config: &Config,
    store: &Store,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let io = |e: io::Error| Failure::internal(format!("writing the output: {e}"));
    match command {
        Command::Render {
            format,
            tag,
            river,
            limit,
            before,
        } => {
            let format = match format {
                RenderFormat::Atom => Format::Atom,
                RenderFormat::Rss => Format::Rss,
                RenderFormat::Json => Format::Json,
                RenderFormat::Html => Format::Html,
                RenderFormat::Opml => {
                    let own = crate::publish::own_titles(store);
                    return out
                        .write_all(&crate::publish::opml_with(config, &own, false))
                        .and_then(|_| out.flush())
                        .map_err(io);
                }
            };
            let bytes = render(
                config,
                store,
                format,
                tag.clone(),
                river.clone(),
                *limit,
                before.as_deref(),
            )?;
            out.write_all(&bytes).and_then(|_| out.flush()).map_err(io)
        }
        Command::Export => {
            let mut w = io::BufWriter::new(out);
            export(store, &mut w)?;
            w.flush().map_err(io)
        }
        Command::Store(StoreCommand::Check) => store_check(store, out),
        Command::Feeds(FeedsCommand::List) => feeds_list(config, store, out),
        Command::Dedup(DedupCommand::Explain { item, json }) => {
            dedup_explain(config, store, item, *json, out)
        }
        Command::Dedup(DedupCommand::Split { item, member }) => {
            dedup_split(config, store, item, member, out)
        }
        other => Err(Failure::internal(format!(
            "{other:?} does not read the store"
        ))),
    }
}

/// `rafid render`: the merged feed (or one tag's) on stdout.
pub fn render(
    config: &Config,
    store: &Store,
    format: Format,
    tag: Option<String>,
    river: Option<String>,
    limit: Option<usize>,
    before: Option<&str>,
) -> Result<Vec<u8>, Failure> {
    let before = match before {
        None => None,
        Some(c) => Some(Cursor::parse(c).ok_or_else(|| {
            Failure::user(format!(
                "--before {c:?}: not a page cursor (the `before` value of a rel=\"next\" link)"
            ))
        })?),
    };
    if let Some(t) = &tag {
        if config.feeds_tagged(t).next().is_none() {
            return Err(Failure::user(format!(
                "no feed in {} has the tag {t:?}",
                config.path.display()
            )));
        }
    }
    if let Some(r) = &river {
        if config.river(r).is_none() {
            let names: Vec<&str> = config.rivers().iter().map(|r| r.name.as_str()).collect();
            return Err(Failure::user(format!(
                "no [[river]] named {r:?} in {} (rivers: {})",
                config.path.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
    }
    let scope = match (tag, river) {
        (Some(t), _) => Scope::Tag(config.tag(&t).map_or(t, str::to_string)),
        (None, Some(r)) => Scope::River(r),
        (None, None) => Scope::All,
    };
    let limit = limit.unwrap_or(config.output.max_items);
    let r = render_page_from_store(store, config, &scope, format, limit, before)?;
    Ok(r.body.to_vec())
}

/// `rafid export`: the whole store as JSON Lines on `out`.
pub fn export(store: &Store, out: &mut impl Write) -> Result<(), Failure> {
    Ok(store.export(out)?)
}

/// `rafid store check`: prints every problem; a failure when there is one.
pub fn store_check(store: &Store, out: &mut dyn Write) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::internal(format!("writing the output: {e}"));
    let problems = store.check()?;
    if problems.is_empty() {
        writeln!(
            out,
            "{}: OK ({} items)",
            store.describe(),
            store.item_count()
        )
        .map_err(io)?;
        return Ok(());
    }
    for p in &problems {
        writeln!(out, "{p}").map_err(io)?;
    }
    Err(Failure::user(format!(
        "{}: {} problem{}",
        store.describe(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )))
}

/// `rafid feeds list`: one block per configured feed with its health.
pub fn feeds_list(config: &Config, store: &Store, out: &mut dyn Write) -> Result<(), Failure> {
    let now = Utc::now();
    let when = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "never".into())
    };
    let io = |e: std::io::Error| Failure::internal(format!("writing to stdout: {e}"));
    for health in crate::ingest::health::FeedHealth::join(config, store.feed_states()?) {
        let (feed, st) = (health.feed, &health.state);
        let next = if !feed.enabled {
            "disabled in the config".to_string()
        } else if st.gone {
            "never: the server said 410 Gone".to_string()
        } else {
            let due = health.next_due(now);
            format!("{} ({})", when(Some(due)), health.next_poll_reason(now))
        };
        let title = health.title().unwrap_or_default();
        writeln!(out, "{}  {title}", health.shown_url()).map_err(io)?;
        writeln!(out, "  last success: {}", when(st.last_success)).map_err(io)?;
        if let Some(e) = &st.last_error {
            writeln!(out, "  last error:   {e}").map_err(io)?;
        }
        writeln!(out, "  failures in a row: {}", st.consecutive_failures).map_err(io)?;
        writeln!(out, "  next poll:    {next}").map_err(io)?;
        if let Some(t) = st.retry_after.filter(|t| *t > now) {
            writeln!(out, "  server asked to wait until {}", when(Some(t))).map_err(io)?;
        }
        if let Some(m) = &st.moved_to {
            writeln!(out, "  moved to:     {}", config::redact_str(m)).map_err(io)?;
        }
        let share = if st.polls > 0 {
            format!(
                "{:.0}% answered 304",
                100.0 * st.not_modified as f64 / st.polls as f64
            )
        } else {
            "not polled yet".into()
        };
        writeln!(out, "  items: {}, polls: {} ({share})", st.items, st.polls).map_err(io)?;
        if st.polls > 0 {
            let validators = match (&st.etag, &st.last_modified) {
                (Some(_), Some(_)) => "ETag and Last-Modified",
                (Some(_), None) => "ETag",
                (None, Some(_)) => "Last-Modified",
                (None, None) => "none (every poll downloads the whole feed)",
            };
            writeln!(
                out,
                "  politeness: validators: {validators}; Retry-After honoured: {}",
                st.retry_afters
            )
            .map_err(io)?;
        }
    }
    Ok(())
}

/// The stored item ITEM names, or a user error saying what was looked for.
fn find_story(store: &Store, item: &str) -> Result<crate::model::ItemId, Failure> {
    store.find_item(item)?.ok_or_else(|| {
        Failure::user(format!(
            "{item}: no stored item has this id, urn or link (ids are as `rafid export` writes them, urns as the outputs publish them)"
        ))
    })
}

/// `rafid dedup explain ITEM`: how the story was put together.
pub fn dedup_explain(
    config: &Config,
    store: &Store,
    item: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let id = find_story(store, item)?;
    let Some(stored) = store.item(id)? else {
        return Err(Failure::user(format!("{item}: the item is gone")));
    };
    let explanation = crate::store::explain::explain(
        &stored,
        store.splits_of(id)?,
        &config.dedup,
        &config.priorities(),
    );
    let text = if json {
        let mut t = serde_json::to_string_pretty(&explanation).map_err(Failure::internal)?;
        t.push('\n');
        t
    } else {
        explanation.text()
    };
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Failure::internal(format!("writing the output: {e}")))
}

/// `rafid dedup split ITEM MEMBER`: the member leaves the story for good.
pub fn dedup_split(
    config: &Config,
    store: &Store,
    item: &str,
    member: &str,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let id = find_story(store, item)?;
    store.set_priorities(config.priorities().iter().map(|(f, p)| (f.clone(), *p)));
    let new = store.split(id, member, Utc::now()).map_err(|e| match e {
        crate::store::SplitError::Store(e) => Failure::from(e),
        other => Failure::user(other),
    })?;
    writeln!(
        out,
        "{member} split off item {id}: it is now item {new} ({}), and stays out of {id}",
        new.urn()
    )
    .and_then(|_| out.flush())
    .map_err(|e| Failure::internal(format!("writing the output: {e}")))
}
