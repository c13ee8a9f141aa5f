//! How an item is laid out as a sled value.
//!
//! An item is its JSON (`model::Item` through serde), compressed with LZ4:
//! one tag byte (`LZ4_JSON`), the JSON's length (4 bytes, little-endian),
//! then the LZ4 block. Items are mostly text — the story's shown copy and
//! each outlet's own copy, which repeat one another — and compress 2.5 to 3
//! times; sled rewrites a leaf with all its values whenever it consolidates
//! it, so the bytes saved are saved again on every rewrite.
//!
//! Why LZ4: it costs a few microseconds an item to write and less to read,
//! where deflate or zstd, compressing a little better, would add tens of
//! microseconds to every ingest and every item an output renders.
//!
//! A value that starts with `{` is a plain JSON item, as schema version 2
//! wrote them: still read, so that a store is usable while `open` rewrites
//! its items (see `open::upgrade_v2`), and rewritten in the new form the
//! next time it is saved.

use crate::model::Item;

/// The tag of an LZ4-compressed JSON item.
const LZ4_JSON: u8 = 1;

/// An item's value, larger than this once decompressed, is damaged: no
/// feed item comes near it (fetches are capped well below).
const MAX_ITEM_BYTES: usize = 64 << 20;

/// The value stored for `item`.
pub(crate) fn encode_item(item: &Item) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(item).map_err(|e| format!("item {}: {e}", item.id))?;
    Ok(encode_json(&json))
}

/// An item's JSON as stored.
pub(crate) fn encode_json(json: &[u8]) -> Vec<u8> {
    let bound = lz4_flex::block::get_maximum_output_size(json.len());
    let mut out = vec![0u8; 5 + bound];
    out[0] = LZ4_JSON;
    // `json.len()` fits: items are read from fetched bodies, which are
    // capped far below 4 GiB; saturating keeps a bad length decodable as
    // an error rather than a panic.
    let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
    out[1..5].copy_from_slice(&len.to_le_bytes());
    match lz4_flex::block::compress_into(json, &mut out[5..]) {
        Ok(n) => {
            out.truncate(5 + n);
            out
        }
        // The output was sized by the bound the compressor gives, so this
        // does not happen; plain JSON is a valid value all the same.
        Err(_) => json.to_vec(),
    }
}

/// The JSON of an item value: decompressed, or as it is when stored plain.
pub(crate) fn item_json(value: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    match value.first() {
        Some(&LZ4_JSON) => {
            let len = value
                .get(1..5)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| u32::from_le_bytes(b) as usize)
                .ok_or("truncated compressed value")?;
            let block = &value[5..];
            // LZ4 expands a block 255 times at most: a larger claim is
            // damage, and must not become a huge allocation.
            if len > MAX_ITEM_BYTES || len > block.len().saturating_mul(255).saturating_add(16) {
                return Err(format!(
                    "compressed value claims {len} bytes from {} stored",
                    block.len()
                ));
            }
            let mut out = vec![0u8; len];
            match lz4_flex::block::decompress_into(block, &mut out) {
                Ok(n) if n == len => Ok(std::borrow::Cow::Owned(out)),
                Ok(n) => Err(format!("compressed value holds {n} bytes, not {len}")),
                Err(e) => Err(format!("compressed value: {e}")),
            }
        }
        Some(b'{') => Ok(std::borrow::Cow::Borrowed(value)),
        Some(b) => Err(format!("unknown value tag {b:#04x}")),
        None => Err("empty value".into()),
    }
}

/// The item a stored value holds.
pub(crate) fn decode_item(value: &[u8]) -> Result<Item, String> {
    let json = item_json(value)?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

/// Whether a value is in the form this rafid writes.
pub(crate) fn is_current(value: &[u8]) -> bool {
    value.first() == Some(&LZ4_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ItemId;

    fn item() -> Item {
        let mut item = Item::of_copy(
            ItemId([3; 16]),
            chrono::DateTime::UNIX_EPOCH,
            crate::store::shown::tests::feed("https://example.org/feed"),
        );
        item.title = Some("وصول طائرة الإغاثة الرابعة إلى عدن".into());
        item.content = Some("<p>وصلت طائرة الإغاثة الرابعة إلى مطار عدن</p>".repeat(20));
        item
    }

    #[test]
    fn items_come_back_as_they_went_and_smaller() {
        let item = item();
        let value = encode_item(&item).unwrap();
        let json = serde_json::to_vec(&item).unwrap();
        assert!(is_current(&value));
        assert!(
            value.len() * 3 < json.len(),
            "{} of {}",
            value.len(),
            json.len()
        );
        assert_eq!(decode_item(&value).unwrap(), item);
    }

    #[test]
    fn plain_json_of_the_older_schema_is_read() {
        let item = item();
        let json = serde_json::to_vec(&item).unwrap();
        assert!(!is_current(&json));
        assert_eq!(decode_item(&json).unwrap(), item);
    }

    #[test]
    fn damaged_values_are_errors_not_panics_or_huge_allocations() {
        let value = encode_item(&item()).unwrap();
        let mut lying = value.clone();
        lying[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_item(&lying).unwrap_err().contains("claims"));
        assert!(decode_item(&value[..value.len() / 2]).is_err());
        assert!(decode_item(&value[..3]).is_err());
        assert!(decode_item(&[]).is_err());
        assert!(decode_item(&[9, 1, 2]).unwrap_err().contains("tag"));
        let mut flipped = value.clone();
        for b in flipped.iter_mut().skip(5).step_by(7) {
            *b ^= 0x5a;
        }
        let _ = decode_item(&flipped);
    }
}
