//! The documents under tests/fixtures, and the standard set of four feeds
//! most tests poll.

use std::path::{Path, PathBuf};

use super::server::FeedServer;

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

pub fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture_bytes(name)).unwrap()
}

/// The windows-1256 fixture: kept in the repository as UTF-8, encoded here.
pub fn windows_1256_feed() -> Vec<u8> {
    let text = fixture_text("rss_windows1256.xml.in");
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// Serves the four standard fixtures and returns their URLs:
/// RSS 2.0 (Arabic), Atom, JSON Feed, and RSS in windows-1256 labelled only
/// in the HTTP header.
pub fn serve_standard(server: &FeedServer) -> Vec<String> {
    server.put_fixture("/rss.xml", "rss2_arabic.xml", "application/rss+xml");
    server.put_fixture("/atom.xml", "atom_en.xml", "application/atom+xml");
    server.put_fixture("/feed.json", "jsonfeed.json", "application/feed+json");
    server.put(
        "/legacy.xml",
        windows_1256_feed(),
        "application/rss+xml; charset=windows-1256",
    );
    ["/rss.xml", "/atom.xml", "/feed.json", "/legacy.xml"]
        .iter()
        .map(|p| server.url(p))
        .collect()
}

/// Every title of the standard fixtures after deduplication (the oil story
/// is in two feeds and is stored once, under the title seen first).
pub const STANDARD_UNIQUE_ITEMS: usize = 9;
