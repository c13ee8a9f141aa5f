//! The republished outputs as readers see them: hostile content made safe
//! (checked with a real HTML tokenizer), every outlet credited, JSON Feed
//! 1.1's required fields, the river page's language and direction.

use std::cell::RefCell;
use std::path::Path;

use chrono::{DateTime, Utc};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use rafid::config::Config;
use rafid::model::{Item, ItemId, Source};
use rafid::publish::{Cursor, Format, Page, Scope, View, render, render_page};
use serde_json::Value;

// ---------------------------------------------------------------------------
// An HTML tokenizer (html5ever's, the one browsers' parsing rules describe).

#[derive(Debug, Clone)]
struct Tag {
    end: bool,
    name: String,
    attrs: Vec<(String, String)>,
}

#[derive(Default)]
struct Sink {
    tags: RefCell<Vec<Tag>>,
    text: RefCell<String>,
}

impl TokenSink for Sink {
    type Handle = ();
    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(t) => self.tags.borrow_mut().push(Tag {
                end: t.kind == TagKind::EndTag,
                name: t.name.to_string(),
                attrs: t
                    .attrs
                    .iter()
                    .map(|a| {
                        let n = match &a.name.prefix {
                            Some(p) => format!("{p}:{}", a.name.local),
                            None => a.name.local.to_string(),
                        };
                        (n.to_ascii_lowercase(), a.value.to_string())
                    })
                    .collect(),
            }),
            Token::CharacterTokens(s) => self.text.borrow_mut().push_str(&s),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Every tag of `html` in order, and its text, as a browser's tokenizer
/// reads them.
fn tokens(html: &str) -> (Vec<Tag>, String) {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tok = Tokenizer::new(Sink::default(), TokenizerOpts::default());
    let _ = tok.feed(&input);
    tok.end();
    let tags = tok.sink.tags.borrow().clone();
    let text = tok.sink.text.borrow().clone();
    (tags, text)
}

/// Elements that can run script, load active content, restyle or
/// restructure the page around them.
const FORBIDDEN: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "base",
    "meta",
    "link",
    "template",
    "noscript",
    "xmp",
    "plaintext",
    "noembed",
    "noframes",
    "title",
    "marquee",
    "isindex",
    "portal",
    "body",
    "html",
    "head",
    "animate",
    "set",
    "video",
    "audio",
    "source",
];

/// Attributes that hold a URL a browser may load or follow.
const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "background",
    "poster",
    "cite",
    "longdesc",
    "usemap",
    "data",
    "codebase",
    "srcset",
    "xlink:href",
    "lowsrc",
    "dynsrc",
    "ping",
    "manifest",
];

/// The scheme a browser would see: leading spaces and control characters
/// skipped, tabs and newlines removed, case folded.
fn scheme(url: &str) -> Option<String> {
    let cleaned: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let colon = cleaned.find(':')?;
    let head = &cleaned[..colon];
    if head.contains(['/', '?', '#']) {
        return None;
    }
    Some(head.to_ascii_lowercase())
}

fn raster_data(url: &str) -> bool {
    let u = url.trim().to_ascii_lowercase();
    ["png", "jpeg", "jpg", "gif", "webp", "avif"]
        .iter()
        .any(|t| u.starts_with(&format!("data:image/{t};base64,")))
}

/// Checks one tag from feed content: nothing that runs script or loads
/// active content.
fn check_tag(t: &Tag, what: &str) {
    if t.end {
        return;
    }
    assert!(
        !FORBIDDEN.contains(&t.name.as_str()),
        "{what}: <{}> survived",
        t.name
    );
    for (name, value) in &t.attrs {
        assert!(
            !name.starts_with("on"),
            "{what}: handler {name}={value:?} on <{}>",
            t.name
        );
        assert!(
            !matches!(name.as_str(), "style" | "srcdoc" | "formaction"),
            "{what}: {name} on <{}>",
            t.name
        );
        if URL_ATTRS.contains(&name.as_str()) {
            match scheme(value).as_deref() {
                None | Some("http" | "https" | "mailto" | "tel") => {}
                Some("data") if t.name == "img" && name == "src" && raster_data(value) => {}
                Some(s) => panic!("{what}: {name}={value:?} ({s}:) on <{}>", t.name),
            }
        }
    }
}

