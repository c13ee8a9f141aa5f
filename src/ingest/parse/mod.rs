//! Parsing: a decoded document → feed-rs → rafid's `ParsedFeed`. feed-rs
//! types never leave this module.

use feed_rs::model as fr;
use url::Url;

use crate::model::{Category, Enclosure, Entry, FeedMeta, ParsedFeed, Person};

mod cadence;
mod limits;
mod repair;

use cadence::syndication_period;
pub use cadence::{entry_date, publish_gap};
pub use limits::{Deadline, MAX_PARSE_CPU, ParseError};
use repair::{PERSON_ELEMENTS, prepare, strip_elements};

/// Parses one document (already decoded to UTF-8, see `fetch::decode_body`).
/// `base` is the URL the document was fetched from; relative links resolve
/// against it. Keeps at most `max_items` entries, the newest. Takes at most
/// `MAX_PARSE_CPU` of CPU time.
pub fn parse(doc: &str, base: &Url, max_items: usize) -> Result<ParsedFeed, ParseError> {
    parse_within(doc, base, max_items, &Deadline::new(MAX_PARSE_CPU, None))
}

/// `parse`, stopped by `deadline`.
pub fn parse_within(
    doc: &str,
    base: &Url,
    max_items: usize,
    deadline: &Deadline,
) -> Result<ParsedFeed, ParseError> {
    let parser = feed_parser(base);
    let doc = prepare(doc, deadline)?;
    let doc = doc.as_ref();
    deadline.check()?;
    let feed = match parse_guarded(&parser, doc) {
        Ok(r) => r,
        // feed-rs 3.0 panics on some author fields (it slices an e-mail
        // address inside a multi-byte character); without them the rest of
        // the document can still be read.
        Err(_) => parse_guarded(&parser, &strip_elements(doc, PERSON_ELEMENTS))
            .map_err(|_| ParseError::NotAFeed("the feed parser failed on this document".into()))?,
    }
    .map_err(|e| ParseError::NotAFeed(describe(doc, &e.to_string())))?;
    deadline.check()?;
    let mut parsed = convert(feed, base, max_items, deadline)?;
    if doc.trim_start().starts_with('<') {
        parsed.meta.update_period = syndication_period(doc);
    }
    Ok(parsed)
}

fn feed_parser(base: &Url) -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // feed-rs invents an id (a random UUID for an item with neither id nor
        // link) when the source gives none; rafid derives its own identity, so
        // it must know which ids were really in the document.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build()
}

/// Runs feed-rs, turning a panic inside it into an error: a document must
/// never take the poll down with it.
fn parse_guarded(
    parser: &feed_rs::parser::Parser,
    doc: &str,
) -> Result<feed_rs::parser::ParseFeedResult<fr::Feed>, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parser.parse(doc.as_bytes())
    }))
    .map_err(|_| ())
}

fn describe(doc: &str, err: &str) -> String {
    let head: String = doc.trim_start().chars().take(512).collect::<String>();
    let head = head.to_ascii_lowercase();
    if head.is_empty() {
        "empty document".into()
    } else if head.starts_with("<!doctype html") || head.contains("<html") {
        "an HTML page, not a feed".into()
    } else {
        err.to_string()
    }
}

fn convert(
    feed: fr::Feed,
    base: &Url,
    max_items: usize,
    deadline: &Deadline,
) -> Result<ParsedFeed, ParseError> {
    let site_url = pick_link(&feed.links, base).filter(|l| l != base.as_str());
    let feed_lang = feed.language.clone().filter(|l| !l.trim().is_empty());
    let meta = FeedMeta {
        id: Some(feed.id.clone()).filter(|s| !s.trim().is_empty()),
        title: feed
            .title
            .as_ref()
            .map(text_to_plain)
            .filter(|t| !t.is_empty()),
        site_url,
        language: feed_lang.clone(),
        ttl_minutes: feed.ttl,
        update_period: None,
    };
    let mut entries: Vec<Entry> = Vec::with_capacity(feed.entries.len());
    for e in feed.entries {
        // An entry's titles and links go through an HTML parser and URL
        // joins: a few dozen steps' worth.
        deadline.step(64)?;
        entries.push(convert_entry(e, base, feed_lang.as_deref()));
    }
    if entries.len() > max_items {
        // Keep the newest; undated items count as newest (they are current
        // in the document), and the sort is stable so document order stays.
        entries.sort_by_key(|e| {
            std::cmp::Reverse(
                e.published
                    .or(e.updated)
                    .map(|d| d.timestamp())
                    .unwrap_or(i64::MAX),
            )
        });
        entries.truncate(max_items);
    }
    Ok(ParsedFeed { meta, entries })
}

