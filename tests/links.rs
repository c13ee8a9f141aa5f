//! Every link rafid publishes resolves: tags and rivers whose names carry
//! spaces, `&`, `%`, `+`, `'` and Arabic are walked from `/`, `/feed.atom`
//! and `/opml` through every page and feed they link to.

mod common;

use std::collections::{BTreeSet, VecDeque};

use common::{FeedServer, start_daemon, write_config};
use rafid::cli::poll::poll_once;
use rafid::config;

const BASE: &str = "http://rafid.test/river/";

/// Tags a reader's OPML folders may well carry.
const TAGS: &[&str] = &[
    "World & Politics",
    "a b",
    "100%",
    "C++",
    "it's",
    "أخبار عربية",
];

/// The links of one output: `href`, `src` and `xmlUrl` attributes, and the
/// URL members of a JSON Feed.
fn links(body: &str) -> Vec<String> {
    let attrs = regex::Regex::new(r#"(?:href|xmlUrl|src)="([^"]*)""#).unwrap();
    let json = regex::Regex::new(r#""(?:feed_url|home_page_url|next_url)": "([^"]*)""#).unwrap();
    let unescape = |s: &str| {
        s.replace("&amp;", "&")
            .replace("&#39;", "'")
            .replace("&apos;", "'")
            .replace("&quot;", "\"")
    };
    attrs
        .captures_iter(body)
        .chain(json.captures_iter(body))
        .map(|c| unescape(&c[1]))
        .collect()
}

#[tokio::test]
async fn every_published_link_resolves_for_tags_with_awkward_names() {
    let server = FeedServer::start().await;
    server.put_fixture("/rss.xml", "rss2_arabic.xml", "application/rss+xml");
    server.put_fixture("/atom.xml", "atom_en.xml", "application/atom+xml");
    let (rss, atom) = (server.url("/rss.xml"), server.url("/atom.xml"));
    let dir = tempfile::tempdir().unwrap();
    let rivers = "[[river]]\nname = \"أخبار\"\ntags = [\"أخبار عربية\"]\n\
                  [[river]]\nname = \"world_and-politics\"\ntags = [\"World & Politics\"]\n";
    let path = write_config(
        dir.path(),
        &[(rss.as_str(), &TAGS[..3]), (atom.as_str(), &TAGS[2..])],
        rivers,
    );
    let cfg = config::load(&path).unwrap();
    poll_once(cfg.clone()).await.unwrap();
    let daemon = start_daemon(cfg).await;
    let local = |url: &str| -> Option<String> {
        if let Some(path) = url.strip_prefix(BASE) {
            Some(format!("http://{}/{path}", daemon.addr))
        } else if url.starts_with(&format!("http://{}/", server.addr)) {
            Some(url.to_string())
        } else {
            None
        }
    };

    let mut queue: VecDeque<String> = ["", "feed.atom", "opml"]
        .iter()
        .map(|p| format!("{BASE}{p}"))
        .collect();
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut broken = Vec::new();
    let mut walked_tags = BTreeSet::new();
    while let Some(url) = queue.pop_front() {
        let Some(fetch) = local(&url) else { continue };
        let resp = daemon.client.get(&fetch).send().await.unwrap();
        if resp.status() != 200 {
            broken.push(format!("{url} -> {}", resp.status()));
            continue;
        }
        if !url.starts_with(BASE) {
            continue; // a source feed: its own links are not ours
        }
        if let Some(tag) = url
            .strip_prefix(&format!("{BASE}tags/"))
            .and_then(|f| f.strip_suffix(".atom"))
        {
            walked_tags.insert(tag.to_string());
        }
        let body = resp.text().await.unwrap();
        for link in links(&body) {
            if local(&link).is_some() && seen.insert(link.clone()) {
                queue.push_back(link);
            }
        }
    }
    assert!(broken.is_empty(), "links that do not resolve: {broken:#?}");
    // The walk reached every tag's feed (and did not stop at the first page).
    assert_eq!(walked_tags.len(), TAGS.len(), "{walked_tags:?}");
    for river in ["%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1", "world_and-politics"] {
        for ext in ["atom", "rss", "json", "html"] {
            let link = format!("{BASE}rivers/{river}.{ext}");
            assert!(seen.contains(&link), "{link} is never linked");
        }
    }
    assert!(
        seen.contains(&rss) && seen.contains(&atom),
        "/opml lists the feeds"
    );

    // A tag feed's self link is the address it is served at.
    let amp = format!("http://{}/tags/World%20%26%20Politics.atom", daemon.addr);
    let body = daemon.client.get(&amp).send().await.unwrap();
    assert_eq!(body.status(), 200);
    let body = body.text().await.unwrap();
    assert!(
        body.contains(&format!(
            "rel=\"self\" type=\"application/atom+xml\" href=\"{BASE}tags/World%20%26%20Politics.atom\""
        )),
        "{body}"
    );
    daemon.stop().await;
}
