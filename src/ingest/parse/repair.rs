//! Documents repaired before feed-rs reads them: the faults real feeds
//! have (JSON Feed fields of the wrong type, addresses that trip the
//! author parser, RSS without a version, Atom 0.3, internal DTD entities)
//! made readable, within the parse's deadline and an entity budget.

use std::collections::HashMap;

use super::limits::{Deadline, ParseError};

/// How much text the internal DTD's entities may add to a document. Real
/// feeds that declare entities use a few short ones; a "billion laughs"
/// document asks for gigabytes and is refused at this bound.
pub(super) const MAX_ENTITY_EXPANSION: usize = 256 << 10;

/// Elements whose text feed-rs parses as "name (email)" and can panic on.
pub(super) const PERSON_ELEMENTS: &[&str] =
    &["managingEditor", "webMaster", "author", "dc:creator"];

/// `doc` without the elements named (start tag to end tag), for a second
/// try after the parser failed on one of them.
pub(super) fn strip_elements(doc: &str, names: &[&str]) -> String {
    let mut out = doc.to_string();
    for name in names {
        let (open, close) = (format!("<{name}"), format!("</{name}>"));
        let mut from = 0;
        while let Some(i) = out[from..].find(&open).map(|i| i + from) {
            let next = out[i + open.len()..].chars().next();
            if !matches!(next, Some('>' | ' ' | '\t' | '\n' | '\r' | '/')) {
                from = i + open.len();
                continue;
            }
            match out[i..].find(&close) {
                Some(j) => out.replace_range(i..i + j + close.len(), ""),
                None => break,
            }
            from = i;
        }
    }
    out
}

/// Rewrites what feed-rs cannot read into what it can: entities declared
/// in the document's internal DTD (expanded here, within a bound; external
/// entities are never loaded), and Atom 0.3.
pub(super) fn prepare<'a>(
    doc: &'a str,
    deadline: &Deadline,
) -> Result<std::borrow::Cow<'a, str>, ParseError> {
    let mut doc = std::borrow::Cow::Borrowed(doc);
    if doc.trim_start().starts_with('{') {
        if let Some(repaired) = repair_json_feed(&doc) {
            doc = std::borrow::Cow::Owned(repaired);
        }
        return Ok(doc);
    }
    if let Some(expanded) = expand_internal_entities(&doc, deadline)? {
        doc = std::borrow::Cow::Owned(expanded);
    }
    if let Some(atom) = atom03_as_atom10(&doc) {
        doc = std::borrow::Cow::Owned(atom);
    }
    if let Some(rss) = rss_with_version(&doc) {
        doc = std::borrow::Cow::Owned(rss);
    }
    if let Some(spaced) = space_out_addresses(&doc) {
        doc = std::borrow::Cow::Owned(spaced);
    }
    Ok(doc)
}

