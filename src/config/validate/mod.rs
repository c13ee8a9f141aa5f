//! `RawConfig` → `Config`: each table checked by a file of its own, every
//! error recorded with its place rather than stopping at the first.

mod dedup;
mod feed;
mod output;
mod poll;
mod river;
mod rules;
mod server;
mod storage;
mod websub;

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::raw::RawConfig;
use super::{Config, Diagnostic, Purpose, Secret, resolve_secret};

pub use feed::is_valid_tag;
pub use server::MIN_ADMIN_TOKEN;

/// One validation of one file: the errors found so far, with their places.
pub(in crate::config) struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<Diagnostic>,
    purpose: Purpose,
    /// Where in `text` each error of `errors` starts.
    starts: Vec<usize>,
}

impl<'a> Validator<'a> {
    pub(in crate::config) fn new(path: &'a Path, text: &'a str, purpose: Purpose) -> Self {
        Validator {
            path,
            text,
            errors: Vec::new(),
            purpose,
            starts: Vec::new(),
        }
    }
}

impl Validator<'_> {
    /// The errors found, in the order of the file.
    pub(in crate::config) fn into_errors(mut self) -> Vec<Diagnostic> {
        self.errors.sort_by_key(|d| (d.line, d.column));
        self.errors
    }

    /// How many errors were found so far.
    pub(in crate::config) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Records an error. A message written "what is wrong; how to fix it"
    /// shows the part after the last "; " as its hint.
    fn error(&mut self, span: Range<usize>, message: String) {
        match message.rsplit_once("; ") {
            Some((m, h)) => self.error_with_hint(span, m.to_string(), Some(h.to_string())),
            None => self.error_with_hint(span, message, None),
        }
    }

    pub(in crate::config) fn error_with_hint(
        &mut self,
        span: Range<usize>,
        message: String,
        hint: Option<String>,
    ) {
        let start = span.start.min(self.text.len());
        self.starts.push(start);
        self.errors
            .push(Diagnostic::at(self.path, self.text, start, message, hint));
    }

    fn duration(&mut self, key: &str, v: &Option<Spanned<String>>, default: Duration) -> Duration {
        let Some(v) = v else { return default };
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.error(
                    v.span(),
                    format!("{key}: a duration must be more than zero; write e.g. \"10m\""),
                );
                default
            }
            Err(e) => {
                self.error(
                    v.span(),
                    format!(
                        "{key}: {:?} is not a duration ({e}); write e.g. \"90s\", \"15m\", \"1h\", \"7d\"",
                        v.get_ref()
                    ),
                );
                default
            }
        }
    }

    fn count(&mut self, key: &str, v: &Option<Spanned<i64>>, default: u64, min: i64) -> u64 {
        let Some(v) = v else { return default };
        if *v.get_ref() < min {
            self.error(
                v.span(),
                format!("{key}: must be at least {min}; write a whole number, {min} or more"),
            );
            return default;
        }
        *v.get_ref() as u64
    }

    fn secret(&mut self, key: &str, v: &Spanned<String>) -> Secret {
        match resolve_secret(v.get_ref()) {
            Ok(s) => Secret(s),
            Err(msg) => {
                let hint = if v.get_ref().starts_with("env:") {
                    "set it where rafid runs (Environment= or EnvironmentFile= under systemd), or use \"file:PATH\""
                } else {
                    "under systemd, pass the file with LoadCredential=NAME:PATH and write \"file:NAME\""
                };
                self.error(v.span(), format!("{key}: {msg}; {hint}"));
                Secret(String::new())
            }
        }
    }

    /// A token that guards outputs: a secret, and never empty (an empty
    /// token would be one anyone can give).
    fn token(&mut self, key: &str, v: &Spanned<String>) -> Secret {
        let before = self.errors.len();
        let secret = self.secret(key, v);
        if secret.0.trim().is_empty() && self.errors.len() == before {
            self.error(
                v.span(),
                format!("{key}: the token is empty; give a long random value, e.g. from `openssl rand -hex 24`"),
            );
        }
        secret
    }

    /// Whether an error was reported within the text of `span`.
    pub(in crate::config) fn reported_within(&self, span: Range<usize>) -> bool {
        self.starts.iter().any(|s| span.contains(s))
    }

    /// Whether an error was reported within the table whose header is at
    /// `span` (up to the next header).
    fn reported_in_table(&self, span: Range<usize>) -> bool {
        let start = span.start.min(self.text.len());
        let mut end = span.end.min(self.text.len()).max(start);
        while end < self.text.len() {
            let line_end = self.text[end..]
                .find('\n')
                .map_or(self.text.len(), |i| end + i + 1);
            if self.text[end..line_end].trim_start().starts_with('[') {
                break;
            }
            end = line_end;
        }
        self.starts.iter().any(|s| (start..end).contains(s))
    }

    /// Checks every table, in the order of the file's usual layout.
    pub(in crate::config) fn validate(&mut self, raw: RawConfig) -> Config {
        let server = self.server(&raw.server);
        let websub = self.websub(&raw.websub);
        let storage = self.storage(&raw.storage);
        let poll = self.poll(&raw.poll);
        let output = self.output(&raw.output);
        let dedup = self.dedup(&raw.dedup);
        let feeds = self.feeds(&raw.feeds, poll.interval);
        let rivers = self.rivers(&raw.rivers, &feeds);
        Config {
            path: self.path.to_path_buf(),
            text_digest: crate::text::normalize::digest(&[self.text.as_bytes()]),
            server,
            storage,
            poll,
            output,
            dedup,
            feeds,
            websub,
            rivers,
            lookups: Default::default(),
        }
    }
}
