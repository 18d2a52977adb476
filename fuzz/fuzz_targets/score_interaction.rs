//! Bytes as a `servscore.v1.PreviewScoreRequest`: decode, validate, score, encode.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    servscore::fuzzing::score_interaction(data);
});