/// A JSON Feed with every field feed-rs would refuse repaired or left out,
/// so that one bad field does not cost the whole document: feed-rs reads
/// the document into strict types, and a numeric `id` (which JSON Feed 1.1
/// allows), an array for a title or a negative `size_in_bytes` fails all
/// of it. `None` when nothing needed repair, or the text is not JSON (the
/// parser then says what is wrong with it).
pub(super) fn repair_json_feed(doc: &str) -> Option<String> {
    use serde_json::Value;
    let mut feed: Value = serde_json::from_str(doc).ok()?;
    let root = feed.as_object_mut()?;
    let mut changed = false;
    // A string, or what can stand for one: a number (an id, a title), or
    // for a title only, an array of strings joined with spaces.
    fn text(v: &Value, join: bool) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(a) if join => {
                let parts: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            }
            _ => None,
        }
    }
    // Fields that must be strings: a repairable value becomes one, any
    // other is removed.
    fn strings(
        obj: &mut serde_json::Map<String, Value>,
        fields: &[&str],
        repair: &[&str],
        changed: &mut bool,
    ) {
        for f in fields {
            let Some(v) = obj.get(*f) else { continue };
            if v.is_string() {
                continue;
            }
            *changed = true;
            let fixed = repair.contains(f).then(|| text(v, *f == "title")).flatten();
            match fixed {
                Some(t) => {
                    obj.insert((*f).to_string(), Value::String(t));
                }
                None => {
                    obj.remove(*f);
                }
            }
        }
    }
    fn authors(obj: &mut serde_json::Map<String, Value>, changed: &mut bool) {
        let person = |v: &mut Value, changed: &mut bool| match v.as_object_mut() {
            Some(p) => {
                strings(p, &["name", "url", "avatar"], &["name"], changed);
                true
            }
            None => false,
        };
        if let Some(a) = obj.get_mut("author") {
            if !person(a, changed) {
                obj.remove("author");
                *changed = true;
            }
        }
        match obj.get_mut("authors") {
            Some(Value::Array(list)) => {
                let before = list.len();
                list.retain_mut(|p| person(p, changed));
                *changed |= list.len() != before;
            }
            Some(_) => {
                obj.remove("authors");
                *changed = true;
            }
            None => {}
        }
    }
    // The feed: leave what is not a JSON Feed at all to the parser.
    if !root.get("version").is_some_and(Value::is_string) {
        return None;
    }
    if !root.get("title").is_some_and(Value::is_string) {
        let title = root.get("title").and_then(|t| text(t, true));
        root.insert("title".into(), Value::String(title.unwrap_or_default()));
        changed = true;
    }
    strings(
        root,
        &[
            "home_page_url",
            "feed_url",
            "language",
            "description",
            "icon",
            "favicon",
        ],
        &[],
        &mut changed,
    );
    authors(root, &mut changed);
    let items = match root.get_mut("items") {
        Some(Value::Array(items)) => items,
        _ => {
            root.insert("items".into(), Value::Array(Vec::new()));
            return Some(feed.to_string());
        }
    };
    let before = items.len();
    items.retain(Value::is_object);
    changed |= items.len() != before;
    for item in items.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        strings(
            item,
            &[
                "id",
                "url",
                "external_url",
                "title",
                "content_html",
                "content_text",
                "summary",
                "date_published",
                "date_modified",
            ],
            &["id", "title"],
            &mut changed,
        );
        authors(item, &mut changed);
        match item.get_mut("tags") {
            Some(Value::Array(tags)) if !tags.iter().all(Value::is_string) => {
                let fixed: Vec<Value> = tags
                    .iter()
                    .filter_map(|t| text(t, false))
                    .map(Value::String)
                    .collect();
                *tags = fixed;
                changed = true;
            }
            Some(Value::Array(_)) => {}
            Some(_) => {
                item.remove("tags");
                changed = true;
            }
            None => {}
        }
        match item.get_mut("attachments") {
            Some(Value::Array(list)) => {
                let before = list.len();
                // An attachment needs its url and type; its other fields
                // are left out when bad.
                list.retain_mut(|a| {
                    let Some(a) = a.as_object_mut() else {
                        return false;
                    };
                    let ok = a.get("url").is_some_and(Value::is_string)
                        && a.get("mime_type").is_some_and(Value::is_string);
                    strings(a, &["title"], &[], &mut changed);
                    for f in ["size_in_bytes", "duration_in_seconds"] {
                        if a.get(f).is_some_and(|v| v.as_u64().is_none()) {
                            a.remove(f);
                            changed = true;
                        }
                    }
                    ok
                });
                changed |= list.len() != before;
            }
            Some(_) => {
                item.remove("attachments");
                changed = true;
            }
            None => {}
        }
    }
    changed.then(|| feed.to_string())
}

