//! Publishing: the merged feed as Atom 1.0, RSS 2.0, JSON Feed 1.1 and the
//! HTML river page (`river`), rendered once per change and kept as bytes
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

pub mod html;
pub mod websub;

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{Config, redact_str};
use crate::model::{Item, ItemId, hex};
use crate::rules::Verdicts;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Atom,
    Rss,
    Json,
    /// The river page: readable HTML.
    Html,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Atom, Format::Rss, Format::Json, Format::Html];
    /// The formats feed readers subscribe to.
    pub const FEEDS: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Rss => "rss",
            Format::Json => "json",
            Format::Html => "html",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext {
            "atom" => Some(Format::Atom),
            "rss" => Some(Format::Rss),
            "json" => Some(Format::Json),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// The bare media type, for `type` attributes of links.
    pub fn media_type(self) -> &'static str {
        self.content_type()
            .split(';')
            .next()
            .unwrap_or(self.content_type())
    }

    /// How people call the format, for links on the river page.
    pub fn label(self) -> &'static str {
        match self {
            Format::Atom => "Atom",
            Format::Rss => "RSS",
            Format::Json => "JSON Feed",
            Format::Html => "Page",
        }
    }
}

/// Which items a feed shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    Tag(String),
    /// A named river (`[[river]]`).
    River(String),
}

impl Scope {
    /// The path of this scope's output under `base_url`: the river page of
    /// everything is the root.
    pub fn path(&self, format: Format) -> String {
        match self {
            Scope::All if format == Format::Html => String::new(),
            Scope::All => format!("feed.{}", format.extension()),
            Scope::Tag(t) => format!("tags/{}.{}", path_segment(t), format.extension()),
            Scope::River(r) => format!("rivers/{}.{}", path_segment(r), format.extension()),
        }
    }
}

/// What a path segment cannot carry as is: a form encoder's `+` for a
/// space would reach the server as a plus sign, so a tag with a space or
/// `&` needs percent-encoding as RFC 3986 writes it (`%20`, `%26`); the
/// server's path extractor decodes it back.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one URL path segment.
pub fn path_segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

/// Every scope a river page lists, the whole river first, then each tag
/// in name order.
pub fn scopes(config: &Config) -> Vec<Scope> {
    let tags: std::collections::BTreeSet<&str> = config
        .feeds
        .iter()
        .flat_map(|f| f.tags.iter().map(String::as_str))
        .collect();
    std::iter::once(Scope::All)
        .chain(tags.into_iter().map(|t| Scope::Tag(t.to_string())))
        .chain(config.rivers().iter().map(|r| Scope::River(r.name.clone())))
        .collect()
}

/// The token a scope is guarded by, if any: a river's own, and
/// `output.token` for the main feed and the tag feeds (which show its items).
pub fn token_of<'c>(config: &'c Config, scope: &Scope) -> Option<&'c crate::config::Secret> {
    match scope {
        Scope::All | Scope::Tag(_) => config.output.token.as_ref(),
        Scope::River(name) => config.river(name).and_then(|r| r.token.as_ref()),
    }
}

/// Whether anyone may read a scope, and so list it, link to it or tell a
/// WebSub hub about it.
pub fn is_public(config: &Config, scope: &Scope) -> bool {
    token_of(config, scope).is_none()
}

/// The scopes the page of `current` may name: the public ones, and those
/// guarded by the very token its readers hold. A private river is never
/// named on a page that does not carry its token.
pub fn listed_scopes(config: &Config, current: &Scope) -> Vec<Scope> {
    let held = token_of(config, current);
    scopes(config)
        .into_iter()
        .filter(|s| match token_of(config, s) {
            None => true,
            Some(t) => held == Some(t),
        })
        .collect()
}

/// `url` with one more query parameter (form-encoded).
fn with_param(url: &str, key: &str, value: &str) -> String {
    let pair = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{pair}")
}

/// Where a page of a paged feed starts: just after (older than) the item
/// with this sort time and id. Written in URLs as `MILLIS-IDHEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub time_ms: i64,
    pub id: ItemId,
}

impl Cursor {
    /// The cursor of the page after the one that ends with `item`.
    pub fn after(item: &Item) -> Cursor {
        Cursor {
            time_ms: item.sort_time().timestamp_millis(),
            id: item.id,
        }
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        // From the right: a time before 1970 is negative.
        let (ms, id) = s.rsplit_once('-')?;
        let c = Cursor {
            time_ms: ms.parse().ok()?,
            id: ItemId::from_hex(id)?,
        };
        // A time no item can have is no cursor (rather than the first page).
        c.bound().map(|_| c)
    }

    fn bound(self) -> Option<(DateTime<Utc>, ItemId)> {
        Some((DateTime::from_timestamp_millis(self.time_ms)?, self.id))
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.time_ms, self.id.to_hex())
    }
}

/// Where one rendered page sits in its paged feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    /// `None` for the first (newest) page.
    pub before: Option<Cursor>,
    /// The next older page, when there are older items.
    pub next: Option<Cursor>,
}

/// One rendered output, ready to serve.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub gzip: Bytes,
    /// Brotli, for clients that accept it (smaller than gzip, and made once).
    pub br: Bytes,
    /// Strong validator: a hash of the body, quoted.
    pub etag: String,
    /// The newest change among the items shown (stable across restarts).
    pub last_modified: DateTime<Utc>,
    pub content_type: &'static str,
}

impl Rendered {
    fn new(body: Vec<u8>, last_modified: DateTime<Utc>, format: Format) -> Rendered {
        let etag = format!("\"{}\"", hex(&Sha256::digest(&body)[..16]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let gzip = gz
            .write_all(&body)
            .and_then(|_| gz.finish())
            .unwrap_or_default();
        let mut br = Vec::with_capacity(body.len() / 4);
        let params = brotli::enc::BrotliEncoderParams {
            quality: 9,
            lgwin: 22,
            ..Default::default()
        };
        // Reading from a slice and writing to a Vec cannot fail; on the
        // impossible error the output is served without brotli.
        if brotli::BrotliCompress(&mut &body[..], &mut br, &params).is_err() {
            br.clear();
        }
        Rendered {
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            br: Bytes::from(br),
            etag,
            last_modified,
            content_type: format.content_type(),
        }
    }
}

/// What a rendering needs besides the items.
pub struct View<'a> {
    pub config: &'a Config,
    pub store_id: [u8; 16],
    pub scope: &'a Scope,
    /// The date of a page with no items (`Store::created`).
    pub since: DateTime<Utc>,
}

impl View<'_> {
    pub(crate) fn title(&self) -> String {
        match self.scope {
            Scope::All => self.config.output.title.clone(),
            Scope::River(r) => match self.config.river(r).and_then(|r| r.title.as_deref()) {
                Some(title) => title.to_string(),
                None => format!("{} — {r}", self.config.output.title),
            },
            Scope::Tag(t) => format!("{} — {t}", self.config.output.title),
        }
    }

