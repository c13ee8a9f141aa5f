//! The outputs as a whole: every format from the same items, what each
//! carries and what none may.

use super::*;
use crate::model::{ItemId, Source};
use crate::publish::sanitize::{capped, item_html};
use chrono::DateTime;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

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
        uid: None,
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
        translations: Vec::new(),
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
            let body = String::from_utf8(render(&view, &[it.clone()], f).body.to_vec()).unwrap();
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
        crate::config::parse(Path::new("t.toml"), "[output]\nmax_item_bytes = \"4KiB\"\n").unwrap();
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

#[test]
fn a_story_in_another_language_is_linked_with_its_language_in_every_format() {
    let cfg = config();
    let view = View {
        config: &cfg,
        store_id: [0; 16],
        scope: &Scope::All,
        since: DateTime::UNIX_EPOCH,
    };
    let mut it = item();
    it.translations = vec![crate::model::Translation {
        id: ItemId([9; 16]),
        lang: "en".into(),
        title: Some("Bridge opens in Dammam".into()),
        link: Some("https://en.example/bridge?x=1&y=2".into()),
        source: Some("Gulf Wire".into()),
        score: 0.61,
        anchors: vec!["dammam".into()],
    }];
    let body = |it: &Item, f| {
        String::from_utf8(render(&view, std::slice::from_ref(it), f).body.to_vec()).unwrap()
    };
    let atom = body(&it, Format::Atom);
    assert!(
        atom.contains(r#"hreflang="en""#) && atom.contains("https://en.example/bridge?x=1&amp;y=2"),
        "{atom}"
    );
    let json: Value = serde_json::from_str(&body(&it, Format::Json)).unwrap();
    let t = &json["items"][0]["_rafid"]["translations"][0];
    assert_eq!(t["lang"], "en");
    assert_eq!(t["url"], "https://en.example/bridge?x=1&y=2");
    assert_eq!(t["title"], "Bridge opens in Dammam");
    assert_eq!(t["source"], "Gulf Wire");
    let html = body(&it, Format::Html);
    assert!(
        html.contains(r#"lang="en" dir="ltr" hreflang="en""#) && html.contains("Gulf Wire"),
        "{html}"
    );
    // A link that is not the web's is not published.
    it.translations[0].link = Some("javascript:alert(1)".into());
    for f in Format::ALL {
        assert!(!body(&it, f).contains("javascript:"), "{f:?}");
    }
    // Without one, nothing about other languages.
    it.translations.clear();
    assert!(!body(&it, Format::Atom).contains("hreflang"));
    assert!(!body(&it, Format::Json).contains("translations"));
}
