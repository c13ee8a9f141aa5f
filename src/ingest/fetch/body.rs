//! A response body read within a byte limit, its `Content-Encoding`
//! (gzip, zlib, deflate, brotli) decoded as it arrives, so that neither the
//! bytes read nor the bytes they decompress to can pass the limit.

/// A `Write` that keeps at most `limit` bytes and fails past them: the
/// decompressors write into it, so a bomb stops as soon as its output
/// passes the limit, whatever the size of the chunk that set it off.
struct LimitedSink {
    buf: Vec<u8>,
    limit: u64,
}

impl std::io::Write for LimitedSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.limit {
            return Err(std::io::Error::other(OVER_LIMIT));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const OVER_LIMIT: &str = "body over the limit";

/// The decoder a `Content-Encoding` calls for, writing into a `LimitedSink`.
/// Decompression is done here rather than by reqwest so that the limit
/// applies both to the bytes read and to the bytes they decompress to.
enum Decoder {
    Identity(LimitedSink),
    Gzip(Box<flate2::write::MultiGzDecoder<LimitedSink>>),
    Zlib(Box<flate2::write::ZlibDecoder<LimitedSink>>),
    Deflate(Box<flate2::write::DeflateDecoder<LimitedSink>>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<LimitedSink>>),
}

impl Decoder {
    fn new(encoding: &str, sink: LimitedSink, first: &[u8]) -> Option<Decoder> {
        Some(match encoding.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Decoder::Identity(sink),
            "gzip" | "x-gzip" => Decoder::Gzip(Box::new(flate2::write::MultiGzDecoder::new(sink))),
            // "deflate" is zlib-wrapped by the standard; some servers send
            // raw deflate. A zlib stream starts with a header whose first
            // byte names method 8 and whose first two bytes are a multiple of 31.
            "deflate" => {
                let zlib = first.len() >= 2
                    && first[0] & 0x0f == 8
                    && (u16::from(first[0]) << 8 | u16::from(first[1])) % 31 == 0;
                if zlib {
                    Decoder::Zlib(Box::new(flate2::write::ZlibDecoder::new(sink)))
                } else {
                    Decoder::Deflate(Box::new(flate2::write::DeflateDecoder::new(sink)))
                }
            }
            "br" => Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                sink,
                64 << 10,
            ))),
            _ => return None,
        })
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        match self {
            Decoder::Identity(w) => w.write_all(data),
            Decoder::Gzip(w) => w.write_all(data),
            Decoder::Zlib(w) => w.write_all(data),
            Decoder::Deflate(w) => w.write_all(data),
            Decoder::Brotli(w) => w.write_all(data),
        }
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        Ok(match self {
            Decoder::Identity(w) => w.buf,
            Decoder::Gzip(w) => w.finish()?.buf,
            Decoder::Zlib(w) => w.finish()?.buf,
            Decoder::Deflate(w) => w.finish()?.buf,
            Decoder::Brotli(w) => {
                w.into_inner()
                    .map_err(|_| std::io::Error::other("truncated brotli stream"))?
                    .buf
            }
        })
    }
}

/// Why a body was abandoned while decoding.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BodyError {
    TooLarge,
    Unsupported(String),
    Corrupt(String),
}

/// A body decoded chunk by chunk, bounded in bytes read and bytes decoded.
pub(super) struct BodyDecoder {
    encoding: String,
    limit: u64,
    read: u64,
    capacity: usize,
    decoder: Option<Decoder>,
}

impl BodyDecoder {
    pub(super) fn new(encoding: &str, limit: u64, capacity: usize) -> BodyDecoder {
        BodyDecoder {
            encoding: encoding.to_string(),
            limit,
            read: 0,
            capacity,
            decoder: None,
        }
    }

    fn fail(&self, e: std::io::Error) -> BodyError {
        // The sink's error may come back wrapped by a decoder.
        if e.to_string().contains(OVER_LIMIT) {
            BodyError::TooLarge
        } else {
            BodyError::Corrupt(format!("cannot decode the {} body: {e}", self.encoding))
        }
    }

    pub(super) fn push(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        self.read += chunk.len() as u64;
        if self.read > self.limit {
            return Err(BodyError::TooLarge);
        }
        if self.decoder.is_none() {
            let sink = LimitedSink {
                buf: Vec::with_capacity(self.capacity),
                limit: self.limit,
            };
            let d = Decoder::new(&self.encoding, sink, chunk)
                .ok_or_else(|| BodyError::Unsupported(self.encoding.clone()))?;
            self.decoder = Some(d);
        }
        match self.decoder.as_mut().map(|d| d.write(chunk)) {
            Some(Err(e)) => Err(self.fail(e)),
            _ => Ok(()),
        }
    }

    pub(super) fn finish(mut self) -> Result<Vec<u8>, BodyError> {
        match self.decoder.take() {
            None => Ok(Vec::new()),
            Some(d) => d.finish().map_err(|e| self.fail(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(encoding: &str, data: &[u8], limit: u64) -> Result<Vec<u8>, BodyError> {
        let mut d = BodyDecoder::new(encoding, limit, 0);
        // In small chunks, as a network delivers them.
        for chunk in data.chunks(7) {
            d.push(chunk)?;
        }
        d.finish()
    }

    #[test]
    fn bodies_are_decoded_within_the_limit() {
        use std::io::Write;
        let text = "<rss><channel><title>خبر</title></channel></rss>".repeat(20);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let zlib = {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let raw = {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        for (enc, data) in [
            ("", text.as_bytes()),
            ("gzip", &gz[..]),
            ("deflate", &zlib[..]),
            ("deflate", &raw[..]),
        ] {
            assert_eq!(
                decode(enc, data, 1 << 20).unwrap(),
                text.as_bytes(),
                "{enc}"
            );
        }
        // "<rss>brotli body</rss>" compressed with brotli.
        let br = [
            139, 10, 128, 60, 114, 115, 115, 62, 98, 114, 111, 116, 108, 105, 32, 98, 111, 100,
            121, 60, 47, 114, 115, 115, 62, 3,
        ];
        assert_eq!(
            decode("br", &br, 1 << 20).unwrap(),
            b"<rss>brotli body</rss>"
        );
        assert!(matches!(
            decode("compress", b"x", 100),
            Err(BodyError::Unsupported(_))
        ));
        assert!(matches!(
            decode("gzip", b"not gzip at all", 100),
            Err(BodyError::Corrupt(_))
        ));
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        use std::io::Write;
        let zeros = vec![0u8; 8 << 20];
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&zeros).unwrap();
            e.finish().unwrap()
        };
        assert!(gz.len() < 64 << 10);
        assert_eq!(decode("gzip", &gz, 1 << 20), Err(BodyError::TooLarge));
        // 8 MiB of zeros in 14 bytes of brotli.
        let br = [
            203, 255, 255, 63, 248, 39, 0, 226, 177, 64, 32, 247, 254, 111,
        ];
        assert_eq!(decode("br", &br, 1 << 20), Err(BodyError::TooLarge));
        assert_eq!(decode("br", &br, 16 << 20).unwrap().len(), 8 << 20);
        // The bytes read count too, not only the bytes decoded.
        assert_eq!(decode("", &[b'x'; 200], 100), Err(BodyError::TooLarge));
    }
}
