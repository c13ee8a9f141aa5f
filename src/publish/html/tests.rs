//! The river page: what it shows, in which language and direction, and
//! that nothing in it can run.

use super::*;
use crate::config::Config;
use crate::model::{ItemId, Source};
use crate::publish::{Format, render, render_page};
use std::path::Path;

fn config(extra: &str) -> Config {
    crate::config::parse(
        Path::new("t.toml"),
        &format!(
            "{extra}\n[[feed]]\nurl = \"https://a.example/f\"\ntags = [\"news\"]\n[[feed]]\nurl = \"https://b.example/f\"\n"
        ),
    )
    .unwrap()
}

fn item(n: u8, at: &str, lang: &str) -> Item {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(at).unwrap().into();
    Item {
        id: ItemId([n; 16]),
        uid: None,
        title: Some(format!("خبر {n}")),
        link: Some(format!("https://a.example/n/{n}")),
        content: Some(
            "<p onclick=\"x()\">نص الخبر <b>كاملًا</b><script>alert(1)</script><img src=\"/i.png\"></p>".into(),
        ),
        summary: None,
        published: Some(t),
        updated: None,
        first_seen: t,
        authors: vec![],
        categories: vec![],
        enclosures: vec![],
        language: Some(lang.into()),
        base: Some(format!("https://a.example/n/{n}")),
        sources: vec![
            Source {
                feed_url: "https://a.example/f".into(),
                feed_title: Some("المصدر".into()),
                feed_id: None,
                site_url: None,
                item_link: Some(format!("https://a.example/n/{n}")),
                guid: None,
                copy: None,
            },
            Source {
                feed_url: "https://b.example/f".into(),
                feed_title: Some("Other".into()),
                feed_id: None,
                site_url: None,
                item_link: Some(format!("https://b.example/n/{n}")),
                guid: None,
                copy: None,
            },
        ],
        revision: String::new(),
        keys: vec![],
        translations: Vec::new(),
    }
}

fn html(cfg: &Config, scope: &Scope, items: &[Item]) -> String {
    let view = View {
        config: cfg,
        store_id: [0; 16],
        since: chrono::DateTime::UNIX_EPOCH,
        scope,
    };
    String::from_utf8(render(&view, items, Format::Html).body.to_vec()).unwrap()
}

#[test]
fn page_words_follow_output_lang_else_the_titles_script() {
    let items = [item(1, "2024-03-01T10:00:00Z", "ar")];
    // An Arabic title: an Arabic page, right to left.
    let ar = html(
        &config("[output]\ntitle = \"نهر الأخبار\""),
        &Scope::All,
        &items,
    );
    assert!(ar.contains("<html lang=\"ar\" dir=\"rtl\">"), "{ar}");
    for label in [
        "كل الأخبار",
        "الأقسام والخلاصات",
        "أوردته أيضًا:",
        "اشترك:",
        "جمعها رافد",
    ] {
        assert!(ar.contains(label), "{label} missing: {ar}");
    }
    for label in ["Everything", "Also reported by", "Subscribe", "Merged by"] {
        assert!(!ar.contains(label), "{label} on an Arabic page");
    }
    let empty = html(&config("[output]\ntitle = \"نهر\""), &Scope::All, &[]);
    assert!(empty.contains("لا أخبار هنا بعد."), "{empty}");
    // A Latin title, or lang = "en": English, left to right.
    for extra in [
        "[output]\ntitle = \"My river\"",
        "[output]\ntitle = \"نهر\"\nlang = \"en\"",
    ] {
        let en = html(&config(extra), &Scope::All, &items);
        assert!(en.contains("<html lang=\"en\" dir=\"ltr\">"), "{en}");
        assert!(en.contains("Everything") && en.contains("Merged by rafid"));
        // The English label inside an Arabic article keeps its language.
        assert!(
            en.contains("<bdi lang=\"en\">Also reported by:</bdi>"),
            "{en}"
        );
        assert!(!en.contains("كل الأخبار"));
    }
    let en = html(&config("[output]\ntitle = \"x\""), &Scope::All, &[]);
    assert!(en.contains("Nothing here yet."));
}

#[test]
fn navigation_is_collapsed_without_script() {
    let page = html(&config("[output]\ntitle = \"x\""), &Scope::All, &[]);
    let details = page.find("<details>").expect("a details element");
    let nav = page.find("<nav aria-label=\"Feeds\">").unwrap();
    let closed = page.find("</details>").unwrap();
    assert!(details < nav && nav < closed, "{page}");
    assert!(!page.contains("<details open"));
    // The feeds of the page itself stay in sight.
    let subscribe = page.find("class=\"subscribe\"").unwrap();
    assert!(subscribe < details);
}

#[test]
fn items_are_grouped_by_day_in_the_configured_time_zone() {
    let items = [
        item(1, "2024-03-01T22:30:00Z", "ar"),
        item(2, "2024-03-01T20:00:00Z", "ar"),
        item(3, "2024-02-29T08:00:00Z", "ar"),
    ];
    let utc = html(&config("[output]\ntitle = \"x\""), &Scope::All, &items);
    assert_eq!(utc.matches("<h2 class=\"day\">").count(), 2, "{utc}");
    assert!(utc.contains("<time datetime=\"2024-03-01\">Friday, 1 March 2024</time>"));
    assert!(utc.contains("Thursday, 29 February 2024"));
    assert!(utc.contains(">22:30 UTC</time>"), "{utc}");
    // In Riyadh (UTC+3) the first item is already on Saturday.
    let riyadh = html(
        &config("[output]\ntitle = \"نهر\"\ntimezone = \"Asia/Riyadh\""),
        &Scope::All,
        &items,
    );
    assert_eq!(riyadh.matches("<h2 class=\"day\">").count(), 3, "{riyadh}");
    assert!(riyadh.contains(">السبت 2 مارس 2024</time>"), "{riyadh}");
    assert!(riyadh.contains(">الجمعة 1 مارس 2024</time>"));
    assert!(riyadh.contains(">01:30 +03</time>"), "{riyadh}");
    // The machine-readable time stays UTC.
    assert!(riyadh.contains("datetime=\"2024-03-01T22:30:00Z\""));
}

