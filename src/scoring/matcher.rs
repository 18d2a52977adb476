//! Phrase matching over turn text: Unicode-normalised (NFKC, then full case folding), every
//! phrase of a standard at once with one Aho-Corasick automaton built per standard. A phrase
//! that starts (ends) with a letter or digit of a space-separated script matches only where a
//! word starts (ends); CJK phrases match anywhere. Spans are reported in characters of the
//! original text.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;
use icu_casemap::CaseMapper;
use icu_casemap::CaseMapperBorrowed;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;
use writeable::Writeable;

use crate::domain::standard::PhraseSet;

const CASE_MAPPER: CaseMapperBorrowed<'static> = CaseMapper::new();

/// Scripts written without spaces between words: phrases in them match anywhere, and their
/// characters are not "word characters" for the boundary check of Latin phrases.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF       // Thai, Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1100..=0x11FF     // Hangul Jamo
        | 0x1780..=0x17FF     // Khmer
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3100..=0x318F     // Bopomofo, Hangul compatibility Jamo
        | 0x31F0..=0x31FF     // Katakana extensions
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x3FFFF) // CJK extensions B and later
}

/// A character that continues a word of a space-separated script.
fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() || c == '_') && !is_unspaced_script(c)
}

/// A text after normalisation, with the map back to the original.
pub struct NormalizedText<'a> {
    original: &'a str,
    text: String,
    /// `(normalised byte, original char, original byte)` at the start of each segment, plus
    /// a sentinel at the end; empty when the text is ASCII (offsets are then the same).
    segments: Vec<(u32, u32, u32)>,
}

impl<'a> NormalizedText<'a> {
    /// Normalises `original`.
    pub fn new(original: &'a str) -> Self {
        if original.is_ascii() {
            return Self {
                original,
                text: original.to_ascii_lowercase(),
                segments: Vec::new(),
            };
        }
        let mut text = String::with_capacity(original.len() + original.len() / 8);
        let mut segments = Vec::with_capacity(original.len() / 2);
        let mut scratch = String::new();
        let mut chars = original.char_indices().enumerate().peekable();
        while let Some((char_index, (byte_index, first))) = chars.next() {
            segments.push((text.len() as u32, char_index as u32, byte_index as u32));
            let mut end = byte_index + first.len_utf8();
            while let Some(&(_, (next_byte, next))) = chars.peek() {
                // Below U+0300 and in the unified ideographs every character is a starter
                // (combining class 0): no table lookup for most of a Chinese or Latin text.
                let code = next as u32;
                if code < 0x300
                    || (0x4E00..=0x9FFF).contains(&code)
                    || canonical_combining_class(next) == 0
                {
                    break;
                }
                end = next_byte + next.len_utf8();
                chars.next();
            }
            let segment = &original[byte_index..end];
            if segment.len() == 1 {
                // An ASCII character on its own: NFKC leaves it, case folding lowercases it.
                text.push(first.to_ascii_lowercase());
                continue;
            }
            if segment.len() == first.len_utf8() && (0x4E00..=0x9FFF).contains(&(first as u32)) {
                // Unified ideographs are stable under NFKC and case folding.
                text.push(first);
                continue;
            }
            scratch.clear();
            scratch.extend(segment.nfkc());
            CASE_MAPPER
                .fold(&scratch)
                .write_to(&mut text)
                .expect("writing to a String");
        }
        segments.push((
            text.len() as u32,
            original.chars().count() as u32,
            original.len() as u32,
        ));
        Self {
            original,
            text,
            segments,
        }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The original `(char start, char end, byte start, byte end)` covering normalised bytes
    /// `start..end`.
    fn original_span(&self, start: usize, end: usize) -> (usize, usize, usize, usize) {
        if self.segments.is_empty() {
            return (start, end, start, end);
        }
        let segment_of = |byte: usize| {
            self.segments
                .partition_point(|&(normalized, _, _)| normalized as usize <= byte)
                - 1
        };
        let first = self.segments[segment_of(start)];
        let last = self.segments[segment_of(end.saturating_sub(1).max(start)) + 1];
        (
            first.1 as usize,
            last.1 as usize,
            first.2 as usize,
            last.2 as usize,
        )
    }

    /// The original text of a span, shortened to `max_chars`.
    pub fn original_snippet(&self, byte_start: usize, byte_end: usize, max_chars: usize) -> String {
        self.original[byte_start..byte_end]
            .chars()
            .take(max_chars)
            .collect()
    }
}

/// Normalises a phrase the way texts are normalised.
pub fn normalize_phrase(phrase: &str) -> String {
    NormalizedText::new(phrase).text.trim().to_owned()
}

/// A phrase found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseMatch {
    /// Index of the phrase set.
    pub set: usize,
    /// Index of the phrase within its set.
    pub phrase: usize,
    /// Start, in characters of the original text.
    pub start: usize,
    /// End (exclusive), in characters of the original text.
    pub end: usize,
    /// The matched original text (at most 64 characters).
    pub snippet: String,
}

