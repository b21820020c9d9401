//! Links the `coordinator` binary as a position-dependent executable.
//!
//! A position-independent executable is relocated by the loader at every start: for this binary
//! that is about 420,000 relocations, read from 10 MB of `.rela.dyn` and written into 7 MB of
//! `.data.rel.ro`, which then stays resident as private memory of every process (the idle
//! service held 19.6 MiB of the binary's read-only pages, 7.1 MiB of them private). Linked at a
//! fixed address there is nothing to relocate and those pages are read only when used. The code
//! is still compiled position-independent, so nothing else changes; what is given up is address
//! randomization of the binary's own image (shared libraries, heap and stacks stay randomized).
//! Tests and benchmarks are linked as before.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
