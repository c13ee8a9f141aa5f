//! Rule evaluation benchmark: `cargo bench --bench rules`.
//!
//! The cost of judging one item against a rule set of 100 rules (90 plain
//! words and phrases, Arabic and English, on every field; 10 `regex:`
//! patterns), compiled once as the config does:
//! - **judge/short**: an item with a title and a summary of about 300
//!   characters (what most news feeds carry);
//! - **judge/long**: the same with an HTML body of about 2 KB;
//! - **judge-words-only/long**: the 90 word rules alone, without the regexes;
//! - **normalize/long**: `normalize_text` of that item's title and body
//!   alone: the floor, since matching needs the text normalized anyway;
//! - **naive/long**: the same 90 words searched one by one (`str::match_indices`
//!   per pattern and field, same boundary rule): what one automaton saves.
//!
//! No item matches a drop rule, so every rule is tried (the worst case).
//! After criterion's report, the same three are timed again on the thread's
//! CPU clock, which other processes on a busy machine disturb much less than
//! the wall clock criterion reads.
//!
//! And the cost of rendering a named river (newest 100 items, Atom) from a
//! store of 10k items in 4 feeds, against the main feed from the same store:
//! - **render/main**: the main feed (the reference);
//! - **render/river-common**: a river whose keep rule matches every other item;
//! - **render/river-rare**: a river whose keep rule matches one item in 1000
//!   (its tag takes the per-feed indexes):
//!   it looks at the newest `river_scan_bound(100)` = 5000 items at most.
//!
//! The river renders are warm: each item's verdict is remembered from the
//! render before, as when the daemon renders a river again after a poll.
//! **render/river-rare-cold** judges every item again, as the first render
//! after the rules were compiled does.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rafid::model::{Category, Entry, Person};
use rafid::rules::{Doc, Field, Kind, Rule, Rules};
use rafid::text::html_to_text;
use rafid::text::normalize::normalize_text;

const AR_WORDS: [&str; 45] = [
    "إعلان",
    "ممول",
    "برعاية",
    "عرض خاص",
    "تخفيضات",
    "كوبون",
    "خصم",
    "اشترك الآن",
    "مسابقة",
    "جائزة",
    "الأبراج",
    "حظك اليوم",
    "وصفة",
    "مطبخ",
    "موضة",
    "أزياء",
    "مشاهير",
    "فضيحة",
    "صادم",
    "لن تصدق",
    "فيديو",
    "صور",
    "بث مباشر",
    "كرة القدم",
    "الدوري",
    "المنتخب",
    "مباراة",
    "هدف",
    "ملعب",
    "بطولة",
    "سباق",
    "تنس",
    "سلة",
    "ملاكمة",
    "مصارعة",
    "فنان",
    "مطرب",
    "مسلسل",
    "فيلم",
    "حفل",
    "مهرجان",
    "عرض أزياء",
    "تسوق",
    "بيع",
    "شراء",
];

const EN_WORDS: [&str; 40] = [
    "sponsored",
    "advert",
    "promoted",
    "partner content",
    "deal",
    "coupon",
    "discount",
    "giveaway",
    "horoscope",
    "recipe",
    "celebrity",
    "gossip",
    "shocking",
    "you won't believe",
    "video",
    "photos",
    "live stream",
    "football",
    "league",
    "match",
    "goal",
    "stadium",
    "tournament",
    "race",
    "tennis",
    "basketball",
    "boxing",
    "wrestling",
    "singer",
    "series",
    "movie",
    "concert",
    "festival",
    "fashion",
    "shopping",
    "sale",
    "buy now",
    "subscribe",
    "newsletter",
    "podcast",
];

const PREFIXES: [&str; 5] = ["رياض*", "sport*", "ترفي*", "entertain*", "lifestyl*"];

const REGEXES: [&str; 10] = [
    r"regex:\b(?:win|won) \d+",
    r"regex:^(?:ad|ads|promo)\b",
    r"regex:\bcasino\b",
    r"regex:\d{2,} ?% off",
    r"regex:^https?://[^/]+/(?:ads|promo|sponsored)/",
    r"regex:\bكازينو\b",
    r"regex:(?:ربح|اربح) \d+",
    r"regex:\bbet(?:ting)?\b",
    r"regex:\blottery\b",
    r"regex:يانصيب",
];