fn convert_entry(e: fr::Entry, base: &Url, feed_lang: Option<&str>) -> Entry {
    let entry_base = e
        .base
        .as_deref()
        .and_then(|b| base.join(b).ok())
        .unwrap_or_else(|| base.clone());
    let link = pick_link(&e.links, &entry_base);
    let mut enclosures: Vec<Enclosure> = Vec::new();
    let mut push_enclosure = |enc: Enclosure| {
        if !enclosures.iter().any(|x| x.url == enc.url) {
            enclosures.push(enc);
        }
    };
    for l in &e.links {
        if l.rel.as_deref() == Some("enclosure") {
            if let Some(url) = absolute(&l.href, &entry_base) {
                push_enclosure(Enclosure {
                    url,
                    mime_type: l.media_type.clone(),
                    length: l.length,
                });
            }
        }
    }
    for m in &e.media {
        for c in &m.content {
            // Only http(s), as for enclosure links; the outputs filter
            // again whatever the store holds.
            if let Some(url) = c
                .url
                .as_ref()
                .and_then(|u| absolute(u.as_str(), &entry_base))
            {
                push_enclosure(Enclosure {
                    url,
                    mime_type: c.content_type.as_ref().map(|t| t.to_string()),
                    length: c.size,
                });
            }
        }
    }
    let content = e.content.as_ref().and_then(|c| {
        let body = c.body.as_deref()?;
        let html = if is_plain(c.content_type.essence().to_string().as_str()) {
            plain_to_html(body)
        } else {
            body.to_string()
        };
        Some(html).filter(|s| !s.trim().is_empty())
    });
    let summary = e.summary.as_ref().and_then(|t| {
        let html = if is_plain(t.content_type.essence().to_string().as_str()) {
            plain_to_html(&t.content)
        } else {
            t.content.clone()
        };
        Some(html).filter(|s| !s.trim().is_empty())
    });
    Entry {
        guid: Some(e.id.trim().to_string()).filter(|s| !s.is_empty()),
        title: e
            .title
            .as_ref()
            .map(text_to_plain)
            .filter(|t| !t.is_empty()),
        content,
        summary,
        published: e.published,
        // feed-rs copies the published date into `updated` when the source
        // gave none; only a distinct date is the source's own.
        updated: e.updated.filter(|u| Some(*u) != e.published),
        authors: e
            .authors
            .iter()
            .filter(|p| {
                p.name.as_deref().is_some_and(|n| !n.trim().is_empty()) || p.email.is_some()
            })
            .map(|p| Person {
                name: p.name.as_deref().unwrap_or("").trim().to_string(),
                email: p.email.clone(),
                uri: p.uri.clone(),
            })
            .collect(),
        categories: e
            .categories
            .iter()
            .filter(|c| !c.term.trim().is_empty())
            .map(|c| Category {
                term: c.term.trim().to_string(),
                scheme: c.scheme.clone(),
                label: c.label.clone(),
            })
            .collect(),
        enclosures,
        language: e
            .language
            .clone()
            .filter(|l| !l.trim().is_empty())
            .or_else(|| feed_lang.map(str::to_string)),
        // Relative URLs in the content resolve against xml:base when the
        // document set one, else the item's own link, else the feed's URL.
        base: if e.base.is_some() {
            Some(entry_base.to_string())
        } else {
            link.clone().or_else(|| Some(base.to_string()))
        },
        link,
    }
}