    pub(crate) fn self_url(&self, format: Format) -> String {
        self.scope_url(self.scope, format)
    }

    /// Where a scope's output is served; a guarded scope's URL carries its
    /// token, so that the links a reader of it follows resolve.
    pub(crate) fn scope_url(&self, scope: &Scope, format: Format) -> String {
        let url = feed_url(self.config, scope, format);
        match token_of(self.config, scope) {
            Some(t) => with_param(&url, "token", &t.0),
            None => url,
        }
    }

    /// The URL of the page of this scope that starts after `cursor`.
    pub(crate) fn page_url(&self, format: Format, cursor: Option<Cursor>) -> String {
        match cursor {
            None => self.self_url(format),
            Some(c) => with_param(&self.self_url(format), "before", &c.to_string()),
        }
    }

    pub(crate) fn home_url(&self) -> String {
        self.self_url(Format::Html)
    }

    /// The subscription list, guarded like the main feed; `None` when this
    /// page's readers may not see it.
    pub(crate) fn opml_url(&self) -> Option<String> {
        let url = join(&self.config.server.base_url, "opml");
        match &self.config.output.token {
            None => Some(url),
            Some(t) if token_of(self.config, self.scope) == Some(t) => {
                Some(with_param(&url, "token", &t.0))
            }
            Some(_) => None,
        }
    }

    /// A feed id that stays the same for this store and scope wherever rafid
    /// is served from.
    fn feed_id(&self) -> String {
        let scope = match self.scope {
            Scope::All => String::new(),
            Scope::Tag(t) => format!("tag:{t}"),
            Scope::River(r) => format!("river:{r}"),
        };
        let d = crate::ingest::normalize::digest(&[&self.store_id, scope.as_bytes()]);
        crate::model::ItemId(d).urn()
    }

    /// The name a source feed is shown under: the config's title, else the
    /// feed's own, else its (redacted) URL.
    pub(crate) fn source_title(&self, feed_url: &str, own: Option<&str>) -> String {
        self.config
            .feed(feed_url)
            .and_then(|f| f.title.clone())
            .or_else(|| own.map(str::to_string))
            .unwrap_or_else(|| redact_str(feed_url))
    }
}

/// Where the output of `scope` in `format` is served, under `base_url`.
pub fn feed_url(config: &Config, scope: &Scope, format: Format) -> String {
    join(&config.server.base_url, &scope.path(format))
}

fn join(base: &Url, path: &str) -> String {
    base.join(path)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("{base}{path}"))
}

/// Whether an item belongs in a scope: tags are the item's feeds' tags as
/// the config says now.
pub fn in_scope(config: &Config, scope: &Scope, item: &Item) -> bool {
    match scope {
        Scope::All => true,
        Scope::Tag(tag) => item.sources.iter().any(|s| {
            config
                .feed(&s.feed_url)
                .is_some_and(|f| f.tags.iter().any(|t| t == tag))
        }),
        Scope::River(name) => config
            .river(name)
            .is_some_and(|r| in_river(config, r, item)),
    }
}

/// Whether a river shows an item: one of its feeds carries it and the
/// river's rules keep it.
pub fn in_river(config: &Config, river: &crate::config::RiverConfig, item: &Item) -> bool {
    let from_its_feeds = river.tags.is_empty()
        || item.sources.iter().any(|s| {
            config
                .feed(&s.feed_url)
                .is_some_and(|f| f.tags.iter().any(|t| river.tags.contains(t)))
        });
    from_its_feeds && river.rules.keeps_item(item)
}

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
    let (items, page) = read_page(store, config, verdicts, scope, limit, before)?;
    let view = View {
        config,
        store_id: store.store_id(),
        scope,
        since: store.created(),
    };
    Ok(render_page(&view, &items, format, &page))
}

/// The items of one page, and where the page sits.
fn read_page(
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
        Format::Atom => atom(view, items, last_modified, page),
        Format::Rss => rss(view, items, last_modified, page),
        Format::Json => json_feed(view, items, page),
        Format::Html => crate::publish::html::page(view, items, page),
    };
    Rendered::new(body, last_modified, format)
}

/// Sanitizes item HTML: no script, no event handlers, no dangerous URLs;
/// relative links and images made absolute against the item's base.
/// `data:` URLs survive only as raster images in `img src` (feeds inline
/// small pictures that way); SVG and every other `data:` use is dropped.
pub fn sanitize(html: &str, base: Option<&str>) -> String {
    let mut b = ammonia::Builder::default();
    let base = base.and_then(|b| Url::parse(b).ok());
    if let Some(base) = base {
        b.url_relative(ammonia::UrlRelative::RewriteWithBase(base));
    } else {
        b.url_relative(ammonia::UrlRelative::Deny);
    }
    b.add_url_schemes(["data"]);
    b.attribute_filter(|element, attribute, value| {
        if !is_data_url(value) || (element == "img" && attribute == "src" && is_raster_data(value))
        {
            Some(value.into())
        } else {
            None
        }
    });
    b.clean(html).to_string()
}

/// Whether a URL (as a browser would read it: leading spaces and control
/// characters skipped, case ignored) uses the `data:` scheme.
fn is_data_url(value: &str) -> bool {
    let v: String = value
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .take(5)
        .collect();
    v.eq_ignore_ascii_case("data:")
}

/// A base64 PNG, JPEG, GIF, WebP or AVIF: image types that cannot carry script.
fn is_raster_data(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    ["png", "jpeg", "jpg", "gif", "webp", "avif"]
        .iter()
        .any(|t| v.starts_with(&format!("data:image/{t};base64,")))
}

