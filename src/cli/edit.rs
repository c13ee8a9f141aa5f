//! `rafid feeds add/remove/import`: edits the `[[feed]]` list of the config
//! file with toml_edit, so everything a person wrote (comments, order,
//! layout, keys rafid adds later) stays byte for byte; only the feed added
//! or removed changes. Also OPML import (folders become tags), feed
//! autodiscovery from a web page, and a one-off probe of a feed.
//!
//! A running daemon sees the file change and reloads it.

use std::io::Write;
use std::path::Path;

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};
use url::Url;

use crate::cli::FeedsCommand;
use crate::cli::failure::Failure;
use crate::config;

/// A feed to add, as given on the command line or found in OPML.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewFeed {
    pub url: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub interval: Option<String>,
}

/// The key two URLs are the same feed under, as `check` compares them.
fn canonical(url: &str) -> String {
    let url = url.trim();
    crate::text::normalize::canonical_link(url).unwrap_or_else(|| url.to_string())
}

fn parse_doc(path: &Path, text: &str) -> Result<DocumentMut, Failure> {
    text.parse::<DocumentMut>().map_err(|e| {
        let d = config::parse(path, text).err();
        match d {
            Some(d) => Failure::user(d),
            None => Failure::user(format!("{}: {e}", path.display())),
        }
    })
}

