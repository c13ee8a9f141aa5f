//! `[dedup]`: whether and how copies of one story are merged.

use std::time::Duration;

use super::Validator;
use crate::config::DedupConfig;
use crate::config::raw::RawDedup;

impl Validator<'_> {
    pub(super) fn dedup(&mut self, raw: &RawDedup) -> DedupConfig {
        DedupConfig {
            near_duplicates: raw.near_duplicates.unwrap_or(true),
            window: self.duration("dedup.window", &raw.window, Duration::from_secs(72 * 3600)),
            threshold: match &raw.threshold {
                None => crate::dedup::near::DEFAULT_THRESHOLD,
                Some(t) if *t.get_ref() > 0.0 && *t.get_ref() <= 1.0 => *t.get_ref(),
                Some(t) => {
                    self.error(
                        t.span(),
                        format!(
                            "dedup.threshold: {} is out of range; give a number above 0 and at most 1 (default {})",
                            t.get_ref(),
                            crate::dedup::near::DEFAULT_THRESHOLD
                        ),
                    );
                    crate::dedup::near::DEFAULT_THRESHOLD
                }
            },
            boilerplate: raw.boilerplate.clone().unwrap_or_else(|| {
                crate::dedup::near::DEFAULT_BOILERPLATE
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
            cross_language: raw.cross_language.unwrap_or(false),
            dictionary: match &raw.dictionary {
                Some(p) if p.get_ref().trim().is_empty() => {
                    self.error(
                        p.span(),
                        "dedup.dictionary: empty; give the path of a dictd database without its \
                         extension (default /usr/share/dictd/freedict-ara-eng)"
                            .to_string(),
                    );
                    crate::dedup::near::xling::DEFAULT_DICTIONARY.into()
                }
                Some(p) => p.get_ref().into(),
                None => crate::dedup::near::xling::DEFAULT_DICTIONARY.into(),
            },
        }
    }
}