/// The one filter every URL in every output goes through (links,
/// enclosures, author URIs, sources, the river page): http(s) only, a
/// relative URL made absolute against `base` (an item's base, see
/// `item_base`), anything else (`javascript:`, `data:`, `vbscript:`, a
/// relative URL with no base, what does not parse) dropped. An absolute
/// URL comes out as it came in.
pub(crate) fn web_url<'a>(link: &'a str, base: Option<&str>) -> Option<Cow<'a, str>> {
    let link = link.trim();
    if link.is_empty() {
        return None;
    }
    let web = |u: &Url| matches!(u.scheme(), "http" | "https");
    match Url::parse(link) {
        Ok(u) => web(&u).then_some(Cow::Borrowed(link)),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let base = Url::parse(base?).ok().filter(web)?;
            let u = base.join(link).ok().filter(web)?;
            Some(Cow::Owned(u.to_string()))
        }
        Err(_) => None,
    }
}

/// What relative URLs of an item resolve against: its xml:base, else its
/// link, else the site of the feed that carried it.
pub(crate) fn item_base(item: &Item) -> Option<&str> {
    item.base
        .as_deref()
        .or(item.link.as_deref())
        .or_else(|| item.sources.first().and_then(|s| s.site_url.as_deref()))
}

/// Titles are plain text. Many readers render an RSS title as HTML, so
/// markup that reached a stored title is removed here, not passed on
/// escaped; text that only looks like `a < b` is left as it is.
pub(crate) fn plain_title(title: &str) -> std::borrow::Cow<'_, str> {
    fn has_markup(t: &str) -> bool {
        t.char_indices().any(|(i, c)| {
            c == '<'
                && t[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'))
        })
    }
    if !has_markup(title) {
        return title.into();
    }
    // Removing tags can join text into new tags (`<<b>i>`): repeat until
    // none are left, and after a few rounds defuse what remains.
    let mut t = title.to_string();
    for _ in 0..4 {
        t = crate::ingest::parse::html_fragment_to_text(&t);
        if !has_markup(&t) {
            return t.into();
        }
    }
    t.replace('<', "\u{2039}").into()
}

/// XML 1.0 cannot carry most control characters; a JSON Feed source can. They
/// are dropped from XML outputs (and only there).
fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if s.chars().any(bad) {
        s.chars().filter(|c| !bad(*c)).collect::<String>().into()
    } else {
        s.into()
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn rfc822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A thin layer over quick-xml's writer for the handful of shapes feeds use.
struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    fn new() -> Xml {
        let mut w = Writer::new_with_indent(Vec::with_capacity(64 << 10), b' ', 1);
        // Writing to a Vec cannot fail; results are ignored throughout.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        Xml { w }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute((*k, xml_safe(v).as_ref()));
        }
        let _ = self.w.write_event(Event::Start(start));
    }

    fn close(&mut self, name: &str) {
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute((*k, xml_safe(v).as_ref()));
        }
        let _ = self.w.write_event(Event::Empty(start));
    }

    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        let _ = self
            .w
            .write_event(Event::Text(BytesText::new(xml_safe(text).as_ref())));
        self.close(name);
    }

    fn finish(self) -> Vec<u8> {
        let mut v = self.w.into_inner();
        v.push(b'\n');
        v
    }
}

pub(crate) fn item_html(item: &Item, max_bytes: usize) -> (Option<String>, Option<String>) {
    let base = item_base(item);
    let original = item.link.as_deref().and_then(|l| web_url(l, base));
    let show = |c: &str| sanitize(&capped(c, max_bytes, original.as_deref()), base);
    let content = item.content.as_deref().map(show);
    let summary = item.summary.as_deref().map(show);
    (content, summary)
}

/// At most `max` bytes of `html`: past that, it is cut before the last tag
/// that starts within the limit (so never inside a tag or a character; the
/// sanitizer closes what is left open), and ends with a link to the
/// original. A render then costs the same however big the stored item is.
pub(crate) fn capped<'a>(
    html: &'a str,
    max: usize,
    original: Option<&str>,
) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if html.len() <= max {
        return Cow::Borrowed(html);
    }
    let mut end = max;
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let head = &html[..end];
    let tag_start = head
        .match_indices('<')
        .map(|(i, _)| i)
        .rfind(|&i| {
            head[i + 1..]
                .chars()
                .next()
                .is_some_and(|c| c == '/' || c.is_ascii_alphabetic())
        })
        .filter(|&i| i > 0);
    let in_tag = match (head.rfind('<'), head.rfind('>')) {
        (Some(lt), Some(gt)) => lt > gt,
        (Some(_), None) => true,
        _ => false,
    };
    let cut = match tag_start {
        Some(i) => i,
        None if in_tag => head.rfind('<').unwrap_or(0),
        // In text: at a space after the last tag, else right after it.
        None => {
            let after_tag = head.rfind('>').map_or(0, |i| i + 1);
            head[after_tag..]
                .rfind(char::is_whitespace)
                .map(|i| after_tag + i)
                .filter(|&i| i > 0)
                .or(Some(after_tag).filter(|&i| i > 0))
                .unwrap_or(end)
        }
    };
    let mut out = String::with_capacity(cut + 128);
    out.push_str(&html[..cut]);
    match original {
        Some(link) => {
            out.push_str("<p><a href=\"");
            out.push_str(&link.replace('&', "&amp;").replace('"', "&quot;"));
            out.push_str("\">…</a></p>");
        }
        None => out.push_str("<p>…</p>"),
    }
    Cow::Owned(out)
}

fn generator_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