fn check_fragment(html: &str, what: &str) {
    let (tags, _) = tokens(html);
    for t in &tags {
        check_tag(t, what);
    }
}

/// A title must be plain text: read as HTML, it has no tags at all.
fn check_title(title: &str, what: &str) {
    let (tags, _) = tokens(title);
    assert!(
        tags.is_empty(),
        "{what}: title {title:?} reads as markup {tags:?}"
    );
}

// ---------------------------------------------------------------------------
// Items built directly.

fn config(extra: &str) -> Config {
    rafid::config::parse(
        Path::new("t.toml"),
        &format!(
            "[server]\nbase_url = \"https://news.example/river/\"\n[output]\ntitle = \"نهر الأخبار\"\n{extra}\n\
             [[feed]]\nurl = \"https://a.example/feed\"\ntitle = \"صحيفة أ\"\ntags = [\"ar\"]\n\
             [[feed]]\nurl = \"https://b.example/rss\"\ntags = [\"ar\", \"world\"]\n\
             [[feed]]\nurl = \"https://c.example/atom\"\ntitle = \"C Wire\"\ntags = [\"en\"]\n"
        ),
    )
    .unwrap()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().into()
}

fn source(feed: &str, title: &str, link: &str) -> Source {
    Source {
        feed_url: feed.into(),
        feed_title: Some(title.into()),
        feed_id: None,
        site_url: None,
        item_link: Some(link.into()),
        guid: None,
        copy: None,
    }
}

fn item(n: u8, title: &str, content: &str, lang: Option<&str>) -> Item {
    Item {
        id: ItemId([n; 16]),
        uid: None,
        title: Some(title.into()),
        link: Some(format!("https://a.example/news/{n}")),
        content: Some(content.into()),
        summary: None,
        published: Some(time("2024-03-01T10:00:00Z") + chrono::Duration::minutes(n as i64)),
        updated: None,
        first_seen: time("2024-03-02T00:00:00Z"),
        authors: vec![],
        categories: vec![],
        enclosures: vec![],
        language: lang.map(str::to_string),
        base: None,
        sources: vec![source(
            "https://a.example/feed",
            "A",
            &format!("https://a.example/news/{n}"),
        )],
        revision: String::new(),
        keys: vec![],
        translations: vec![],
    }
}

fn rendered(cfg: &Config, items: &[Item], format: Format) -> String {
    let view = View {
        config: cfg,
        store_id: [7; 16],
        scope: &Scope::All,
        since: chrono::DateTime::UNIX_EPOCH,
    };
    String::from_utf8(render(&view, items, format).body.to_vec()).unwrap()
}

// ---------------------------------------------------------------------------

/// Script tags, event handlers, javascript:/vbscript:/data: URLs, SVG and
/// MathML, styles, frames, forms, and their encoded and malformed variants.
const VECTORS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"x\" ONERROR=\"alert(1)\">",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"java&#x09;script:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
    "<a href=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)\">x</a>",
    "<a href=\"\u{1}javascript:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<img src=\"data:text/html,<script>alert(1)</script>\">",
    "<img src=\" DATA:image/svg+xml,<svg onload=alert(1)>\">",
    "<object data=\"javascript:alert(1)\"></object>",
    "<object type=\"text/x-scriptlet\" data=\"https://evil.example/x.sct\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<applet code=\"x.class\"></applet>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<div style=\"background-image:url(javascript:alert(1))\">x</div>",
    "<div style=\"width:expression(alert(1))\">x</div>",
    "<a href=\"https://ok.example/\" style=\"position:fixed;top:0;left:0\">overlay</a>",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<form action=\"javascript:alert(1)\"><input type=submit></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<input onfocus=alert(1) autofocus>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<template><script>alert(1)</script></template>",
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    "<xmp><script>alert(1)</script></xmp>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1)//<</script>",
    "<img \"\"\"><script>alert(1)</script>\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=`javascript:alert(1)`>",
    "<img src=\"jav\tascript:alert(1)\">",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=20 y=20>x</text></a></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><set attributeName=href to=\"javascript:alert(1)\"/></svg>",
    "<a href=\"#\" onclick=\"alert(1)\">x</a>",
    "<p onmouseover=\"alert(1)\">hover</p>",
    "<frameset onload=alert(1)>",
    "<isindex action=javascript:alert(1) type=image>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<portal src=\"https://evil.example/\"></portal>",
    "<a href=\"https://ok.example/\" target=\"_blank\">fine</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "</textarea></title></style></script><script>alert(1)</script>",
    "\"><script>alert(1)</script>",
    "<a href=\"/relative\" onclick=alert(1)>relative</a>",
    "<img srcset=\"javascript:alert(1) 1x\">",
];

