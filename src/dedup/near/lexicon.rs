//! The word lists the same-story decision reads text with: which words can
//! name something (and so contradict another text), which are figures, and
//! which say nothing about what happened.
//!
//! Written by hand from general knowledge of Arabic and English news
//! writing, as people write the words; every entry is normalized
//! (`normalize::normalize_text`) when the tables are first used, so a
//! spelling variant of an entry matches it.
//!
//! Why lists and not a model: the decision must run offline, in
//! microseconds, and explain itself. A list is small, reviewable, and each
//! entry is a fact ("Aden is a place", "the sixth is 6") rather than a
//! weight. Names that are in no list are still caught when they are rare
//! in the stored text (see `Corpus`).

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::text::normalize::normalize_text;

/// Words outlets swap for one another without changing the story: time
/// references, reporting verbs, honorifics, function words.
const INTERCHANGEABLE: &[&str] = &[
    // When: a copy published a day later says "yesterday" for "today".
    "اليوم",
    "أمس",
    "غدا",
    "يوم",
    "الليلة",
    "صباح",
    "مساء",
    "ظهر",
    "العام",
    "عام",
    "الماضي",
    "المقبل",
    "القادم",
    "الحالي",
    "الجاري",
    "مؤخرا",
    "أخيرا",
    "حاليا",
    "الآن",
    "السبت",
    "الأحد",
    "الاثنين",
    "الإثنين",
    "الثلاثاء",
    "الأربعاء",
    "الخميس",
    "الجمعة",
    "صباحا",
    "مساء",
    // Reporting verbs and their participles.
    "قال",
    "قالت",
    "أوضح",
    "أوضحت",
    "أكد",
    "أكدت",
    "بين",
    "بينت",
    "أعلن",
    "أعلنت",
    "أشار",
    "أشارت",
    "أضاف",
    "أضافت",
    "لفت",
    "لفتت",
    "ذكر",
    "ذكرت",
    "أفاد",
    "أفادت",
    "أعرب",
    "أعربت",
    "شدد",
    "شددت",
    "صرح",
    "صرحت",
    "نقل",
    "نقلت",
    "تابع",
    "تابعت",
    "مبينا",
    "موضحا",
    "مشيرا",
    "مضيفا",
    "مؤكدا",
    "لافتا",
    "داعيا",
    "منوها",
    "معربا",
    "يذكر",
    "يشار",
    // Honorifics and forms of address: one outlet writes them, another not.
    "سمو",
    "صاحب",
    "السمو",
    "الملكي",
    "معالي",
    "معاليه",
    "فخامة",
    "فخامته",
    "سعادة",
    "سعادته",
    "جلالة",
    "جلالته",
    "سماحة",
    "سماحته",
    "فضيلة",
    "فضيلته",
    "دولة",
    "حفظه",
    "الله",
    "سموه",
    "الشريفين",
    "خادم",
    "الحرمين",
    // Function words.
    "في",
    "من",
    "إلى",
    "على",
    "عن",
    "مع",
    "حيث",
    "إذ",
    "إذا",
    "كما",
    "أيضا",
    "كل",
    "جميع",
    "كافة",
    "بعض",
    "هذا",
    "هذه",
    "ذلك",
    "تلك",
    "التي",
    "الذي",
    "الذين",
    "وقد",
    "قد",
    "ثم",
    "أو",
    "أن",
    "إن",
    "أنه",
    "أنها",
    "لا",
    "لم",
    "لن",
    "ما",
    "هو",
    "هي",
    "هم",
    "هما",
    "بعد",
    "قبل",
    "خلال",
    "عبر",
    "حول",
    "بشأن",
    "نحو",
    "لدى",
    "عند",
    "منذ",
    "حتى",
    "غير",
    "دون",
    "بين",
    "وفق",
    "وفقا",
    "كان",
    "كانت",
    "يكون",
    "تكون",
    "سوف",
    "لقد",
    "عليه",
    "فيه",
    "فيها",
    "منه",
    "منها",
    "له",
    "لها",
    "said",
    "says",
    "told",
    "today",
    "yesterday",
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "and",
    "to",
    "for",
    "with",
    "by",
    "at",
    "from",
    "as",
    "that",
    "this",
    "is",
    "was",
    "were",
    "has",
    "have",
    "had",
    "be",
    "been",
    "it",
    "its",
    "his",
    "her",
    "their",
    "after",
    "before",
];

/// Words after which the next word is a name: titles of people, and the
/// kinds of place and body a name follows.
const NAME_INTRODUCERS: &[&str] = &[
    "بن",
    "ابن",
    "بنت",
    "أبو",
    "أبي",
    "آل",
    "الأمير",
    "الأميرة",
    "الملك",
    "الملكة",
    "الرئيس",
    "الشيخ",
    "الشيخة",
    "السيد",
    "السيدة",
    "الدكتور",
    "الدكتورة",
    "د",
    "المهندس",
    "اللواء",
    "العميد",
    "العقيد",
    "الفريق",
    "المشير",
    "الوزير",
    "السفير",
    "الإمام",
    "القاضي",
    "مدينة",
    "منطقة",
    "محافظة",
    "ولاية",
    "جزيرة",
    "مطار",
    "ميناء",
    "شركة",
    "نادي",
    "صحيفة",
    "جريدة",
    "وكالة",
    "حزب",
    "جامعة",
    "مستشفى",
    "سفينة",
    "الباخرة",
    "حي",
    "قرية",
    "بلدة",
    "مخيم",
    "mr",
    "mrs",
    "ms",
    "dr",
    "president",
    "king",
    "prince",
    "minister",
    "sheikh",
    "city",
    "port",
];

