//! Cross-language decision benchmarks: `cargo bench --bench xling`.
//!
//! - **load**: reading the installed Arabic–English dictionary (Debian's
//!   `dict-freedict-ara-eng`), as `rafid dedup eval` does once a run.
//! - **decide**: one Arabic–English pair, from the texts to the verdict:
//!   reading the Arabic text (its words through the dictionary, their
//!   skeletons, its figures), reading the English one, and the decision.
//!
//! Skipped, with a note, when the dictionary is not installed.

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use rafid::dedup::near::Reader;
use rafid::dedup::near::xling::{
    Arabic, DEFAULT_DICTIONARY, DEFAULT_XLING_THRESHOLD, Dictionary, English, NoRarity,
    same_story_across,
};

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
    group.finish();
    c.final_summary();
    println!("dictionary: {} Arabic forms", dict.len());
}