fn is_plain(essence: &str) -> bool {
    essence == "text/plain" || essence == "text"
}

/// The item's link: the first `alternate` (or rel-less) link, else any link
/// that is not an enclosure or comments link; made absolute.
fn pick_link(links: &[fr::Link], base: &Url) -> Option<String> {
    let alternate = links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")));
    let any = || {
        links.iter().find(|l| {
            !matches!(
                l.rel.as_deref(),
                Some("enclosure" | "self" | "replies" | "hub" | "edit")
            )
        })
    };
    let l = alternate.or_else(any)?;
    absolute(&l.href, base)
}

fn absolute(href: &str, base: &Url) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    match base.join(href) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u.to_string()),
        Ok(_) => None,
        Err(_) => None,
    }
}

/// A title as plain text: an HTML title read as text the way every stage
/// reads markup (`crate::text`), on one line (feed readers render titles as
/// text, and many render RSS titles as HTML); a plain title left exactly as
/// it came, runs of spaces included, but for entities it carries. The ends
/// are trimmed.
fn text_to_plain(t: &fr::Text) -> String {
    let raw = t.content.as_str();
    let looks_html = !is_plain(t.content_type.essence().to_string().as_str()) || raw.contains('<');
    let text = if looks_html && (raw.contains('<') || raw.contains('&')) {
        crate::text::html_to_text(raw).replace('\n', " ")
    } else if has_named_reference(raw) {
        // An HTML entity the XML parser did not know (`&eacute;`, `&nbsp;`)
        // stays literal in a text title, and so does a reference escaped
        // twice (`&amp;#8211;`, as WordPress writes titles); readers must
        // see the character.
        crate::text::decode_entities(raw)
    } else {
        raw.to_string()
    };
    text.trim().to_string()
}

/// Whether `s` holds something like `&name;`, `&#8211;` or `&#x2013;`.
fn has_named_reference(s: &str) -> bool {
    s.match_indices('&').any(|(i, _)| {
        let tail = &s[i + 1..];
        let (tail, digit): (&str, fn(&char) -> bool) = match tail
            .strip_prefix('#')
            .map(|t| t.strip_prefix(['x', 'X']).ok_or(t))
        {
            Some(Ok(hex)) => (hex, char::is_ascii_hexdigit),
            Some(Err(dec)) => (dec, char::is_ascii_digit),
            None => (tail, char::is_ascii_alphanumeric),
        };
        let n = tail.find(|c: char| !digit(&c)).unwrap_or(tail.len());
        n > 0 && tail[n..].starts_with(';')
    })
}

/// Plain text as HTML: escaped, line breaks kept.
pub fn plain_to_html(text: &str) -> String {
    crate::text::escape(text).replace('\n', "<br>\n")
}

#[cfg(test)]
mod tests {
    use super::repair::{MAX_ENTITY_EXPANSION, prefix, repair_json_feed, rss_with_version};
    use super::*;
    use chrono::Utc;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    fn base() -> Url {
        Url::parse("https://news.example/feed.xml").unwrap()
    }

