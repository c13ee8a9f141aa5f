//! The rendered outputs kept for the server: each as bytes with its gzip
//! and brotli copies and a strong ETag, made once per change; older pages
//! rendered on request, once however many ask.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::model::hex;
use crate::publish::scope::{Format, Scope};
use crate::publish::view::Cursor;
use crate::rules::Verdicts;

/// One rendered output, ready to serve.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub gzip: Bytes,
    /// Brotli, for clients that accept it (smaller than gzip, and made once).
    pub br: Bytes,
    /// Strong validator: a hash of the body, quoted.
    pub etag: String,
    /// The newest change among the items shown (stable across restarts).
    pub last_modified: DateTime<Utc>,
    pub content_type: &'static str,
}

impl Rendered {
    /// Compresses `body` both ways and hashes it: done once per change of
    /// an output, whoever asks for it after.
    pub fn new(body: Vec<u8>, last_modified: DateTime<Utc>, format: Format) -> Rendered {
        let etag = format!("\"{}\"", hex(&Sha256::digest(&body)[..16]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let gzip = gz
            .write_all(&body)
            .and_then(|_| gz.finish())
            .unwrap_or_default();
        let mut br = Vec::with_capacity(body.len() / 4);
        let params = brotli::enc::BrotliEncoderParams {
            quality: BROTLI_QUALITY,
            lgwin: brotli_window(body.len()),
            size_hint: body.len(),
            ..Default::default()
        };
        // Reading from a slice and writing to a Vec cannot fail; on the
        // impossible error the output is served without brotli.
        if brotli::BrotliCompress(&mut &body[..], &mut br, &params).is_err() {
            br.clear();
        }
        Rendered {
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            br: Bytes::from(br),
            etag,
            last_modified,
            content_type: format.content_type(),
        }
    }
}

/// Brotli's quality for the outputs: the level past which the encoder's
/// tables, not the feed, set its memory.
///
/// At quality 9 the encoder hashes into a fixed table of 32 MiB, so every
/// render of a 300 KB feed took 36 MiB for 21-31 ms; quality 6 takes
/// 4-6 MiB for 5-9 ms, and its output is 3-6% larger (0.90 of gzip's on
/// 100 Arabic news items against 0.85, 0.93 against 0.91 on the bench
/// farm's feed). Qualities 10 and 11 compress a tenth better than 9 but
/// take six to fifteen times as long, for every output after every change.
const BROTLI_QUALITY: i32 = 6;

/// The brotli window (log2 of its bytes) that holds `len` bytes whole, up
/// to 4 MiB. The ring buffer grows with the window, and a window the size
/// of the body compresses it as well as a larger one.
fn brotli_window(len: usize) -> i32 {
    // The window holds 2^lgwin - 16 bytes; brotli takes 10 to 24.
    let needed = len
        .saturating_add(16)
        .checked_next_power_of_two()
        .map_or(usize::BITS, |p| p.trailing_zeros());
    needed.clamp(10, 22) as i32
}

/// The rendered outputs the server hands out, replaced as a whole after
/// every change. Readers clone an `Arc` and never wait on a render.
#[derive(Default)]
pub struct Outputs {
    cache: RwLock<HashMap<(Scope, Format), Arc<Rendered>>>,
    /// Older pages, rendered on first request. Bounded, because anyone can
    /// ask for any cursor.
    pages: RwLock<HashMap<(Scope, Format, Cursor), Arc<Rendered>>>,
    /// Renders under way on request, so concurrent requests for one page
    /// wait for one render instead of each doing it.
    inflight: Mutex<HashMap<PageKey, Arc<RenderCell>>>,
    /// What the rivers' rules said of each item, for the next render.
    pub(super) verdicts: Verdicts,
}

/// One page of one scope in one format: `None` is the first page.
type PageKey = (Scope, Format, Option<Cursor>);

/// The outcome of one render shared by every request that waited on it;
/// the error is a message for the log.
type RenderCell = tokio::sync::OnceCell<Result<Arc<Rendered>, String>>;

/// Older pages kept at most; past it the page cache starts again empty.
const PAGES_CACHED: usize = 256;

impl Outputs {
    pub fn get(&self, scope: &Scope, format: Format) -> Option<Arc<Rendered>> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.get(&(scope.clone(), format)).cloned()
    }

    pub fn put(&self, scope: Scope, format: Format, r: Rendered) -> Arc<Rendered> {
        let r = Arc::new(r);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.insert((scope, format), r.clone());
        r
    }

    pub fn get_page(&self, scope: &Scope, format: Format, c: Cursor) -> Option<Arc<Rendered>> {
        let pages = self.pages.read().unwrap_or_else(|p| p.into_inner());
        pages.get(&(scope.clone(), format, c)).cloned()
    }

    pub fn put_page(&self, scope: Scope, format: Format, c: Cursor, r: Rendered) -> Arc<Rendered> {
        let r = Arc::new(r);
        let mut pages = self.pages.write().unwrap_or_else(|p| p.into_inner());
        if pages.len() >= PAGES_CACHED {
            pages.clear();
        }
        pages.insert((scope, format, c), r.clone());
        r
    }

    /// The first page of every scope and format held, for saving them.
    pub fn first_pages(&self) -> Vec<((Scope, Format), Arc<Rendered>)> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.iter().map(|(k, r)| (k.clone(), r.clone())).collect()
    }

