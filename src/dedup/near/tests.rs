use chrono::{DateTime, Utc};

use super::align::changes;
use super::decision::headlines_agree;
use super::doc::Token;
use super::words::{light_stem, same_word};
use super::*;
use crate::model::ItemId;
use crate::text::normalize::normalize_text;

fn doc(title: &str, body: &str) -> Doc {
    Reader::default().doc(Some(title), Some(body))
}

const STORY: &str = "أعلنت وزارة الصحة في مدينة الرياض افتتاح مستشفى جديد للأطفال بسعة 120 سريرا \
    في حي النرجس شمال المدينة، وقال المتحدث باسم الوزارة إن المستشفى سيبدأ استقبال المرضى \
    مطلع الشهر المقبل بعد اكتمال تجهيز أقسام الطوارئ والعناية المركزة وتدريب الكوادر الطبية \
    على الأجهزة الحديثة التي وصلت خلال الأسابيع الماضية.";

#[test]
fn headlines_of_one_outlet_agree_only_when_one_adds_words() {
    let r = Reader::new(DEFAULT_BOILERPLATE.iter().copied());
    let doc = |t: &str| r.doc(Some(t), None);
    let base = doc("وصول طائرة الإغاثة الرابعة إلى عدن");
    assert!(headlines_agree(
        &base,
        &doc("تحديث: وصول طائرة الإغاثة الرابعة إلى عدن")
    ));
    assert!(headlines_agree(
        &base,
        &doc("وصول طائرة الاغاثه الرابعه الى عدن")
    ));
    assert!(headlines_agree(
        &base,
        &doc("وصول طائرة الإغاثة الرابعة لعدن")
    ));
    assert!(!headlines_agree(
        &base,
        &doc("وصول طائرة الإغاثة الخامسة إلى عدن")
    ));
    assert!(!headlines_agree(
        &doc("حوار مع الوزير: الجزء أ"),
        &doc("حوار مع الوزير: الجزء ب")
    ));
    assert!(!headlines_agree(
        &doc("Rear set for Ford Focus, 5 doors"),
        &doc("Rear set for Mercedes 210, black")
    ));
}

#[test]
fn boilerplate_lines_are_dropped_and_configurable() {
    let r = Reader::default();
    let d = r.doc(
        None,
        Some("<p>نص الخبر هنا</p><p>المصدر: وكالة الأنباء</p><p>ترجمة: فريق التحرير</p>\n<p>اقرأ أيضاً: خبر آخر</p><p>Read more</p>"),
    );
    assert_eq!(d.body, ["نص", "الخبر", "هنا"]);
    let custom = Reader::new(["حقوق النشر"]);
    let d = custom.doc(None, Some("نص\nحقوق النشر محفوظة\nالمصدر: واس"));
    assert_eq!(d.body, ["نص", "المصدر", "واس"]);
    // A long paragraph that starts like a source line is text.
    let long = format!("المصدر {}", "كلمة ".repeat(20));
    assert!(!r.is_boilerplate(&normalize_text(&long)));
    // Sixteen words at most.
    let words = |n: usize| normalize_text(&format!("المصدر{}", " كلمة".repeat(n - 1)));
    assert!(r.is_boilerplate(&words(16)));
    assert!(!r.is_boilerplate(&words(17)));
}

#[test]
fn rewritten_copies_are_the_same_story() {
    let a = doc("افتتاح مستشفى جديد للأطفال في الرياض", STORY);
    let variants = [
        // Punctuation, diacritics, tatweel, digits, letter variants.
        STORY
            .replace("،", " - ")
            .replace("المستشفى", "المُسْتَشْفَى")
            .replace("الطوارئ", "الطـــوارئ")
            .replace("120", "١٢٠")
            .replace("أقسام", "اقسام"),
        // Typos: two letters swapped.
        STORY
            .replace("الحديثة", "الحدثية")
            .replace("المرضى", "المرضي"),
        // Source and translator lines, a read-more line.
        format!("{STORY}\nالمصدر: واس\nاقرأ أيضا: أخبار أخرى"),
        // Truncated to a summary.
        STORY.split("وقال").next().unwrap_or_default().to_string()
            + " وقال المتحدث باسم الوزارة إن المستشفى سيبدأ",
        // Reporting words changed.
        STORY.replace("وقال", "وأوضح"),
    ];
    for v in &variants {
        let b = doc("الصحة تفتتح مستشفى للأطفال", v);
        let verdict = same_story(&a, &b, DEFAULT_THRESHOLD);
        assert!(verdict.duplicate, "{v}: {verdict:?}");
    }
}

