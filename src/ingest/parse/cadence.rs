//! How often a feed says it publishes (RSS 1.0's syndication module) and
//! how often it really does (the gaps between its items' dates): what the
//! scheduler reads to poll busy feeds often and quiet ones rarely.

use chrono::{DateTime, Utc};

use crate::model::Entry;

const SYNDICATION_NS: &[u8] = b"http://purl.org/rss/1.0/modules/syndication/";

/// `sy:updatePeriod` / `sy:updateFrequency` of the channel (RSS 1.0's
/// syndication module), which feed-rs does not read: how often the
/// publisher says the feed changes. Scans only up to the first item.
pub(super) fn syndication_period(doc: &str) -> Option<std::time::Duration> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(doc);
    let mut period: Option<String> = None;
    let mut frequency: Option<String> = None;
    let mut current: Option<&'static str> = None;
    loop {
        match reader.read_resolved_event() {
            Ok((ns, Event::Start(e))) => {
                let local = e.local_name();
                let local = local.as_ref();
                if local == b"item" || local == b"entry" {
                    break;
                }
                current = match (ns, local) {
                    (ResolveResult::Bound(n), b"updatePeriod") if n.as_ref() == SYNDICATION_NS => {
                        Some("period")
                    }
                    (ResolveResult::Bound(n), b"updateFrequency")
                        if n.as_ref() == SYNDICATION_NS =>
                    {
                        Some("frequency")
                    }
                    _ => None,
                };
            }
            Ok((_, Event::Text(t))) => {
                if let Some(which) = current.take() {
                    let text = t.decode().map(|c| c.trim().to_string()).unwrap_or_default();
                    if which == "period" {
                        period = Some(text);
                    } else {
                        frequency = Some(text);
                    }
                }
            }
            Ok((_, Event::End(_))) => current = None,
            Ok((_, Event::Eof)) | Err(_) => break,
            _ => {}
        }
    }
    let unit: u64 = match period?.to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86400,
        "weekly" => 7 * 86400,
        "monthly" => 30 * 86400,
        "yearly" => 365 * 86400,
        _ => return None,
    };
    let freq: u64 = frequency
        .and_then(|f| f.parse().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(std::time::Duration::from_secs(unit / freq.min(unit)))
}

/// The typical time between a feed's items: the median gap between the
/// dates of its newest items (up to 20). `None` with fewer than 3 dates.
pub fn publish_gap(entries: &[Entry], now: DateTime<Utc>) -> Option<std::time::Duration> {
    let mut dates: Vec<DateTime<Utc>> = entries
        .iter()
        .filter_map(entry_date)
        .map(|d| d.min(now))
        .collect();
    if dates.len() < 3 {
        return None;
    }
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.truncate(20);
    let mut gaps: Vec<i64> = dates
        .windows(2)
        .map(|w| (w[0] - w[1]).num_seconds())
        .collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    // A feed whose newest item is older than its usual gap has gone quiet:
    // the time since then counts too, so idle feeds are polled less.
    let quiet = (now - dates[0]).num_seconds();
    Some(std::time::Duration::from_secs(
        median.max(quiet / 2).max(0) as u64
    ))
}

/// Says what the document was when it was not a feed: an HTML page is the
/// commonest case and worth naming.
/// The newest date an entry claims.
pub fn entry_date(e: &Entry) -> Option<DateTime<Utc>> {
    e.published.or(e.updated)
}
