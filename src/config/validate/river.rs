//! `[[river]]`: named merged feeds, each drawing on tagged feeds through
//! rules of its own.

use std::collections::HashMap;

use toml::Spanned;

use super::Validator;
use crate::config::raw::RawRiver;
use crate::config::{FeedConfig, RiverConfig};
use crate::rules::Rules;

impl Validator<'_> {
    pub(super) fn rivers(
        &mut self,
        raw: &[Spanned<RawRiver>],
        feeds: &[FeedConfig],
    ) -> Vec<RiverConfig> {
        let mut rivers: Vec<RiverConfig> = Vec::with_capacity(raw.len());
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, r) in raw.iter().enumerate() {
            let key = format!("river[{i}]");
            let table = r.span();
            let r = r.get_ref();
            let mut name_ok = true;
            let (name, name_span) = match &r.name {
                Some(n) => (n.get_ref().trim(), n.span()),
                None => {
                    if !self.reported_in_table(table.clone()) {
                        self.error(
                            table.clone(),
                            format!(
                                "{key}: no `name`; every [[river]] needs one, e.g. name = \"economy\" (served at /rivers/economy.atom)"
                            ),
                        );
                    }
                    name_ok = false;
                    ("", table)
                }
            };
            if !name_ok {
                // Reported above.
            } else if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            {
                self.error(
                    name_span.clone(),
                    format!(
                        "{key}.name: {:?} cannot name a river: it is part of its URL (/rivers/NAME.atom); use letters, digits, '-' and '_'",
                        name
                    ),
                );
                name_ok = false;
            } else if let Some(first) = names.get(name) {
                self.error(
                    name_span.clone(),
                    format!(
                        "{key}.name: {name:?} already names river[{first}]; river names are unique"
                    ),
                );
                name_ok = false;
            }
            let mut tags = Vec::new();
            for t in &r.tags {
                let folded = t.get_ref().trim().to_lowercase();
                let known = feeds
                    .iter()
                    .flat_map(|f| &f.tags)
                    .find(|x| x.to_lowercase() == folded);
                match known {
                    None => {
                        let tag = t.get_ref().trim();
                        self.error(
                            t.span(),
                            format!("{key}.tags: no feed has the tag {tag:?}; add it to a [[feed]] or remove it here"),
                        );
                    }
                    Some(tag) if !tags.contains(tag) => tags.push(tag.clone()),
                    Some(_) => {}
                }
            }
            let rules = self
                .rules(
                    &key,
                    r.keep.as_ref(),
                    r.drop.as_ref(),
                    &r.lang,
                    name_span.clone(),
                )
                .unwrap_or_else(|| std::sync::Arc::new(Rules::none()));
            if !name_ok {
                continue;
            }
            let token = r
                .token
                .as_ref()
                .map(|v| self.token(&format!("{key}.token"), v));
            let title = r
                .title
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            names.insert(name.to_string(), i);
            rivers.push(RiverConfig {
                name: name.to_string(),
                tags,
                rules,
                title,
                token,
            });
        }
        rivers
    }
}
