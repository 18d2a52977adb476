//! Bytes as a `servscore.v1.Standard`: decode, validate, compile, score with every cell.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    servscore::fuzzing::validate_standard(data);
});