/// Longest snippet kept as evidence, in characters.
pub const SNIPPET_CHARS: usize = 64;

struct Pattern {
    /// Every (set, phrase) with this normalised text.
    owners: Vec<(usize, usize)>,
    word_start: bool,
    word_end: bool,
}

/// Every phrase of a standard in one automaton.
pub struct PhraseMatcher {
    automaton: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
}

impl PhraseMatcher {
    /// Builds the automaton over the phrases of `phrase_sets` (validated: no phrase normalises
    /// to an empty string).
    pub fn new(phrase_sets: &[PhraseSet]) -> Self {
        let mut by_text: HashMap<String, usize> = HashMap::new();
        let mut texts: Vec<String> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        for (set_index, set) in phrase_sets.iter().enumerate() {
            for (phrase_index, phrase) in set.phrases.iter().enumerate() {
                let normalized = normalize_phrase(&phrase.text);
                if normalized.is_empty() {
                    continue;
                }
                let pattern = *by_text.entry(normalized.clone()).or_insert_with(|| {
                    let first = normalized.chars().next().expect("not empty");
                    let last = normalized.chars().next_back().expect("not empty");
                    patterns.push(Pattern {
                        owners: Vec::new(),
                        word_start: is_word_char(first),
                        word_end: is_word_char(last),
                    });
                    texts.push(normalized);
                    patterns.len() - 1
                });
                patterns[pattern].owners.push((set_index, phrase_index));
            }
        }
        let automaton = (!texts.is_empty())
            .then(|| AhoCorasick::new(&texts).expect("phrase automaton within size limits"));
        Self {
            automaton,
            patterns,
        }
    }

