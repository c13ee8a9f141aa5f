//! Cross-language decision benchmarks: `cargo bench --bench xling`.
//!
//! - **load**: reading the installed Arabic–English dictionary (Debian's
//!   `dict-freedict-ara-eng`), as `rafid dedup eval` does once a run.
//! - **decide**: one Arabic–English pair, from the texts to the verdict:
//!   reading the Arabic text (its words through the dictionary, their
//!   skeletons, its figures), reading the English one, and the decision.
//! - **per item at 100k**: what the daemon does for a new Arabic story
//!   with `cross_language` on, against an index of 100k stories (half in
//!   each language, their anchor keys drawn from 20k names with a skew):
//!   reading it, finding its candidates, and reading and deciding each of
//!   them (`MAX_CANDIDATES`, every one found here: the worst case). The
//!   daemon also loads the candidates from the store.
//!
//! Skipped, with a note, when the dictionary is not installed.

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use rafid::dedup::near::Reader;
use rafid::dedup::near::xling::{
    Arabic, CrossIndex, DEFAULT_DICTIONARY, DEFAULT_XLING_THRESHOLD, Dictionary, English, Lang,
    MAX_CANDIDATES, NoRarity, same_story_across,
};
use rafid::model::ItemId;

const AR_TITLE: &str = "افتتاح جسر جديد على طريق الملك فهد في الدمام بطول 900 متر";
const AR_BODY: &str = "افتتح أمير المنطقة الشرقية اليوم جسرا جديدا على طريق الملك فهد في مدينة \
    الدمام بطول 900 متر وبتكلفة بلغت 120 مليون ريال، ويهدف المشروع إلى تخفيف الازدحام المروري \
    عند التقاطعات الرئيسية وتسهيل حركة الشاحنات القادمة من الميناء، وأوضح أمين المنطقة أن العمل \
    استغرق ثمانية عشر شهرا وأن الجسر يضم ثلاثة مسارات في كل اتجاه.";
const EN_TITLE: &str = "New 900-metre bridge opens on King Fahd Road in Dammam";
const EN_BODY: &str = "DAMMAM - The governor of the Eastern Province on Sunday opened a new \
    900-metre bridge on King Fahd Road in Dammam, built at a cost of 120 million riyals to ease \
    congestion at the main junctions and speed lorries coming from the port. The mayor said the \
    work took eighteen months and the bridge carries three lanes each way.";

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let path = Path::new(DEFAULT_DICTIONARY);
    let dict = match Dictionary::load(path) {
        Ok(d) => d,
        Err(e) => {
            println!("xling benchmarks skipped: {e}");
            return;
        }
    };
    let reader = Reader::default();
    let doc = reader.doc(Some(AR_TITLE), Some(AR_BODY));
    let verdict = same_story_across(
        &Arabic::read(&doc, &dict),
        &English::read(EN_TITLE, EN_BODY),
        &dict,
        &NoRarity,
        DEFAULT_XLING_THRESHOLD,
    );
    // A decision that links nothing would measure nothing.
    assert!(verdict.linked, "{verdict:?}");
    let mut group = c.benchmark_group("xling");
    group.bench_function("load the dictionary", |b| {
        b.iter(|| Dictionary::load(path).map(|d| d.len()))
    });
    group.bench_function("decide one pair", |b| {
        b.iter(|| {
            same_story_across(
                &Arabic::read(&doc, &dict),
                &English::read(EN_TITLE, EN_BODY),
                &dict,
                &NoRarity,
                DEFAULT_XLING_THRESHOLD,
            )
            .linked
        })
    });
    // The index: 100k stories, each under 12 keys drawn from 20k names
    // (skewed, as names recur), and the new story's own keys given to a few
    // English ones so that it has its candidates.
    let now = chrono::Utc::now();
    let mut ix = CrossIndex::default();
    let mut x: u64 = 0x5eed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let english = English::read(EN_TITLE, EN_BODY);
    for n in 0..100_000u64 {
        let keys: Vec<String> = (0..12)
            .map(|_| {
                let u = (next() % 1_000_000) as f64 / 1_000_000.0;
                format!("k{}", 20_000f64.powf(u) as u64)
            })
            .collect();
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&n.to_le_bytes());
        let lang = if n % 2 == 0 {
            Lang::Arabic
        } else {
            Lang::English
        };
        let reading = (lang == Lang::English).then_some(&english);
        ix.insert(ItemId(id), lang, keys, now, reading);
    }
    let arabic = Arabic::read(&doc, &dict);
    let own = arabic.anchor_keys();
    for n in 0..MAX_CANDIDATES as u64 {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(1_000_000 + n).to_le_bytes());
        ix.insert(ItemId(id), Lang::English, own.clone(), now, Some(&english));
    }
    let window = chrono::Duration::hours(72);
    let found = ix.candidates(Lang::English, &own, now, window).len();
    assert_eq!(found, MAX_CANDIDATES);
    group.bench_function("per item at 100k stories", |b| {
        b.iter(|| {
            let arabic = Arabic::read(&doc, &dict);
            let mut linked = 0;
            for _ in ix.candidates(Lang::English, &arabic.anchor_keys(), now, window) {
                let other = English::read(EN_TITLE, EN_BODY);
                linked +=
                    same_story_across(&arabic, &other, &dict, ix.rarity(), DEFAULT_XLING_THRESHOLD)
                        .linked as usize;
            }
            linked
        })
    });
    group.finish();
    c.final_summary();
    println!("dictionary: {} Arabic forms", dict.len());
}
