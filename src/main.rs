//! The `coordinator` binary: the allocator, then [`coordinator::cli::main`].

use std::process::ExitCode;

/// mimalloc instead of the C library's allocator: with every message allocating its JSON,
/// prompts and rows across the runtime's threads, glibc's malloc, free and consolidation were
/// about a fifth of the service's processor time under load (`perf`, agent turns).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    coordinator::cli::main()
}
