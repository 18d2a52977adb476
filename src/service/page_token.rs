//! Opaque, stable AIP-158 page tokens: the position after the last item, bound to the request's
//! filters so a token cannot be replayed against a different query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::convert::InvalidArgument;

const FINGERPRINT_BYTES: usize = 8;

/// Encodes a position (`parts`) for a query with the given filter fingerprint.
pub fn encode(filters: &str, parts: &[&str]) -> String {
    let mut bytes = blake3::hash(filters.as_bytes()).as_bytes()[..FINGERPRINT_BYTES].to_vec();
    bytes.extend_from_slice(parts.join("\u{0}").as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a token of a query with the given filter fingerprint; an empty token is the first
/// page (`None`).
pub fn decode(
    filters: &str,
    token: &str,
    field: &str,
) -> Result<Option<Vec<String>>, InvalidArgument> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        InvalidArgument::field(
            field,
            "is not a page token of this query (use next_page_token unchanged, with the same filters)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if bytes.len() < FINGERPRINT_BYTES
        || bytes[..FINGERPRINT_BYTES]
            != blake3::hash(filters.as_bytes()).as_bytes()[..FINGERPRINT_BYTES]
    {
        return Err(invalid());
    }
    let text = String::from_utf8(bytes[FINGERPRINT_BYTES..].to_vec()).map_err(|_| invalid())?;
    Ok(Some(text.split('\u{0}').map(str::to_owned).collect()))
}

/// The page size of a request: 0 means `default`; more than `max` is capped.
pub fn page_size(
    requested: i32,
    default: usize,
    max: usize,
    field: &str,
) -> Result<usize, InvalidArgument> {
    match requested {
        0 => Ok(default),
        size if size < 0 => Err(InvalidArgument::field(field, "must not be negative")),
        size => Ok((size as usize).min(max)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_filters() {
        let token = encode("staff=alice", &["2026-11-23", "chat-9"]);
        assert_eq!(
            decode("staff=alice", &token, "page_token").unwrap(),
            Some(vec!["2026-11-23".to_owned(), "chat-9".to_owned()])
        );
        assert!(decode("staff=bob", &token, "page_token").is_err());
        assert!(decode("staff=alice", "garbage!", "page_token").is_err());
        assert_eq!(decode("x", "", "page_token").unwrap(), None);
    }
}