fn atom(view: &View<'_>, items: &[Item], updated: DateTime<Utc>, page: &Page) -> Vec<u8> {
    let mut x = Xml::new();
    x.open("feed", &[("xmlns", "http://www.w3.org/2005/Atom")]);
    x.text("id", &[], &view.feed_id());
    x.text("title", &[("type", "text")], &view.title());
    x.text("updated", &[], &rfc3339(updated));
    x.empty(
        "link",
        &[
            ("rel", "self"),
            ("type", "application/atom+xml"),
            ("href", &view.page_url(Format::Atom, page.before)),
        ],
    );
    paging_links(&mut x, "link", view, Format::Atom, page);
    x.empty(
        "link",
        &[
            ("rel", "alternate"),
            ("type", "text/html"),
            ("href", &view.home_url()),
        ],
    );
    x.open("author", &[]);
    x.text("name", &[], &view.config.output.title);
    x.close("author");
    x.text("generator", &[("version", &generator_version())], "rafid");
    for item in items {
        let lang = item.language.as_deref().unwrap_or("");
        let attrs: &[(&str, &str)] = if lang.is_empty() {
            &[]
        } else {
            &[("xml:lang", lang)]
        };
        x.open("entry", attrs);
        x.text("id", &[], &item.id.urn());
        x.text(
            "title",
            &[("type", "text")],
            &plain_title(item.title.as_deref().unwrap_or("")),
        );
        let base = item_base(item);
        let link = item.link.as_deref().and_then(|l| web_url(l, base));
        if let Some(link) = &link {
            x.empty("link", &[("rel", "alternate"), ("href", link)]);
        }
        // Every outlet that carried the story, by its own link to it.
        let mut vias: Vec<Cow<'_, str>> = Vec::new();
        for l in item.sources.iter().filter_map(|s| s.item_link.as_deref()) {
            if let Some(l) = web_url(l, None) {
                if !vias.contains(&l) {
                    vias.push(l);
                }
            }
        }
        for via in &vias {
            x.empty("link", &[("rel", "via"), ("href", via)]);
        }
        for enc in &item.enclosures {
            let Some(href) = web_url(&enc.url, base) else {
                continue;
            };
            let len = enc.length.map(|l| l.to_string());
            let mut a = vec![("rel", "enclosure"), ("href", &*href)];
            if let Some(t) = &enc.mime_type {
                a.push(("type", t));
            }
            if let Some(l) = &len {
                a.push(("length", l));
            }
            x.empty("link", &a);
        }
        if item.published.is_some() {
            x.text("published", &[], &rfc3339(item.sort_time()));
        }
        x.text("updated", &[], &rfc3339(item.updated_shown()));
        for a in &item.authors {
            x.open("author", &[]);
            x.text(
                "name",
                &[],
                if a.name.is_empty() {
                    a.email.as_deref().unwrap_or("")
                } else {
                    &a.name
                },
            );
            if let Some(e) = &a.email {
                x.text("email", &[], e);
            }
            if let Some(u) = a.uri.as_deref().and_then(|u| web_url(u, base)) {
                x.text("uri", &[], &u);
            }
            x.close("author");
        }
        for c in &item.categories {
            let mut a = vec![("term", c.term.as_str())];
            if let Some(s) = &c.scheme {
                a.push(("scheme", s));
            }
            if let Some(l) = &c.label {
                a.push(("label", l));
            }
            x.empty("category", &a);
        }
        let (content, summary) = item_html(item, view.config.output.max_item_bytes);
        if let Some(s) = &summary {
            x.text("summary", &[("type", "html")], s);
        }
        if let Some(c) = &content {
            x.text("content", &[("type", "html")], c);
        } else if link.is_none() {
            // RFC 4287 4.1.2: an entry with no alternate link must have content.
            x.text("content", &[("type", "text")], "");
        }
        if let Some(src) = item.sources.first() {
            x.open("source", &[]);
            let id = src
                .feed_id
                .clone()
                .unwrap_or_else(|| redact_str(&src.feed_url));
            x.text("id", &[], &id);
            x.text(
                "title",
                &[],
                &view.source_title(&src.feed_url, src.feed_title.as_deref()),
            );
            x.empty(
                "link",
                &[("rel", "self"), ("href", &redact_str(&src.feed_url))],
            );
            if let Some(site) = src.site_url.as_deref().and_then(|u| web_url(u, None)) {
                x.empty("link", &[("rel", "alternate"), ("href", &site)]);
            }
            x.close("source");
        }
        x.close("entry");
    }
    x.close("feed");
    x.finish()
}

fn rss(view: &View<'_>, items: &[Item], updated: DateTime<Utc>, page: &Page) -> Vec<u8> {
    let mut x = Xml::new();
    x.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:atom", "http://www.w3.org/2005/Atom"),
            ("xmlns:content", "http://purl.org/rss/1.0/modules/content/"),
            ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
        ],
    );
    x.open("channel", &[]);
    x.text("title", &[], &view.title());
    x.text("link", &[], &view.home_url());
    x.text("description", &[], &view.title());
    x.empty(
        "atom:link",
        &[
            ("rel", "self"),
            ("type", "application/rss+xml"),
            ("href", &view.page_url(Format::Rss, page.before)),
        ],
    );
    paging_links(&mut x, "atom:link", view, Format::Rss, page);
    // A channel language only when every item shares it.
    let mut langs = items.iter().map(|i| i.language.as_deref());
    if let Some(Some(first)) = langs.next() {
        if langs.all(|l| l == Some(first)) {
            x.text("language", &[], first);
        }
    }
    x.text("lastBuildDate", &[], &rfc822(updated));
    x.text("generator", &[], &format!("rafid {}", generator_version()));
    for item in items {
        x.open("item", &[]);
        x.text(
            "title",
            &[],
            &plain_title(item.title.as_deref().unwrap_or("")),
        );
        let base = item_base(item);
        if let Some(link) = item.link.as_deref().and_then(|l| web_url(l, base)) {
            x.text("link", &[], &link);
        }
        x.text("guid", &[("isPermaLink", "false")], &item.id.urn());
        x.text("pubDate", &[], &rfc822(item.sort_time()));
        for a in &item.authors {
            let name = if a.name.is_empty() {
                a.email.as_deref().unwrap_or("")
            } else {
                &a.name
            };
            x.text("dc:creator", &[], name);
        }
        for c in &item.categories {
            match &c.scheme {
                Some(s) => x.text("category", &[("domain", s)], &c.term),
                None => x.text("category", &[], &c.term),
            }
        }
        // RSS 2.0 allows one enclosure per item; the first is kept here and
        // every one is in the Atom and JSON outputs.
        let enclosure = item
            .enclosures
            .iter()
            .find_map(|e| Some((e, web_url(&e.url, base)?)));
        if let Some((enc, url)) = enclosure {
            let len = enc.length.unwrap_or(0).to_string();
            x.empty(
                "enclosure",
                &[
                    ("url", &url),
                    ("length", &len),
                    (
                        "type",
                        enc.mime_type
                            .as_deref()
                            .unwrap_or("application/octet-stream"),
                    ),
                ],
            );
        }
        if let Some(lang) = &item.language {
            x.text("dc:language", &[], lang);
        }
        let (content, summary) = item_html(item, view.config.output.max_item_bytes);
        if let Some(d) = summary.as_ref().or(content.as_ref()) {
            x.text("description", &[], d);
        }
        if let Some(c) = &content {
            x.text("content:encoded", &[], c);
        }
        if let Some(src) = item.sources.first() {
            x.text(
                "source",
                &[("url", &redact_str(&src.feed_url))],
                &view.source_title(&src.feed_url, src.feed_title.as_deref()),
            );
        }
        x.close("item");
    }
    x.close("channel");
    x.close("rss");
    x.finish()
}

