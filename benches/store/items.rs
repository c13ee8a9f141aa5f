//! The benchmark's news items: Arabic (60%) and English headlines and
//! bodies built from word lists, spread over feeds and a year of dates, and
//! the same items as the store keeps them for the raw-sled reference.

use chrono::{DateTime, TimeZone, Utc};
use rafid::dedup::keys::{ItemKeys, keys_for};
use rafid::model::{Category, Entry, Item, Person, Source};

use crate::FEEDS;

const AR_SUBJECTS: &[&str] = &[
    "وزارة الصحة",
    "البنك المركزي",
    "بلدية عمّان",
    "جامعة القاهرة",
    "مجلس الوزراء",
    "اتحاد كرة القدم",
    "هيئة الأرصاد الجوية",
    "شركة الكهرباء الوطنية",
    "وزارة التربية والتعليم",
    "غرفة تجارة دبي",
    "المتحف الوطني",
    "مطار بيروت الدولي",
];
const AR_VERBS: &[&str] = &[
    "تعلن عن",
    "تفتتح",
    "تناقش",
    "تطلق",
    "تؤجل",
    "تراجع",
    "توقّع",
    "تستضيف",
];
const AR_OBJECTS: &[&str] = &[
    "خطة جديدة للنقل العام في العاصمة",
    "موسم الحصاد بعد أمطار غزيرة",
    "مشروعًا لتحلية مياه البحر",
    "معرض الكتاب السنوي بمشاركة ٤٠٠ دار نشر",
    "برنامج المنح الدراسية للعام المقبل",
    "تقرير الربع الثالث ونمو الصادرات",
    "حملة التطعيم الموسمية في المدارس",
    "اتفاقية تعاون إقليمي في مجال الطاقة",
];
const EN_SUBJECTS: &[&str] = &[
    "The city council",
    "The central bank",
    "Researchers at the national university",
    "The port authority",
    "Rail operators",
    "The football association",
    "Hospital staff",
    "A regional airline",
];
const EN_VERBS: &[&str] = &[
    "announce", "open", "debate", "launch", "postpone", "review", "sign",
];
const EN_OBJECTS: &[&str] = &[
    "a new bus network for the capital",
    "plans for the harvest season after heavy rain",
    "a desalination project on the coast",
    "the annual book fair with 400 publishers",
    "next year's scholarship scheme",
    "third-quarter figures as exports grow",
    "a seasonal vaccination drive in schools",
];
const AR_SENTENCES: &[&str] = &[
    "وقال المتحدث باسم الوزارة في مؤتمر صحفي عقده صباح اليوم إن العمل في المرحلة الأولى سيبدأ خلال الأسابيع المقبلة، على أن تنتهي قبل نهاية العام.",
    "ويأتي هذا القرار بعد مشاورات استمرت عدة أشهر بين الجهات المعنية وممثلي القطاع الخاص ومنظمات المجتمع المدني.",
    "وأكد المنظمون أن الدخول سيكون مجانيًا لجميع الزوار، وأن البرنامج يتضمن ندوات وورش عمل للأطفال والشباب.",
    "ومن المتوقع أن يستفيد من المشروع نحو ١٢٠ ألف نسمة في المدن والقرى المجاورة، بحسب تقديرات رسمية.",
    "ولم يصدر أي تعليق رسمي من الجهات الأخرى حتى ساعة إعداد هذا الخبر، فيما رحّب خبراء اقتصاديون بالخطوة.",
    "وأشار التقرير إلى أن نسبة النمو بلغت ٣٫٥ في المئة مقارنة بالفترة نفسها من العام الماضي.",
];
const EN_SENTENCES: &[&str] = &[
    "A spokesperson told reporters on Tuesday morning that work on the first phase would begin within weeks and finish before the end of the year.",
    "The decision follows several months of consultations between the ministries involved, private companies and civil society groups.",
    "Organisers said entry would be free for all visitors and that the programme includes talks and workshops for children and young people.",
    "Around 120,000 residents of the city and nearby villages are expected to benefit, according to official estimates published last week.",
    "Other parties had not commented by the time of publication, while economists broadly welcomed the move as overdue.",
    "The report put growth at 3.5 percent compared with the same period last year, slightly above analysts' forecasts.",
];

/// splitmix64: deterministic, good enough to pick words and dates.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn pick<'a>(list: &[&'a str], r: u64) -> &'a str {
    list[(r % list.len() as u64) as usize]
}

pub(crate) fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 1, 0, 0, 0).unwrap()
}

pub(crate) fn feed_url(feed: u64) -> String {
    format!("https://feeds{}.example/{feed}/rss.xml", feed % 23)
}

