//! The `keep`/`drop` rules and `lang` of a `[[feed]]` or `[[river]]`,
//! compiled, each bad pattern reported where it is written.

use std::ops::Range;

use toml::Spanned;

use super::Validator;
use crate::config::raw::RawRules;
use crate::rules::{Kind, Rule, Rules, SharedRules};

impl Validator<'_> {
    /// Compiles the `keep`/`drop` rules (and languages) of one table named
    /// `key`; `None` when it has none or any is invalid (reported).
    pub(super) fn rules(
        &mut self,
        key: &str,
        keep: Option<&Spanned<RawRules>>,
        drop: Option<&Spanned<RawRules>>,
        lang: &[Spanned<String>],
        span: Range<usize>,
    ) -> Option<SharedRules> {
        let mut ok = true;
        let mut sets: [Vec<Rule>; 2] = [Vec::new(), Vec::new()];
        for (i, (kind, raw)) in [(Kind::Keep, keep), (Kind::Drop, drop)]
            .into_iter()
            .enumerate()
        {
            let Some(raw) = raw else { continue };
            for (field, patterns) in raw.get_ref().fields() {
                for p in patterns {
                    match Rule::new(kind, field, p.get_ref()) {
                        Ok(r) => sets[i].push(r),
                        Err(msg) => {
                            ok = false;
                            self.error(
                                p.span(),
                                format!("{key}.{}.{}: {msg}", kind.name(), field.name()),
                            );
                        }
                    }
                }
            }
        }
        let mut langs = Vec::new();
        for l in lang {
            let v = l.get_ref().trim();
            let valid = !v.is_empty()
                && v.split('-').all(|part| {
                    (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
                })
                && v.split('-')
                    .next()
                    .is_some_and(|p| p.chars().all(|c| c.is_ascii_alphabetic()));
            if valid {
                langs.push(v.to_ascii_lowercase());
            } else {
                ok = false;
                self.error(
                    l.span(),
                    format!(
                        "{key}.lang: {:?} is not a language tag; write e.g. \"ar\", \"en\", \"fr-CA\"",
                        l.get_ref()
                    ),
                );
            }
        }
        let [keep, drop] = sets;
        if !ok || (keep.is_empty() && drop.is_empty() && langs.is_empty()) {
            return None;
        }
        match Rules::new(keep, drop, langs) {
            Ok(r) => Some(std::sync::Arc::new(r)),
            Err(msg) => {
                self.error(span, format!("{key}: {msg}"));
                None
            }
        }
    }
}
