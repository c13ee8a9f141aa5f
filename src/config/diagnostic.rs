//! What is wrong in a config file and where: each `Diagnostic` names
//! `file:line:column`, shows the line (credentials masked) with a caret
//! under the place, and says how to fix it when there is something to say.

use std::fmt;
use std::path::{Path, PathBuf};

use super::redact::{holds_secrets, mask_values, secret_values};

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending line, for showing under the message.
    pub source_line: String,
    /// How to fix it, when there is something to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// The diagnostic for a problem at byte `start` of `text`: its line and
    /// column, and the line itself. A line that sets a credential is shown
    /// masked, and any of its values the message or hint quote are too.
    pub(super) fn at(
        path: &Path,
        text: &str,
        start: usize,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let start = start.min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = text[line_start..start].chars().count() + 1;
        let source_line = text[line_start..].lines().next().unwrap_or("");
        let (source_line, message, hint) = if holds_secrets(text, line_start, source_line) {
            let masked = mask_values(source_line);
            let hide = |s: String| {
                secret_values(source_line).fold(s, |s, v| {
                    let s = s.replace(&format!("\"{v}\""), "\"***\"");
                    // Short values would mask unrelated words.
                    if v.len() >= 4 { s.replace(v, "***") } else { s }
                })
            };
            (masked, hide(message), hint.map(hide))
        } else {
            (source_line.to_string(), message, hint)
        };
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column,
            message,
            source_line,
            hint,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        if !self.source_line.is_empty() {
            writeln!(f, "    {}", self.source_line)?;
            let pad: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "    {pad}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no config file: looked at {tried}; give one with -c PATH or $RAFID_CONFIG")]
    NotFound { tried: String },
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_diagnostics(d: &[Diagnostic]) -> String {
    let mut s = String::new();
    for (i, diag) in d.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&diag.to_string());
    }
    s
}