#[test]
fn a_different_number_place_or_name_is_another_story() {
    let a = doc("افتتاح مستشفى جديد للأطفال في الرياض", STORY);
    let cases = [
        STORY.replace("120", "80"),
        STORY.replace("الرياض", "جدة").replace("النرجس", "الروضة"),
        STORY.replace("النرجس", "الملقا"),
        format!("{STORY} وأسفر الحادث عن إصابة 14 شخصا"),
    ];
    for v in &cases {
        // The title says what the body says.
        let title = if v.contains("جدة") {
            "افتتاح مستشفى جديد للأطفال في جدة"
        } else {
            "افتتاح مستشفى جديد للأطفال في الرياض"
        };
        let b = doc(title, v);
        let verdict = same_story(&a, &b, DEFAULT_THRESHOLD);
        assert!(!verdict.duplicate, "{v}: {verdict:?}");
        assert!(verdict.conflict.is_some());
    }
}

#[test]
fn unrelated_stories_are_apart() {
    let a = doc("افتتاح مستشفى", STORY);
    let b = doc(
        "فوز الفريق",
        "فاز الفريق الأول لكرة القدم على ضيفه بثلاثة أهداف مقابل هدف في المباراة التي أقيمت \
         مساء الخميس على الملعب الرئيسي أمام جمهور غفير ملأ المدرجات حتى صافرة النهاية",
    );
    let v = same_story(&a, &b, DEFAULT_THRESHOLD);
    assert!(!v.duplicate);
    assert!(v.score < 0.1);
}

#[test]
fn threshold_tunes_the_decision() {
    let a = doc("t", STORY);
    let half: String = STORY.split(' ').take(20).collect::<Vec<_>>().join(" ")
        + " ثم جاء نص مختلف تماما عن الموضوع لا علاقة له بما سبق من كلام في هذا الخبر ابدا";
    let b = doc("t", &half);
    let v = same_story(&a, &b, DEFAULT_THRESHOLD);
    assert!(same_story(&a, &b, 0.2).duplicate, "{v:?}");
    assert!(!same_story(&a, &b, 0.95).duplicate);
}

#[test]
fn changes_are_the_differing_stretches() {
    let a: Vec<&str> = "a b c d e f g h".split(' ').collect();
    let b: Vec<&str> = "a b x d e f y y h z".split(' ').collect();
    let got: Vec<(Vec<&str>, Vec<&str>)> = changes(&a, &b)
        .into_iter()
        .map(|c| (a[c.a].to_vec(), b[c.b].to_vec()))
        .collect();
    assert_eq!(
        got,
        vec![
            (vec!["c"], vec!["x"]),
            (vec!["g"], vec!["y", "y"]),
            (vec![], vec!["z"]),
        ]
    );
    // Moved text: the unique tokens in order anchor, the rest differs.
    let a: Vec<&str> = "p q r s t".split(' ').collect();
    let b: Vec<&str> = "s t p q r".split(' ').collect();
    let n: usize = changes(&a, &b).iter().map(|c| c.a.len() + c.b.len()).sum();
    assert_eq!(n, 4);
}

#[test]
fn words_compare_through_clitics_and_typos() {
    assert!(same_word("والمدينة", "المدينة"));
    assert!(same_word("يحمل", "يمحل"));
    assert!(same_word("ب10", "10"));
    assert!(!same_word("الرياض", "جدة"));
    assert!(!same_word("35", "25"));
    assert!(same_word("ثلاثة", "3") || same_word("ثلاثه", "3"));
    assert!(same_word("والثلاثه", "3") || same_word("ثلاثه", "3"));
    assert!(!same_word("خمسه", "3"));
    let long = "ب".repeat(5000);
    assert!(!same_word(&long, &format!("{long}ا")));
}