fn json_feed(view: &View<'_>, items: &[Item], page: &Page) -> Vec<u8> {
    let mut out_items = Vec::with_capacity(items.len());
    for item in items {
        let mut o = Map::new();
        o.insert("id".into(), json!(item.id.urn()));
        let base = item_base(item);
        if let Some(l) = item.link.as_deref().and_then(|l| web_url(l, base)) {
            o.insert("url".into(), json!(l));
        }
        if let Some(t) = &item.title {
            o.insert("title".into(), json!(plain_title(t)));
        }
        let (content, summary) = item_html(item, view.config.output.max_item_bytes);
        match (&content, &summary) {
            (Some(c), _) => {
                o.insert("content_html".into(), json!(c));
            }
            (None, Some(s)) => {
                o.insert("content_html".into(), json!(s));
            }
            (None, None) => {
                o.insert("content_text".into(), json!(""));
            }
        }
        if let (Some(_), Some(s)) = (&content, &summary) {
            o.insert(
                "summary".into(),
                json!(crate::ingest::parse::html_fragment_to_text(s).trim()),
            );
        }
        o.insert("date_published".into(), json!(rfc3339(item.sort_time())));
        if item.updated.is_some() {
            o.insert("date_modified".into(), json!(rfc3339(item.updated_shown())));
        }
        if !item.authors.is_empty() {
            let authors: Vec<Value> = item
                .authors
                .iter()
                .map(|a| {
                    let mut m = Map::new();
                    let name = if a.name.is_empty() {
                        a.email.clone().unwrap_or_default()
                    } else {
                        a.name.clone()
                    };
                    m.insert("name".into(), json!(name));
                    if let Some(u) = a.uri.as_deref().and_then(|u| web_url(u, base)) {
                        m.insert("url".into(), json!(u));
                    }
                    Value::Object(m)
                })
                .collect();
            o.insert("authors".into(), Value::Array(authors));
        }
        if !item.categories.is_empty() {
            let tags: Vec<&str> = item.categories.iter().map(|c| c.term.as_str()).collect();
            o.insert("tags".into(), json!(tags));
        }
        if let Some(l) = &item.language {
            o.insert("language".into(), json!(l));
        }
        let enclosures: Vec<_> = item
            .enclosures
            .iter()
            .filter_map(|e| Some((e, web_url(&e.url, base)?)))
            .collect();
        if !enclosures.is_empty() {
            let att: Vec<Value> = enclosures
                .iter()
                .map(|(e, url)| {
                    let mut m = Map::new();
                    m.insert("url".into(), json!(url));
                    m.insert(
                        "mime_type".into(),
                        json!(e.mime_type.as_deref().unwrap_or("application/octet-stream")),
                    );
                    if let Some(len) = e.length {
                        m.insert("size_in_bytes".into(), json!(len));
                    }
                    Value::Object(m)
                })
                .collect();
            o.insert("attachments".into(), Value::Array(att));
        }
        let sources: Vec<Value> = item
            .sources
            .iter()
            .map(|s| {
                let mut m = Map::new();
                m.insert(
                    "title".into(),
                    json!(view.source_title(&s.feed_url, s.feed_title.as_deref())),
                );
                m.insert("feed_url".into(), json!(redact_str(&s.feed_url)));
                if let Some(h) = s.site_url.as_deref().and_then(|u| web_url(u, None)) {
                    m.insert("home_page_url".into(), json!(h));
                }
                if let Some(l) = s.item_link.as_deref().and_then(|u| web_url(u, None)) {
                    m.insert("url".into(), json!(l));
                }
                Value::Object(m)
            })
            .collect();
        // The outlets besides the first that carried the same story.
        let also: Vec<Value> = sources.iter().skip(1).cloned().collect();
        o.insert(
            "_rafid".into(),
            json!({ "sources": sources, "also_reported_by": also }),
        );
        out_items.push(Value::Object(o));
    }
    let mut feed = Map::new();
    feed.insert("version".into(), json!("https://jsonfeed.org/version/1.1"));
    feed.insert("title".into(), json!(view.title()));
    feed.insert("home_page_url".into(), json!(view.home_url()));
    feed.insert(
        "feed_url".into(),
        json!(view.page_url(Format::Json, page.before)),
    );
    if let Some(next) = page.next {
        feed.insert(
            "next_url".into(),
            json!(view.page_url(Format::Json, Some(next))),
        );
    }
    if let Some(hub) = &view.config.websub.hub {
        feed.insert(
            "hubs".into(),
            json!([{ "type": "WebSub", "url": hub.as_str() }]),
        );
    }
    let mut langs = items.iter().map(|i| i.language.as_deref());
    if let Some(Some(first)) = langs.next() {
        if langs.all(|l| l == Some(first)) {
            feed.insert("language".into(), json!(first));
        }
    }
    feed.insert(
        "_rafid".into(),
        json!({ "about": "https://github.com/rafid-aggregator/rafid", "id": view.feed_id() }),
    );
    feed.insert("items".into(), Value::Array(out_items));
    let mut out = serde_json::to_vec_pretty(&Value::Object(feed)).unwrap_or_default();
    out.push(b'\n');
    out
}