/// feed-rs 3.0 reads "name (e-mail)" fields by dropping the byte on either
/// side of the address, which panics when that character is not ASCII
/// (`فريق التحرير—news@example.sa`). In those fields only, an address
/// touching a non-ASCII character gets a space beside it; the name and the
/// address come out the same.
fn space_out_addresses(doc: &str) -> Option<String> {
    if !doc.contains('@') {
        return None;
    }
    let mut out = String::with_capacity(doc.len() + 16);
    let mut rest = doc;
    let mut changed = false;
    while let Some(i) = rest.find('<') {
        let tag_end = match rest[i..].find('>') {
            Some(e) => i + e,
            None => break,
        };
        let name = &rest[i + 1..tag_end];
        let local = name.rsplit(':').next().unwrap_or(name);
        out.push_str(&rest[..=tag_end]);
        rest = &rest[tag_end + 1..];
        if !PERSON_ELEMENTS
            .iter()
            .any(|p| p.rsplit(':').next() == Some(local))
        {
            continue;
        }
        let text_end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..text_end];
        if text.contains('@') {
            let spaced = space_around_ascii_runs_with_at(text);
            changed |= spaced != text;
            out.push_str(&spaced);
        } else {
            out.push_str(text);
        }
        rest = &rest[text_end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

fn space_around_ascii_runs_with_at(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii() || c.is_ascii_whitespace() {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii() && !chars[i].is_ascii_whitespace() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let has_at = run.contains('@');
        if has_at && start > 0 && !chars[start - 1].is_ascii() {
            out.push(' ');
        }
        out.push_str(&run);
        if has_at && i < chars.len() && !chars[i].is_ascii() {
            out.push(' ');
        }
    }
    out
}

/// An `<rss>` root without a `version` (common on old sites) as RSS 2.0,
/// the version readers assume; feed-rs would find no feed in it.
pub(super) fn rss_with_version(doc: &str) -> Option<String> {
    let head = prefix(doc, 64 << 10);
    let start = head
        .match_indices("<rss")
        .map(|(i, _)| i)
        .find(|i| head[i + 4..].starts_with(|c: char| c.is_whitespace() || c == '>'))?;
    let end = start + head[start..].find('>')?;
    if head[start..end].contains("version") {
        return None;
    }
    let mut out = String::with_capacity(doc.len() + 16);
    out.push_str(&doc[..start + 4]);
    out.push_str(" version=\"2.0\"");
    out.push_str(&doc[start + 4..]);
    Some(out)
}

/// Expands references to the general entities an internal DTD subset
/// declares (`<!DOCTYPE rss [ <!ENTITY name "value"> ]>`), which quick-xml
/// leaves unexpanded. `None` when the document declares none. Written by
/// hand because no XML parser in use here expands DTD entities, and the
/// bound on expansion is the point.
///
/// Every reference costs: a declared one the length of its value (at least
/// one), an undeclared one one unit, all against `MAX_ENTITY_EXPANSION`;
/// only the references XML itself defines (`&amp;` and the four others,
/// `&#…;`) are free, as the XML parser resolves them whether or not there
/// is a DTD. Names are looked up in a map, so the work is linear in the
/// document, however many entities it declares.
fn expand_internal_entities(doc: &str, deadline: &Deadline) -> Result<Option<String>, ParseError> {
    let head = prefix(doc, 64 << 10);
    let Some(dt) = head.find("<!DOCTYPE") else {
        return Ok(None);
    };
    let Some(open) = head[dt..].find(['[', '>']).map(|i| dt + i) else {
        return Ok(None);
    };
    if !head[open..].starts_with('[') {
        return Ok(None);
    }
    let Some(close) = doc[open..].find("]>").map(|i| open + i) else {
        return Ok(None);
    };
    let subset = &doc[open + 1..close];
    let mut entities: HashMap<&str, &str> = HashMap::new();
    let mut rest = subset;
    while let Some(i) = rest.find("<!ENTITY") {
        deadline.step(1)?;
        rest = &rest[i + "<!ENTITY".len()..];
        let decl_end = rest.find('>').unwrap_or(rest.len());
        let decl = rest[..decl_end].trim_start();
        rest = &rest[decl_end..];
        if decl.starts_with('%') {
            continue; // parameter entities shape the DTD, not the text
        }
        let name_end = decl.find(char::is_whitespace).unwrap_or(decl.len());
        let (name, after) = decl.split_at(name_end);
        let after = after.trim_start();
        // External entities (SYSTEM/PUBLIC) are never fetched.
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let body = &after[1..];
        let value = &body[..body.find(q).unwrap_or(body.len())];
        // XML: the first declaration of a name is binding.
        entities.entry(name).or_insert(value);
    }
    if entities.is_empty() {
        return Ok(None);
    }
    let mut budget = MAX_ENTITY_EXPANSION;
    let mut out = String::with_capacity(doc.len());
    out.push_str(&doc[..close + 2]);
    expand_into(
        &doc[close + 2..],
        &entities,
        &mut out,
        &mut budget,
        0,
        deadline,
    )?;
    Ok(Some(out))
}

/// The references XML resolves itself: the five predefined entities and
/// character references.
fn is_builtin_reference(name: &str) -> bool {
    name.starts_with('#') || matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
}

fn expand_into(
    text: &str,
    entities: &HashMap<&str, &str>,
    out: &mut String,
    budget: &mut usize,
    depth: usize,
    deadline: &Deadline,
) -> Result<(), ParseError> {
    let refuse = || {
        ParseError::Refused(format!(
            "the document's DTD entities and entity references cost more than the {} KiB \
             expansion bound (a \"billion laughs\" document?)",
            MAX_ENTITY_EXPANSION >> 10
        ))
    };
    if depth > 16 {
        return Err(refuse());
    }
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        deadline.step(1)?;
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let name_len = tail.find(';').filter(|n| *n <= 64).unwrap_or(0);
        let name = &tail[..name_len];
        if name_len == 0 || is_builtin_reference(name) {
            out.push('&');
            rest = tail;
            continue;
        }
        match entities.get(name) {
            Some(value) => {
                *budget = budget.checked_sub(value.len().max(1)).ok_or_else(refuse)?;
                expand_into(value, entities, out, budget, depth + 1, deadline)?;
                rest = &tail[name_len + 1..];
            }
            None => {
                *budget = budget.checked_sub(1).ok_or_else(refuse)?;
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

/// At most the first `max` bytes of `s`, cut at a character boundary.
pub(super) fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

const ATOM03_NS: &str = "http://purl.org/atom/ns#";

/// Atom 0.3 (still served by old blogs) as Atom 1.0: the namespace and the
/// renamed elements. feed-rs recognises `<feed>` but reads only Atom 1.0's
/// namespace, so such a feed would otherwise yield no items at all.
fn atom03_as_atom10(doc: &str) -> Option<String> {
    let head = prefix(doc, 4096);
    let root = head.find("<feed")?;
    if !head[root..].contains(ATOM03_NS) {
        return None;
    }
    let mut out = doc.replace(ATOM03_NS, "http://www.w3.org/2005/Atom");
    for (old, new) in [
        ("modified", "updated"),
        ("issued", "published"),
        ("tagline", "subtitle"),
        ("copyright", "rights"),
    ] {
        out = out
            .replace(&format!("<{old}>"), &format!("<{new}>"))
            .replace(&format!("<{old} "), &format!("<{new} "))
            .replace(&format!("</{old}>"), &format!("</{new}>"));
    }
    // Atom 0.3 text constructs name a media type where Atom 1.0 names a
    // kind. Links carry media types too; theirs become the kind names,
    // which nothing downstream reads.
    for (old, new) in [
        ("type=\"text/plain\"", "type=\"text\""),
        ("type=\"text/html\"", "type=\"html\""),
        ("type=\"application/xhtml+xml\"", "type=\"xhtml\""),
    ] {
        out = out.replace(old, new);
    }
    Some(out)
}
