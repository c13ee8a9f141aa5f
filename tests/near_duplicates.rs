//! Three outlets on three servers carry the same story in re-edited
//! variants, next to stories of their own and a template story that differs
//! only in its numbers and places: the merged feed shows each story once,
//! with every outlet that carried it.

mod common;

use common::rss::{Feed, Item};
use common::{FeedServer, write_config};
use rafid::cli::poll::poll_once;
use rafid::config::{self, Config};
use rafid::publish::{Format, Scope, render_from_store};
use rafid::store::Store;

const STORY: &str = "أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال بسعة 120 سريرا \
    في حي النرجس شمال المدينة، وقال المتحدث باسم الوزارة إن المستشفى سيبدأ استقبال المرضى \
    مطلع الشهر المقبل بعد اكتمال تجهيز أقسام الطوارئ والعناية المركزة وتدريب الكوادر الطبية \
    على الأجهزة الحديثة التي وصلت خلال الأسابيع الماضية.";

/// The same template, another city and other figures: another story.
const SIBLING: &str = "أعلنت وزارة الصحة في مدينة الدمام افتتاح مستشفى جديد للأطفال بسعة 80 سريرا \
    في حي الشاطئ شمال المدينة، وقال المتحدث باسم الوزارة إن المستشفى سيبدأ استقبال المرضى \
    مطلع الشهر المقبل بعد اكتمال تجهيز أقسام الطوارئ والعناية المركزة وتدريب الكوادر الطبية \
    على الأجهزة الحديثة التي وصلت خلال الأسابيع الماضية.";

const MATCH: &str = "فاز فريق النصر على ضيفه الهلال بهدفين مقابل هدف في المباراة التي جمعتهما \
    مساء الجمعة على ملعب الأمير فيصل بن فهد ضمن الجولة الخامسة من الدوري، وسجل أهداف النصر \
    المهاجم البرازيلي في الدقيقة العشرين ثم قائد الفريق قبل نهاية المباراة بدقائق.";

const RAIN: &str = "توقع المركز الوطني للأرصاد هطول أمطار رعدية متوسطة إلى غزيرة على مرتفعات \
    منطقتي عسير والباحة حتى مساء الأحد، مصحوبة برياح نشطة تثير الأتربة والغبار وتحد من مدى \
    الرؤية الأفقية على الطرق السريعة، ودعا السائقين إلى توخي الحذر.";

const MARKET: &str = "أغلق مؤشر السوق الرئيسية تعاملات الأسبوع مرتفعا بدعم من قطاعي المصارف \
    والمواد الأساسية، وبلغت قيمة التداولات نحو ستة مليارات ريال، فيما ارتفعت أسهم أغلب الشركات \
    المدرجة وسط تفاؤل المستثمرين بنتائج الربع الثالث.";

fn rss(title: &str, items: &[(&str, &str, &str, &str)]) -> String {
    Feed::new(title)
        .link(&format!("https://{title}.example/"))
        .items(items.iter().map(|(guid, t, body, date)| {
            let date = chrono::DateTime::parse_from_rfc2822(date).unwrap();
            Item::new(guid, t, &format!("https://{title}.example/n/{guid}"))
                .guid_is_name()
                .body(body)
                .date(date.to_utc())
        }))
        .rss()
}

fn render_json(cfg: &Config) -> serde_json::Value {
    let store = Store::open(&cfg.storage.path, "test render").unwrap();
    let out = render_from_store(&store, cfg, &Scope::All, Format::Json, 1000).unwrap();
    serde_json::from_slice(&out.body).unwrap()
}