/// RFC 5005 links of a paged feed, and WebSub's hub (the self link, which
/// WebSub needs too, is written by the caller).
fn paging_links(x: &mut Xml, element: &str, view: &View<'_>, format: Format, page: &Page) {
    let kind = format.media_type();
    if page.before.is_some() {
        x.empty(
            element,
            &[
                ("rel", "first"),
                ("type", kind),
                ("href", &view.page_url(format, None)),
            ],
        );
    }
    if let Some(next) = page.next {
        x.empty(
            element,
            &[
                ("rel", "next"),
                ("type", kind),
                ("href", &view.page_url(format, Some(next))),
            ],
        );
    }
    if let Some(hub) = &view.config.websub.hub {
        x.empty(element, &[("rel", "hub"), ("href", hub.as_str())]);
    }
}

/// The subscription list as OPML 2.0: one `<outline>` per feed, inside
/// nested folder outlines for its tags (`news`, then `ar` inside it, for
/// `tags = ["news", "ar"]`: importing gives the same tags back), secrets in
/// URLs redacted (see `config::redact_url`).
pub fn opml(config: &Config) -> Vec<u8> {
    opml_with(config, &HashMap::new(), false)
}

/// The feeds' own titles, as their polls found them (`FeedState::title`),
/// by feed key: what the subscription list shows for a feed the config
/// gives no title.
pub fn own_titles(store: &Store) -> HashMap<String, String> {
    store
        .feed_states()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, s)| Some((k, s.title?)))
        .collect()
}

/// `opml` naming an untitled feed by its own title from `own` (see
/// `own_titles`), else by its URL; with `configured`, each feed's URL as
/// configured, secrets and all: only for whoever holds the admin token.
pub fn opml_with(config: &Config, own: &HashMap<String, String>, configured: bool) -> Vec<u8> {
    let mut x = Xml::new();
    x.open("opml", &[("version", "2.0")]);
    x.open("head", &[]);
    x.text("title", &[], &config.output.title);
    x.close("head");
    x.open("body", &[]);
    // Folders, and feeds within them, in the order they first appear.
    #[derive(Default)]
    struct Folder<'a> {
        entries: Vec<(&'a str, Option<Folder<'a>>, usize)>,
    }
    fn insert<'a>(folder: &mut Folder<'a>, path: &'a [String], i: usize) {
        let Some((tag, rest)) = path.split_first() else {
            folder.entries.push(("", None, i));
            return;
        };
        let found = folder
            .entries
            .iter()
            .position(|(name, sub, _)| sub.is_some() && *name == tag.as_str());
        let at = found.unwrap_or_else(|| {
            folder.entries.push((tag, Some(Folder::default()), 0));
            folder.entries.len() - 1
        });
        // The entry found or pushed is a folder.
        if let Some(sub) = folder.entries[at].1.as_mut() {
            insert(sub, rest, i);
        }
    }
    let mut root = Folder::default();
    for (i, f) in config.feeds.iter().enumerate() {
        insert(&mut root, &f.tags, i);
    }
    let url_of = |f: &crate::config::FeedConfig| {
        if configured {
            f.key().to_string()
        } else {
            redact_str(f.key())
        }
    };
    fn write(
        x: &mut Xml,
        folder: &Folder<'_>,
        config: &Config,
        own: &HashMap<String, String>,
        url_of: &dyn Fn(&crate::config::FeedConfig) -> String,
    ) {
        for (name, sub, i) in &folder.entries {
            match sub {
                Some(sub) => {
                    x.open("outline", &[("text", name), ("title", name)]);
                    write(x, sub, config, own, url_of);
                    x.close("outline");
                }
                None => {
                    let f = &config.feeds[*i];
                    let url = url_of(f);
                    let title = f
                        .title
                        .clone()
                        .or_else(|| own.get(f.key()).cloned())
                        .unwrap_or_else(|| url.clone());
                    x.empty(
                        "outline",
                        &[
                            ("type", "rss"),
                            ("text", title.as_str()),
                            ("title", title.as_str()),
                            ("xmlUrl", url.as_str()),
                        ],
                    );
                }
            }
        }
    }
    write(&mut x, &root, config, own, &url_of);
    x.close("body");
    x.close("opml");
    x.finish()
}

/// The rendered outputs the server hands out, replaced as a whole after
/// every change. Readers clone an `Arc` and never wait on a render.
#[derive(Default)]
pub struct Outputs {
    cache: RwLock<HashMap<(Scope, Format), Arc<Rendered>>>,
    /// Older pages, rendered on first request. Bounded, because anyone can
    /// ask for any cursor.
    pages: RwLock<HashMap<(Scope, Format, Cursor), Arc<Rendered>>>,
    /// Renders under way on request, so concurrent requests for one page
    /// wait for one render instead of each doing it.
    inflight: Mutex<HashMap<PageKey, Arc<RenderCell>>>,
    /// What the rivers' rules said of each item, for the next render.
    verdicts: Verdicts,
}

/// One page of one scope in one format: `None` is the first page.
type PageKey = (Scope, Format, Option<Cursor>);

/// The outcome of one render shared by every request that waited on it;
/// the error is a message for the log.
type RenderCell = tokio::sync::OnceCell<Result<Arc<Rendered>, String>>;

/// Older pages kept at most; past it the page cache starts again empty.
const PAGES_CACHED: usize = 256;

