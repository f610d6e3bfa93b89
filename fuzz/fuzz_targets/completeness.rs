#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    trailseal_fuzz::completeness::run(data);
});