fn item_links(item: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = item["_rafid"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

/// `last_opts_out`: the third outlet's `[[feed]]` says `dedup = false`.
async fn three_outlets(
    extra: &str,
    last_opts_out: bool,
) -> (Vec<FeedServer>, Config, tempfile::TempDir) {
    let a = FeedServer::start().await;
    let b = FeedServer::start().await;
    let c = FeedServer::start().await;
    // Outlet one: the story first, a sports story, and the template sibling.
    a.put(
        "/feed.xml",
        rss(
            "alpha",
            &[
                (
                    "a1",
                    "افتتاح مستشفى جديد للأطفال في الرياض",
                    STORY,
                    "Mon, 04 Mar 2024 08:00:00 GMT",
                ),
                (
                    "a2",
                    "النصر يفوز على الهلال",
                    MATCH,
                    "Mon, 04 Mar 2024 09:00:00 GMT",
                ),
                (
                    "a3",
                    "افتتاح مستشفى جديد للأطفال في الدمام",
                    SIBLING,
                    "Mon, 04 Mar 2024 09:30:00 GMT",
                ),
            ],
        ),
        "application/rss+xml",
    );
    // Outlet two: a new headline, diacritics, other punctuation, digits in
    // Arabic-Indic form, a source line; earlier than outlet one.
    let b_story = STORY
        .replace("120", "١٢٠")
        .replace("المستشفى", "المُسْتَشْفَى")
        .replace("،", " -")
        + "<p>المصدر: وكالة الأنباء</p>";
    b.put(
        "/feed.xml",
        rss(
            "beta",
            &[
                (
                    "b1",
                    "الصحة تفتتح مستشفى للأطفال بسعة ١٢٠ سريرا",
                    &b_story,
                    "Mon, 04 Mar 2024 07:30:00 GMT",
                ),
                (
                    "b2",
                    "أمطار رعدية على عسير والباحة",
                    RAIN,
                    "Mon, 04 Mar 2024 10:00:00 GMT",
                ),
            ],
        ),
        "application/rss+xml",
    );
    // Outlet three: a trimmed copy with a typo and a read-more line, and
    // the same copy re-posted under a new GUID.
    let c_story = STORY
        .split("وتدريب")
        .next()
        .unwrap()
        .replace("الطوارئ", "الطوارىء")
        + "<p>اقرأ أيضاً: أخبار الصحة</p>";
    // The re-post: the typo fixed, the read-more line gone.
    let c_repost = STORY.split("وتدريب").next().unwrap().to_string();
    c.put(
        "/feed.xml",
        rss(
            "gamma",
            &[
                (
                    "c1",
                    "مستشفى أطفال جديد في الرياض",
                    &c_story,
                    "Mon, 04 Mar 2024 08:15:00 GMT",
                ),
                (
                    "c2",
                    "السوق يغلق مرتفعا",
                    MARKET,
                    "Mon, 04 Mar 2024 11:00:00 GMT",
                ),
                (
                    "c3",
                    "تحديث: مستشفى أطفال جديد في الرياض",
                    &c_repost,
                    "Mon, 04 Mar 2024 08:20:00 GMT",
                ),
            ],
        ),
        "application/rss+xml",
    );
    let dir = tempfile::tempdir().unwrap();
    let (ua, ub, uc) = (a.url("/feed.xml"), b.url("/feed.xml"), c.url("/feed.xml"));
    let feeds: Vec<(&str, &[&str])> = vec![(&ua, &[]), (&ub, &[]), (&uc, &[])];
    let path = write_config(dir.path(), &feeds, extra);
    if last_opts_out {
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("dedup = false\n");
        std::fs::write(&path, text).unwrap();
    }
    let cfg = config::load(&path).unwrap();
    (vec![a, b, c], cfg, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_story_from_three_outlets_is_shown_once_with_all_of_them() {
    let (_servers, cfg, _dir) = three_outlets("", false).await;
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.stats.new, 5, "{summary:?}");
    assert_eq!(summary.stats.merged, 3, "{summary:?}");
    assert_eq!(summary.stats.near_duplicates, 3, "{summary:?}");

    let feed = render_json(&cfg);
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{feed:#}");
    let hospital: Vec<&serde_json::Value> = items
        .iter()
        .filter(|i| {
            i["content_text"]
                .as_str()
                .or(i["content_html"].as_str())
                .unwrap_or("")
                .contains("النرجس")
                || i["title"].as_str().unwrap_or("").contains("الرياض")
                || i["title"].as_str().unwrap_or("").contains("١٢٠")
        })
        .collect();
    assert_eq!(hospital.len(), 1, "{feed:#}");
    let story = hospital[0];
    let links = item_links(story);
    assert_eq!(links.len(), 3, "{story:#}");
    for (outlet, guid) in [("alpha", "a1"), ("beta", "b1"), ("gamma", "c1")] {
        let want = format!("https://{outlet}.example/n/{guid}");
        assert!(links.contains(&want), "{want} missing from {links:?}");
    }
    // The earliest published date of all copies (outlet two's).
    assert_eq!(story["date_published"], "2024-03-04T07:30:00Z", "{story:#}");
    // The template sibling in another city stays a story of its own.
    assert!(
        items
            .iter()
            .any(|i| i["title"] == "افتتاح مستشفى جديد للأطفال في الدمام"),
        "{feed:#}"
    );

    // Every index agrees with the merged items.
    {
        let store = Store::open(&cfg.storage.path, "test check").unwrap();
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
    }

    // A second poll brings nothing new and changes nothing.
    let again = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(
        again.stats.new + again.stats.merged + again.stats.updated,
        0,
        "{again:?}"
    );
    assert_eq!(render_json(&cfg)["items"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_duplicates_can_be_turned_off() {
    let (_servers, cfg, _dir) = three_outlets("[dedup]\nnear_duplicates = false\n", false).await;
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.stats.near_duplicates, 0, "{summary:?}");
    assert_eq!(summary.stats.merged, 0, "{summary:?}");
    // The three copies and the re-post each stand alone.
    assert_eq!(render_json(&cfg)["items"].as_array().unwrap().len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_can_opt_out() {
    let (_servers, cfg, _dir) = three_outlets("", true).await;
    assert!(!cfg.feeds[2].dedup);
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.stats.near_duplicates, 1, "{summary:?}");
    let feed = render_json(&cfg);
    let items = feed["items"].as_array().unwrap();
    // Outlets one and two merge; outlet three's copy and re-post stand alone.
    assert_eq!(items.len(), 7, "{feed:#}");
    let merged = items
        .iter()
        .find(|i| item_links(i).len() == 2)
        .expect("the story of outlets one and two");
    assert_eq!(
        item_links(merged),
        ["https://alpha.example/n/a1", "https://beta.example/n/b1"]
    );
    assert!(items.iter().all(|i| item_links(i).len() <= 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_polled_after_a_restart_finds_the_story() {
    let (servers, cfg, dir) = three_outlets("", false).await;
    // First only outlet one, in one process; then all three, in another:
    // the index is rebuilt from the store, with the items' own (old) dates.
    let only_first: Vec<(&str, &[&str])> = vec![(cfg.feeds[0].url.as_str(), &[][..])];
    let first = config::load(&write_config(dir.path(), &only_first, "")).unwrap();
    assert_eq!(poll_once(first).await.unwrap().stats.new, 3);
    let all: Vec<(String, &[&str])> = servers
        .iter()
        .map(|s| (s.url("/feed.xml"), &[][..]))
        .collect();
    let all: Vec<(&str, &[&str])> = all.iter().map(|(u, t)| (u.as_str(), *t)).collect();
    let cfg = config::load(&write_config(dir.path(), &all, "")).unwrap();
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.stats.near_duplicates, 3, "{summary:?}");
    assert_eq!(render_json(&cfg)["items"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_one_document_lists_side_by_side_merge_only_when_their_headlines_agree() {
    let s = FeedServer::start().await;
    // One line under every listing, as a shop's feed has it (two listings
    // differ by a word only one adds); the parts of a series; and a re-post
    // of part one with "تحديث:" added.
    let shop = "طقم أصلي من الشركة المصنعة يناسب جميع الطرازات، اذكر نوع سيارتك عند الطلب.";
    s.put(
        "/feed.xml",
        rss(
            "delta",
            &[
                (
                    "d1",
                    "طقم مصابيح خلفية لسيارة فورد فوكس خمسة أبواب",
                    shop,
                    "Mon, 04 Mar 2024 08:00:00 GMT",
                ),
                (
                    "d2",
                    "طقم مصابيح خلفية لسيارة مرسيدس موديل ألفين",
                    shop,
                    "Mon, 04 Mar 2024 08:05:00 GMT",
                ),
                (
                    "d3",
                    "حوار مع وزير الصحة عن المستشفى الجديد: الجزء أ",
                    STORY,
                    "Mon, 04 Mar 2024 09:00:00 GMT",
                ),
                (
                    "d4",
                    "حوار مع وزير الصحة عن المستشفى الجديد: الجزء ب",
                    STORY,
                    "Mon, 04 Mar 2024 09:05:00 GMT",
                ),
                (
                    "d5",
                    "تحديث: حوار مع وزير الصحة عن المستشفى الجديد: الجزء أ",
                    STORY,
                    "Mon, 04 Mar 2024 09:10:00 GMT",
                ),
            ],
        ),
        "application/rss+xml",
    );
    let dir = tempfile::tempdir().unwrap();
    let url = s.url("/feed.xml");
    let cfg = config::load(&write_config(dir.path(), &[(&url, &[])], "")).unwrap();
    let summary = poll_once(cfg.clone()).await.unwrap();
    assert_eq!(summary.stats.new, 4, "{summary:?}");
    assert_eq!(summary.stats.near_duplicates, 1, "{summary:?}");
    let feed = render_json(&cfg);
    let titles: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 4, "{titles:?}");
    assert!(titles.iter().all(|t| !t.starts_with("تحديث")), "{titles:?}");
}