#[test]
fn hostile_content_never_reaches_a_reader() {
    assert!(VECTORS.len() >= 50);
    let cfg = config("");
    let items: Vec<Item> = VECTORS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut it = item(
                i as u8 + 1,
                v,
                v,
                if i % 2 == 0 { Some("ar") } else { None },
            );
            it.summary = Some(format!("ملخص {v}"));
            if i % 3 == 0 {
                it.link = Some("javascript:alert(1)".into());
                it.sources[0].item_link = Some(" JAVASCRIPT:alert(2)".into());
            }
            it
        })
        .collect();

    // Atom and RSS, read by a real feed parser, then their HTML by a real
    // HTML tokenizer.
    for format in [Format::Atom, Format::Rss] {
        let body = rendered(&cfg, &items, format);
        let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
        assert_eq!(feed.entries.len(), VECTORS.len(), "{format:?}");
        for e in &feed.entries {
            let what = format!("{format:?} {}", e.id);
            if let Some(c) = e.content.as_ref().and_then(|c| c.body.as_deref()) {
                check_fragment(c, &what);
            }
            if let Some(s) = &e.summary {
                check_fragment(&s.content, &what);
            }
            if let Some(t) = &e.title {
                check_title(&t.content, &what);
            }
            for l in &e.links {
                check_tag(
                    &Tag {
                        end: false,
                        name: "a".into(),
                        attrs: vec![("href".into(), l.href.clone())],
                    },
                    &what,
                );
            }
        }
    }

    // JSON Feed: content_html and the title.
    let json: Value = serde_json::from_str(&rendered(&cfg, &items, Format::Json)).unwrap();
    for it in json["items"].as_array().unwrap() {
        let what = format!("JSON {}", it["id"]);
        check_fragment(it["content_html"].as_str().unwrap(), &what);
        check_title(it["title"].as_str().unwrap(), &what);
        if let Some(u) = it["url"].as_str() {
            assert_eq!(scheme(u).as_deref(), Some("https"), "{what}");
        }
    }

    // The river page, whole: one script element, JSON-LD, that parses;
    // head elements only in the head; nothing from a feed anywhere.
    let page = rendered(&cfg, &items, Format::Html);
    let (tags, _) = tokens(&page);
    let body_at = tags
        .iter()
        .position(|t| t.name == "body" && !t.end)
        .unwrap();
    let scripts: Vec<&Tag> = tags
        .iter()
        .filter(|t| t.name == "script" && !t.end)
        .collect();
    assert_eq!(scripts.len(), 1, "the JSON-LD block only");
    assert_eq!(
        scripts[0].attrs,
        vec![("type".to_string(), "application/ld+json".to_string())]
    );
    let (s0, s1) = page
        .split_once("<script type=\"application/ld+json\">")
        .unwrap();
    let ld = &s1[..s1.find("</script>").unwrap()];
    assert!(s0.find("<body>").is_none());
    let ld: Value = serde_json::from_str(ld).unwrap();
    assert_eq!(
        ld["itemListElement"].as_array().unwrap().len(),
        VECTORS.len()
    );
    // Tags between <script> and </script>: none (the tokenizer, without a
    // tree builder, would report any markup the JSON let through).
    let si = tags
        .iter()
        .position(|t| t.name == "script" && !t.end)
        .unwrap();
    assert_eq!(tags[si + 1].name, "script");
    assert!(tags[si + 1].end);
    for t in &tags[body_at + 1..] {
        check_tag(t, "river page");
    }
    // Every link the page itself makes is http(s) and under base_url or
    // an outlet's own.
    for t in &tags {
        for (n, v) in &t.attrs {
            if n == "href" {
                assert!(
                    v.starts_with("https://"),
                    "river page link {v:?} on <{}>",
                    t.name
                );
            }
        }
    }
}