#[test]
fn one_anchor_in_common_is_followed_only_to_a_copy_three_times_longer() {
    // Distinct words, so every shingle is one of a kind.
    let body = |n: usize, tag: &str| -> Vec<Token> {
        (0..n).map(|i| format!("{tag}{i}").into()).collect()
    };
    let stored = Doc {
        title: vec![],
        body: body(200, "w"),
    };
    let anchors = stored.anchors();
    assert!(anchors.len() >= 2, "{anchors:?}");
    let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let mut ix = Index::default();
    let id = ItemId([7; 16]);
    ix.insert(id, t0, &stored);
    let hour = 3600;
    let found = |probe: &[u64], tokens: u32| ix.candidates(probe, tokens, t0, 72 * hour);
    // A text as long as the stored one meeting it on one anchor: chance.
    assert!(found(&anchors[..1], 200).is_empty());
    assert!(found(&anchors[..1], 100).is_empty());
    assert!(found(&anchors[..1], 67).is_empty());
    // On two anchors, or as a short copy of a text three times its length,
    // or as a headline: followed.
    assert_eq!(found(&anchors[..2], 200), vec![id]);
    assert_eq!(found(&anchors[..1], 66), vec![id]);
    assert_eq!(found(&anchors[..1], 0), vec![id]);
}

#[test]
fn a_prune_walks_the_copies_only_when_one_may_be_outside_the_window() {
    let a = doc("افتتاح مستشفى", STORY);
    let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let at = |hours: i64| t0 + chrono::Duration::hours(hours);
    let (hour, mut ix) = (3600, Index::default());
    assert!(!ix.prune_outside(72 * hour), "an empty index");
    ix.insert(ItemId([1; 16]), at(0), &a);
    ix.insert(ItemId([2; 16]), at(1), &a);
    assert!(!ix.prune_outside(72 * hour), "both in the window");
    assert_eq!(ix.len(), 2);
    // A newer story moves the window past both.
    ix.insert(ItemId([3; 16]), at(100), &a);
    assert!(ix.prune_outside(72 * hour));
    assert_eq!(ix.len(), 1);
    assert!(
        !ix.prune_outside(72 * hour),
        "what is left is in the window"
    );
    // A story stored late with an old date is still found and pruned.
    ix.insert(ItemId([4; 16]), at(2), &a);
    assert!(ix.prune_outside(72 * hour));
    assert_eq!(ix.len(), 1);
}

#[test]
fn index_finds_copies_within_the_window_only() {
    let a = doc("افتتاح مستشفى", STORY);
    let b = doc("الصحة تفتتح", &format!("{STORY}\nالمصدر: واس"));
    let other = doc(
        "فوز",
        "فاز الفريق الأول لكرة القدم على ضيفه بثلاثة أهداف مقابل هدف في المباراة التي أقيمت",
    );
    let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let mut ix = Index::default();
    ix.insert(ItemId([1; 16]), t0, &a);
    ix.insert(ItemId([2; 16]), t0, &other);
    let hour = 3600;
    assert_eq!(
        ix.candidates(&b.probe(), b.indexed_tokens(), t0, 72 * hour),
        vec![ItemId([1; 16])]
    );
    let late = t0 + chrono::Duration::hours(100);
    assert!(
        ix.candidates(&b.probe(), b.indexed_tokens(), late, 72 * hour)
            .is_empty()
    );
    ix.remove(ItemId([1; 16]));
    assert!(
        ix.candidates(&b.probe(), b.indexed_tokens(), t0, 72 * hour)
            .is_empty()
    );
    assert_eq!(ix.len(), 1);
    ix.insert(ItemId([3; 16]), late, &other);
    ix.prune_outside(72 * hour);
    assert_eq!(
        ix.len(),
        1,
        "the items dated 100 hours before the newest go"
    );
}

#[test]
fn a_short_formula_under_every_item_merges_nothing() {
    let formula = "لقراءة تفاصيل الخبر كاملة يرجى زيارة موقعنا الإلكتروني الرسمي اليوم";
    let a = doc("ارتفاع أسعار النفط في الأسواق العالمية", formula);
    let b = doc("فوز المنتخب في المباراة الودية", formula);
    let v = same_story(&a, &b, DEFAULT_THRESHOLD);
    assert!(!v.duplicate, "{v:?}");
    let c = doc("أسعار النفط ترتفع في الأسواق العالمية", formula);
    assert!(same_story(&a, &c, DEFAULT_THRESHOLD).duplicate);
}