/// Places, peoples and bodies news names, in Arabic and English. Not a
/// gazetteer of the world: the countries, the capitals and cities of the
/// region, and the groups that recur in its news. Anything missing here is
/// still a name when the stored text rarely uses it.
const NAMES: &[&str] = &[
    // Countries.
    "السعودية",
    "اليمن",
    "مصر",
    "العراق",
    "سوريا",
    "سورية",
    "لبنان",
    "الأردن",
    "فلسطين",
    "إسرائيل",
    "الكويت",
    "قطر",
    "البحرين",
    "الإمارات",
    "عمان",
    "إيران",
    "تركيا",
    "ليبيا",
    "تونس",
    "الجزائر",
    "المغرب",
    "موريتانيا",
    "السودان",
    "الصومال",
    "جيبوتي",
    "إثيوبيا",
    "أثيوبيا",
    "إريتريا",
    "كينيا",
    "نيجيريا",
    "تشاد",
    "النيجر",
    "السنغال",
    "أفغانستان",
    "باكستان",
    "الهند",
    "بنغلاديش",
    "إندونيسيا",
    "ماليزيا",
    "الفلبين",
    "الصين",
    "اليابان",
    "كوريا",
    "روسيا",
    "أوكرانيا",
    "ألمانيا",
    "فرنسا",
    "بريطانيا",
    "إيطاليا",
    "إسبانيا",
    "البرتغال",
    "اليونان",
    "هولندا",
    "بلجيكا",
    "سويسرا",
    "النمسا",
    "السويد",
    "النرويج",
    "الدنمارك",
    "فنلندا",
    "بولندا",
    "كندا",
    "أمريكا",
    "أميركا",
    "المكسيك",
    "البرازيل",
    "الأرجنتين",
    "فنزويلا",
    "كولومبيا",
    "تشيلي",
    "بيرو",
    "الإكوادور",
    "كوبا",
    "أستراليا",
    "نيوزيلندا",
    "إسكتلندا",
    "أيرلندا",
    "أذربيجان",
    "أرمينيا",
    "جورجيا",
    "كازاخستان",
    "أوزبكستان",
    "تركمانستان",
    "طاجيكستان",
    "قيرغيزستان",
    "ميانمار",
    "تايلاند",
    "فيتنام",
    "سنغافورة",
    "سريلانكا",
    "نيبال",
    "بوركينا",
    "غانا",
    "الكاميرون",
    "أوغندا",
    "تنزانيا",
    "رواندا",
    "زيمبابوي",
    "أنغولا",
    "موزمبيق",
    "مدغشقر",
    "قبرص",
    "مالطا",
    "صربيا",
    "كرواتيا",
    "البوسنة",
    "ألبانيا",
    "رومانيا",
    "بلغاريا",
    "المجر",
    "التشيك",
    "سلوفاكيا",
    "سلوفينيا",
    "مقدونيا",
    "مولدوفا",
    "بيلاروسيا",
    "ليتوانيا",
    "لاتفيا",
    "إستونيا",
    "أيسلندا",
    "لوكسمبورغ",
    "موناكو",
    "أندورا",
    "ليختنشتاين",
    "جامايكا",
    "هايتي",
    "الدومينيكان",
    "بنما",
    "كوستاريكا",
    "نيكاراغوا",
    "هندوراس",
    "السلفادور",
    "غواتيمالا",
    "بوليفيا",
    "باراغواي",
    "الأوروغواي",
    "أوروغواي",
    "غيانا",
    "سورينام",
    "ترينيداد",
    "توباغو",
    "باربادوس",
    "البهاما",
    "بليز",
    "غرينادا",
    "منغوليا",
    "كمبوديا",
    "لاوس",
    "بروناي",
    "تيمور",
    "بوتان",
    "المالديف",
    "جزرالقمر",
    "موريشيوس",
    "سيشل",
    "الغابون",
    "الكونغو",
    "زامبيا",
    "ملاوي",
    "بوتسوانا",
    "ناميبيا",
    "ليسوتو",
    "سوازيلاند",
    "إسواتيني",
    "بوروندي",
    "ليبيريا",
    "سيراليون",
    "غينيا",
    "بيساو",
    "غامبيا",
    "توغو",
    "كوت",
    "ديفوار",
    "فيجي",
    "ساموا",
    "تونغا",
    "بابوا",
    "فانواتو",
    "كيريباتي",
    "ناورو",
    "توفالو",
    "بالاو",
    "ميكرونيزيا",
    "الفاتيكان",
    // Capitals and cities of the region.
    "الرياض",
    "جدة",
    "مكة",
    "المكرمة",
    "المنورة",
    "الدمام",
    "الظهران",
    "الطائف",
    "تبوك",
    "أبها",
    "مشيط",
    "جازان",
    "جيزان",
    "نجران",
    "الباحة",
    "عسير",
    "حائل",
    "القصيم",
    "بريدة",
    "عنيزة",
    "الجوف",
    "سكاكا",
    "عرعر",
    "الأحساء",
    "القطيف",
    "الجبيل",
    "ينبع",
    "القريات",
    "صنعاء",
    "عدن",
    "تعز",
    "الحديدة",
    "مأرب",
    "حضرموت",
    "المكلا",
    "صعدة",
    "لحج",
    "أبين",
    "شبوة",
    "الضالع",
    "سقطرى",
    "دمشق",
    "حلب",
    "حمص",
    "إدلب",
    "الرقة",
    "الزور",
    "درعا",
    "اللاذقية",
    "طرطوس",
    "الغوطة",
    "بغداد",
    "الموصل",
    "البصرة",
    "أربيل",
    "كركوك",
    "الفلوجة",
    "الرمادي",
    "تكريت",
    "النجف",
    "كربلاء",
    "الأنبار",
    "نينوى",
    "ديالى",
    "بيروت",
    "طرابلس",
    "صيدا",
    "عمان",
    "الزرقاء",
    "إربد",
    "القدس",
    "غزة",
    "الضفة",
    "الخليل",
    "نابلس",
    "جنين",
    "يافا",
    "حيفا",
    "أبيب",
    "القاهرة",
    "الإسكندرية",
    "الجيزة",
    "سيناء",
    "أسوان",
    "الأقصر",
    "بورسعيد",
    "السويس",
    "الإسماعيلية",
    "دبي",
    "أبوظبي",
    "الشارقة",
    "عجمان",
    "الفجيرة",
    "الخيمة",
    "الدوحة",
    "المنامة",
    "مسقط",
    "صلالة",
    "الخرطوم",
    "بنغازي",
    "مصراتة",
    "تونس",
    "صفاقس",
    "الجزائر",
    "وهران",
    "الرباط",
    "مراكش",
    "فاس",
    "طنجة",
    "نواكشوط",
    "مقديشو",
    "طهران",
    "أصفهان",
    "أنقرة",
    "إسطنبول",
    "اسطنبول",
    "كابول",
    "كراتشي",
    "لاهور",
    "الولايات",
    "نيودلهي",
    "مومباي",
    "بكين",
    "شنغهاي",
    "طوكيو",
    "سيول",
    "موسكو",
    "كييف",
    "برلين",
    "باريس",
    "لندن",
    "روما",
    "مدريد",
    "لشبونة",
    "أثينا",
    "بروكسل",
    "جنيف",
    "فيينا",
    "واشنطن",
    "نيويورك",
    "أوتاوا",
    "تورونتو",
    "سيدني",
    "هرمز",
    "السويس",
    // Bodies and groups that recur in the news.
    "داعش",
    "النصرة",
    "القاعدة",
    "طالبان",
    "الحوثي",
    "الحوثيين",
    "الحوثيون",
    "حماس",
    "الناتو",
    "أوبك",
    "اليونسكو",
    "اليونيسف",
    "الأونروا",
    "الفيفا",
    "أرامكو",
    "سابك",
    "واس",
    "رويترز",
    "saudi",
    "arabia",
    "riyadh",
    "jeddah",
    "mecca",
    "medina",
    "yemen",
    "aden",
    "sanaa",
    "egypt",
    "cairo",
    "iraq",
    "baghdad",
    "mosul",
    "syria",
    "damascus",
    "aleppo",
    "raqqa",
    "lebanon",
    "beirut",
    "jordan",
    "amman",
    "palestine",
    "gaza",
    "israel",
    "jerusalem",
    "kuwait",
    "qatar",
    "doha",
    "bahrain",
    "manama",
    "emirates",
    "uae",
    "dubai",
    "oman",
    "muscat",
    "iran",
    "tehran",
    "turkey",
    "ankara",
    "istanbul",
    "libya",
    "tripoli",
    "tunisia",
    "algeria",
    "morocco",
    "rabat",
    "sudan",
    "khartoum",
    "somalia",
    "russia",
    "moscow",
    "china",
    "beijing",
    "india",
    "pakistan",
    "afghanistan",
    "kabul",
    "france",
    "paris",
    "germany",
    "berlin",
    "britain",
    "london",
    "italy",
    "rome",
    "spain",
    "madrid",
    "america",
    "washington",
    "canada",
    "isis",
    "houthi",
    "houthis",
    "hamas",
    "hezbollah",
    "nato",
    "opec",
    "unesco",
    "unicef",
];

