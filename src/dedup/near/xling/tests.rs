//! Cross-language decision tests, on texts written for them and a small
//! dictionary of their words (the installed one is not there in a bare
//! checkout).

use super::*;
use crate::dedup::near::Reader;

fn dict() -> Dictionary {
    Dictionary::of(&[
        ("وصول", "Arrival"),
        ("طائرة", "Plane\nAircraft"),
        ("الطائرة", "The plane"),
        ("إغاثة", "Relief\nAid"),
        ("مطار", "Airport"),
        ("محملة", "Loaded"),
        ("مستلزمات", "Supplies"),
        ("طبية", "Medical"),
        ("الغسيل", "Washing\nDialysis"),
        ("الكلوي", "Renal\nKidney"),
        ("مرضى", "Patients"),
        ("مركز", "Centre\nCenter"),
        ("الفشل", "Failure"),
        ("أطنان", "Tonnes"),
        ("المساعدات", "Aid"),
        ("اليوم", "Today"),
        ("المتحدث", "Spokesman"),
        ("الجسر", "Bridge"),
        ("الجوي", "Air"),
        ("مستشفيات", "Hospitals"),
        ("الدولة", "State"),
    ])
}

const ARABIC_TITLE: &str =
    "وصول طائرة الإغاثة السعودية الرابعة إلى عدن محملة بعشرة أطنان من المستلزمات الطبية";
const ARABIC_BODY: &str = "وصلت اليوم إلى مطار عدن الدولي الطائرة الرابعة ضمن الجسر الجوي الذي \
    يسيره مركز الملك سلمان للإغاثة، محملة بعشرة أطنان من المستلزمات الطبية لمرضى الفشل الكلوي \
    وأجهزة الغسيل، وقال المتحدث باسم المركز إن المساعدات ستوزع على مستشفيات عدن ولحج.";

fn arabic(d: &Dictionary) -> Arabic {
    Arabic::read(
        &Reader::default().doc(Some(ARABIC_TITLE), Some(ARABIC_BODY)),
        d,
    )
}

fn decide(d: &Dictionary, title: &str, body: &str) -> Link {
    same_story_across(
        &arabic(d),
        &English::read(title, body),
        d,
        &NoRarity,
        DEFAULT_XLING_THRESHOLD,
    )
}

const REPORT: &str = "ADEN - A fourth Saudi relief plane landed at Aden airport on Sunday \
    carrying ten tonnes of medical supplies for kidney failure patients, including dialysis \
    equipment, the King Salman Relief Centre said. A spokesman said the aid would go to \
    hospitals in Aden and Lahj.";

#[test]
fn an_english_report_of_the_story_is_linked_with_its_anchors() {
    let d = dict();
    let link = decide(
        &d,
        "Fourth Saudi relief plane lands in Aden with dialysis supplies",
        REPORT,
    );
    assert!(link.linked, "{link:?}");
    assert!(link.score >= DEFAULT_XLING_THRESHOLD, "{link:?}");
    // Names met through their skeletons: سلمان / Salman, لحج / Lahj.
    assert!(link.anchors.iter().any(|a| a == "salman"), "{link:?}");
}

#[test]
fn another_ordinal_or_tonnage_keeps_them_apart() {
    let d = dict();
    let fifth = decide(
        &d,
        "Fifth Saudi relief plane lands in Aden with dialysis supplies",
        REPORT,
    );
    assert!(!fifth.linked);
    assert!(
        fifth.conflict.as_deref().unwrap_or("").contains("ordinals"),
        "{fifth:?}"
    );
    let heavier = decide(
        &d,
        "Saudi relief plane lands in Aden with dialysis supplies",
        &REPORT.replace("ten tonnes", "12 tonnes"),
    );
    assert!(!heavier.linked);
    assert!(
        heavier
            .conflict
            .as_deref()
            .unwrap_or("")
            .contains("tonnages"),
        "{heavier:?}"
    );
}

#[test]
fn a_place_only_the_english_headline_names_keeps_them_apart() {
    let d = dict();
    let link = decide(
        &d,
        "Fourth Saudi relief plane lands in Jeddah with dialysis supplies",
        &REPORT.replace("Aden", "Jeddah"),
    );
    assert!(!link.linked, "{link:?}");
    assert!(
        link.conflict.as_deref().unwrap_or("").contains("place"),
        "{link:?}"
    );
}

#[test]
fn another_story_about_the_same_centre_is_not_linked() {
    let d = dict();
    let link = decide(
        &d,
        "Saudi relief centre signs food deal with UN agency",
        "RIYADH - The King Salman Relief Centre signed an agreement with the World Food \
         Programme on Monday to fund wheat and flour distributions in Yemen's northern \
         provinces over the coming winter months, its supervisor told reporters.",
    );
    assert!(!link.linked, "{link:?}");
    assert!(
        link.conflict
            .as_deref()
            .unwrap_or("")
            .contains("too little"),
        "{link:?}"
    );
}

#[test]
fn without_a_dictionary_names_and_figures_still_count() {
    let empty = Dictionary::default();
    let with = decide(
        &dict(),
        "Fourth Saudi relief plane lands in Aden with dialysis supplies",
        REPORT,
    );
    let without = decide(
        &empty,
        "Fourth Saudi relief plane lands in Aden with dialysis supplies",
        REPORT,
    );
    assert!(without.score < with.score);
    assert!(!without.anchors.is_empty(), "{without:?}");
}

#[test]
fn rarity_weighs_common_words_down() {
    let mut df = DocFrequencies::default();
    for _ in 0..9 {
        df.add(&English::read(
            "Saudi ministry says",
            "Saudi ministry officials said",
        ));
    }
    df.add(&English::read("Dialysis", "dialysis"));
    assert!(df.weight(&english::stem("dialysis")) > df.weight(&english::stem("saudi")));
}