#[test]
fn headlines_alone_compare_on_their_words() {
    let a = Reader::default().doc(Some("ارتفاع أسعار النفط بعد قرار أوبك خفض الإنتاج"), None);
    let b = Reader::default().doc(Some("أسعار النفط ترتفع بعد قرار أوبك خفض الإنتاج"), None);
    assert!(same_story(&a, &b, DEFAULT_THRESHOLD).duplicate);
    let short = Reader::default().doc(Some("عاجل"), None);
    assert!(!same_story(&short, &short.clone(), DEFAULT_THRESHOLD).duplicate);
    let c = Reader::default().doc(Some("انخفاض أسعار الذهب بعد قرار البنك المركزي"), None);
    assert!(!same_story(&a, &c, DEFAULT_THRESHOLD).duplicate);
}

/// A corpus in which the given words are common and every other word
/// rare, as a store full of news would have it.
struct Common(&'static [&'static str]);

impl Corpus for Common {
    fn rare(&self, word: &str) -> bool {
        !self
            .0
            .iter()
            .any(|w| light_stem(&normalize_text(w)) == word)
    }
}

const PLANE: &str = "هبطت في مطار عدن الدولي اليوم الطائرة السعودية الرابعة ضمن الجسر الجوي \
    الذي يسيره مركز الإغاثة، وعلى متنها 10 أطنان من الأدوية والمستلزمات الطبية \
    المخصصة لمستشفيات المدينة، ويرافقها فريق من المتطوعين سيتولى تسليم الشحنة \
    إلى الجهات الصحية المحلية خلال الأيام المقبلة وفق خطة التوزيع المعتمدة.";

#[test]
fn another_ordinal_or_tonnage_is_another_flight() {
    let fourth = doc("وصول الطائرة الإغاثية الرابعة إلى عدن", PLANE);
    // Another outlet's report of a later flight: the same formula,
    // re-edited, with the ordinal and the load in other places.
    let sixth = doc(
        "الإغاثة: الطائرة السادسة تصل عدن",
        "هبطت في مطار عدن الدولي اليوم الطائرة السعودية السادسة ضمن الجسر الجوي \
         الذي يسيره مركز الإغاثة، ويرافقها فريق من المتطوعين سيتولى تسليم الشحنة \
         إلى الجهات الصحية المحلية خلال الأيام المقبلة وفق خطة التوزيع المعتمدة. \
         وعلى متنها مواد غذائية تزن 11 طنا مخصصة لمستشفيات المدينة.",
    );
    let v = same_story(&fourth, &sixth, DEFAULT_THRESHOLD);
    assert!(v.score >= DEFAULT_THRESHOLD, "{v:?}");
    assert!(!v.duplicate, "{v:?}");
    assert!(
        v.conflict
            .as_deref()
            .is_some_and(|c| c.contains("different")),
        "{v:?}"
    );
}

#[test]
fn one_figure_written_another_way_is_the_same_fact() {
    let base = "أعلنت الهيئة أن عدد سكان المحافظة بلغ 1.250.000 نسمة وفق التعداد الأخير \
        وأن مساحتها تبلغ 40 كم2 وأن الإنفاق على مشاريعها بلغ 1.5 مليار ريال خلال ثلاث مراحل \
        متتالية شملت الطرق والمدارس والمستشفيات والحدائق العامة في الأحياء الجديدة";
    let other = "أعلنت الهيئة أن عدد سكان المحافظة بلغ 1,250,000 نسمة وفق التعداد الأخير \
        وأن مساحتها تبلغ 40 كيلومترا مربعا وأن الإنفاق على مشاريعها بلغ مليار ونصف ريال خلال 3 مراحل \
        متتالية شملت الطرق والمدارس والمستشفيات والحدائق العامة في الأحياء الجديدة";
    let v = same_story(
        &doc("سكان المحافظة", base),
        &doc("سكان المحافظة", other),
        DEFAULT_THRESHOLD,
    );
    assert!(v.duplicate, "{v:?}");
    let changed = other.replace("1,250,000", "1,350,000");
    let v = same_story(
        &doc("سكان المحافظة", base),
        &doc("سكان المحافظة", &changed),
        DEFAULT_THRESHOLD,
    );
    assert!(!v.duplicate, "{v:?}");
}

#[test]
fn a_dateline_is_not_a_fact() {
    let with = format!("جدة 12 ذو القعدة 1436 هـ الموافق 27 أغسطس 2015 م (واس)\n{STORY}");
    let v = same_story(
        &doc("مستشفى للأطفال", STORY),
        &doc("مستشفى للأطفال", &with),
        DEFAULT_THRESHOLD,
    );
    assert!(v.duplicate, "{v:?}");
}

