//! Compiles the C bridge to libjpeg's decompression API (and the test encoder beside it) against
//! the headers of the libjpeg-turbo that turbojpeg-sys builds; the symbols come from that same
//! static library, so the binary carries one copy of libjpeg-turbo.

fn main() {
    let dir = "src/jobs/resize/decode/jpeg";
    let sources = [format!("{dir}/libjpeg_bridge.c"), format!("{dir}/libjpeg_test_encoder.c")];
    // turbojpeg-sys declares `links = "turbojpeg"` and prints its install prefix's include dir.
    let include = std::env::var("DEP_TURBOJPEG_INCLUDE").expect("turbojpeg-sys exports its include directory");
    let mut build = cc::Build::new();
    for dir in include.split(',') {
        build.include(dir);
    }
    build.files(&sources).warnings(true).flag_if_supported("-fvisibility=hidden").compile("ferry_libjpeg");
    for source in &sources {
        println!("cargo:rerun-if-changed={source}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
