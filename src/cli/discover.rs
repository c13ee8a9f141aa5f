//! Finding and trying a feed before it goes into the config: discovery
//! (the feeds a web page links to, for `feeds add --discover`) and the
//! probe (`feeds add --probe`: one fetch and parse, to show what the feed
//! is). Both fetch as a poll would.

use std::io::Write;
use std::path::Path;

use url::Url;

use crate::cli::failure::Failure;
use crate::config;
use crate::ingest::fetch::{Fetched, Fetcher};

/// What a feed's document says of itself.
#[derive(Debug)]
pub struct Probe {
    pub title: Option<String>,
    pub items: usize,
}

/// A fetcher with the default `[poll]` settings: discovery and the probe
/// run before the feed is in any config.
fn fetcher() -> Result<Fetcher, Failure> {
    let cfg = config::parse(Path::new("(defaults)"), "").map_err(Failure::internal)?;
    Fetcher::new(&cfg.poll).map_err(Failure::internal)
}

/// Fetches `url` once: the decoded body and the URL it came from.
async fn get(url: &Url) -> Result<(String, Url, Option<String>), Failure> {
    let fetcher = fetcher()?;
    let feed_cfg = config::FeedConfig::for_url(url.clone());
    let fetched = fetcher
        .fetch(&feed_cfg, url, &Default::default())
        .await
        // The error names the (redacted) URL itself.
        .map_err(|e| Failure::user(format!("fetching {e}")))?;
    match fetched {
        Fetched::Body(b) => {
            let d = crate::ingest::fetch::decode_body(&b.bytes, b.content_type.as_deref());
            Ok((d.text, b.final_url, b.content_type))
        }
        _ => Err(Failure::user(format!(
            "{}: the server answered with no body",
            config::redact_url(url)
        ))),
    }
}

/// Fetches a feed and reads its title and items.
pub async fn probe(url: &Url) -> Result<Probe, Failure> {
    let (text, final_url, _) = get(url).await?;
    let parsed = crate::ingest::parse::parse(&text, &final_url, usize::MAX)
        .map_err(|e| Failure::user(format!("{}: {e}", config::redact_url(url))))?;
    Ok(Probe {
        title: parsed.meta.title,
        items: parsed.entries.len(),
    })
}

/// Feed links a web page declares (`<link rel="alternate" type=…feed…>`),
/// resolved against `base`, in page order; http(s) links only.
///
/// A small tag scanner rather than an HTML parser: only `<link>` start
/// tags and their attributes matter, and html5ever (there through ammonia)
/// needs a DOM crate on top to be asked for them.
pub fn discover_links(html: &str, base: &Url) -> Vec<Url> {
    discover_feeds(html, base)
        .into_iter()
        .map(|(u, _)| u)
        .collect()
}

/// `discover_links` with each link's `title` attribute, when it has one:
/// the name the site gives the feed.
pub fn discover_feeds(html: &str, base: &Url) -> Vec<(Url, Option<String>)> {
    const FEED_TYPES: &[&str] = &[
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
        "text/xml",
        "application/xml",
    ];
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<link") {
        let start = at + i + 5;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let attrs = attributes(&html[start..end]);
        at = end;
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let rel_alt = get("rel").is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|x| x.eq_ignore_ascii_case("alternate"))
        });
        let ty = get("type").map(|t| t.trim().to_ascii_lowercase());
        let is_feed = ty
            .as_deref()
            .is_some_and(|t| FEED_TYPES.contains(&t.split(';').next().unwrap_or("").trim()));
        if rel_alt && is_feed {
            // Only a link rafid can poll: a `file:`, `feed:` or `javascript:`
            // one is passed over for the next.
            let link = get("href")
                .and_then(|h| base.join(h.trim()).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            if let Some(u) = link {
                if !found.iter().any(|(f, _)| *f == u) {
                    let title = get("title")
                        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                        .filter(|t| !t.is_empty());
                    found.push((u, title));
                }
            }
        }
    }
    found
}

/// `name=value` pairs of a start tag's inside (quoted or not).
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ns = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        let name = &s[ns..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut val = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                i += 1;
                let vs = i;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                val = s[vs..i].to_string();
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                val = s[vs..i].to_string();
            }
        }
        if !name.is_empty() {
            out.push((name.to_string(), decode_entities(&val)));
        }
    }
    out
}

/// The entities that appear in URLs in attributes.
fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// For `feeds add --discover`: when `given` is a web page, the first feed
/// it links to (and the name the page gives it), with the others it links
/// to said on `out`; `None` when `given` is no page (a feed, presumably).
pub async fn find_feed(
    given: &Url,
    out: &mut dyn Write,
) -> Result<Option<(Url, Option<String>)>, Failure> {
    let io = |e: std::io::Error| Failure::internal(format!("writing to stdout: {e}"));
    let (text, final_url, content_type) = get(given).await?;
    let html = content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().contains("html"))
        || text.trim_start().get(..15).is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            s.starts_with("<!doctype html") || s.starts_with("<html")
        });
    if !html {
        return Ok(None);
    }
    let mut links = discover_feeds(&text, &final_url);
    if links.is_empty() {
        return Err(Failure::user(format!(
            "{} links to no feed (no <link rel=\"alternate\"> of a feed type)",
            config::redact_url(given)
        )));
    }
    let (first, title) = links.remove(0);
    writeln!(out, "found the feed {}", config::redact_url(&first)).map_err(io)?;
    for (other, _) in &links {
        writeln!(
            out,
            "  (the page also links to {})",
            config::redact_url(other)
        )
        .map_err(io)?;
    }
    Ok(Some((first, title)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_links_are_discovered() {
        let html = r#"<html><head>
<link rel="stylesheet" href="/s.css">
<link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/atom+xml" href="feed://site.example/atom">
<LINK REL="alternate" TYPE="application/rss+xml" title="RSS" href="/rss.xml?a=1&amp;b=2">
<link rel=alternate type='application/atom+xml' href='https://feeds.example/atom'>
<link rel="alternate" hreflang="en" href="/en/">
</head></html>"#;
        let base = Url::parse("https://site.example/news/").unwrap();
        let links: Vec<String> = discover_links(html, &base)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            links,
            vec![
                "https://site.example/rss.xml?a=1&b=2",
                "https://feeds.example/atom"
            ]
        );
        let titles: Vec<Option<String>> = discover_feeds(html, &base)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(titles, [Some("RSS".to_string()), None]);
    }
}