#[test]
fn full_page_content_is_the_sanitized_content() {
    let items = [item(1, "2024-03-01T10:00:00Z", "ar")];
    let summary = html(&config("[output]\ntitle = \"x\""), &Scope::All, &items);
    assert!(
        summary.contains("class=\"excerpt\">نص الخبر كاملًا</p>"),
        "{summary}"
    );
    assert!(!summary.contains("<b>"));
    let full = html(
        &config("[output]\ntitle = \"x\"\npage_content = \"full\""),
        &Scope::All,
        &items,
    );
    assert!(
        full.contains("<div class=\"content\"><p>نص الخبر <b>كاملًا</b>"),
        "{full}"
    );
    assert!(full.contains("src=\"https://a.example/i.png\""), "{full}");
    assert!(!full.contains("alert(1)") && !full.contains("onclick"));
    assert!(!full.contains("class=\"excerpt\""));
}

#[test]
fn excerpts_keep_paragraphs_apart() {
    let mut it = item(1, "2024-03-01T10:00:00Z", "ar");
    it.content =
        Some("<P>أولًا.</P><p>ثانيًا<br>ثالثًا</p><ul><li>رابعًا</li><li>خامسًا</li></ul>".into());
    assert_eq!(excerpt(&it, usize::MAX), "أولًا. ثانيًا ثالثًا رابعًا خامسًا");
}

#[test]
fn a_river_is_shown_under_its_title() {
    let cfg = config(
        "[output]\ntitle = \"x\"\n[[river]]\nname = \"economy\"\ntitle = \"الاقتصاد اليوم\"\n",
    );
    let scope = Scope::River("economy".into());
    let page = html(&cfg, &scope, &[]);
    assert!(page.contains("<title>الاقتصاد اليوم</title>"), "{page}");
    assert!(
        page.contains("<bdi>الاقتصاد اليوم</bdi>"),
        "nav label: {page}"
    );
    let view = View {
        config: &cfg,
        store_id: [0; 16],
        since: chrono::DateTime::UNIX_EPOCH,
        scope: &scope,
    };
    let atom = String::from_utf8(render(&view, &[], Format::Atom).body.to_vec()).unwrap();
    assert!(
        atom.contains("<title type=\"text\">الاقتصاد اليوم</title>"),
        "{atom}"
    );
    let json = String::from_utf8(render(&view, &[], Format::Json).body.to_vec()).unwrap();
    assert!(json.contains("\"title\": \"الاقتصاد اليوم\""), "{json}");
}

#[test]
fn a_private_river_is_named_only_on_its_own_pages_whose_links_carry_its_token() {
    let cfg = config(
        "[output]\ntitle = \"x\"\n[[river]]\nname = \"open\"\n[[river]]\nname = \"hidden\"\ntoken = \"t0k&n\"\n",
    );
    for scope in [
        Scope::All,
        Scope::Tag("news".into()),
        Scope::River("open".into()),
    ] {
        let page = html(&cfg, &scope, &[]);
        assert!(
            !page.contains("hidden"),
            "{scope:?} names the private river: {page}"
        );
        assert!(!page.contains("t0k"), "{scope:?} shows the token");
    }
    let hidden = Scope::River("hidden".into());
    let items: Vec<Item> = (1..=3)
        .map(|n| item(n, "2024-03-01T10:00:00Z", "ar"))
        .collect();
    let view = View {
        config: &cfg,
        store_id: [0; 16],
        since: chrono::DateTime::UNIX_EPOCH,
        scope: &hidden,
    };
    let page = crate::publish::Page {
        before: Some(crate::publish::Cursor::after(&items[0])),
        next: Some(crate::publish::Cursor::after(&items[2])),
    };
    for f in Format::ALL {
        let body = String::from_utf8(render_page(&view, &items, f, &page).body.to_vec()).unwrap();
        let want = if f == Format::Json {
            "hidden.json?token=t0k%26n"
        } else {
            "hidden.{}?token=t0k%26n"
        };
        let want = want.replace("{}", f.extension());
        assert!(body.contains(&want), "{f:?}: {body}");
        // The next page keeps the token.
        let next = format!(
            "token=t0k%26n{}before=",
            if f == Format::Json { "&" } else { "&amp;" }
        );
        assert!(body.contains(&next), "{f:?} next link: {body}");
    }
}

#[test]
fn direction_follows_language_then_letters() {
    assert_eq!(direction(Some("ar"), "Hello"), "rtl");
    assert_eq!(direction(Some("ar-EG"), ""), "rtl");
    assert_eq!(direction(Some("en"), "مرحبا"), "ltr");
    assert_eq!(direction(None, "  2024: مرحبا world"), "rtl");
    assert_eq!(direction(None, "2024: hello مرحبا"), "ltr");
    assert_eq!(direction(None, "שלום"), "rtl");
}