#[test]
fn synonyms_and_honorifics_are_not_names_in_a_corpus() {
    let edited = STORY
        .replace("أعلنت", "أكدت")
        .replace("وقال", "وأوضح")
        .replace("الماضية", "الأخيرة")
        .replace("الحديثة", "المتطورة");
    let a = doc("مستشفى جديد", STORY);
    let b = doc("مستشفى جديد", &edited);
    let corpus = Common(&["الماضية", "الأخيرة", "الحديثة", "المتطورة"]);
    let v = same_story_in(&a, &b, DEFAULT_THRESHOLD, &corpus);
    assert!(v.duplicate, "{v:?}");
    // A place swapped is a different story in any corpus.
    let moved = doc(
        "مستشفى جديد",
        &STORY
            .replace("الرياض", "الدمام")
            .replace("النرجس", "الفيصلية"),
    );
    assert!(!same_story_in(&a, &moved, DEFAULT_THRESHOLD, &corpus).duplicate);
    // With no statistics, any word the other text lacks might be a name.
    assert!(!same_story(&a, &b, DEFAULT_THRESHOLD).duplicate);
}

#[test]
fn headlines_with_opposite_predicates_or_places_are_apart() {
    let r = Reader::default();
    let h = |t: &str| r.doc(Some(t), None);
    let rise = h("أسعار الذهب ترتفع إلى أعلى مستوى في ستة أشهر");
    let fall = h("أسعار الذهب تهبط إلى أدنى مستوى في ستة أشهر");
    assert!(!same_story(&rise, &fall, DEFAULT_THRESHOLD).duplicate);
    let paraphrase = h("ارتفاع أسعار الذهب لأعلى مستوى في ستة أشهر");
    assert!(same_story(&rise, &paraphrase, DEFAULT_THRESHOLD).duplicate);
    let here = h("وفد من الفلبين يبحث أزمة العمالة مع الكويت");
    let there = h("وفد من باكستان يبحث أزمة العمالة مع الكويت");
    assert!(!same_story(&here, &there, DEFAULT_THRESHOLD).duplicate);
}

#[test]
fn every_pair_kept_apart_says_why() {
    let a = doc("افتتاح مستشفى", STORY);
    let b = doc(
        "مباراة",
        "فاز الفريق في المباراة النهائية بعد أداء قوي أمام جمهوره الكبير في الملعب",
    );
    let v = same_story(&a, &b, DEFAULT_THRESHOLD);
    assert!(!v.duplicate && v.conflict.is_some(), "{v:?}");
}

#[test]
fn a_repost_may_carry_a_new_or_longer_headline_but_not_a_variant() {
    let story = doc("راكب أمواج يتعرض لهجوم من سمكة قرش", STORY);
    // The same text under a headline that adds and drops words.
    let longer = doc("راكب أمواج يتعرض لهجوم قرش في مسابقة دولية", STORY);
    assert!(may_be_repost(&story, &longer));
    // Under a headline written anew.
    let anew = doc("المستشفى يستقبل مرضاه مطلع الشهر المقبل", STORY);
    assert!(may_be_repost(&story, &anew));
    // Variants: a part number, a model.
    let part1 = doc("حوار مع الوزير عن المستشفى الجديد: الجزء 1", STORY);
    let part2 = doc("حوار مع الوزير عن المستشفى الجديد: الجزء 2", STORY);
    assert!(!may_be_repost(&part1, &part2));
    let ford = doc("طقم مصابيح خلفية لسيارة فورد فوكس", STORY);
    let benz = doc("طقم مصابيح خلفية لسيارة مرسيدس بنز", STORY);
    assert!(!may_be_repost(&ford, &benz));
}

/// A minister's meeting, written to go in front of `STORY` in a roundup.
const AUDIENCE: &str = "استقبل وزير الخارجية في مكتبه بالرياض اليوم سفير اليابان لدى المملكة، \
    وجرى خلال اللقاء بحث العلاقات الثنائية بين البلدين وسبل تعزيزها في مجالات التجارة \
    والطاقة والتعليم، إضافة إلى مناقشة عدد من القضايا الإقليمية والدولية ذات الاهتمام \
    المشترك. وأعرب السفير عن تقدير بلاده لما تلقاه من تعاون في مختلف المجالات.";