/// The URLs of the `[[feed]]` tables of `doc`, in order.
fn feed_urls(doc: &DocumentMut) -> Vec<String> {
    doc.get("feed")
        .and_then(Item::as_array_of_tables)
        .map(|a| {
            a.iter()
                .map(|t| {
                    t.get("url")
                        .and_then(Item::as_str)
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a new feed with the config's own rules (URL, tags, interval), so
/// `feeds add` refuses what `check` would reject, with the same words.
fn validate(feed: &NewFeed) -> Result<(), Failure> {
    let mut doc = DocumentMut::new();
    let mut aot = ArrayOfTables::new();
    aot.push(table(feed));
    doc.insert("feed", Item::ArrayOfTables(aot));
    let text = doc.to_string();
    match config::parse(Path::new("the new feed"), &text) {
        Ok(_) => Ok(()),
        Err(config::ConfigError::Invalid(diags)) => Err(Failure::user(
            diags
                .iter()
                .map(|d| {
                    let m = in_command_words(&d.message, feed);
                    match &d.hint {
                        Some(h) => format!("{m}; {h}"),
                        None => m,
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )),
        Err(e) => Err(Failure::user(e)),
    }
}

/// A message about the one-feed config `validate` builds, in the words the
/// person used: the option they gave (`--interval`), or the URL as typed,
/// instead of a place in a config file they never wrote.
fn in_command_words(message: &str, feed: &NewFeed) -> String {
    let Some((place, rest)) = message.split_once(": ") else {
        return message.to_string();
    };
    let Some(key) = place.strip_prefix("feed[0]") else {
        return message.to_string();
    };
    let typed = feed.url.trim();
    match key.trim_start_matches('.') {
        "interval" => format!("--interval: {rest}"),
        "tags" => format!("--tag: {rest}"),
        "title" => format!("--title: {rest}"),
        "url" if rest.contains(&format!("{typed:?}")) => rest.to_string(),
        _ => format!("{typed}: {rest}"),
    }
}

fn table(feed: &NewFeed) -> Table {
    let mut t = Table::new();
    t.insert("url", value(feed.url.trim()));
    if let Some(title) = &feed.title {
        t.insert("title", value(title.as_str()));
    }
    if !feed.tags.is_empty() {
        let tags: Array = feed.tags.iter().map(String::as_str).collect();
        t.insert("tags", value(tags));
    }
    if let Some(i) = &feed.interval {
        t.insert("interval", value(i.as_str()));
    }
    t
}

/// Appends `feeds` to the config text as `[[feed]]` blocks after the last
/// one; the rest of the text is untouched. Refuses a feed already there
/// (same canonical URL) or invalid; `skip_present` makes feeds already
/// there skipped instead (for imports). Returns the new text and the feeds
/// added.
pub fn add(
    path: &Path,
    text: &str,
    feeds: &[NewFeed],
    skip_present: bool,
) -> Result<(String, Vec<NewFeed>), Failure> {
    let mut doc = parse_doc(path, text)?;
    let mut present: Vec<String> = feed_urls(&doc).iter().map(|u| canonical(u)).collect();
    let mut added = Vec::new();
    for feed in feeds {
        validate(feed)?;
        let key = canonical(&feed.url);
        if present.contains(&key) {
            if skip_present {
                continue;
            }
            return Err(Failure::user(format!(
                "{} is already in {}",
                feed.url,
                path.display()
            )));
        }
        present.push(key);
        added.push(feed.clone());
    }
    if added.is_empty() {
        return Ok((text.to_string(), added));
    }
    let root = doc.as_table_mut();
    if root.get("feed").is_some_and(|i| !i.is_array_of_tables()) {
        return Err(Failure::user(format!(
            "{}: `feed` is not a list of [[feed]] tables",
            path.display()
        )));
    }
    // After every table there is, so a new block never lands between a
    // section and its keys, nor before a table the person put last.
    let mut last_pos = max_position(root);
    let aot = root
        .entry("feed")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| Failure::internal("`feed` changed kind while editing"))?;
    for feed in &added {
        let mut t = table(feed);
        t.decor_mut().set_prefix("\n");
        last_pos += 1;
        t.set_position(Some(last_pos));
        aot.push(t);
    }
    let mut out = doc.to_string();
    // A file that did not end with a newline gets one before the new block.
    if !text.is_empty() && !text.ends_with('\n') && out.starts_with(text) {
        out.insert(text.len(), '\n');
    }
    Ok((out, added))
}

fn max_position(t: &Table) -> isize {
    let mut max = t.position().unwrap_or(0);
    for (_, item) in t.iter() {
        match item {
            Item::Table(sub) => max = max.max(max_position(sub)),
            Item::ArrayOfTables(a) => {
                for sub in a.iter() {
                    max = max.max(max_position(sub));
                }
            }
            _ => {}
        }
    }
    max
}

/// Removes the feed whose URL is `url` (compared canonically). Comments
/// right above its `[[feed]]` line go with it; a comment separated from it
/// by a blank line stays where it was.
pub fn remove(path: &Path, text: &str, url: &str) -> Result<String, Failure> {
    let mut doc = parse_doc(path, text)?;
    let key = canonical(url);
    let urls = feed_urls(&doc);
    let Some(index) = urls.iter().position(|u| canonical(u) == key) else {
        return Err(Failure::user(format!(
            "no feed {url} in {}; `rafid feeds list` shows them",
            path.display()
        )));
    };
    let root = doc.as_table_mut();
    let aot = root
        .get_mut("feed")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| Failure::internal("[[feed]] list vanished while editing"))?;
    let removed_pos = aot.get(index).and_then(Table::position);
    let prefix = aot
        .get(index)
        .and_then(|t| t.decor().prefix())
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_string();
    // What stays: the prefix up to its last blank line; that blank line and
    // what follows it (the block's own comment) go with the block.
    let keep = match prefix.rfind("\n\n") {
        Some(i) => prefix[..i + 1].to_string(),
        None => String::new(),
    };
    aot.remove(index);
    if aot.is_empty() {
        root.remove("feed");
    }
    if !keep.is_empty() {
        // The kept text goes in front of whatever now follows.
        if let Some(next) = next_table_mut(root, removed_pos) {
            let p = next
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_string();
            next.decor_mut().set_prefix(format!("{keep}{p}"));
        } else {
            let t = doc.trailing().as_str().unwrap_or("").to_string();
            doc.set_trailing(format!("{keep}{t}"));
        }
    }
    Ok(doc.to_string())
}

/// The table shown first after document position `after`.
fn next_table_mut(root: &mut Table, after: Option<isize>) -> Option<&mut Table> {
    let after = after?;
    let mut best: Option<(isize, &mut Table)> = None;
    fn walk<'a>(t: &'a mut Table, after: isize, best: &mut Option<(isize, &'a mut Table)>) {
        for (_, item) in t.iter_mut() {
            match item {
                Item::Table(sub) => {
                    if let Some(p) = sub.position().filter(|p| *p > after) {
                        if best.as_ref().is_none_or(|(b, _)| p < *b) {
                            // Descend first: sub-tables of `sub` come later.
                            *best = Some((p, sub));
                            continue;
                        }
                    }
                    walk(sub, after, best);
                }
                Item::ArrayOfTables(a) => {
                    for sub in a.iter_mut() {
                        if let Some(p) = sub.position().filter(|p| *p > after) {
                            if best.as_ref().is_none_or(|(b, _)| p < *b) {
                                *best = Some((p, sub));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    walk(root, after, &mut best);
    best.map(|(_, t)| t)
}

/// The feeds of an OPML document (see `publish::read_opml`) as feeds to add.
pub fn parse_opml(xml: &str) -> Result<Vec<NewFeed>, String> {
    let feeds = crate::publish::read_opml(xml)?;
    Ok(feeds
        .into_iter()
        .map(|f| NewFeed {
            url: f.url,
            title: f.title,
            tags: f.tags,
            interval: None,
        })
        .collect())
}

/// Writes `text` to `path` through a file beside it and a rename, so a
/// daemon watching the file never reads half of it. The file keeps its
/// permissions and owner, and a symlinked config stays a symlink (its
/// target is what changes).
fn write_config(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let io = |e: std::io::Error| Failure::internal(format!("{}: {e}", real.display()));
    let dir = real
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rafid.toml".into());
    let before = std::fs::metadata(&real).ok();
    let mode = before.as_ref().map_or(0o600, |m| m.mode() & 0o7777);
    let mut tmp = edit_file(dir, &name, mode).map_err(io)?;
    if let Some(m) = &before {
        // Only root can give a file away; for anyone else it is theirs already.
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(m.uid()), Some(m.gid()));
    }
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(io)?;
    tmp.persist(&real).map_err(|e| io(e.error))?;
    Ok(())
}

/// A new file in `dir` for the edited config: a random name, created
/// exclusively (a planted file or link there is never followed) with
/// `mode` from the start, so the text is never readable by more people
/// than the config itself. Removed on drop unless persisted.
fn edit_file(dir: &Path, name: &str, mode: u32) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".rafid-edit")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    // The umask may have narrowed the mode; never widened it.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(tmp)
}

fn read_config(path: &Path) -> Result<String, Failure> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Failure::user(format!("{}: {e}", path.display()))),
    }
}

/// Runs a `feeds` command that edits (or, for `export`, reads) the config
/// file at `path`; `None` for `feeds list`, which reads the store.
pub fn edit(
    path: &Path,
    command: &FeedsCommand,
    out: &mut dyn Write,
) -> Option<Result<(), Failure>> {
    Some(match command {
        FeedsCommand::List | FeedsCommand::Poll { .. } => return None,
        FeedsCommand::Add {
            url,
            title,
            tags,
            interval,
            discover,
            probe,
        } => {
            let feed = NewFeed {
                url: url.clone(),
                title: title.clone(),
                tags: tags.clone(),
                interval: interval.clone(),
            };
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failure::internal(format!("cannot start the runtime: {e}")))
                .and_then(|rt| rt.block_on(add_command(path, feed, *discover, *probe, out)))
        }
        FeedsCommand::Remove { url } => remove_command(path, url, out),
        FeedsCommand::Import { file } => import_command(path, file, out),
        // The document /opml serves, with the feeds' own titles.
        FeedsCommand::Export => config::load(path).map_err(Failure::from).and_then(|cfg| {
            let opml = crate::cli::Command::Render {
                format: crate::cli::RenderFormat::Opml,
                tag: None,
                river: None,
                limit: None,
                before: None,
            };
            crate::cli::remote::run_reader(&cfg, &opml, out)
        }),
    })
}

/// `rafid feeds add`.
pub async fn add_command(
    path: &Path,
    mut feed: NewFeed,
    discover: bool,
    probe_it: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::internal(format!("writing to stdout: {e}"));
    let given = Url::parse(feed.url.trim())
        .map_err(|e| Failure::user(format!("{:?} is not a URL ({e})", feed.url)))?;
    if discover {
        if let Some((url, title)) = crate::cli::discover::find_feed(&given, out).await? {
            feed.url = url.to_string();
            // The name the page gives the feed, unless one was given.
            if feed.title.is_none() {
                feed.title = title;
            }
        }
    }
    let text = read_config(path)?;
    let (new_text, _) = add(path, &text, std::slice::from_ref(&feed), false)?;
    if probe_it {
        let url = Url::parse(&feed.url).map_err(Failure::user)?;
        let p = crate::cli::discover::probe(&url).await?;
        writeln!(
            out,
            "{}: {:?}, {} items",
            config::redact_url(&url),
            p.title.as_deref().unwrap_or("(no title)"),
            p.items
        )
        .map_err(io)?;
    }
    write_config(path, &new_text)?;
    writeln!(
        out,
        "added {} to {}",
        config::redact_str(&feed.url),
        path.display()
    )
    .map_err(io)
}

/// `rafid feeds remove`.
pub fn remove_command(path: &Path, url: &str, out: &mut dyn Write) -> Result<(), Failure> {
    let text = read_config(path)?;
    let new_text = remove(path, &text, url)?;
    write_config(path, &new_text)?;
    writeln!(
        out,
        "removed {} from {} (its items stay until retention removes them)",
        config::redact_str(url),
        path.display()
    )
    .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))
}

/// `rafid feeds import FILE.opml`.
pub fn import_command(path: &Path, file: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    let xml = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| Failure::user(format!("{}: {e}", file.display())))?;
    let mut feeds =
        parse_opml(&xml).map_err(|e| Failure::user(format!("{}: {e}", file.display())))?;
    // Folder names are free text in OPML; those that cannot be tags are
    // left out, and said so.
    let io = |e: std::io::Error| Failure::internal(format!("writing to stdout: {e}"));
    for feed in &mut feeds {
        let (good, bad): (Vec<String>, Vec<String>) = std::mem::take(&mut feed.tags)
            .into_iter()
            .partition(|t| config::is_valid_tag(t));
        for t in bad {
            writeln!(
                out,
                "{}: {t:?} cannot be a tag ('/', '?', '#' and '\\' are not allowed); left out",
                config::redact_str(&feed.url)
            )
            .map_err(io)?;
        }
        feed.tags = good;
    }
    let text = read_config(path)?;
    let (new_text, added) = add(path, &text, &feeds, true)?;
    if !added.is_empty() {
        write_config(path, &new_text)?;
    }
    writeln!(
        out,
        "imported {} feeds into {} ({} already there)",
        added.len(),
        path.display(),
        feeds.len() - added.len()
    )
    .map_err(|e| Failure::internal(format!("writing to stdout: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config with comments in every place a person puts them.
    const COMMENTED: &str = "\
# rafid config — top comment

[server]  # trailing comment on a header
listen = \"127.0.0.1:8080\"   # aligned comment
# comment between keys
base_url = \"http://127.0.0.1:8080/\"

# ---- the feeds ----

# The first outlet
[[feed]]
url = \"https://a.example/feed.xml\"
tags = [ \"ar\",   \"news\" ]  # odd spacing kept

[[feed]]
# inside the table
url = \"https://b.example/rss\"
title = 'single quotes'

# a closing remark
";

    fn p() -> &'static Path {
        Path::new("rafid.toml")
    }

    #[test]
    fn add_appends_one_block_and_keeps_everything_else() {
        let feed = NewFeed {
            url: "https://c.example/atom".into(),
            title: Some("سي".into()),
            tags: vec!["world".into()],
            interval: Some("15m".into()),
        };
        let (out, added) = add(p(), COMMENTED, &[feed], false).unwrap();
        assert_eq!(added.len(), 1);
        let block = "\n[[feed]]\nurl = \"https://c.example/atom\"\ntitle = \"سي\"\ntags = [\"world\"]\ninterval = \"15m\"\n";
        // Everything before the closing remark is the same bytes; the block
        // comes after the last feed.
        let (head, tail) = COMMENTED.split_at(COMMENTED.find("\n# a closing").unwrap());
        assert_eq!(out, format!("{head}{block}{tail}"), "{out}");
        config::parse(p(), &out).unwrap();
    }

    #[test]
    fn add_refuses_a_feed_already_there_canonically() {
        let feed = NewFeed {
            url: "HTTPS://A.example/feed.xml#top".into(),
            ..NewFeed::default()
        };
        let e = add(p(), COMMENTED, &[feed], false).unwrap_err();
        assert!(e.message.contains("already in"), "{}", e.message);
    }

    #[test]
    fn add_refuses_what_check_would() {
        let feed = NewFeed {
            url: "https://c.example/f".into(),
            interval: Some("soon".into()),
            ..NewFeed::default()
        };
        let e = add(p(), COMMENTED, &[feed], false).unwrap_err();
        assert!(e.message.contains("not a duration"), "{}", e.message);
        // Named as the person gave it (issue 16), not as feed[0].interval.
        assert!(
            e.message
                .starts_with("--interval: \"soon\" is not a duration"),
            "{}",
            e.message
        );
        let feed = NewFeed {
            url: "https://c.example/f".into(),
            tags: vec!["a/b".into()],
            ..NewFeed::default()
        };
        let e = add(p(), COMMENTED, &[feed], false).unwrap_err();
        assert!(e.message.starts_with("--tag: \"a/b\""), "{}", e.message);
        let feed = NewFeed {
            url: "ftp://c.example/f".into(),
            ..NewFeed::default()
        };
        let e = add(p(), COMMENTED, &[feed], false).unwrap_err();
        assert!(
            e.message
                .starts_with("ftp://c.example/f: scheme \"ftp\" is not polled"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("feed[0]"), "{}", e.message);
    }

    #[test]
    fn add_to_an_empty_file_and_remove_again() {
        let feed = NewFeed {
            url: "https://c.example/atom".into(),
            ..NewFeed::default()
        };
        let (out, _) = add(p(), "", &[feed], false).unwrap();
        assert_eq!(out, "\n[[feed]]\nurl = \"https://c.example/atom\"\n");
        let back = remove(p(), &out, "https://c.example/atom").unwrap();
        assert_eq!(back, "");
    }

    #[test]
    fn remove_takes_the_block_and_its_own_comment_only() {
        let out = remove(p(), COMMENTED, "https://a.example/feed.xml").unwrap();
        let expected = COMMENTED.replace(
            "# The first outlet\n[[feed]]\nurl = \"https://a.example/feed.xml\"\ntags = [ \"ar\",   \"news\" ]  # odd spacing kept\n\n",
            "",
        );
        assert_eq!(out, expected, "{out}");
        let out = remove(p(), COMMENTED, "https://b.example/rss").unwrap();
        let expected = COMMENTED.replace(
            "\n[[feed]]\n# inside the table\nurl = \"https://b.example/rss\"\ntitle = 'single quotes'\n",
            "",
        );
        assert_eq!(out, expected, "{out}");
        let e = remove(p(), COMMENTED, "https://z.example/").unwrap_err();
        assert!(e.message.contains("no feed"));
    }

    #[test]
    fn add_then_remove_gives_the_file_back() {
        let feed = NewFeed {
            url: "https://c.example/atom".into(),
            tags: vec!["x".into()],
            ..NewFeed::default()
        };
        let (out, _) = add(p(), COMMENTED, &[feed], false).unwrap();
        assert_eq!(
            remove(p(), &out, "https://c.example/atom").unwrap(),
            COMMENTED
        );
    }

    #[test]
    fn unknown_keys_survive_edits() {
        let text = "[[river]]\nname = \"x\"\nkeep = [\"a\"]\n\n[[feed]]\nurl = \"https://a.example/f\"\ndedup = false\n";
        let feed = NewFeed {
            url: "https://b.example/f".into(),
            ..NewFeed::default()
        };
        let (out, _) = add(p(), text, &[feed], false).unwrap();
        assert!(out.starts_with(text), "{out}");
        let back = remove(p(), &out, "https://b.example/f").unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn a_planted_link_at_the_edit_files_old_name_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("rafid.toml");
        std::fs::write(&config, "# mine\n").unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".rafid.toml.rafid-edit")).unwrap();
        write_config(&config, "# mine\n# more\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = std::fs::symlink_metadata(&config).unwrap();
        assert!(meta.file_type().is_file(), "the config became a link");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            "# mine\n# more\n"
        );
        // Nothing is left behind but the planted link.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".rafid.toml.rafid-edit", "rafid.toml", "victim"]);
    }

    #[test]
    fn the_edit_file_is_new_random_and_private_from_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = edit_file(dir.path(), "rafid.toml", 0o600).unwrap();
        let b = edit_file(dir.path(), "rafid.toml", 0o640).unwrap();
        assert_ne!(a.path(), b.path());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(a.path()), 0o600);
        assert_eq!(mode(b.path()), 0o640);
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".rafid.toml.") && name.ends_with(".rafid-edit"),
            "{name}"
        );
    }

    #[test]
    fn edits_go_through_a_symlink_and_keep_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "# mine\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("rafid.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_config(&link, "# mine\n# more\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "# mine\n# more\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn opml_export_import_export_is_identical() {
        let text = "[output]\ntitle = \"نهر\"\n[[feed]]\nurl = \"https://a.example/f\"\ntitle = \"A & B\"\ntags = [\"news\", \"ar\"]\n\
                    [[feed]]\nurl = \"https://b.example/f\"\n\
                    [[feed]]\nurl = \"https://c.example/f\"\ntags = [\"sport\"]\n\
                    [[feed]]\nurl = \"https://d.example/f\"\ntags = [\"news\"]\n";
        let first = crate::publish::opml(&config::parse(p(), text).unwrap());
        // Tags are nested folders (issue 16), not a flat category.
        let shown = String::from_utf8_lossy(&first);
        assert!(
            shown.contains(
                "<outline text=\"news\" title=\"news\">\n   <outline text=\"ar\" title=\"ar\">\n    <outline type=\"rss\" text=\"A &amp; B\""
            ),
            "{shown}"
        );
        assert!(!shown.contains("category="), "{shown}");
        let feeds = parse_opml(std::str::from_utf8(&first).unwrap()).unwrap();
        assert_eq!(feeds[0].tags, ["news", "ar"]);
        assert_eq!(feeds[1].tags, ["news"]);
        let (imported, added) = add(p(), "[output]\ntitle = \"نهر\"\n", &feeds, true).unwrap();
        assert_eq!(added.len(), 4);
        let second = crate::publish::opml(&config::parse(p(), &imported).unwrap());
        assert_eq!(
            String::from_utf8(first).unwrap(),
            String::from_utf8(second).unwrap()
        );
        // Importing again adds nothing.
        let (again, added) = add(p(), &imported, &feeds, true).unwrap();
        assert!(added.is_empty());
        assert_eq!(again, imported);
    }

    #[test]
    fn folders_that_cannot_be_tags_are_left_out_and_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let opml = dir.path().join("subs.opml");
        std::fs::write(
            &opml,
            r#"<opml version="1.0"><body><outline text="C#"><outline text="أخبار">
<outline text="a" xmlUrl="https://a.example/f"/></outline></outline></body></opml>"#,
        )
        .unwrap();
        let cfg = dir.path().join("rafid.toml");
        let mut out = Vec::new();
        import_command(&cfg, &opml, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("\"C#\" cannot be a tag"), "{out}");
        assert!(out.contains("imported 1 feeds"), "{out}");
        let loaded = config::load(&cfg).unwrap();
        assert_eq!(loaded.feeds[0].tags, vec!["أخبار"]);
    }
}
