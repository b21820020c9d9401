//! `handbook::settle_thread_count` fixes the local model's thread count once, as candle would
//! choose it, and leaves an operator's own `RAYON_NUM_THREADS` alone. It changes the process
//! environment, so it is tested in a binary of its own, with one test: nothing else runs
//! beside it.
#![cfg(feature = "local-embeddings")]

#[test]
fn the_thread_count_is_candles_own_choice_and_an_operators_setting_wins() {
    std::env::remove_var("RAYON_NUM_THREADS");
    // What candle chooses by itself (from the processor's cores) while nothing is set.
    let chosen = candle_core::utils::get_num_threads();
    assert!(chosen >= 1);

    coordinator::handbook::settle_thread_count();
    assert_eq!(
        std::env::var("RAYON_NUM_THREADS").as_deref(),
        Ok(chosen.to_string().as_str())
    );
    assert_eq!(candle_core::utils::get_num_threads(), chosen);

    std::env::set_var("RAYON_NUM_THREADS", "7");
    coordinator::handbook::settle_thread_count();
    assert_eq!(std::env::var("RAYON_NUM_THREADS").as_deref(), Ok("7"));
    assert_eq!(candle_core::utils::get_num_threads(), 7);
}