#[test]
fn a_roundup_carrying_a_story_and_another_is_not_that_story() {
    let story = doc("افتتاح مستشفى جديد للأطفال في الرياض", STORY);
    // The page runs the meeting, then the hospital, under the meeting's
    // headline: merged with the hospital's report, the meeting would show
    // nowhere.
    let roundup = doc(
        "وزير الخارجية يستقبل سفير اليابان",
        &format!("{AUDIENCE}\nمن جهة ثانية، {STORY}"),
    );
    let v = same_story(&roundup, &story, DEFAULT_THRESHOLD);
    assert!(v.score >= DEFAULT_THRESHOLD, "{v:?}");
    assert!(!v.duplicate, "{v:?}");
    assert!(
        v.conflict
            .as_deref()
            .is_some_and(|c| c.contains("another story")),
        "{v:?}"
    );
    // A copy that adds background keeps the story's headline: the same story.
    let longer = doc(
        "الصحة تفتتح مستشفى للأطفال في حي النرجس بالرياض",
        &format!(
            "{STORY}\nويأتي افتتاح المستشفى ضمن خطة الوزارة لتوسيع الخدمات الصحية للأطفال في \
             العاصمة، بعد افتتاح مركزين للرعاية الأولية في الأحياء الشرقية خلال العام الماضي، \
             وتعمل الوزارة على استكمال مستشفيات أخرى في الأحياء الجديدة وفق جدول معلن."
        ),
    );
    let v = same_story(&longer, &story, DEFAULT_THRESHOLD);
    assert!(v.duplicate, "{v:?}");
}

#[test]
fn a_story_is_found_through_any_members_copy() {
    let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let hospital = doc("افتتاح مستشفى", STORY);
    let meeting = doc("لقاء", AUDIENCE);
    let (story, other) = (ItemId([1; 16]), ItemId([2; 16]));
    let (m1, m2) = (
        member_key("https://a.example/f"),
        member_key("https://b.example/f"),
    );
    let mut ix = Index::default();
    ix.insert_member(story, m1, t0, &hospital);
    ix.insert_member(story, m2, t0, &meeting);
    ix.insert_member(
        other,
        m1,
        t0,
        &doc(
            "فوز",
            "فاز الفريق الأول لكرة القدم على ضيفه بثلاثة أهداف مقابل هدف في المباراة التي أقيمت",
        ),
    );
    assert_eq!(ix.len(), 2, "stories, not copies");
    let hour = 3600;
    // A copy of the second member's text finds the story under that member.
    let found = ix.candidate_members(&meeting.probe(), meeting.indexed_tokens(), t0, 72 * hour);
    assert_eq!(found.first(), Some(&(story, m2)), "{found:?}");
    assert_eq!(
        ix.candidates(&hospital.probe(), hospital.indexed_tokens(), t0, 72 * hour),
        vec![story]
    );
    // A member indexed again replaces its copy, and stays one member.
    ix.insert_member(story, m2, t0, &meeting);
    assert_eq!(
        ix.candidate_members(&meeting.probe(), meeting.indexed_tokens(), t0, 72 * hour)
            .iter()
            .filter(|c| **c == (story, m2))
            .count(),
        1
    );
    // The story goes with every member.
    ix.remove(story);
    assert!(
        ix.candidates(&meeting.probe(), meeting.indexed_tokens(), t0, 72 * hour)
            .is_empty()
    );
    assert!(
        ix.candidates(&hospital.probe(), hospital.indexed_tokens(), t0, 72 * hour)
            .is_empty()
    );
    assert_eq!(ix.len(), 1);
    // A story stays while any member's copy is in the window.
    let late = t0 + chrono::Duration::hours(100);
    ix.insert_member(story, m1, t0, &hospital);
    ix.insert_member(story, m2, late, &meeting);
    ix.prune_outside(72 * hour);
    assert_eq!(
        ix.candidates(&hospital.probe(), hospital.indexed_tokens(), t0, 72 * hour),
        vec![story]
    );
    assert_eq!(ix.len(), 1, "the old story alone went");
}

