//! The memory one render of an output takes, counted by this binary's own
//! allocator. The daemon renders every output after every change, so what
//! a render allocates is a peak it reaches again and again.
//!
//! One test only: the count is process-wide, and a second test running on
//! another thread would be counted with it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use rafid::publish::{Format, Rendered};

/// The system allocator, keeping the bytes allocated now and the most
/// allocated at once since `PEAK` was last reset.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = NOW.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counters are only read by the test.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A feed of `items` news items in Arabic, about as large and as varied as
/// the daemon's first page: words drawn from a list by a fixed generator,
/// so that the text repeats as news text does, not as one line copied.
fn arabic_feed(items: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "أعلنت",
        "وزارة",
        "الصحة",
        "اليوم",
        "عن",
        "افتتاح",
        "مستشفى",
        "جديد",
        "في",
        "مدينة",
        "الرياض",
        "بطاقة",
        "سريرية",
        "تبلغ",
        "ثلاثمئة",
        "سرير",
        "وقال",
        "المتحدث",
        "الرسمي",
        "إن",
        "المشروع",
        "يأتي",
        "ضمن",
        "خطة",
        "تطوير",
        "الخدمات",
        "الطبية",
        "في",
        "المنطقة",
        "الشرقية",
        "وأضاف",
        "أن",
        "العمل",
        "سيبدأ",
        "الشهر",
        "المقبل",
        "بعد",
        "اكتمال",
        "التجهيزات",
        "وارتفعت",
        "أسعار",
        "النفط",
        "في",
        "السوق",
        "العالمية",
        "بنسبة",
        "مجلس",
        "الوزراء",
        "يوافق",
        "على",
        "الميزانية",
        "الطلاب",
        "الجامعة",
        "الطرق",
        "المياه",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut feed = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    for i in 0..items {
        let title: Vec<&str> = (0..9).map(|_| WORDS[next(WORDS.len())]).collect();
        let body: Vec<&str> = (0..380).map(|_| WORDS[next(WORDS.len())]).collect();
        feed.push_str(&format!(
            "<entry><id>tag:news.example,2026:{i}</id><title>{}</title>\
             <link href=\"https://news.example/{i}\"/><updated>2026-12-07T10:00:00Z</updated>\
             <content type=\"html\">&lt;p&gt;{}&lt;/p&gt;</content></entry>\n",
            title.join(" "),
            body.join(" "),
        ));
    }
    feed.push_str("</feed>\n");
    feed.into_bytes()
}

#[test]
fn a_render_of_a_large_feed_takes_a_few_megabytes_beside_it() {
    let body = arabic_feed(100);
    let len = body.len();
    assert!(len > 300_000, "the feed is {len} bytes");
    let when = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time");

    let before = NOW.load(Relaxed);
    PEAK.store(before, Relaxed);
    let r = Rendered::new(body, when, Format::Atom);
    let peak = PEAK.load(Relaxed) - before;

    // The body, its two compressed copies and the encoders' working
    // memory. Brotli at quality 9 hashes into a fixed 32 MiB table for
    // every render, whatever the feed; at the quality chosen it takes a
    // few MiB.
    assert!(
        peak < 12 << 20,
        "one render of a {len}-byte feed allocated {:.1} MiB at its peak",
        peak as f64 / f64::from(1 << 20)
    );
    let mut back = Vec::new();
    brotli_decompressor::BrotliDecompress(&mut &r.br[..], &mut back).expect("brotli decodes");
    assert_eq!(back, &r.body[..]);
}