    #[test]
    fn rss_items_without_guid_or_link_get_no_invented_id() {
        let doc = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
            <item><title>بلا معرف</title><description>نص</description></item>
            </channel></rss>"#;
        let f = parse(doc, &base(), 1000).unwrap();
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.entries[0].guid, None);
        assert_eq!(f.entries[0].link, None);
        assert_eq!(f.entries[0].title.as_deref(), Some("بلا معرف"));
    }

    #[test]
    fn html_titles_become_plain_text_and_links_absolute() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><id>urn:f</id>
            <entry><id>urn:e1</id><title type="html">&lt;b&gt;عاجل&lt;/b&gt;: خبر &amp;amp; تحليل</title>
            <link href="/news/1"/><updated>2024-01-02T03:04:05Z</updated>
            <link rel="enclosure" href="/a.mp3" type="audio/mpeg" length="12"/></entry></feed>"#;
        let f = parse(doc, &base(), 1000).unwrap();
        let e = &f.entries[0];
        assert_eq!(e.title.as_deref(), Some("عاجل: خبر & تحليل"));
        assert_eq!(e.link.as_deref(), Some("https://news.example/news/1"));
        assert_eq!(e.guid.as_deref(), Some("urn:e1"));
        assert_eq!(e.enclosures.len(), 1);
        assert_eq!(e.enclosures[0].url, "https://news.example/a.mp3");
    }

    #[test]
    fn syndication_module_and_ttl_are_read() {
        let doc = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns="http://purl.org/rss/1.0/" xmlns:syn="http://purl.org/rss/1.0/modules/syndication/">
            <channel rdf:about="https://s.example/"><title>S</title><link>https://s.example/</link>
            <syn:updatePeriod>hourly</syn:updatePeriod><syn:updateFrequency>4</syn:updateFrequency>
            </channel><item rdf:about="https://s.example/1"><title>a</title><link>https://s.example/1</link></item>
            </rdf:RDF>"#;
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(
            f.meta.update_period,
            Some(std::time::Duration::from_secs(900))
        );
        let rss = r#"<rss version="2.0"><channel><title>T</title><ttl>90</ttl></channel></rss>"#;
        let f = parse(rss, &base(), 10).unwrap();
        assert_eq!(f.meta.ttl_minutes, Some(90));
        assert_eq!(f.meta.update_period, None);
    }

    #[test]
    fn publish_gap_is_the_median_and_grows_when_quiet() {
        let now = Utc::now();
        let at = |h: i64| Entry {
            published: Some(now - chrono::Duration::hours(h)),
            ..Entry::default()
        };
        let busy = [at(0), at(1), at(2), at(3), at(5)];
        assert_eq!(
            publish_gap(&busy, now),
            Some(std::time::Duration::from_secs(3600))
        );
        let quiet = [at(100), at(101), at(102)];
        assert_eq!(
            publish_gap(&quiet, now),
            Some(std::time::Duration::from_secs(50 * 3600))
        );
        assert_eq!(publish_gap(&[at(1), at(2)], now), None);
    }

    #[test]
    fn internal_entities_expand_within_a_bound() {
        let doc = r#"<?xml version="1.0"?><!DOCTYPE rss [ <!ENTITY co "شركة الرافد"> <!ENTITY ext SYSTEM "file:///etc/passwd"> ]>
            <rss version="2.0"><channel><title>&co;</title><item><title>خبر من &co; &amp; &ext;</title></item></channel></rss>"#;
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(f.meta.title.as_deref(), Some("شركة الرافد"));
        assert_eq!(
            f.entries[0].title.as_deref(),
            Some("خبر من شركة الرافد & &ext;")
        );

        let mut lol = String::from("<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY lol0 \"lol\">");
        for i in 1..10 {
            let refs = format!("&lol{};", i - 1).repeat(10);
            lol.push_str(&format!("<!ENTITY lol{i} \"{refs}\">"));
        }
        lol.push_str("]><rss version=\"2.0\"><channel><title>&lol9;</title></channel></rss>");
        let err = parse(&lol, &base(), 10).unwrap_err();
        assert!(err.to_string().contains("billion laughs"), "{err}");
    }

    /// An RSS document whose DTD declares `decls` empty entities, with
    /// `refs` copies of `reference` in an item's description.
    fn entity_heavy(decls: usize, refs: usize, reference: &str) -> String {
        let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE rss [");
        for i in 0..decls {
            doc.push_str(&format!("<!ENTITY e{i} \"\">"));
        }
        doc.push_str(
            "]><rss version=\"2.0\"><channel><title>T</title><item><title>x</title><description>",
        );
        doc.push_str(&reference.repeat(refs));
        doc.push_str("</description></item></channel></rss>");
        doc
    }

    #[test]
    fn every_entity_reference_is_charged_against_the_bound() {
        // Undeclared references, and references to an empty entity, used to
        // cost nothing: 300,000 of either passed, each looked up by a scan
        // of every declaration.
        for reference in ["&zzzzzzzz;", "&e1;"] {
            let doc = entity_heavy(2000, 300_000, reference);
            let err = parse(&doc, &base(), 10).unwrap_err();
            assert!(
                matches!(err, ParseError::Refused(_)) && err.to_string().contains("entit"),
                "{reference}: {err}"
            );
        }
        // References XML defines itself are not charged, however many.
        let doc = entity_heavy(2000, 300_000, "&amp;&#1593;");
        let f = parse(&doc, &base(), 10).unwrap();
        assert_eq!(f.entries.len(), 1);
    }

    #[test]
    fn the_quadratic_entity_document_costs_linear_work() {
        // 40,000 empty declarations and 400,000 undeclared references
        // (4.9 MB): refused, after work in proportion to its size.
        let doc = entity_heavy(40_000, 400_000, "&zzzzzzzz;");
        let deadline = Deadline::new(Duration::from_secs(3600), None);
        let err = parse_within(&doc, &base(), 10, &deadline).unwrap_err();
        assert!(matches!(err, ParseError::Refused(_)), "{err}");
        assert!(
            deadline.steps() <= doc.len() as u64 / 8,
            "{} steps for {} bytes",
            deadline.steps(),
            doc.len()
        );
    }

    #[test]
    fn a_parse_stops_at_its_deadline_and_at_shutdown() {
        let doc = entity_heavy(10, 100_000, "&e1;&amp;");
        let over = Deadline::new(Duration::ZERO, None);
        // Burn a little CPU so that the thread's clock has moved.
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(matches!(
            parse_within(&doc, &base(), 10, &over),
            Err(ParseError::OverTime(_))
        ));
        let stop = CancellationToken::new();
        stop.cancel();
        let stopped = Deadline::new(Duration::from_secs(3600), Some(stop));
        assert!(matches!(
            parse_within(&doc, &base(), 10, &stopped),
            Err(ParseError::Cancelled)
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever mix of declarations and references a document holds, its
        /// parse ends without a panic, in work linear in its size, and the
        /// expansion stays within its bound.
        #[test]
        fn entity_heavy_documents_cost_linear_work(
            decls in proptest::collection::vec(("[a-z]{1,3}", "(&[a-z]{1,3};|[a-z ]){0,6}"), 0..40),
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    "&[a-z]{1,3};",
                    proptest::strategy::Just("&amp;".to_string()),
                    proptest::strategy::Just("&#1593;".to_string()),
                    "[a-z <>&;]{0,4}",
                ],
                0..200,
            ),
            repeat in 1usize..2000,
        ) {
            let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE rss [");
            for (name, value) in &decls {
                doc.push_str(&format!("<!ENTITY {name} \"{value}\">"));
            }
            doc.push_str("]><rss version=\"2.0\"><channel><title>");
            doc.push_str(&parts.concat().repeat(repeat));
            doc.push_str("</title></channel></rss>");
            let deadline = Deadline::new(Duration::from_secs(3600), None);
            let result = parse_within(&doc, &base(), 10, &deadline);
            proptest::prop_assert!(
                !matches!(result, Err(ParseError::OverTime(_) | ParseError::Cancelled))
            );
            // One step per reference or declaration, nested ones included:
            // each is paid for out of the bound, or costs its own bytes.
            proptest::prop_assert!(
                deadline.steps() <= doc.len() as u64 + (MAX_ENTITY_EXPANSION as u64) + 64,
                "{} steps for {} bytes", deadline.steps(), doc.len()
            );
            if let Ok(f) = result {
                let title = f.meta.title.unwrap_or_default();
                proptest::prop_assert!(title.len() <= doc.len() + MAX_ENTITY_EXPANSION);
            }
        }
    }

    #[test]
    fn html_entities_unknown_to_xml_are_decoded_in_titles() {
        let doc = r#"<rss version="2.0"><channel><title>T</title>
            <item><title>Caf&eacute; du&nbsp;coin &amp; a &lt; b</title></item></channel></rss>"#;
        // quick-xml leaves &eacute; and &nbsp; as they are: rafid decodes them.
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(
            f.entries[0].title.as_deref(),
            Some("Café du\u{a0}coin & a < b")
        );
    }

    /// Issue 16: "Blog &#8211; InfluxData" was shown with the reference
    /// as text.
    #[test]
    fn references_escaped_twice_are_decoded_in_titles() {
        let doc = r#"<rss version="2.0"><channel><title>Blog &amp;#8211; InfluxData</title>
            <item><title>A &amp;#x2013; b &amp;#39;c&amp;#39; &amp; d &amp;# e  f</title></item></channel></rss>"#;
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(f.meta.title.as_deref(), Some("Blog \u{2013} InfluxData"));
        // Everything else comes out as it came in, runs of spaces included.
        assert_eq!(
            f.entries[0].title.as_deref(),
            Some("A \u{2013} b 'c' & d &# e  f")
        );
    }

    #[test]
    fn prefixes_cut_at_character_boundaries() {
        let s = "ab".to_string() + &"خ".repeat(3000);
        for max in [0, 1, 2, 3, 4, 4096, 10_000] {
            let p = prefix(&s, max);
            assert!(p.len() <= max && s.starts_with(p));
        }
        // A long Arabic document passes every prefix scan without panicking.
        let doc = format!(
            "<rss version=\"2.0\"><channel><title>{}</title></channel></rss>",
            "خ".repeat(40_000)
        );
        assert!(parse(&doc, &base(), 10).is_ok());
    }

    #[test]
    fn rss_without_a_version_is_read_as_rss_2() {
        let doc = "<?xml version=\"1.0\"?>\n<rss>\n<channel><title>بلا إصدار</title>\
                   <item><title>خبر</title><link>https://v.example/1</link></item></channel></rss>";
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(f.meta.title.as_deref(), Some("بلا إصدار"));
        assert_eq!(f.entries.len(), 1);
        assert!(rss_with_version("<rss version=\"0.91\"><channel/></rss>").is_none());
        assert!(rss_with_version("<rss2><x/></rss2>").is_none());
    }

    #[test]
    fn a_parser_panic_on_an_author_loses_the_author_only() {
        let doc = "<rss version=\"2.0\"><channel><title>T</title>\
                   <managingEditor>فريق التحرير—news@example.sa</managingEditor>\
                   <item><title>خبر</title><author>news@example.com\u{a0}(News desk)</author></item>\
                   </channel></rss>";
        // feed-rs itself panics on this document…
        assert!(parse_guarded(&feed_parser(&base()), doc).is_err());
        // …and rafid reads it whole, authors included.
        let prepared = prepare(doc, &Deadline::new(MAX_PARSE_CPU, None)).unwrap();
        assert!(parse_guarded(&feed_parser(&base()), &prepared).is_ok());
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(f.entries.len(), 1);
        assert_eq!(f.entries[0].title.as_deref(), Some("خبر"));
        assert_eq!(
            f.entries[0].authors[0].email.as_deref(),
            Some("news@example.com")
        );
        assert_eq!(f.entries[0].authors[0].name, "(News desk)");
    }

    #[test]
    fn atom_03_is_read() {
        let doc = r#"<?xml version="1.0" encoding="utf-8"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">
            <title mode="escaped" type="text/plain">Old blog</title><modified>2005-01-02T03:04:05Z</modified>
            <entry xmlns="http://purl.org/atom/ns#"><title>An old post</title><link rel="alternate" type="text/html" href="https://old.example/p/1"/>
            <id>tag:old.example,2005:1</id><issued>2005-01-01T00:00:00Z</issued><modified>2005-01-02T00:00:00Z</modified>
            <content type="text/html" mode="escaped">&lt;p&gt;Hello&lt;/p&gt;</content></entry></feed>"#;
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(f.entries.len(), 1);
        let e = &f.entries[0];
        assert_eq!(e.title.as_deref(), Some("An old post"));
        assert_eq!(e.link.as_deref(), Some("https://old.example/p/1"));
        assert!(e.published.is_some());
    }

    #[test]
    fn html_pages_are_named() {
        let err = parse("<!DOCTYPE html><html><body>hi</body></html>", &base(), 10).unwrap_err();
        assert!(err.to_string().contains("HTML page"), "{err}");
        let err = parse("", &base(), 10).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn json_feed_parses() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","language":"ar",
            "items":[{"id":"1","url":"https://j.example/1","title":"عنوان","content_html":"<p>نص</p>",
            "date_published":"2024-05-01T10:00:00Z"}]}"#;
        let f = parse(doc, &base(), 10).unwrap();
        assert_eq!(f.entries[0].guid.as_deref(), Some("1"));
        assert_eq!(f.entries[0].title.as_deref(), Some("عنوان"));
        assert_eq!(f.entries[0].language.as_deref(), Some("ar"));
    }

    #[test]
    fn one_bad_json_feed_field_does_not_reject_the_document() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J",
            "items":[
              {"id":1234,"url":"https://j.example/1","title":"رقم المعرف"},
              {"id":"2","url":"https://j.example/2","title":["عنوان","من","أجزاء"]},
              {"id":"3","url":"https://j.example/3","title":"مرفق سالب",
               "attachments":[{"url":"https://j.example/a.mp3","mime_type":"audio/mpeg","size_in_bytes":-5}]},
              {"id":"4","url":"https://j.example/4","title":"مرفق ضخم",
               "attachments":[{"url":"https://j.example/b.mp3","mime_type":"audio/mpeg","size_in_bytes":1e30}]},
              {"id":"5","url":"https://j.example/5","title":{"x":1},"tags":["ok",7,null]},
              "not an item",
              {"id":"6","url":"https://j.example/6","title":"سليم","author":"nobody",
               "attachments":[{"mime_type":"audio/mpeg"}]}
            ]}"#;
        let f = parse(doc, &base(), 100).unwrap();
        let by_id = |id: &str| {
            f.entries
                .iter()
                .find(|e| e.guid.as_deref() == Some(id))
                .unwrap()
        };
        assert_eq!(f.entries.len(), 6);
        // JSON Feed 1.1: a numeric id is read as a string.
        assert_eq!(by_id("1234").title.as_deref(), Some("رقم المعرف"));
        assert_eq!(by_id("2").title.as_deref(), Some("عنوان من أجزاء"));
        // A bad size is left out; the item stays.
        assert_eq!(by_id("3").title.as_deref(), Some("مرفق سالب"));
        assert_eq!(by_id("4").title.as_deref(), Some("مرفق ضخم"));
        assert_eq!(by_id("5").title, None);
        let tags: Vec<_> = by_id("5")
            .categories
            .iter()
            .map(|c| c.term.as_str())
            .collect();
        assert_eq!(tags, ["ok", "7"]);
        assert_eq!(by_id("6").title.as_deref(), Some("سليم"));
        // A document without a problem is handed over as it is.
        assert!(
            repair_json_feed(
                r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[]}"#
            )
            .is_none()
        );
    }

    #[test]
    fn only_the_newest_items_are_kept() {
        let mut doc = String::from(r#"<rss version="2.0"><channel><title>T</title>"#);
        for i in 1..=5 {
            doc.push_str(&format!(
                "<item><guid>{i}</guid><pubDate>Mon, 0{i} Jan 2024 00:00:00 GMT</pubDate></item>"
            ));
        }
        doc.push_str("</channel></rss>");
        let f = parse(&doc, &base(), 2).unwrap();
        let ids: Vec<_> = f.entries.iter().map(|e| e.guid.clone().unwrap()).collect();
        assert_eq!(ids, vec!["5", "4"]);
    }
}
