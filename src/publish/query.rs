//! The store query behind a page: the items of one scope, newest first,
//! starting after a cursor, and whether an older page exists.

use crate::config::Config;
use crate::model::Item;
use crate::publish::scope::Scope;
use crate::publish::view::{Cursor, Page};
use crate::rules::Verdicts;
use crate::store::{Store, StoreError};

/// The items of one page, and where the page sits.
pub(crate) fn read_page(
    store: &Store,
    config: &Config,
    verdicts: &Verdicts,
    scope: &Scope,
    limit: usize,
    before: Option<Cursor>,
) -> Result<(Vec<Item>, Page), StoreError> {
    let bound = before.and_then(Cursor::bound);
    // One item more than the page shows says whether an older page exists.
    let mut items = match scope {
        Scope::All => store.newest_before(bound, limit.saturating_add(1), |_| true)?,
        Scope::Tag(tag) => {
            let feeds: Vec<&str> = config.feeds_tagged(tag).map(|f| f.key()).collect();
            store.newest_in_feeds_before(&feeds, bound, limit.saturating_add(1))?
        }
        Scope::River(name) => match config.river(name) {
            None => Vec::new(),
            Some(river) => {
                let feeds: Vec<&str> = config.river_feeds(river).map(|f| f.key()).collect();
                let scan = crate::store::river_scan_bound(limit);
                let keep = |item: &Item| verdicts.keeps(&river.rules, item);
                let feeds = (!river.tags.is_empty()).then_some(&feeds[..]);
                store.newest_matching(feeds, bound, limit.saturating_add(1), scan, keep)?
            }
        },
    };
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(Cursor::after)
    } else {
        None
    };
    Ok((items, Page { before, next }))
}