#[test]
fn a_name_in_latin_letters_is_the_name_in_arabic() {
    const PAY: &str = "أطلقت وزارة التجارة خدمة الدفع المباشر في خدماتها الإلكترونية عبر نظام \
        سداد، وتتيح الخدمة للمستفيدين سداد رسوم السجلات التجارية والعلامات فور تقديم الطلب \
        دون مراجعة الفروع، وقال المتحدث باسم الوزارة إن الخدمة تختصر مدة الإجراءات وتشمل \
        جميع البنوك المحلية المشاركة في النظام خلال الأسابيع المقبلة.";
    let a = doc("التجارة تطلق الدفع المباشر", PAY);
    let b = doc(
        "التجارة تطلق الدفع المباشر",
        &PAY.replace("عبر نظام سداد،", "عبر نظام SADAD،"),
    );
    let v = same_story(&a, &b, DEFAULT_THRESHOLD);
    assert!(v.duplicate, "{v:?}");
    // Another name in the same script is still another name.
    let c = doc(
        "التجارة تطلق الدفع المباشر",
        &PAY.replace("عبر نظام سداد،", "عبر نظام مدى،"),
    );
    assert!(!same_story(&a, &c, DEFAULT_THRESHOLD).duplicate);
}

#[test]
fn a_text_without_figures_or_headline_places_contradicts_nothing() {
    // Nothing compared: a story's members need not be read to know this
    // copy fits them.
    let plain = doc(
        "افتتاح مستشفى جديد للأطفال",
        "أعلنت وزارة الصحة افتتاح مستشفى جديد للأطفال في حي النرجس",
    );
    assert!(!Facts::of(&plain).can_contradict());
    let tonnage = doc(
        "وصول طائرة إغاثة",
        "وصلت الطائرة وعلى متنها 10 أطنان من المواد الغذائية",
    );
    assert!(Facts::of(&tonnage).can_contradict());
    let place = doc("وصول طائرة إغاثة إلى عدن", "وصلت الطائرة اليوم");
    assert!(Facts::of(&place).can_contradict());
    // The facts read once say what `contradiction` says of the two texts.
    let other = doc(
        "وصول طائرة إغاثة",
        "وصلت الطائرة وعلى متنها 11 طنا من المواد الغذائية",
    );
    let why = Facts::of(&tonnage).contradiction(&Facts::of(&other));
    assert!(why.is_some(), "10 and 11 tonnes must differ");
    assert_eq!(why, contradiction(&tonnage, &other, &NoCorpus));
    assert_eq!(Facts::of(&plain).contradiction(&Facts::of(&other)), None);
}

#[test]
fn a_rebuilt_index_finds_each_member_through_its_own_copy() {
    use crate::model::{Entry, Item, OutletCopy, Source};
    let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let member = |feed: &str, title: &str, body: &str| Source {
        feed_url: feed.to_string(),
        feed_title: None,
        feed_id: None,
        site_url: None,
        item_link: None,
        guid: None,
        copy: Some(OutletCopy::of_entry(
            &Entry {
                title: Some(title.into()),
                content: Some(format!("<p>{body}</p>")),
                published: Some(t0),
                ..Entry::default()
            },
            "r",
            None,
        )),
    };
    let (a, b) = ("https://a.example/f", "https://b.example/f");
    // A story of two outlets showing a's copy, b's telling it otherwise;
    // and a story of one outlet.
    let mut story = Item::of_copy(ItemId([1; 16]), t0, member(a, "افتتاح مستشفى", STORY));
    story.sources.push(member(b, "لقاء", AUDIENCE));
    let single = Item::of_copy(ItemId([2; 16]), t0, member(b, "استقبال السفير", AUDIENCE));
    let near = NearDup::new(
        DEFAULT_BOILERPLATE.iter().copied(),
        DEFAULT_THRESHOLD,
        std::time::Duration::from_secs(72 * 3600),
        Vec::new(),
    );
    let mut state = NearState::default();
    let items = [story.clone(), single.clone()].map(|i| Ok::<_, ()>((i.id, i)));
    state.rebuild(&near, items).unwrap();
    let ix = state.index().unwrap();
    let hour = 3600;
    let found = |d: &Doc| ix.candidate_members(&d.probe(), d.indexed_tokens(), t0, 72 * hour);
    let (hospital, meeting) = (doc("افتتاح مستشفى", STORY), doc("لقاء", AUDIENCE));
    assert!(found(&hospital).contains(&(story.id, member_key(a))));
    // Each member under its own copy, not the copy the story shows.
    let through_meeting = found(&meeting);
    assert!(
        through_meeting.contains(&(story.id, member_key(b))),
        "{through_meeting:?}"
    );
    assert!(
        through_meeting.contains(&(single.id, member_key(b))),
        "{through_meeting:?}"
    );
    assert!(!found(&hospital).contains(&(story.id, member_key(b))));
}