#[test]
fn raster_data_images_survive_and_relative_urls_become_absolute() {
    let cfg = config("");
    let png = "data:image/png;base64,iVBORw0KGgo=";
    let mut it = item(
        1,
        "صورة",
        &format!("<p><img src=\"{png}\"><a href=\"../more\">more</a><img src=\"/a.jpg\"></p>"),
        Some("ar"),
    );
    it.link = Some("https://a.example/news/2024/1".into());
    let json: Value =
        serde_json::from_str(&rendered(&cfg, std::slice::from_ref(&it), Format::Json)).unwrap();
    let html = json["items"][0]["content_html"].as_str().unwrap();
    let (tags, _) = tokens(html);
    let srcs: Vec<&str> = tags
        .iter()
        .filter(|t| t.name == "img")
        .flat_map(|t| t.attrs.iter().filter(|(n, _)| n == "src"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(srcs, vec![png, "https://a.example/a.jpg"]);
    let hrefs: Vec<&str> = tags
        .iter()
        .flat_map(|t| t.attrs.iter().filter(|(n, _)| n == "href"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(hrefs, vec!["https://a.example/news/more"]);

    // No item link and no xml:base: the feed's site is the base.
    it.link = None;
    it.sources[0].site_url = Some("https://site.example/ar/".into());
    it.content = Some("<img src=\"pic.png\">".into());
    let json: Value = serde_json::from_str(&rendered(&cfg, &[it], Format::Json)).unwrap();
    assert!(
        json["items"][0]["content_html"]
            .as_str()
            .unwrap()
            .contains("src=\"https://site.example/ar/pic.png\""),
        "{json:#}"
    );
}

/// A story three outlets carried.
fn merged_story() -> Item {
    let mut it = item(
        9,
        "قمة إقليمية تبحث أزمة المياه",
        "<p>نص الخبر</p>",
        Some("ar"),
    );
    it.sources = vec![
        source(
            "https://a.example/feed",
            "ignored: the config names it",
            "https://a.example/news/9",
        ),
        source(
            "https://b.example/rss",
            "وكالة ب",
            "https://b.example/2024/water",
        ),
        source(
            "https://c.example/atom",
            "C Wire",
            "https://c.example/world/water-summit",
        ),
    ];
    it
}

#[test]
fn every_outlet_that_carried_a_story_is_credited() {
    let cfg = config("");
    let it = merged_story();

    let atom = rendered(&cfg, std::slice::from_ref(&it), Format::Atom);
    let feed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
    let e = &feed.entries[0];
    let via: Vec<&str> = e
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("via"))
        .map(|l| l.href.as_str())
        .collect();
    assert_eq!(
        via,
        vec![
            "https://a.example/news/9",
            "https://b.example/2024/water",
            "https://c.example/world/water-summit"
        ]
    );
    // <source> is the first outlet, under the name the config gives it.
    let src = atom.split("<source>").nth(1).unwrap();
    let src = &src[..src.find("</source>").unwrap()];
    assert!(src.contains("<title>صحيفة أ</title>"), "{src}");
    assert!(src.contains("href=\"https://a.example/feed\""), "{src}");

    let json: Value =
        serde_json::from_str(&rendered(&cfg, std::slice::from_ref(&it), Format::Json)).unwrap();
    let r = &json["items"][0]["_rafid"];
    assert_eq!(r["sources"].as_array().unwrap().len(), 3);
    let also: Vec<(&str, &str)> = r["also_reported_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["title"].as_str().unwrap(), s["url"].as_str().unwrap()))
        .collect();
    assert_eq!(
        also,
        vec![
            ("وكالة ب", "https://b.example/2024/water"),
            ("C Wire", "https://c.example/world/water-summit")
        ]
    );

    let page = rendered(&cfg, &[it], Format::Html);
    let also = page.split("<p class=\"also\">").nth(1).unwrap();
    let also = &also[..also.find("</p>").unwrap()];
    let (tags, text) = tokens(also);
    assert!(text.starts_with("أوردته أيضًا:"), "{text}");
    assert!(
        text.contains("وكالة ب") && text.contains("C Wire"),
        "{text}"
    );
    let hrefs: Vec<&str> = tags
        .iter()
        .flat_map(|t| t.attrs.iter().filter(|(n, _)| n == "href"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        hrefs,
        vec![
            "https://b.example/2024/water",
            "https://c.example/world/water-summit"
        ]
    );
}

#[test]
fn json_feed_has_what_version_1_1_requires() {
    let cfg = config("[websub]\nhub = \"https://hub.example/\"\n");
    let mut a = merged_story();
    a.authors = vec![rafid::model::Person {
        name: "مراسلنا".into(),
        email: None,
        uri: Some("https://a.example/staff/1".into()),
    }];
    let mut b = item(2, "", "", None);
    b.title = None;
    b.content = None;
    let view = View {
        config: &cfg,
        store_id: [7; 16],
        scope: &Scope::Tag("ar".into()),
        since: chrono::DateTime::UNIX_EPOCH,
    };
    let next = Cursor::after(&b);
    let page = Page {
        before: None,
        next: Some(next),
    };
    let body = render_page(&view, &[a, b], Format::Json, &page).body;
    let f: Value = serde_json::from_slice(&body).unwrap();
    // Top level: version (the 1.1 URL), title, items; the optional URLs
    // are absolute and under base_url.
    assert_eq!(f["version"], "https://jsonfeed.org/version/1.1");
    assert!(f["title"].is_string());
    assert_eq!(
        f["home_page_url"],
        "https://news.example/river/tags/ar.html"
    );
    assert_eq!(f["feed_url"], "https://news.example/river/tags/ar.json");
    assert_eq!(
        f["next_url"],
        format!("https://news.example/river/tags/ar.json?before={next}")
    );
    assert_eq!(f["hubs"][0]["type"], "WebSub");
    assert_eq!(f["hubs"][0]["url"], "https://hub.example/");
    let items = f["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for it in items {
        // Each item: a string id, and content_html or content_text.
        assert!(it["id"].is_string(), "{it:#}");
        assert!(
            it["content_html"].is_string() || it["content_text"].is_string(),
            "{it:#}"
        );
        // Dates are RFC 3339.
        for k in ["date_published", "date_modified"] {
            if let Some(d) = it.get(k) {
                DateTime::parse_from_rfc3339(d.as_str().unwrap()).unwrap();
            }
        }
        if let Some(a) = it.get("authors") {
            for p in a.as_array().unwrap() {
                assert!(p["name"].is_string() || p["url"].is_string());
            }
        }
        for k in ["url", "external_url", "image", "banner_image"] {
            if let Some(u) = it.get(k) {
                url::Url::parse(u.as_str().unwrap()).unwrap();
            }
        }
    }
    assert_eq!(items[0]["language"], "ar");
    assert_eq!(items[0]["authors"][0]["name"], "مراسلنا");
}

#[test]
fn the_river_page_gives_each_item_its_language_and_direction() {
    let cfg = config("");
    let mut en = item(
        1,
        "Dates harvest begins in Basra",
        "<p>English text.</p>",
        Some("en"),
    );
    en.sources[0] = source("https://c.example/atom", "C Wire", "https://c.example/1");
    let ar = item(
        2,
        "بدء موسم حصاد التمور في البصرة",
        "<p>نص عربي مع كلمة English في وسطه.</p>",
        Some("ar"),
    );
    // No language given: the letters decide.
    let unknown = item(3, "2024: سوق الكتب يفتح أبوابه", "<p>نص</p>", None);
    let page = rendered(
        &cfg,
        &[unknown.clone(), ar.clone(), en.clone()],
        Format::Html,
    );
    let (tags, text) = tokens(&page);
    let articles: Vec<&Tag> = tags
        .iter()
        .filter(|t| t.name == "article" && !t.end)
        .collect();
    let attrs = |t: &Tag| {
        let mut a = t.attrs.clone();
        a.sort();
        a
    };
    assert_eq!(attrs(articles[0]), vec![("dir".into(), "rtl".into())]);
    assert_eq!(
        attrs(articles[1]),
        vec![("dir".into(), "rtl".into()), ("lang".into(), "ar".into())]
    );
    assert_eq!(
        attrs(articles[2]),
        vec![("dir".into(), "ltr".into()), ("lang".into(), "en".into())]
    );
    // Times are left-to-right islands inside right-to-left items (the day
    // headings' times are dates, without a time of day).
    let times: Vec<&Tag> = tags
        .iter()
        .filter(|t| t.name == "time" && !t.end)
        .filter(|t| {
            t.attrs
                .iter()
                .any(|(n, v)| n == "datetime" && v.contains('T'))
        })
        .collect();
    assert_eq!(times.len(), 3);
    assert!(
        times
            .iter()
            .all(|t| t.attrs.contains(&("dir".into(), "ltr".into())))
    );
    for want in [
        "بدء موسم حصاد التمور في البصرة",
        "Dates harvest begins in Basra",
        "نص عربي مع كلمة English في وسطه.",
        "C Wire",
    ] {
        assert!(text.contains(want), "page text lacks {want:?}");
    }
    // Links to every scope's page and feeds, and the OPML, under base_url.
    let hrefs: Vec<&str> = tags
        .iter()
        .flat_map(|t| t.attrs.iter().filter(|(n, _)| n == "href"))
        .map(|(_, v)| v.as_str())
        .collect();
    for want in [
        "https://news.example/river/",
        "https://news.example/river/feed.atom",
        "https://news.example/river/feed.rss",
        "https://news.example/river/feed.json",
        "https://news.example/river/tags/ar.html",
        "https://news.example/river/tags/ar.atom",
        "https://news.example/river/tags/world.json",
        "https://news.example/river/tags/en.rss",
        "https://news.example/river/opml",
    ] {
        assert!(hrefs.contains(&want), "no link to {want}: {hrefs:#?}");
    }
    // Readable on a phone.
    assert!(
        tags.iter()
            .any(|t| t.name == "meta" && t.attrs.contains(&("name".into(), "viewport".into())))
    );
}

#[test]
fn markup_in_titles_is_removed_not_escaped() {
    let cfg = config("");
    let mut it = item(1, "<b>عاجل</b>: <i>انقطاع</i> الكهرباء", "", Some("ar"));
    let rss = rendered(&cfg, std::slice::from_ref(&it), Format::Rss);
    let feed = feed_rs::parser::parse(rss.as_bytes()).unwrap();
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        "عاجل: انقطاع الكهرباء"
    );
    // Text that only looks like markup stays exactly as it was.
    it.title = Some("الأسعار < 5 دنانير & > 3".into());
    let json: Value = serde_json::from_str(&rendered(&cfg, &[it], Format::Json)).unwrap();
    assert_eq!(json["items"][0]["title"], "الأسعار < 5 دنانير & > 3");
}

#[test]
fn an_entry_without_a_usable_link_or_content_is_still_valid_atom() {
    let cfg = config("");
    let mut it = item(1, "عنوان فقط", "", Some("ar"));
    it.content = None;
    it.link = Some("javascript:alert(1)".into());
    let atom = rendered(&cfg, &[it], Format::Atom);
    let entry = atom.split("<entry").nth(1).unwrap();
    assert!(!entry.contains("rel=\"alternate\""), "{entry}");
    // RFC 4287 4.1.2: no alternate link, so a content element.
    assert!(
        entry.contains("<content type=\"text\"></content>"),
        "{entry}"
    );
}