    /// Whether nothing is held: no render has finished and nothing saved
    /// was restored.
    pub fn is_empty(&self) -> bool {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Forgets every rendered output (they are rendered again on request).
    pub fn clear(&self) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.pages
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The cached page, else the one `render` makes, rendered once however
    /// many requests ask at the same time: the first runs `render`, the
    /// others wait for its result (if the first gives up, the next one
    /// renders). The result is cached.
    pub async fn get_or_render<F, Fut>(
        &self,
        scope: &Scope,
        format: Format,
        before: Option<Cursor>,
        render: F,
    ) -> Result<Arc<Rendered>, String>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Rendered, String>>,
    {
        let cached = |o: &Outputs| match before {
            None => o.get(scope, format),
            Some(c) => o.get_page(scope, format, c),
        };
        if let Some(r) = cached(self) {
            return Ok(r);
        }
        let key = (scope.clone(), format, before);
        let cell = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            inflight.entry(key.clone()).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async {
                // A render that ended just before this one began is reused.
                if let Some(r) = cached(self) {
                    return Ok(r);
                }
                let r = render().await?;
                Ok(match before {
                    None => self.put(scope.clone(), format, r),
                    Some(c) => self.put_page(scope.clone(), format, c, r),
                })
            })
            .await
            .clone();
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(&key);
        }
        result
    }

    /// Puts `fresh` in place of every output at once and forgets the older
    /// pages, which were read from the store before the change.
    pub(crate) fn replace_all(&self, fresh: HashMap<(Scope, Format), Rendered>) {
        let fresh = fresh.into_iter().map(|(k, r)| (k, Arc::new(r))).collect();
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        *cache = fresh;
        drop(cache);
        self.pages
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Holds the cache so that no refresh can finish: for tests of what
    /// happens while a render runs.
    #[cfg(test)]
    pub(crate) fn hold_for_test(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<(Scope, Format), Arc<Rendered>>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brotli_window_holds_the_body_and_loses_nothing() {
        assert_eq!(brotli_window(0), 10);
        assert_eq!(brotli_window(1000), 10);
        assert_eq!(brotli_window((1 << 18) - 16), 18);
        assert_eq!(brotli_window(1 << 18), 19);
        assert_eq!(brotli_window(50 << 20), 22);
        // A feed of repeated Arabic items: the window that just holds it
        // compresses it as small as the largest does, and it comes back.
        let body: Vec<u8> = (0..3000)
            .flat_map(|i| {
                format!("<entry><title>خبر رقم {i} عن وزارة الصحة</title></entry>\n").into_bytes()
            })
            .collect();
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let r = Rendered::new(body.clone(), t, Format::Atom);
        let mut wide = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: BROTLI_QUALITY,
            lgwin: 22,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &body[..], &mut wide, &params).unwrap();
        assert!(
            r.br.len() <= wide.len() + wide.len() / 100,
            "{} vs {}",
            r.br.len(),
            wide.len()
        );
        let mut back = Vec::new();
        brotli_decompressor::BrotliDecompress(&mut &r.br[..], &mut back).unwrap();
        assert_eq!(back, body);
    }
}