/// Item `n`: unique GUID, link and text (the serial is in the title and body).
pub(crate) fn entry(n: u64) -> Entry {
    let r = mix(n);
    let arabic = r % 10 < 6;
    let (title, sentences, lang) = if arabic {
        (
            format!(
                "{} {} {} ({n})",
                pick(AR_SUBJECTS, r >> 8),
                pick(AR_VERBS, r >> 16),
                pick(AR_OBJECTS, r >> 24)
            ),
            AR_SENTENCES,
            "ar",
        )
    } else {
        (
            format!(
                "{} {} {} ({n})",
                pick(EN_SUBJECTS, r >> 8),
                pick(EN_VERBS, r >> 16),
                pick(EN_OBJECTS, r >> 24)
            ),
            EN_SENTENCES,
            "en",
        )
    };
    let link = format!(
        "https://news{}.example/{}/{n}-story.html",
        r % 97,
        2025 + r % 2
    );
    let mut body = format!(
        "<figure><img src=\"https://img.example/{n}.jpg\" alt=\"{title}\" width=\"640\" height=\"360\"></figure>\n<p><strong>{title}</strong></p>\n"
    );
    let mut i = 0u64;
    while body.len() < 2000 {
        body.push_str("<p>");
        body.push_str(pick(sentences, mix(r ^ i)));
        if i == 2 {
            body.push_str(&format!(
                " <a href=\"https://news.example/related/{}\">{}</a>",
                n / 7,
                if arabic {
                    "اقرأ أيضًا"
                } else {
                    "Read more"
                }
            ));
        }
        body.push_str("</p>\n");
        i += 1;
    }
    // Dates over a year, not in insertion order: the newest items are
    // scattered through the store, as when feeds arrive in any order.
    let published = epoch() - chrono::Duration::seconds((mix(r) % (365 * 86_400)) as i64);
    Entry {
        guid: Some(format!("urn:news:{n}")),
        title: Some(title),
        link: Some(link),
        content: Some(body),
        summary: None,
        published: Some(published),
        updated: None,
        authors: vec![Person {
            name: if arabic {
                "مراسل الوكالة".into()
            } else {
                "Staff reporter".into()
            },
            email: None,
            uri: None,
        }],
        categories: vec![
            Category {
                term: if arabic {
                    "أخبار محلية".into()
                } else {
                    "Local news".into()
                },
                scheme: None,
                label: None,
            },
            Category {
                term: if arabic {
                    "اقتصاد".into()
                } else {
                    "Economy".into()
                },
                scheme: None,
                label: None,
            },
        ],
        enclosures: Vec::new(),
        language: Some(lang.into()),
        base: None,
    }
}

pub(crate) fn source(feed: u64) -> Source {
    Source {
        feed_url: feed_url(feed),
        feed_title: Some(format!("مصدر الأخبار {feed} — News source {feed}")),
        feed_id: None,
        site_url: Some(format!("https://feeds{}.example/{feed}/", feed % 23)),
        item_link: None,
        guid: None,
        copy: None,
    }
}

/// One document: `len` consecutive items starting at `first`, from one feed.
pub(crate) struct Doc {
    pub(crate) source: Source,
    pub(crate) entries: Vec<Entry>,
    pub(crate) keys: Vec<ItemKeys>,
}

pub(crate) fn doc(first: u64, len: usize) -> Doc {
    let feed = (first / len as u64) % FEEDS;
    let source = source(feed);
    let entries: Vec<Entry> = (first..first + len as u64).map(entry).collect();
    let keys = keys_for(&source.feed_url, None, &entries);
    Doc {
        source,
        entries,
        keys,
    }
}

/// The item `Store::ingest` writes for a new entry: the same bytes raw sled gets.
pub(crate) fn item_as_stored(doc: &Doc, i: usize, now: DateTime<Utc>) -> Item {
    let (e, k) = (&doc.entries[i], &doc.keys[i]);
    let id = k.new_id();
    let keys = std::iter::once(&k.local)
        .chain(k.shared())
        .map(|key| key.0.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    Item {
        id,
        // As the store keeps a new item: the digest published beside the
        // id it is stored under.
        uid: Some(id),
        title: e.title.clone(),
        link: e.link.clone(),
        content: e.content.clone(),
        summary: e.summary.clone(),
        published: e.published,
        updated: e.updated,
        first_seen: now,
        authors: e.authors.clone(),
        categories: e.categories.clone(),
        enclosures: e.enclosures.clone(),
        language: e.language.clone(),
        base: e.base.clone(),
        sources: vec![Source {
            item_link: e.link.clone(),
            guid: e.guid.clone(),
            copy: Some(rafid::model::OutletCopy::of_entry(
                e,
                &k.revision,
                Some(k.local.0.iter().map(|b| format!("{b:02x}")).collect()),
            )),
            ..doc.source.clone()
        }],
        revision: k.revision.clone(),
        keys,
        translations: Vec::new(),
    }
}
