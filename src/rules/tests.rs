//! The rules' checks: word boundaries, Arabic proclitics, phrases,
//! regexes, languages and fingerprints.

use super::*;

fn rules(keep: &[(&str, &str)], drop: &[(&str, &str)], lang: &[&str]) -> Rules {
    let mk = |kind, list: &[(&str, &str)]| {
        list.iter()
            .map(|(f, p)| Rule::new(kind, Field::from_name(f).unwrap(), p).unwrap())
            .collect::<Vec<_>>()
    };
    Rules::new(
        mk(Kind::Keep, keep),
        mk(Kind::Drop, drop),
        lang.iter().map(|s| s.to_string()).collect(),
    )
    .unwrap()
}

fn entry(title: &str) -> Entry {
    Entry {
        title: Some(title.into()),
        ..Entry::default()
    }
}

fn drops_title(pattern: &str, title: &str) -> bool {
    let r = rules(&[], &[("title", pattern)], &[]);
    !r.judge(&Doc::of_entry(&entry(title))).kept()
}

#[test]
fn words_match_through_arabic_normalization() {
    let cases = [
        ("الرئيس", "وصل الرَّئِيس إلى المدينة", true),
        ("الرئيس", "وصل الرئيـــس إلى المدينة", true),
        ("الرَّئيس", "وصل الرئيس", true),
        ("أحمد", "قال احمد", true),
        ("مدرسة", "افتتاح مدرسه جديدة", true),
        ("2024", "ميزانية ٢٠٢٤", true),
        ("Sponsored", "SPONSORED: buy now", true),
        ("sponsored", "unsponsored content", false),
    ];
    for (pattern, title, want) in cases {
        assert_eq!(drops_title(pattern, title), want, "{pattern} in {title}");
    }
}

#[test]
fn arabic_words_match_with_attached_proclitics_only() {
    let cases = [
        ("النفط", "أسعار النفط ترتفع", true),
        ("النفط", "ارتفاع والنفط", true),
        ("النفط", "مدفوع بالنفط", true),
        ("النفط", "صندوق للنفط", true),
        ("النفط", "وللنفط أثر", true),
        ("النفط", "فالنفط أولا", true),
        ("النفط", "الشركات النفطية", false),
        ("النفط", "منالنفط", false),
        ("نفط", "أسعار النفط", true),
        ("نفط", "وبالنفط", true),
        ("نفط", "سعر نفطي", false),
        ("نفط*", "سعر نفطي", true),
        ("نفط*", "الشركات النفطية", true),
        ("oil", "the oil price", true),
        ("oil", "boil water", false),
        ("oil", "oils", false),
        ("oil*", "oils", true),
    ];
    for (pattern, title, want) in cases {
        assert_eq!(drops_title(pattern, title), want, "{pattern} in {title}");
    }
}

#[test]
fn phrases_match_in_order() {
    assert!(drops_title("وزير الخارجية", "قال وزير الخارجية اليوم"));
    assert!(drops_title("وزير الخارجية", "قال ووزير الخارجية"));
    assert!(!drops_title("وزير الخارجية", "الخارجية وزير"));
    assert!(drops_title("breaking news", "Breaking   News: x"));
}

#[test]
fn regex_runs_on_normalized_text_except_links() {
    assert!(drops_title(r"regex:(?i)\boil\b", "Oil rises"));
    assert!(drops_title(r"regex:^عاجل", "عاجِل: خبر"));
    assert!(!drops_title(r"regex:^عاجل", "خبر عاجل"));
    let r = rules(&[], &[("link", r"regex:^https://a\.example/ads/")], &[]);
    let mut e = entry("x");
    e.link = Some("https://a.example/ads/1".into());
    assert_eq!(r.judge(&Doc::of_entry(&e)), Verdict::Dropped(0));
    e.link = Some("https://a.example/news/1".into());
    assert!(r.judge(&Doc::of_entry(&e)).kept());
}

#[test]
fn each_field_looks_at_its_own_text() {
    let mut e = entry("عنوان");
    e.content = Some("<p>نص عن <b>الاقتصاد</b></p>".into());
    e.summary = Some("ملخص".into());
    e.authors = vec![Person {
        name: "Jane Doe".into(),
        email: None,
        uri: None,
    }];
    e.categories = vec![Category {
        term: "sport".into(),
        scheme: None,
        label: Some("رياضة".into()),
    }];
    e.link = Some("https://news.example/economy/1".into());
    let doc = Doc::of_entry(&e);
    let cases = [
        ("title", "عنوان", true),
        ("title", "الاقتصاد", false),
        ("content", "الاقتصاد", true),
        ("content", "ملخص", true),
        ("content", "b", false),
        ("author", "doe", true),
        ("author", "عنوان", false),
        ("category", "sport", true),
        ("category", "رياضة", true),
        ("category", "sport رياضة", false),
        ("link", "economy", true),
        ("link", "sport", false),
        ("any", "economy", true),
        ("any", "رياضة", true),
        ("any", "غائب", false),
    ];
    for (field, pattern, want) in cases {
        let r = rules(&[], &[(field, pattern)], &[]);
        assert_eq!(!r.judge(&doc).kept(), want, "{field} {pattern}");
    }
}

#[test]
fn drop_wins_over_keep_and_keep_lets_only_matches_through() {
    let r = rules(
        &[("any", "اقتصاد"), ("any", "النفط")],
        &[("title", "إعلان")],
        &[],
    );
    let j = |t: &str| r.judge(&Doc::of_entry(&entry(t)));
    assert_eq!(j("إعلان عن النفط"), Verdict::Dropped(0));
    assert_eq!(j("أسعار النفط"), Verdict::Keep(Some(2)));
    assert_eq!(j("كرة القدم"), Verdict::NoKeepMatched);
    assert_eq!(r.rules()[0].label(), "drop.title \"إعلان\"");
}

#[test]
fn language_is_declared_else_detected() {
    let r = rules(&[], &[], &["ar"]);
    let mut e = entry("أسعار النفط ترتفع");
    assert!(r.judge(&Doc::of_entry(&e)).kept());
    e.language = Some("ar-EG".into());
    assert!(r.judge(&Doc::of_entry(&e)).kept());
    e.language = Some("en".into());
    assert_eq!(
        r.judge(&Doc::of_entry(&e)),
        Verdict::Language(Some("en".into()))
    );
    let e = entry("Oil prices rise");
    assert_eq!(
        r.judge(&Doc::of_entry(&e)),
        Verdict::Language(Some("en".into()))
    );
}

#[test]
fn bad_patterns_are_refused_with_a_reason() {
    let e = Pattern::parse("regex:(unclosed").unwrap_err();
    assert!(e.contains("not a valid regex"), "{e}");
    let e = Pattern::parse("regex:").unwrap_err();
    assert!(e.contains("needs a pattern"), "{e}");
    let e = Pattern::parse("«»").unwrap_err();
    assert!(e.contains("no letters or digits"), "{e}");
}

#[test]
fn fingerprints_follow_the_rules() {
    let a = rules(&[("any", "x")], &[("title", "y")], &[]);
    let b = rules(&[("any", "x")], &[("title", "y")], &[]);
    let c = rules(&[("any", "x")], &[("title", "z")], &[]);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert_eq!(a.keep_fingerprint(), c.keep_fingerprint());
    assert!(a.has_drop_rule("drop.title \"y\""));
    assert!(!c.has_drop_rule("drop.title \"y\""));
}