fn rule_set() -> Rules {
    let fields = [
        Field::Any,
        Field::Title,
        Field::Content,
        Field::Category,
        Field::Author,
    ];
    let mut drop = Vec::new();
    for (i, w) in AR_WORDS
        .iter()
        .chain(EN_WORDS.iter())
        .chain(PREFIXES.iter())
        .enumerate()
    {
        drop.push(Rule::new(Kind::Drop, fields[i % fields.len()], w).unwrap());
    }
    for (i, r) in REGEXES.iter().enumerate() {
        let field = if i == 4 { Field::Link } else { Field::Any };
        drop.push(Rule::new(Kind::Drop, field, r).unwrap());
    }
    assert_eq!(drop.len(), 100);
    Rules::new(Vec::new(), drop, Vec::new()).unwrap()
}

fn item(long: bool) -> Entry {
    let sentence = "<p>قالت الحكومة في بيان رسمي صدر صباح اليوم إن المفاوضات حول الموازنة العامة \
                    للعام المقبل ستستأنف الأسبوع القادم بمشاركة ممثلين عن القطاع الخاص والنقابات، \
                    وأكد الوزير أن الإصلاحات الضريبية تهدف إلى تخفيف العبء عن الأسر.</p>";
    let summary = sentence.to_string();
    let content = long.then(|| sentence.repeat(8));
    Entry {
        guid: Some("bench-1".into()),
        title: Some("الحكومة تستأنف مفاوضات الموازنة العامة مع القطاع الخاص".into()),
        link: Some("https://news.example/politics/2024/03/budget-talks-resume".into()),
        content,
        summary: Some(summary),
        authors: vec![Person {
            name: "سارة الكاتب".into(),
            email: None,
            uri: None,
        }],
        categories: vec![
            Category {
                term: "سياسة".into(),
                scheme: None,
                label: None,
            },
            Category {
                term: "اقتصاد".into(),
                scheme: None,
                label: None,
            },
        ],
        language: Some("ar".into()),
        ..Entry::default()
    }
}

/// The reference: each word searched on its own in each normalized field.
fn naive(words: &[String], fields: &[String]) -> bool {
    for w in words {
        for text in fields {
            for (at, _) in text.match_indices(w.as_str()) {
                let end = at + w.len();
                let before_ok = at == 0 || text.as_bytes()[at - 1] == b' ';
                let after_ok = end == text.len() || text.as_bytes()[end] == b' ';
                if before_ok && after_ok {
                    return true;
                }
            }
        }
    }
    false
}

fn bench(c: &mut Criterion) {
    let rules = rule_set();
    let short = item(false);
    let long = item(true);
    assert!(rules.judge(&Doc::of_entry(&short)).kept());
    assert!(rules.judge(&Doc::of_entry(&long)).kept());

    let mut g = c.benchmark_group("rules");
    g.bench_function("judge/short", |b| {
        b.iter(|| rules.judge(black_box(&Doc::of_entry(&short))))
    });
    g.bench_function("judge/long", |b| {
        b.iter(|| rules.judge(black_box(&Doc::of_entry(&long))))
    });
    let words_only = Rules::new(
        Vec::new(),
        rules
            .rules()
            .iter()
            .filter(|r| !r.source.starts_with("regex:"))
            .cloned()
            .collect(),
        Vec::new(),
    )
    .unwrap();
    g.bench_function("judge-words-only/long", |b| {
        b.iter(|| words_only.judge(black_box(&Doc::of_entry(&long))))
    });
    g.bench_function("normalize/long", |b| {
        b.iter(|| {
            let l = black_box(&long);
            let mut n = normalize_text(l.title.as_deref().unwrap_or(""));
            for html in [l.content.as_deref(), l.summary.as_deref()]
                .into_iter()
                .flatten()
            {
                n.push_str(&normalize_text(&html_to_text(html)));
            }
            n
        })
    });
    let words: Vec<String> = AR_WORDS
        .iter()
        .chain(EN_WORDS.iter())
        .map(|w| normalize_text(w))
        .collect();
    g.bench_function("naive/long", |b| {
        b.iter(|| {
            let l = black_box(&long);
            let mut fields = vec![normalize_text(l.title.as_deref().unwrap_or(""))];
            for html in [l.content.as_deref(), l.summary.as_deref()]
                .into_iter()
                .flatten()
            {
                fields.push(normalize_text(&html_to_text(html)));
            }
            for p in &l.authors {
                fields.push(normalize_text(&p.name));
            }
            for cat in &l.categories {
                fields.push(normalize_text(&cat.term));
            }
            fields.extend(l.link.as_deref().map(normalize_text));
            naive(&words, &fields)
        })
    });
    g.finish();

    let cpu = |n: u32, f: &dyn Fn()| {
        let t0 = thread_cpu();
        for _ in 0..n {
            f();
        }
        (thread_cpu() - t0) / f64::from(n) * 1e6
    };
    let short_us = cpu(20_000, &|| {
        black_box(rules.judge(&Doc::of_entry(black_box(&short))));
    });
    let short_words_us = cpu(20_000, &|| {
        black_box(words_only.judge(&Doc::of_entry(black_box(&short))));
    });
    let long_us = cpu(5_000, &|| {
        black_box(rules.judge(&Doc::of_entry(black_box(&long))));
    });
    let norm_us = cpu(5_000, &|| {
        let l = black_box(&long);
        let mut n = normalize_text(l.title.as_deref().unwrap_or(""));
        for html in [l.content.as_deref(), l.summary.as_deref()]
            .into_iter()
            .flatten()
        {
            n.push_str(&normalize_text(&html_to_text(html)));
        }
        black_box(n);
    });
    println!(
        "CPU time per item, 100 rules: judge/short {short_us:.1} µs (words only: \
         {short_words_us:.1} µs), judge/long {long_us:.1} µs, normalize/long {norm_us:.1} µs \
         (judge/long = {:.2} x normalize/long)",
        long_us / norm_us
    );
}

