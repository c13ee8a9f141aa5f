//! Publishing: the merged feed as Atom 1.0, RSS 2.0, JSON Feed 1.1 and the
//! HTML river page (`html`), rendered once per change and kept as bytes
//! (with gzip and brotli copies and a strong ETag) for the server to hand
//! out.
//!
//! Feeds are paged (RFC 5005): a page shows `output.max_items` items and
//! links to the next older page by a cursor (the sort time and id of its
//! last item), so a reader can backfill and new items never shift a page
//! it is reading.
//!
//! Content is sanitized here, at the last moment, with ammonia: the store
//! keeps what the source said, and every output is safe to open.
//!
//! This file only dispatches a render to its format. The rest, from the
//! bottom up: `scope` (formats, scopes, their URLs), `view` (what every
//! renderer shares), `sanitize` (what an item may show), `query` (the
//! store read behind a page), `xml`, `atom`, `rss`, `json` and `html`
//! (the renderers), `cache` (the bytes kept for the server), `opml` (the
//! subscription list, both ways) and `websub` (telling hubs).

mod atom;
mod cache;
pub mod html;
mod json;
mod opml;
mod query;
mod rss;
mod sanitize;
pub mod saved;
mod scope;
mod view;
pub mod websub;
mod xml;

use crate::config::Config;
use crate::model::Item;
use crate::rules::Verdicts;
use crate::store::{Store, StoreError};

pub use cache::{Outputs, Rendered};
pub use opml::{OpmlFeed, opml, opml_with, own_titles, read_opml};
pub use sanitize::sanitize;
pub use scope::{
    Format, Scope, feed_url, in_river, in_scope, is_public, listed_scopes, path_segment, scopes,
    token_of,
};
pub use view::{Cursor, Page, View};

/// Reads the first page of `scope` from the store and renders it.
pub fn render_from_store(
    store: &Store,
    config: &Config,
    scope: &Scope,
    format: Format,
    limit: usize,
) -> Result<Rendered, StoreError> {
    render_page_from_store(store, config, scope, format, limit, None)
}

/// Reads the page of `scope` that starts after `before` (the first page
/// when `None`) and renders it, linked to the next older page if any.
pub fn render_page_from_store(
    store: &Store,
    config: &Config,
    scope: &Scope,
    format: Format,
    limit: usize,
    before: Option<Cursor>,
) -> Result<Rendered, StoreError> {
    render_page_judged(
        store,
        config,
        &Verdicts::default(),
        scope,
        format,
        limit,
        before,
    )
}

/// `render_page_from_store`, asking `verdicts` whether a river's rules keep
/// each item.
fn render_page_judged(
    store: &Store,
    config: &Config,
    verdicts: &Verdicts,
    scope: &Scope,
    format: Format,
    limit: usize,
    before: Option<Cursor>,
) -> Result<Rendered, StoreError> {
    let (items, page) = query::read_page(store, config, verdicts, scope, limit, before)?;
    let view = View {
        config,
        store_id: store.store_id(),
        scope,
        since: store.created(),
    };
    Ok(render_page(&view, &items, format, &page))
}

/// Renders `items` as the first page of a feed with no older page.
pub fn render(view: &View<'_>, items: &[Item], format: Format) -> Rendered {
    render_page(view, items, format, &Page::default())
}

pub fn render_page(view: &View<'_>, items: &[Item], format: Format, page: &Page) -> Rendered {
    let last_modified = items
        .iter()
        .map(Item::last_modified)
        .max()
        .unwrap_or(view.since);
    let body = match format {
        Format::Atom => atom::atom(view, items, last_modified, page),
        Format::Rss => rss::rss(view, items, last_modified, page),
        Format::Json => json::json_feed(view, items, page),
        Format::Html => html::page(view, items, page),
    };
    Rendered::new(body, last_modified, format)
}

// The cache cannot render (the renderers use its `Rendered`), so the
// refresh that fills it lives with the dispatch.
impl Outputs {
    /// `render_page_from_store`, remembering the rivers' verdicts for the
    /// renders after it.
    pub fn render_page_from_store(
        &self,
        store: &Store,
        config: &Config,
        scope: &Scope,
        format: Format,
        limit: usize,
        before: Option<Cursor>,
    ) -> Result<Rendered, StoreError> {
        render_page_judged(store, config, &self.verdicts, scope, format, limit, before)
    }

    /// Renders the main feed in every format and forgets every other scope
    /// (tags are rendered again on their next request).
    pub fn refresh(&self, store: &Store, config: &Config) -> Result<(), StoreError> {
        let limit = config.output.max_items;
        let (items, page) =
            query::read_page(store, config, &self.verdicts, &Scope::All, limit, None)?;
        let view = View {
            config,
            store_id: store.store_id(),
            scope: &Scope::All,
            since: store.created(),
        };
        let fresh = Format::ALL
            .into_iter()
            .map(|f| ((Scope::All, f), render_page(&view, &items, f, &page)))
            .collect();
        self.replace_all(fresh);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