/// Names that are one place or body however an outlet writes it: the words
/// of each group count as the same name.
const SAME_NAME: &[&[&str]] = &[
    &["المملكة", "السعودية", "saudi", "السعوديين"],
    &[
        "أمريكا",
        "أميركا",
        "الولايات",
        "الأمريكية",
        "الأميركية",
        "الأمريكي",
        "الأميركي",
        "واشنطن",
        "america",
        "usa",
    ],
    &["سوريا", "سورية", "السورية", "السوري", "syria"],
    &["إيران", "الإيرانية", "الإيراني", "طهران", "iran"],
    &["الإمارات", "الإماراتية", "الإماراتي", "emirates", "uae"],
    &["بريطانيا", "البريطانية", "البريطاني", "britain", "uk"],
    &["عمان", "سلطنة", "العمانية", "العماني"],
    &["الحوثي", "الحوثيين", "الحوثيون", "houthi", "houthis"],
    &["مكة", "المكرمة"],
    &["جازان", "جيزان"],
    &["أثيوبيا", "إثيوبيا"],
    &["إسطنبول", "اسطنبول"],
];

/// Numbers written as words, by value. "مئة" is not here: it also means
/// "percent" in "في المئة", which is a unit (see `UNITS`).
const NUMBER_WORDS: &[(&str, f64)] = &[
    ("واحد", 1.0),
    ("واحدة", 1.0),
    ("اثنان", 2.0),
    ("اثنين", 2.0),
    ("اثنتان", 2.0),
    ("اثنتين", 2.0),
    ("ثلاث", 3.0),
    ("ثلاثة", 3.0),
    ("أربع", 4.0),
    ("أربعة", 4.0),
    ("خمس", 5.0),
    ("خمسة", 5.0),
    ("ست", 6.0),
    ("ستة", 6.0),
    ("سبع", 7.0),
    ("سبعة", 7.0),
    ("ثمان", 8.0),
    ("ثماني", 8.0),
    ("ثمانية", 8.0),
    ("تسع", 9.0),
    ("تسعة", 9.0),
    ("عشر", 10.0),
    ("عشرة", 10.0),
    ("عشرون", 20.0),
    ("عشرين", 20.0),
    ("ثلاثون", 30.0),
    ("ثلاثين", 30.0),
    ("أربعون", 40.0),
    ("أربعين", 40.0),
    ("خمسون", 50.0),
    ("خمسين", 50.0),
    ("ستون", 60.0),
    ("ستين", 60.0),
    ("سبعون", 70.0),
    ("سبعين", 70.0),
    ("ثمانون", 80.0),
    ("ثمانين", 80.0),
    ("تسعون", 90.0),
    ("تسعين", 90.0),
    ("مئتان", 200.0),
    ("مئتين", 200.0),
    ("مائتان", 200.0),
    ("مائتين", 200.0),
    ("ثلاثمئة", 300.0),
    ("ثلاثمائة", 300.0),
    ("أربعمئة", 400.0),
    ("أربعمائة", 400.0),
    ("خمسمئة", 500.0),
    ("خمسمائة", 500.0),
    ("one", 1.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("twenty", 20.0),
    ("thirty", 30.0),
    ("forty", 40.0),
    ("fifty", 50.0),
    ("hundred", 100.0),
];

/// Words that multiply the number before them (or stand for one of it).
const SCALES: &[(&str, f64)] = &[
    ("ألف", 1e3),
    ("آلاف", 1e3),
    ("ألفا", 1e3),
    ("الف", 1e3),
    ("مليون", 1e6),
    ("ملايين", 1e6),
    ("مليونا", 1e6),
    ("مليار", 1e9),
    ("مليارات", 1e9),
    ("مليارا", 1e9),
    ("بليون", 1e9),
    ("تريليون", 1e12),
    ("thousand", 1e3),
    ("million", 1e6),
    ("billion", 1e9),
    ("trillion", 1e12),
    ("مئة", 100.0),
    ("مائة", 100.0),
];

/// Fractions joined to a number or a scale by "و" ("مليار ونصف").
const FRACTIONS: &[(&str, f64)] = &[
    ("نصف", 0.5),
    ("ربع", 0.25),
    ("ثلث", 1.0 / 3.0),
    ("half", 0.5),
];

/// Ordinals, by value: "the sixth plane" is not "the fourth".
const ORDINALS: &[(&str, f64)] = &[
    ("الأول", 1.0),
    ("الأولى", 1.0),
    ("أول", 1.0),
    ("أولى", 1.0),
    // Only ever the first part of a compound: «الحادي عشر» (11th), «الحادية
    // والعشرون» (21st).
    ("الحادي", 1.0),
    ("الحادية", 1.0),
    ("حادي", 1.0),
    ("حادية", 1.0),
    ("الثاني", 2.0),
    ("الثانية", 2.0),
    ("ثاني", 2.0),
    ("ثانية", 2.0),
    ("الثالث", 3.0),
    ("الثالثة", 3.0),
    ("ثالث", 3.0),
    ("ثالثة", 3.0),
    ("الرابع", 4.0),
    ("الرابعة", 4.0),
    ("رابع", 4.0),
    ("رابعة", 4.0),
    ("الخامس", 5.0),
    ("الخامسة", 5.0),
    ("خامس", 5.0),
    ("خامسة", 5.0),
    ("السادس", 6.0),
    ("السادسة", 6.0),
    ("سادس", 6.0),
    ("سادسة", 6.0),
    ("السابع", 7.0),
    ("السابعة", 7.0),
    ("سابع", 7.0),
    ("سابعة", 7.0),
    ("الثامن", 8.0),
    ("الثامنة", 8.0),
    ("ثامن", 8.0),
    ("ثامنة", 8.0),
    ("التاسع", 9.0),
    ("التاسعة", 9.0),
    ("تاسع", 9.0),
    ("تاسعة", 9.0),
    ("العاشر", 10.0),
    ("العاشرة", 10.0),
    ("عاشر", 10.0),
    ("عاشرة", 10.0),
    ("first", 1.0),
    ("second", 2.0),
    ("third", 3.0),
    ("fourth", 4.0),
    ("fifth", 5.0),
    ("sixth", 6.0),
    ("seventh", 7.0),
    ("eighth", 8.0),
    ("ninth", 9.0),
    ("tenth", 10.0),
];

/// What a figure counts, by the word after it: every spelling of one unit
/// maps to one key. A figure followed by a word not listed counts that
/// word (its stem), so "3 مراحل" and "ثلاث مراحل" still meet.
const UNITS: &[(&str, &str)] = &[
    ("طن", "ton"),
    ("طنا", "ton"),
    ("أطنان", "ton"),
    ("tons", "ton"),
    ("ton", "ton"),
    ("tonnes", "ton"),
    ("كم", "km"),
    ("كيلو", "km"),
    ("كيلومتر", "km"),
    ("كيلومترا", "km"),
    ("كيلومترات", "km"),
    ("km", "km"),
    ("kilometres", "km"),
    ("kilometers", "km"),
    ("كم2", "km2"),
    ("كيلومتر مربع", "km2"),
    ("كيلومترا مربعا", "km2"),
    ("km2", "km2"),
    ("متر", "m"),
    ("مترا", "m"),
    ("أمتار", "m"),
    ("م", "m"),
    ("meters", "m"),
    ("metres", "m"),
    ("كغ", "kg"),
    ("كجم", "kg"),
    ("كيلوغرام", "kg"),
    ("كيلوجرام", "kg"),
    ("kg", "kg"),
    ("بالمئة", "pct"),
    ("بالمائة", "pct"),
    ("في المئة", "pct"),
    ("في المائة", "pct"),
    ("المئة", "pct"),
    ("المائة", "pct"),
    ("percent", "pct"),
    ("pct", "pct"),
    ("ريال", "sar"),
    ("ريالا", "sar"),
    ("ريالات", "sar"),
    ("دولار", "usd"),
    ("دولارا", "usd"),
    ("دولارات", "usd"),
    ("dollars", "usd"),
    ("usd", "usd"),
    ("يورو", "eur"),
    ("euros", "eur"),
    ("برميل", "bbl"),
    ("براميل", "bbl"),
    ("barrels", "bbl"),
    ("قتيل", "killed"),
    ("قتيلا", "killed"),
    ("قتلى", "killed"),
    ("killed", "killed"),
    ("dead", "killed"),
    ("جريح", "injured"),
    ("جريحا", "injured"),
    ("جرحى", "injured"),
    ("injured", "injured"),
    ("wounded", "injured"),
    ("شخص", "people"),
    ("شخصا", "people"),
    ("أشخاص", "people"),
    ("people", "people"),
    ("سنة", "year"),
    ("سنوات", "year"),
    ("عاما", "year"),
    ("أعوام", "year"),
    ("years", "year"),
    ("شهر", "month"),
    ("أشهر", "month"),
    ("شهرا", "month"),
    ("months", "month"),
    ("يوما", "day"),
    ("أيام", "day"),
    ("days", "day"),
    ("ساعة", "hour"),
    ("ساعات", "hour"),
    ("hours", "hour"),
    ("دقيقة", "minute"),
    ("دقائق", "minute"),
    ("minutes", "minute"),
    ("درجة", "degree"),
    ("درجات", "degree"),
    ("degrees", "degree"),
    ("مرة", "times"),
    ("مرات", "times"),
    ("times", "times"),
];

/// Month names: a figure next to one is a date, and a dateline is no fact.
const MONTHS: &[&str] = &[
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "إبريل",
    "مايو",
    "يونيو",
    "يونيه",
    "يوليو",
    "يوليه",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
    "كانون",
    "شباط",
    "آذار",
    "نيسان",
    "أيار",
    "حزيران",
    "تموز",
    "آب",
    "أيلول",
    "تشرين",
    "محرم",
    "صفر",
    "ربيع",
    "جمادى",
    "رجب",
    "شعبان",
    "رمضان",
    "شوال",
    "ذو",
    "ذي",
    "القعدة",
    "الحجة",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// Words after a figure that make it part of a date or a time.
const DATE_MARKS: &[&str] = &[
    "هـ",
    "ه",
    "م",
    "الموافق",
    "ص",
    "بتوقيت",
    "gmt",
    "utc",
    "am",
    "pm",
];

/// Words before a figure that make it a time of day or a year.
const TIME_BEFORE: &[&str] = &["الساعة", "تمام", "at"];

/// Closed classes whose members exclude each other in the same place: a
/// wind from the north is not one from the south, a daily figure is not a
/// monthly one.
const PERIODS: &[(&str, char)] = &[
    ("يومي", 'd'),
    ("اليومي", 'd'),
    ("يومية", 'd'),
    ("اليومية", 'd'),
    ("أسبوعي", 'w'),
    ("الأسبوعي", 'w'),
    ("أسبوعية", 'w'),
    ("الأسبوعية", 'w'),
    ("شهري", 'm'),
    ("الشهري", 'm'),
    ("شهرية", 'm'),
    ("الشهرية", 'm'),
    ("سنوي", 'y'),
    ("السنوي", 'y'),
    ("سنوية", 'y'),
    ("السنوية", 'y'),
    ("daily", 'd'),
    ("weekly", 'w'),
    ("monthly", 'm'),
    ("annual", 'y'),
    ("yearly", 'y'),
];

const DIRECTIONS: &[(&str, char)] = &[
    ("شمال", 'n'),
    ("الشمال", 'n'),
    ("شمالية", 'n'),
    ("الشمالية", 'n'),
    ("شمالي", 'n'),
    ("جنوب", 's'),
    ("الجنوب", 's'),
    ("جنوبية", 's'),
    ("الجنوبية", 's'),
    ("جنوبي", 's'),
    ("شرق", 'e'),
    ("الشرق", 'e'),
    ("شرقية", 'e'),
    ("شرقي", 'e'),
    ("وسط", 'c'),
    ("الوسط", 'c'),
    ("ووسط", 'c'),
    ("central", 'c'),
    ("غرب", 'w'),
    ("الغرب", 'w'),
    ("غربية", 'w'),
    ("الغربية", 'w'),
    ("غربي", 'w'),
    ("north", 'n'),
    ("northern", 'n'),
    ("south", 's'),
    ("southern", 's'),
    ("east", 'e'),
    ("eastern", 'e'),
    ("west", 'w'),
    ("western", 'w'),
];

/// Predicates news headlines turn on, in opposing pairs of classes: a
/// headline that says prices rose is not one that says they fell.
/// Listed as stems (after a clitic is taken off); a word matches a stem it
/// starts with or equals.
const POLARITY: &[(&str, &[&str])] = &[
    (
        "up",
        &[
            "مرتفع",
            "المرتفع",
            "ارتفاع",
            "يرتفع",
            "ترتفع",
            "ارتفع",
            "ارتفعت",
            "صعود",
            "يصعد",
            "تصعد",
            "صعد",
            "قفز",
            "يقفز",
            "تقفز",
            "زيادة",
            "يزيد",
            "تزيد",
            "أعلى",
            "rise",
            "rises",
            "rose",
            "up",
            "higher",
            "jump",
            "jumps",
            "gain",
            "gains",
        ],
    ),
    (
        "down",
        &[
            "انخفاض",
            "ينخفض",
            "تنخفض",
            "انخفض",
            "انخفضت",
            "هبوط",
            "يهبط",
            "تهبط",
            "هبط",
            "تراجع",
            "يتراجع",
            "تتراجع",
            "يهوي",
            "تهوي",
            "هوى",
            "تتدنى",
            "تدني",
            "تتهاوى",
            "يتهاوى",
            "أدنى",
            "fall",
            "falls",
            "fell",
            "down",
            "lower",
            "drop",
            "drops",
            "slump",
            "slumps",
        ],
    ),
    (
        "for",
        &[
            "دعم",
            "يدعم",
            "تدعم",
            "تأييد",
            "يؤيد",
            "تؤيد",
            "تأييده",
            "يرحب",
            "ترحب",
            "ترحيب",
            "support",
            "supports",
            "backs",
            "welcomes",
        ],
    ),
    (
        "against",
        &[
            "رفض",
            "يرفض",
            "ترفض",
            "رفضه",
            "إدانة",
            "يدين",
            "تدين",
            "أدان",
            "أدانت",
            "يتهم",
            "تتهم",
            "اتهام",
            "ينتقد",
            "تنتقد",
            "انتقاد",
            "opposes",
            "rejects",
            "condemns",
            "accuses",
            "criticises",
            "criticizes",
        ],
    ),
    (
        "open",
        &[
            "فتح",
            "يفتح",
            "تفتح",
            "افتتاح",
            "استمرار",
            "يستمر",
            "تستمر",
            "بدء",
            "يبدأ",
            "تبدأ",
            "opens",
            "reopens",
            "continues",
            "starts",
        ],
    ),
    (
        "closed",
        &[
            "إغلاق",
            "يغلق",
            "تغلق",
            "غلق",
            "أغلق",
            "أغلقت",
            "إنهاء",
            "ينهي",
            "انتهاء",
            "closes",
            "shuts",
            "ends",
        ],
    ),
    (
        "win",
        &["فوز", "يفوز", "تفوز", "فاز", "فازت", "wins", "won", "beats"],
    ),
    (
        "lose",
        &[
            "خسارة",
            "يخسر",
            "تخسر",
            "خسر",
            "خسرت",
            "هزيمة",
            "loses",
            "lost",
        ],
    ),
    (
        "deal",
        &[
            "اتفاق",
            "اتفاقية",
            "اتفاقا",
            "يوقع",
            "توقيع",
            "agreement",
            "deal",
            "signs",
        ],
    ),
    (
        "nodeal",
        &[
            "تفض",
            "فض",
            "إلغاء",
            "يلغي",
            "تلغي",
            "انسحاب",
            "ينسحب",
            "تنسحب",
            "cancels",
            "scraps",
            "withdraws",
        ],
    ),
];

/// Classes that contradict each other.
const OPPOSED: &[(&str, &str)] = &[
    ("up", "down"),
    ("for", "against"),
    ("open", "closed"),
    ("win", "lose"),
    ("deal", "nodeal"),
];

/// The tables are looked up for every token of both texts of a
/// comparison. SipHash, the standard default, costs more than the lookup
/// itself on keys this short; FxHash reads eight bytes a step. The tables
/// are built from the lists above, never from input, so a weak hash is no
/// risk.
type WordMap<V> = HashMap<String, V, fxhash::FxBuildHasher>;

/// Everything the lists say about one written form of a word.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Entry {
    pub interchangeable: bool,
    pub introducer: bool,
    /// The place or body it names (or is the adjective of), as a key that
    /// the names of one thing share ("المملكة" and "السعودية").
    pub place: Option<u32>,
    pub group: Option<u32>,
    pub number_word: Option<f64>,
    pub scale: Option<f64>,
    pub fraction: Option<f64>,
    pub ordinal: Option<f64>,
    pub unit: Option<&'static str>,
    pub month: bool,
    pub date_mark: bool,
    pub time_before: bool,
    pub closed: Option<(&'static str, char)>,
    /// The token has digits: no list knows it, and only `facts::value`
    /// can say what it states. Set for tokens, never for a listed form.
    pub figure: bool,
}

impl Entry {
    /// Fills what `self` lacks from `other` (a form further from the word
    /// as written).
    fn or(mut self, o: &Entry) -> Entry {
        self.interchangeable |= o.interchangeable;
        self.introducer |= o.introducer;
        self.place = self.place.or(o.place);
        self.group = self.group.or(o.group);
        self.number_word = self.number_word.or(o.number_word);
        self.scale = self.scale.or(o.scale);
        self.fraction = self.fraction.or(o.fraction);
        self.ordinal = self.ordinal.or(o.ordinal);
        self.unit = self.unit.or(o.unit);
        self.month |= o.month;
        self.time_before |= o.time_before;
        self.closed = self.closed.or(o.closed);
        self
    }
}

/// What the lists say of a word none of them lists.
pub(super) static UNLISTED: Entry = Entry {
    interchangeable: false,
    introducer: false,
    place: None,
    group: None,
    number_word: None,
    scale: None,
    fraction: None,
    ordinal: None,
    unit: None,
    month: false,
    date_mark: false,
    time_before: false,
    closed: None,
    figure: false,
};

/// What the lists say of a token with digits.
pub(super) static FIGURE: Entry = Entry {
    figure: true,
    ..UNLISTED
};

/// The tables, normalized once, in maps from written form to `Entry`.
pub(super) struct Lexicon {
    /// A listed form, with what its own stem adds: `entry` for a word
    /// found as written, ready, since every token of both texts of a
    /// comparison is looked up.
    words: WordMap<Entry>,
    /// A listed form as the stem of a word not listed itself: without the
    /// date mark, which belongs to the written form alone.
    stems: WordMap<Entry>,
    /// Two-word units ("كيلومتر مربع").
    units2: WordMap<&'static str>,
    polarity: Vec<(&'static str, Vec<String>)>,
}

/// Endings that make an adjective of a place: «مصري», «المصرية»,
/// «المصريون», «المصريين».
const NISBA: &[&str] = &["ي", "يه", "يون", "يين"];

pub(super) static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut words: WordMap<Entry> = WordMap::default();
    let mut put = |w: &str, f: &dyn Fn(&mut Entry)| {
        let n = normalize_text(w);
        if !n.is_empty() {
            f(words.entry(n).or_default());
        }
    };
    for w in INTERCHANGEABLE {
        put(w, &|e| e.interchangeable = true);
    }
    for w in NAME_INTRODUCERS {
        put(w, &|e| e.introducer = true);
    }
    // Places: each name, and the adjectives of it, under one key; the
    // names of one thing share their group's key.
    let mut group_of: HashMap<String, u32> = HashMap::new();
    for (g, group) in SAME_NAME.iter().enumerate() {
        for w in group.iter() {
            group_of.insert(normalize_text(w), g as u32);
        }
    }
    let mut forms_of_places: Vec<(String, u32)> = Vec::new();
    for (i, w) in NAMES.iter().enumerate() {
        let n = normalize_text(w);
        let key = group_of.get(&n).map_or(1000 + i as u32, |g| *g);
        forms_of_places.push((n.clone(), key));
        let bare = n.strip_prefix("ال").unwrap_or(&n).to_string();
        let mut roots = vec![bare.clone()];
        // «تركيا» → «تركي», «السعودية» → «السعودي», «ليبيا» → «ليبي».
        for end in ["يا", "ا", "يه", "ه"] {
            if let Some(r) = bare.strip_suffix(end) {
                roots.push(r.to_string());
            }
        }
        for r in roots.iter().filter(|r| r.chars().count() >= 3) {
            for end in NISBA {
                forms_of_places.push((format!("{r}{end}"), key));
                forms_of_places.push((format!("ال{r}{end}"), key));
            }
        }
    }
    for (f, key) in forms_of_places {
        let e = words.entry(f).or_default();
        e.place = e.place.or(Some(key));
    }
    for (w, g) in &group_of {
        let e = words.entry(w.clone()).or_default();
        e.group = Some(*g);
        e.place = e.place.or(Some(*g));
    }
    let mut put = |w: &str, f: &dyn Fn(&mut Entry)| {
        let n = normalize_text(w);
        if !n.is_empty() {
            f(words.entry(n).or_default());
        }
    };
    for (w, v) in NUMBER_WORDS {
        put(w, &|e| e.number_word = Some(*v));
    }
    for (w, v) in SCALES {
        put(w, &|e| e.scale = Some(*v));
    }
    for (w, v) in FRACTIONS {
        put(w, &|e| e.fraction = Some(*v));
    }
    for (w, v) in ORDINALS {
        put(w, &|e| e.ordinal = Some(*v));
    }
    let mut units2 = WordMap::default();
    for (w, u) in UNITS {
        let n = normalize_text(w);
        if n.contains(' ') {
            units2.insert(n, *u);
        } else {
            put(w, &|e| e.unit = Some(*u));
        }
    }
    for w in MONTHS {
        put(w, &|e| e.month = true);
    }
    for w in DATE_MARKS {
        put(w, &|e| e.date_mark = true);
    }
    for w in TIME_BEFORE {
        put(w, &|e| e.time_before = true);
    }
    for (w, d) in DIRECTIONS {
        put(w, &|e| e.closed = Some(("direction", *d)));
    }
    for (w, p) in PERIODS {
        put(w, &|e| e.closed = Some(("period", *p)));
    }
    // A word is looked up as written and without its clitic («والسادسة»
    // as «سادسة»): every entry with the article is also filed without it.
    let bare: Vec<(String, Entry)> = words
        .iter()
        .filter_map(|(w, e)| {
            let b = w.strip_prefix("ال")?;
            (b.chars().count() >= 2).then(|| (b.to_string(), *e))
        })
        .collect();
    for (b, e) in bare {
        let slot = words.entry(b).or_default();
        *slot = slot.or(&e);
    }
    // What `entry` finds for each listed form, worked out once.
    let mut stems = words.clone();
    for e in stems.values_mut() {
        e.date_mark = false;
    }
    let words = words
        .iter()
        .map(|(w, e)| {
            let bare = stem(w);
            let e = match stems.get(bare).filter(|_| bare != w) {
                Some(s) => Entry {
                    date_mark: e.date_mark,
                    ..e.or(s)
                },
                None => *e,
            };
            (w.clone(), e)
        })
        .collect();
    Lexicon {
        words,
        stems,
        units2,
        polarity: POLARITY
            .iter()
            .map(|(class, words)| (*class, words.iter().map(|w| normalize_text(w)).collect()))
            .collect(),
    }
});

/// Arabic proclitics, longest first: a word with and without one of them is
/// the same word for comparison.
const CLITICS: &[&str] = &[
    "وال", "بال", "كال", "فال", "لل", "ال", "و", "ب", "ل", "ف", "ك",
];

/// The word without a leading clitic, when what is left is still a word.
pub(super) fn stem(w: &str) -> &str {
    for c in CLITICS {
        if let Some(rest) = w.strip_prefix(c) {
            // At least two letters left; not counting them all.
            if rest.chars().nth(1).is_some() {
                return rest;
            }
        }
    }
    w
}

impl Lexicon {
    /// Every listed place name and adjective as written (normalized), with
    /// its place key.
    pub(super) fn place_words(&self) -> impl Iterator<Item = (&str, u32)> {
        self.words
            .iter()
            .filter_map(|(w, e)| e.place.map(|k| (w.as_str(), k)))
    }

    /// What the lists say of a word as written, with a conjunction or
    /// preposition taken off, and with its clitic taken off.
    pub(super) fn entry(&self, w: &str) -> Entry {
        *self.entry_ref(w)
    }

    /// `entry`, without copying it.
    pub(super) fn entry_ref(&self, w: &str) -> &Entry {
        if let Some(e) = self.words.get(w) {
            return e;
        }
        let bare = stem(w);
        if bare.len() == w.len() {
            return &UNLISTED;
        }
        self.stems.get(bare).unwrap_or(&UNLISTED)
    }

    pub(super) fn interchangeable(&self, w: &str) -> bool {
        self.entry(w).interchangeable
    }

    pub(super) fn introduces_name(&self, w: &str) -> bool {
        self.entry(w).introducer
    }

    /// Whether the word is a listed name, or the adjective of one
    /// ("المصرية" of "مصر", "التركي" of "تركيا").
    pub(super) fn is_listed_name(&self, w: &str) -> bool {
        self.entry(w).place.is_some()
    }

    /// The group of names the word belongs to, if several names are one.
    pub(super) fn same_name_group(&self, w: &str) -> Option<u32> {
        self.entry(w).group
    }

    pub(super) fn number_word(&self, w: &str) -> Option<f64> {
        self.entry(w).number_word
    }

    pub(super) fn scale(&self, w: &str) -> Option<f64> {
        self.entry(w).scale
    }

    pub(super) fn fraction(&self, w: &str) -> Option<f64> {
        self.entry(w).fraction
    }

    /// The unit a word names, if it is a listed one.
    pub(super) fn listed_unit(&self, w: &str) -> Option<&'static str> {
        self.entry(w).unit
    }

    /// The unit two words name together ("كيلومتر مربع").
    pub(super) fn unit2(&self, w: &str, next: &str) -> Option<&'static str> {
        if !self.units2.keys().any(|k| k.starts_with(w)) {
            return None;
        }
        self.units2.get(&format!("{w} {next}")).copied()
    }

    pub(super) fn is_month(&self, w: &str) -> bool {
        self.entry(w).month
    }

    pub(super) fn is_date_mark(&self, w: &str) -> bool {
        self.words.get(w).is_some_and(|e| e.date_mark)
    }

    pub(super) fn is_time_before(&self, w: &str) -> bool {
        self.entry(w).time_before
    }

    /// The closed class a word belongs to, and which member it is.
    pub(super) fn closed_class(&self, w: &str) -> Option<(&'static str, char)> {
        self.entry(w).closed
    }

    /// The predicate class a headline word belongs to.
    pub(super) fn polarity(&self, w: &str) -> Option<&'static str> {
        let bare = stem(w);
        self.polarity.iter().find_map(|(class, words)| {
            words
                .iter()
                .any(|p| {
                    w == p || bare == p || (p.chars().count() >= 4 && bare.starts_with(p.as_str()))
                })
                .then_some(*class)
        })
    }

    pub(super) fn opposed(a: &str, b: &str) -> bool {
        OPPOSED
            .iter()
            .any(|(x, y)| (a == *x && b == *y) || (a == *y && b == *x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `entry` as the lists define it: the written form's entry filled in
    /// from its stem's, the date mark the written form's own.
    fn entry_by_definition(l: &Lexicon, w: &str) -> Option<String> {
        let listed = |f: &str| {
            l.stems.get(f).map(|e| Entry {
                date_mark: l.words[f].date_mark,
                ..*e
            })
        };
        let bare = stem(w);
        let mut found = listed(w);
        if bare != w {
            if let Some(s) = listed(bare) {
                found = Some(found.map_or(s, |f| f.or(&s)));
            }
        }
        found.map(|e| {
            format!(
                "{:?}",
                Entry {
                    date_mark: l.words.get(w).is_some_and(|e| e.date_mark),
                    ..e
                }
            )
        })
    }

    #[test]
    fn the_ready_entries_answer_as_two_lookups_would() {
        let l = &*LEXICON;
        let mut words: Vec<String> = l.words.keys().cloned().collect();
        for w in l.words.keys() {
            for c in CLITICS {
                words.push(format!("{c}{w}"));
            }
        }
        words.extend(["كتاب", "والكتاب", "و", "ال"].map(String::from));
        for w in &words {
            let want = entry_by_definition(l, w).unwrap_or_else(|| format!("{UNLISTED:?}"));
            assert_eq!(format!("{:?}", l.entry(w)), want, "{w}");
        }
    }

    #[test]
    fn names_match_their_adjectives_and_clitic_forms() {
        let l = &*LEXICON;
        for w in [
            "مصر",
            "المصريه",
            "بمصر",
            "التركي",
            "تركيا",
            "اسراييليه",
            "وعدن",
            "الفلسطينيين",
        ] {
            assert!(l.is_listed_name(&normalize_text(w)), "{w}");
        }
        for w in ["المشروعات", "اكد", "مهما", "الطائره"] {
            assert!(!l.is_listed_name(&normalize_text(w)), "{w}");
        }
        assert_eq!(
            l.same_name_group(&normalize_text("المملكة")),
            l.same_name_group(&normalize_text("السعودية"))
        );
    }

    #[test]
    fn polarity_classes_oppose_in_pairs() {
        let l = &*LEXICON;
        let up = l.polarity(&normalize_text("ارتفاع")).unwrap();
        let down = l.polarity(&normalize_text("يهوي")).unwrap();
        assert!(Lexicon::opposed(up, down));
        assert_eq!(l.polarity(&normalize_text("والنفط")), None);
    }
}
