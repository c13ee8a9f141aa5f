//! TOML text → `RawConfig`, reporting every error serde finds rather than
//! the first: each unknown key or value of the wrong type is reported,
//! blanked out (offsets kept) and the text read again.

use super::raw::RawConfig;
use super::validate::Validator;

/// Reads `text` into the raw schema, recording each error in `cx`; `None`
/// when an error leaves nothing that can be read on.
pub(super) fn read_raw(cx: &mut Validator<'_>, text: &str) -> Option<RawConfig> {
    // serde stops at the first unknown key: each one found is reported,
    // blanked out (offsets kept) and the text read again, so one run
    // reports every unknown key and every other error too.
    let mut readable = text.to_string();
    loop {
        match toml::from_str(&readable) {
            Ok(raw) => return Some(raw),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim_end();
                let blanked = if let Some((key, expected)) = unknown_key(message) {
                    cx.error_with_hint(
                        span.clone(),
                        format!("unknown key `{key}`"),
                        Some(suggest(key, &expected)),
                    );
                    blank_key_value(&readable, span.start)
                } else if message.starts_with("missing field") {
                    // Unless the key was blanked for an earlier error.
                    if !cx.reported_within(span.clone()) {
                        let (what, hint) = toml_hint(message);
                        cx.error_with_hint(span.clone(), what, hint);
                    }
                    // The table it is missing from (an inline one, such as
                    // `auth`) is blanked, and the rest read on.
                    key_start(&readable, span.start).and_then(|k| blank_key_value(&readable, k))
                } else {
                    let (what, hint) = toml_hint(message);
                    cx.error_with_hint(span.clone(), what, hint);
                    let wrong_value = ["invalid type", "invalid value", "invalid length"]
                        .iter()
                        .any(|p| message.starts_with(p));
                    // A value of the wrong type: the rest can still be read
                    // once its key-value pair is blanked.
                    wrong_value
                        .then(|| key_start(&readable, span.start))
                        .flatten()
                        .and_then(|k| blank_key_value(&readable, k))
                };
                match blanked {
                    Some(t) if cx.error_count() < 100 => readable = t,
                    _ => {
                        return None;
                    }
                }
            }
        }
    }
}

/// toml's and serde's messages say what was expected after ", expected":
/// that part becomes the hint, in the config's words.
fn toml_hint(message: &str) -> (String, Option<String>) {
    let first = message.lines().next().unwrap_or(message);
    match first.split_once(", expected ") {
        Some((what, expected)) => {
            let hint = match expected {
                "a sequence" => "write a list, e.g. [\"news\", \"ar\"]".to_string(),
                "a string" => "write it in double quotes, e.g. \"1h\"".to_string(),
                "literal string" => "quote the value, e.g. \"1h\"".to_string(),
                other => format!("expected {other}"),
            };
            (what.to_string(), Some(hint))
        }
        None => (message.to_string(), None),
    }
}

/// Where the key of the value at `value_start` starts: the nearest line at
/// or above the value that reads `key = …` (a value in a list may be on a
/// line of its own).
fn key_start(text: &str, value_start: usize) -> Option<usize> {
    let value_start = value_start.min(text.len());
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut line_end = value_start;
    for _ in 0..1000 {
        let line_start = text[..line_end].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[line_start..line_end.max(line_start)];
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        if body.starts_with('[') && line_end != value_start {
            return None; // a table header: the value is not under a key
        }
        let key_len = body.find(|c: char| !bare(c)).unwrap_or(body.len());
        if key_len > 0 && body[key_len..].trim_start().starts_with('=') {
            return Some(line_start + indent);
        }
        if line_start == 0 {
            return None;
        }
        line_end = line_start - 1;
    }
    None
}

/// The key and the keys allowed beside it, from serde's "unknown field"
/// message (`unknown field `x`, expected one of `a`, `b``).
fn unknown_key(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((key, expected))
}

/// The hint for an unknown key: the allowed key it was probably meant to
/// be, else the keys allowed there.
fn suggest(key: &str, expected: &[&str]) -> String {
    let closest = expected
        .iter()
        .map(|e| (strsim::levenshtein(key, e), *e))
        .min();
    match closest {
        Some((d, e)) if d <= (key.chars().count() / 3).max(2) => format!("did you mean `{e}`?"),
        _ if expected.is_empty() => "no keys are allowed here".to_string(),
        _ => format!("the keys allowed here: {}", expected.join(", ")),
    }
}

/// `text` with the key-value pair (or the whole table, for an unknown
/// table name) whose key starts at `start` replaced by spaces, newlines
/// kept, so every offset stays where it was. `None` when the pair cannot
/// be delimited (a key inside an inline table, a dotted key).
fn blank_key_value(text: &str, start: usize) -> Option<String> {
    let start = start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let before = text[line_start..start].trim();
    let next_line = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
    let (from, to) = if before.ends_with('[') {
        // A table header: the table runs to the next header.
        let mut pos = next_line(start);
        while pos < text.len() && !text[pos..next_line(pos)].trim_start().starts_with('[') {
            pos = next_line(pos);
        }
        (line_start, pos)
    } else if before.is_empty() {
        // key = value, the value perhaps over several lines.
        let mut end = next_line(start);
        while text[start..end].parse::<toml_edit::DocumentMut>().is_err() {
            if end >= text.len() {
                return None;
            }
            end = next_line(end);
        }
        (start, end)
    } else {
        return None;
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..from]);
    for c in text[from..to].chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out.push_str(&text[to..]);
    Some(out)
}