    /// Every occurrence of every phrase in `text` (overlapping ones included), by start.
    pub fn find_all(&self, text: &str) -> Vec<PhraseMatch> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        if text.is_empty() {
            return Vec::new();
        }
        let normalized = NormalizedText::new(text);
        let haystack = normalized.as_str();
        let mut found = Vec::new();
        for hit in automaton.find_overlapping_iter(haystack) {
            let pattern = &self.patterns[hit.pattern().as_usize()];
            if pattern.word_start
                && haystack[..hit.start()]
                    .chars()
                    .next_back()
                    .is_some_and(is_word_char)
            {
                continue;
            }
            if pattern.word_end
                && haystack[hit.end()..]
                    .chars()
                    .next()
                    .is_some_and(is_word_char)
            {
                continue;
            }
            let (start, end, byte_start, byte_end) =
                normalized.original_span(hit.start(), hit.end());
            let snippet = normalized.original_snippet(byte_start, byte_end, SNIPPET_CHARS);
            for &(set, phrase) in &pattern.owners {
                found.push(PhraseMatch {
                    set,
                    phrase,
                    start,
                    end,
                    snippet: snippet.clone(),
                });
            }
        }
        found.sort_by_key(|found| (found.start, found.end, found.set, found.phrase));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normalisation without fast paths: NFKC then case folding of every segment (a
    /// starter and the combining marks after it).
    fn reference(original: &str) -> String {
        let mut out = String::new();
        let mut segments: Vec<String> = Vec::new();
        for ch in original.chars() {
            match segments.last_mut() {
                Some(segment) if canonical_combining_class(ch) != 0 => segment.push(ch),
                _ => segments.push(ch.to_string()),
            }
        }
        for segment in segments {
            let nfkc: String = segment.nfkc().collect();
            CASE_MAPPER
                .fold(&nfkc)
                .write_to(&mut out)
                .expect("writing to a String");
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_normalise_like_the_reference(
            text in proptest::collection::vec(
                proptest::sample::select(vec![
                    "A", "z", " ", "!", "Hi", "é", "e\u{301}", "\u{301}", "İ", "ß", "ﬁ",
                    "Ｈｅｌｌｏ", "，", "。", "\u{3000}", "您好", "谢谢", "ｶ", "\u{1100}\u{1161}",
                    "Σ", "ǅ", "①", "\u{2126}",
                ]),
                0..24,
            )
        ) {
            let text = text.concat();
            let normalized = NormalizedText::new(&text);
            proptest::prop_assert_eq!(normalized.as_str(), reference(&text));
        }
    }
    use crate::domain::standard::Phrase;

    fn sets(phrases: &[&[&str]]) -> Vec<PhraseSet> {
        phrases
            .iter()
            .enumerate()
            .map(|(index, texts)| PhraseSet {
                id: format!("set{index}"),
                phrases: texts
                    .iter()
                    .map(|text| Phrase {
                        text: (*text).to_owned(),
                        critical: false,
                        points: None,
                    })
                    .collect(),
            })
            .collect()
    }

    fn spans(matcher: &PhraseMatcher, text: &str) -> Vec<(usize, usize, usize, String)> {
        matcher
            .find_all(text)
            .into_iter()
            .map(|found| (found.set, found.start, found.end, found.snippet))
            .collect()
    }

    #[test]
    fn latin_phrases_match_on_word_boundaries_only() {
        let matcher = PhraseMatcher::new(&sets(&[&["hi"]]));
        assert!(
            spans(&matcher, "this is thin").is_empty(),
            "hi inside this/thin"
        );
        assert_eq!(
            spans(&matcher, "Hi, there"),
            vec![(0, 0, 2, "Hi".to_owned())]
        );
        assert_eq!(spans(&matcher, "oh hi!"), vec![(0, 3, 5, "hi".to_owned())]);
        assert!(
            spans(&matcher, "hi_there").is_empty(),
            "underscore continues a word"
        );
    }

    #[test]
    fn cjk_phrases_match_anywhere_and_next_to_latin() {
        let matcher = PhraseMatcher::new(&sets(&[&["您好"], &["hello"]]));
        assert_eq!(
            spans(&matcher, "张先生您好，请问"),
            vec![(0, 3, 5, "您好".to_owned())]
        );
        // A Latin phrase touching Chinese text is at a word boundary.
        assert_eq!(
            spans(&matcher, "hello您好"),
            vec![(1, 0, 5, "hello".to_owned()), (0, 5, 7, "您好".to_owned())]
        );
    }

    #[test]
    fn full_width_and_case_are_normalised_and_spans_point_into_the_original() {
        let matcher = PhraseMatcher::new(&sets(&[&["sorry"], &["ok"]]));
        // Full-width Latin letters fold to ASCII; the span counts original characters.
        assert_eq!(
            spans(&matcher, "非常ＳＯＲＲＹ!"),
            vec![(0, 2, 7, "ＳＯＲＲＹ".to_owned())]
        );
        // The "ﬀ"-style ligature and Ｏ fold too; case folding of ß gives ss.
        let matcher = PhraseMatcher::new(&sets(&[&["strasse"]]));
        assert_eq!(
            spans(&matcher, "Die STRAßE"),
            vec![(0, 4, 10, "STRAßE".to_owned())]
        );
    }

    #[test]
    fn combining_marks_stay_with_their_base_character() {
        let matcher = PhraseMatcher::new(&sets(&[&["café"]]));
        // "cafe" + U+0301 composes to "café" under NFKC.
        let decomposed = "un cafe\u{301} noir";
        assert_eq!(
            spans(&matcher, decomposed),
            vec![(0, 3, 8, "cafe\u{301}".to_owned())]
        );
    }

    #[test]
    fn overlapping_and_shared_phrases_are_all_reported() {
        let matcher = PhraseMatcher::new(&sets(&[&["满意"], &["不满意"], &["满意"]]));
        let found = spans(&matcher, "我很不满意");
        assert_eq!(
            found,
            vec![
                (1, 2, 5, "不满意".to_owned()),
                (0, 3, 5, "满意".to_owned()),
                (2, 3, 5, "满意".to_owned()),
            ]
        );
    }
}
