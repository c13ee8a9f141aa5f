//! Keeping credentials out of what rafid shows: URLs in outputs, logs and
//! metrics lose their user info and query values, and a config line that
//! sets a credential is masked in a diagnostic.

use url::Url;

/// Keys whose values are credentials: never shown in a diagnostic.
const SECRET_KEYS: &[&str] = &["admin_token", "headers", "auth", "password", "user"];

/// Whether the line at `line_start` sets a credential: it names one of
/// `SECRET_KEYS`, sits in a `[...headers]` or `[...auth]` table, or is the
/// database's `url` in `[storage]` (which carries its password).
pub(super) fn holds_secrets(text: &str, line_start: usize, line: &str) -> bool {
    let names_one = |l: &str| {
        let l = l.to_ascii_lowercase();
        SECRET_KEYS.iter().any(|k| {
            l.match_indices(k).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + k.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
        })
    };
    if names_one(line) {
        return true;
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim_start)
        .find(|l| l.starts_with('['));
    let database_url = table.is_some_and(|t| t.trim_end().starts_with("[storage]"))
        && line
            .trim_start()
            .strip_prefix("url")
            .is_some_and(|rest| rest.trim_start().starts_with('='));
    table.is_some_and(names_one) || database_url
}

/// The string values (after an `=`) of a TOML line, as written between
/// their quotes, except `env:` and `file:` references, which name where a
/// secret is and are worth showing.
pub(super) fn secret_values(line: &str) -> impl Iterator<Item = &str> {
    quoted_values(line)
        .into_iter()
        .map(move |(a, b)| &line[a..b])
        .filter(|v| !v.is_empty() && !v.starts_with("env:") && !v.starts_with("file:"))
}

/// Byte ranges of the contents of the quoted strings that follow an `=`.
fn quoted_values(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut after_eq = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '=' => after_eq = true,
            '"' | '\'' => {
                let start = i + 1;
                let mut end = line.len();
                while let Some((j, d)) = chars.next() {
                    if d == '\\' && c == '"' {
                        chars.next();
                    } else if d == c {
                        end = j;
                        break;
                    }
                }
                if after_eq {
                    out.push((start, end));
                }
                after_eq = false;
            }
            '#' => break,
            c if c.is_whitespace() => {}
            _ => after_eq = false,
        }
    }
    out
}

/// `line` with its credential values replaced by as many `*` (so the
/// caret under it still points at the right column).
pub(super) fn mask_values(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut at = 0;
    for (a, b) in quoted_values(line) {
        let v = &line[a..b];
        if v.starts_with("env:") || v.starts_with("file:") {
            continue;
        }
        out.push_str(&line[at..a]);
        out.extend(v.chars().map(|_| '*'));
        at = b;
    }
    out.push_str(&line[at..]);
    out
}

/// A URL as rafid shows it to others (outputs, /opml, /status, metrics,
/// logs): user info removed and every query value replaced, the names
/// kept. Any query value may be a secret (`?k=`, `?code=`, `?jwt=`…), and
/// no list of names can know them all.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("redacted");
        let _ = u.set_password(None);
    }
    if u.query().is_some() {
        let names: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        if names.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut()
                .clear()
                .extend_pairs(names.iter().map(|k| (k.as_str(), "redacted")));
        }
    }
    u.to_string()
}

/// `redact_url` for a URL kept as a string.
pub fn redact_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redact_url(&u),
        Err(_) => url.to_string(),
    }
}
