//! `[output]`: what the feeds and the river page say and show.

use toml::Spanned;

use super::Validator;
use crate::config::raw::RawOutput;
use crate::config::{DEFAULT_MAX_ITEM_BYTES, OutputConfig, PageContent, parse_size};

impl Validator<'_> {
    pub(super) fn output(&mut self, raw: &RawOutput) -> OutputConfig {
        let title = raw.title.clone().unwrap_or_else(|| "rafid".to_string());
        OutputConfig {
            lang: self.page_lang(&raw.lang, &title),
            timezone: self.timezone(&raw.timezone),
            page_content: match &raw.page_content {
                None => PageContent::Summary,
                Some(v) => match v.get_ref().trim() {
                    "summary" => PageContent::Summary,
                    "full" => PageContent::Full,
                    other => {
                        self.error(
                            v.span(),
                            format!(
                                "output.page_content: {other:?} is not a choice; write \"summary\" (an excerpt of each item) or \"full\" (its whole content)"
                            ),
                        );
                        PageContent::Summary
                    }
                },
            },
            token: raw.token.as_ref().map(|v| self.token("output.token", v)),
            title,
            max_items: self.count("output.max_items", &raw.max_items, 100, 1) as usize,
            max_item_bytes: match &raw.max_item_bytes {
                None => DEFAULT_MAX_ITEM_BYTES,
                Some(v) => match parse_size(v.get_ref()) {
                    Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    _ => {
                        self.error(
                            v.span(),
                            format!(
                                "output.max_item_bytes: {:?} is not a size; write e.g. \"256KiB\", \"1MiB\"",
                                v.get_ref()
                            ),
                        );
                        DEFAULT_MAX_ITEM_BYTES
                    }
                },
            },
        }
    }

    /// `output.lang`, else the language of the title's script: Arabic
    /// script gives "ar", anything else "en".
    fn page_lang(&mut self, v: &Option<Spanned<String>>, title: &str) -> String {
        let Some(v) = v else {
            let arabic = title
                .chars()
                .find(|c| c.is_alphabetic())
                .is_some_and(|c| matches!(c as u32, 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF));
            return if arabic { "ar" } else { "en" }.to_string();
        };
        let tag = v.get_ref().trim().to_ascii_lowercase();
        let mut parts = tag.split('-');
        let primary_ok = matches!(parts.next(), Some("ar" | "en"));
        let rest_ok = parts
            .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if primary_ok && rest_ok {
            tag
        } else {
            self.error(
                v.span(),
                format!(
                    "output.lang: {:?} is not a language the river page has words for; write \"ar\" or \"en\" (a region may follow, e.g. \"ar-EG\")",
                    v.get_ref()
                ),
            );
            "en".to_string()
        }
    }

    /// `output.timezone`: an IANA name, looked up in the system's time zone
    /// database (else the one built in); UTC by default.
    fn timezone(&mut self, v: &Option<Spanned<String>>) -> jiff::tz::TimeZone {
        let Some(v) = v else {
            return jiff::tz::TimeZone::UTC;
        };
        let name = v.get_ref().trim();
        if name.eq_ignore_ascii_case("UTC") {
            return jiff::tz::TimeZone::UTC;
        }
        match jiff::tz::db().get(name) {
            Ok(tz) => tz,
            Err(_) => {
                let db = jiff::tz::db();
                let closest = db
                    .available()
                    .map(|n| {
                        let n = n.as_str().to_string();
                        (
                            strsim::levenshtein(
                                &name.to_ascii_lowercase(),
                                &n.to_ascii_lowercase(),
                            ),
                            n,
                        )
                    })
                    .min();
                let hint = match closest {
                    Some((d, n)) if d <= (name.len() / 3).max(2) => format!("did you mean {n:?}?"),
                    _ => "write an IANA name such as \"Asia/Riyadh\", \"Africa/Cairo\", \"Europe/London\" or \"UTC\"".to_string(),
                };
                self.error_with_hint(
                    v.span(),
                    format!("output.timezone: {name:?} is not a time zone of the tz database"),
                    Some(hint),
                );
                jiff::tz::TimeZone::UTC
            }
        }
    }
}