/// Seconds of CPU this thread has used.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn build_store(dir: &std::path::Path) -> (rafid::config::Config, rafid::store::Store) {
    use chrono::{Duration, TimeZone, Utc};
    let mut text = format!(
        "[storage]\npath = {:?}\n",
        dir.join("data").display().to_string()
    );
    for f in 0..4 {
        text.push_str(&format!(
            "[[feed]]\nurl = \"https://f{f}.example/feed.xml\"\ntags = [\"news\"]\n"
        ));
    }
    text.push_str("[[river]]\nname = \"common\"\nkeep = { any = [\"اقتصاد\"] }\n");
    text.push_str(
        "[[river]]\nname = \"rare\"\ntags = [\"news\"]\nkeep = { title = [\"النفط\"] }\n",
    );
    let cfg = rafid::config::parse(std::path::Path::new("bench.toml"), &text).unwrap();
    let store = rafid::store::Store::open(&cfg.storage.path, "bench").unwrap();
    let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let base = item(false);
    let mut n = 0usize;
    for feed in &cfg.feeds {
        let source = rafid::model::Source {
            feed_url: feed.key().to_string(),
            feed_title: None,
            feed_id: None,
            site_url: None,
            item_link: None,
            guid: None,
            copy: None,
        };
        for _ in 0..5 {
            let entries: Vec<Entry> = (0..500)
                .map(|_| {
                    n += 1;
                    let topic = if n % 1000 == 0 {
                        "النفط"
                    } else if n % 2 == 0 {
                        "اقتصاد"
                    } else {
                        "سياسة"
                    };
                    Entry {
                        guid: Some(format!("item-{n}")),
                        title: Some(format!("خبر رقم {n} عن {topic}")),
                        link: Some(format!("https://news.example/{n}")),
                        published: Some(t0 + Duration::minutes(n as i64)),
                        ..base.clone()
                    }
                })
                .collect();
            let keys = rafid::dedup::keys::keys_for(feed.key(), None, &entries);
            store
                .ingest(
                    &source,
                    &entries,
                    &keys,
                    &rafid::model::FeedState::default(),
                    Utc::now(),
                )
                .unwrap();
        }
    }
    (cfg, store)
}

fn bench_rivers(c: &mut Criterion) {
    use rafid::publish::{Format, Outputs, Scope, render_from_store};
    let dir = tempfile::tempdir().unwrap();
    let (cfg, store) = build_store(dir.path());
    let count = |scope: &Scope| {
        let r = render_from_store(&store, &cfg, scope, Format::Json, 100).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        v["items"].as_array().unwrap().len()
    };
    assert_eq!(count(&Scope::All), 100);
    assert_eq!(count(&Scope::River("common".into())), 100);
    // 10 of the 10k items match; the newest 5000 (the scan bound) hold 5.
    assert_eq!(count(&Scope::River("rare".into())), 5);
    let mut g = c.benchmark_group("render");
    // One set of outputs, as the running daemon keeps: its verdict cache
    // makes the river renders after the first warm.
    let outputs = Outputs::default();
    for (name, scope) in [
        ("main", Scope::All),
        ("river-common", Scope::River("common".into())),
        ("river-rare", Scope::River("rare".into())),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                outputs
                    .render_page_from_store(
                        &store,
                        &cfg,
                        black_box(&scope),
                        Format::Atom,
                        100,
                        None,
                    )
                    .unwrap()
            })
        });
    }
    // The free function starts from no remembered verdicts on every call.
    g.bench_function("river-rare-cold", |b| {
        b.iter(|| {
            render_from_store(
                &store,
                &cfg,
                black_box(&Scope::River("rare".into())),
                Format::Atom,
                100,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_rivers);
criterion_main!(benches);