impl Outputs {
    pub fn get(&self, scope: &Scope, format: Format) -> Option<Arc<Rendered>> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.get(&(scope.clone(), format)).cloned()
    }

    pub fn put(&self, scope: Scope, format: Format, r: Rendered) -> Arc<Rendered> {
        let r = Arc::new(r);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.insert((scope, format), r.clone());
        r
    }

    pub fn get_page(&self, scope: &Scope, format: Format, c: Cursor) -> Option<Arc<Rendered>> {
        let pages = self.pages.read().unwrap_or_else(|p| p.into_inner());
        pages.get(&(scope.clone(), format, c)).cloned()
    }

    pub fn put_page(&self, scope: Scope, format: Format, c: Cursor, r: Rendered) -> Arc<Rendered> {
        let r = Arc::new(r);
        let mut pages = self.pages.write().unwrap_or_else(|p| p.into_inner());
        if pages.len() >= PAGES_CACHED {
            pages.clear();
        }
        pages.insert((scope, format, c), r.clone());
        r
    }

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

    /// Forgets every rendered output (they are rendered again on request).
    pub fn clear(&self) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.pages
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The cached page, else the one `render` makes, rendered once however
    /// many requests ask at the same time: the first runs `render`, the
    /// others wait for its result (if the first gives up, the next one
    /// renders). The result is cached.
    pub async fn get_or_render<F, Fut>(
        &self,
        scope: &Scope,
        format: Format,
        before: Option<Cursor>,
        render: F,
    ) -> Result<Arc<Rendered>, String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Rendered, String>>,
    {
        let cached = |o: &Outputs| match before {
            None => o.get(scope, format),
            Some(c) => o.get_page(scope, format, c),
        };
        if let Some(r) = cached(self) {
            return Ok(r);
        }
        let key = (scope.clone(), format, before);
        let cell = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            inflight.entry(key.clone()).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async {
                // A render that ended just before this one began is reused.
                if let Some(r) = cached(self) {
                    return Ok(r);
                }
                let r = render().await?;
                Ok(match before {
                    None => self.put(scope.clone(), format, r),
                    Some(c) => self.put_page(scope.clone(), format, c, r),
                })
            })
            .await
            .clone();
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(&key);
        }
        result
    }

    /// Holds the cache so that no refresh can finish: for tests of what
    /// happens while a render runs.
    #[cfg(test)]
    pub(crate) fn hold_for_test(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<(Scope, Format), Arc<Rendered>>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Renders the main feed in every format and forgets every other scope
    /// (tags are rendered again on their next request).
    pub fn refresh(&self, store: &Store, config: &Config) -> Result<(), StoreError> {
        let limit = config.output.max_items;
        let (items, page) = read_page(store, config, &self.verdicts, &Scope::All, limit, None)?;
        let view = View {
            config,
            store_id: store.store_id(),
            scope: &Scope::All,
            since: store.created(),
        };
        let mut fresh = HashMap::new();
        for f in Format::ALL {
            fresh.insert(
                (Scope::All, f),
                Arc::new(render_page(&view, &items, f, &page)),
            );
        }
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        *cache = fresh;
        drop(cache);
        self.pages
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ItemId, Source};
    use std::path::Path;

    fn config() -> Config {
        crate::config::parse(
            Path::new("t.toml"),
            "[output]\ntitle = \"نهر\"\n[[feed]]\nurl = \"https://a.example/f?token=s3cret\"\ntags = [\"news\"]\n",
        )
        .unwrap()
    }

    fn item() -> Item {
        Item {
            id: ItemId([1; 16]),
            title: Some("خبر <عاجل> & مهم".into()),
            link: Some("https://a.example/n/1".into()),
            content: Some(
                "<p onclick=\"x()\">نص <script>alert(1)</script><img src=\"/i.png\"></p>".into(),
            ),
            summary: None,
            published: Some(
                DateTime::parse_from_rfc3339("2024-03-01T10:00:00Z")
                    .unwrap()
                    .into(),
            ),
            updated: None,
            first_seen: DateTime::parse_from_rfc3339("2024-03-01T10:05:00Z")
                .unwrap()
                .into(),
            authors: vec![],
            categories: vec![],
            enclosures: vec![],
            language: Some("ar".into()),
            base: Some("https://a.example/n/1".into()),
            sources: vec![Source {
                feed_url: "https://a.example/f?token=s3cret".into(),
                feed_title: Some("المصدر".into()),
                feed_id: None,
                site_url: None,
                item_link: Some("https://a.example/n/1".into()),
                guid: None,
                copy: None,
            }],
            revision: String::new(),
            keys: vec![],
        }
    }

    #[test]
    fn every_url_in_every_output_is_http_and_absolute() {
        use crate::model::{Enclosure, Person};
        let cfg = config();
        let view = View {
            config: &cfg,
            store_id: [0; 16],
            since: chrono::DateTime::UNIX_EPOCH,
            scope: &Scope::All,
        };
        let bad = [
            "javascript:alert(1)",
            " JavaScript:alert(2)",
            "java\tscript:alert(3)",
            "data:text/html,<script>alert(4)</script>",
            "vbscript:msgbox(5)",
        ];
        for b in bad {
            // The item's own link, an enclosure, an author's URI, a source.
            let mut it = item();
            it.link = Some(b.to_string());
            it.base = None;
            it.enclosures = vec![Enclosure {
                url: b.to_string(),
                mime_type: Some("audio/mpeg".into()),
                length: Some(1),
            }];
            it.authors = vec![Person {
                name: "كاتب".into(),
                email: None,
                uri: Some(b.to_string()),
            }];
            it.sources[0].item_link = Some(b.to_string());
            it.sources[0].site_url = Some(b.to_string());
            for f in Format::ALL {
                let body =
                    String::from_utf8(render(&view, &[it.clone()], f).body.to_vec()).unwrap();
                let lower = body.to_ascii_lowercase();
                for scheme in ["javascript:", "vbscript:", "data:text", "script:alert"] {
                    assert!(!lower.contains(scheme), "{f:?} publishes {b:?}:\n{body}");
                }
            }
        }
        // Relative URLs come out absolute, against the item's base.
        let mut it = item();
        it.enclosures = vec![Enclosure {
            url: "/audio/1.mp3".into(),
            mime_type: Some("audio/mpeg".into()),
            length: Some(1),
        }];
        it.authors = vec![Person {
            name: "كاتب".into(),
            email: None,
            uri: Some("../writers/7".into()),
        }];
        for f in Format::FEEDS {
            let body = String::from_utf8(render(&view, &[it.clone()], f).body.to_vec()).unwrap();
            assert!(
                body.contains("https://a.example/audio/1.mp3"),
                "{f:?}:\n{body}"
            );
            assert!(!body.contains("\"/audio/1.mp3"), "{f:?}:\n{body}");
            if f != Format::Rss {
                // RSS has no element for an author's URI.
                assert!(
                    body.contains("https://a.example/writers/7"),
                    "{f:?}:\n{body}"
                );
                assert!(!body.contains("../writers"), "{f:?}:\n{body}");
            }
        }
    }

    #[test]
    fn outputs_carry_text_exactly_and_sanitize_content() {
        let cfg = config();
        let view = View {
            config: &cfg,
            store_id: [0; 16],
            scope: &Scope::All,
            since: DateTime::UNIX_EPOCH,
        };
        for f in Format::ALL {
            let r = render(&view, &[item()], f);
            let body = String::from_utf8(r.body.to_vec()).unwrap();
            assert!(!body.contains("s3cret"), "{f:?} leaks a secret");
            assert!(!body.contains("alert(1)"), "{f:?} keeps script");
            assert!(!body.contains("onclick"), "{f:?} keeps handlers");
            // The river page shows plain-text excerpts, without images.
            assert!(
                f == Format::Html || body.contains("https://a.example/i.png"),
                "{f:?}: relative image"
            );
            if f == Format::Json {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["items"][0]["title"], "خبر <عاجل> & مهم");
                assert_eq!(v["items"][0]["_rafid"]["sources"][0]["title"], "المصدر");
            } else {
                assert!(body.contains("خبر &lt;عاجل&gt; &amp; مهم"), "{body}");
            }
            assert!(r.etag.starts_with('"') && r.etag.len() == 34);
        }
    }

    #[test]
    fn same_items_render_the_same_bytes() {
        let cfg = config();
        let view = View {
            config: &cfg,
            store_id: [0; 16],
            scope: &Scope::All,
            since: DateTime::UNIX_EPOCH,
        };
        let a = render(&view, &[item()], Format::Atom);
        let b = render(&view, &[item()], Format::Atom);
        assert_eq!(a.body, b.body);
        assert_eq!(a.etag, b.etag);
    }

    #[test]
    fn opml_lists_every_feed_redacted() {
        let out = String::from_utf8(opml(&config())).unwrap();
        assert!(out.contains("<opml version=\"2.0\">"));
        assert!(
            out.contains("xmlUrl=\"https://a.example/f?token=redacted\""),
            "{out}"
        );
        // Tags are folders.
        assert!(
            out.contains("<outline text=\"news\" title=\"news\">\n   <outline type=\"rss\""),
            "{out}"
        );
    }

    #[test]
    fn tags_follow_the_config() {
        let cfg = config();
        assert!(in_scope(&cfg, &Scope::Tag("news".into()), &item()));
        assert!(!in_scope(&cfg, &Scope::Tag("sport".into()), &item()));
    }

    #[test]
    fn a_huge_item_is_cut_at_an_element_boundary_and_links_to_the_original() {
        let cfg =
            crate::config::parse(Path::new("t.toml"), "[output]\nmax_item_bytes = \"4KiB\"\n")
                .unwrap();
        assert_eq!(cfg.output.max_item_bytes, 4096);
        let view = View {
            config: &cfg,
            store_id: [0; 16],
            since: chrono::DateTime::UNIX_EPOCH,
            scope: &Scope::All,
        };
        let paragraph = "<p>فقرة كاملة من النص العربي تنتهي هنا.</p>";
        let mut big = item();
        big.content = Some(paragraph.repeat(5000));
        for f in [Format::Atom, Format::Rss, Format::Json] {
            let body = String::from_utf8(render(&view, &[big.clone()], f).body.to_vec()).unwrap();
            assert!(body.len() < 12 * 1024, "{f:?}: {} bytes", body.len());
            let whole = body.matches("تنتهي هنا.").count();
            assert!(whole > 10, "{f:?}: {whole} paragraphs");
            // Every paragraph shown is whole: none was cut in its text.
            assert_eq!(body.matches("فقرة كاملة").count(), whole, "{f:?}");
            let mark = body.find('…').expect("the cut is marked");
            let from = (0..=mark.saturating_sub(120))
                .rev()
                .find(|&i| body.is_char_boundary(i))
                .unwrap_or(0);
            let before = &body[from..mark];
            assert!(before.contains("https://a.example/n/1"), "{f:?}: {before}");
        }
        // Small items are untouched.
        let small = item_html(&item(), cfg.output.max_item_bytes).0.unwrap();
        assert!(!small.contains('…'), "{small}");
        assert_eq!(
            crate::config::parse(Path::new("t.toml"), "")
                .unwrap()
                .output
                .max_item_bytes,
            256 * 1024
        );
    }

    #[test]
    fn capping_never_cuts_inside_a_tag_or_a_character() {
        let html = "<p>ابت</p><a href=\"https://x.example/very/long/path\">ثجح</a>";
        for max in 1..html.len() {
            let c = capped(html, max, None);
            assert!(c.ends_with("<p>…</p>"), "{max}: {c}");
            let kept = &c[..c.len() - "<p>…</p>".len()];
            assert!(html.starts_with(kept), "{max}: {c}");
            let rest = &html[kept.len()..];
            assert!(
                kept.is_empty() || rest.starts_with('<') || kept.ends_with('>'),
                "{max}: cut inside: {kept}"
            );
        }
        assert_eq!(capped(html, html.len(), None), html);
    }

    #[tokio::test]
    async fn concurrent_requests_for_one_page_render_it_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let outputs = Arc::new(Outputs::default());
        let renders = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(tokio::sync::Notify::new());
        let cfg = config();
        let view = View {
            config: &cfg,
            store_id: [0; 16],
            since: chrono::DateTime::UNIX_EPOCH,
            scope: &Scope::All,
        };
        let page = render(&view, &[item()], Format::Atom);
        let cursor = Cursor::after(&item());
        let mut waiting = Vec::new();
        for _ in 0..32 {
            let (outputs, renders, go, page) =
                (outputs.clone(), renders.clone(), go.clone(), page.clone());
            waiting.push(tokio::spawn(async move {
                let scope = Scope::Tag("news".into());
                outputs
                    .get_or_render(&scope, Format::Atom, Some(cursor), || async {
                        renders.fetch_add(1, Ordering::SeqCst);
                        go.notified().await;
                        Ok(page)
                    })
                    .await
                    .map(|r| r.etag.clone())
            }));
        }
        // Every request is waiting now (this test runs on one thread).
        for _ in 0..64 {
            tokio::task::yield_now().await;
        }
        go.notify_waiters();
        for w in waiting {
            assert_eq!(w.await.unwrap().unwrap(), page.etag);
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        assert!(
            outputs
                .get_page(&Scope::Tag("news".into()), Format::Atom, cursor)
                .is_some()
        );
    }
}
