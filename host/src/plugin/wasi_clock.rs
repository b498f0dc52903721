//! WASI clock waits, bounded by the step's deadline.
//!
//! A `wasm32-wasip2` guest can wait without any apirun import: `std::thread::sleep` becomes
//! `wasi:clocks/monotonic-clock.subscribe-duration` followed by a blocking poll, and while the
//! host blocks in that poll the epoch deadline cannot interrupt it (it only fires in wasm
//! code). Left alone, `sleep(1 hour)` would hold a run for an hour whatever the plugin's
//! time limit. These replacements of `subscribe-duration` and `subscribe-instant` refuse a
//! wait that would end after the step's deadline: the call traps at once and the step is
//! reported as timed out, the same as with the `host.sleep` import. Shorter waits behave as
//! in WASI.

use std::time::Duration;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as MonotonicClock;

use super::StepData;

/// The monotonic-clock interface exactly as `wasmtime_wasi::p2::add_to_linker_sync` defines
/// it (wasmtime-wasi 48 implements WASI 0.2.12); guests importing any 0.2.x resolve to it by
/// semver. A test runs a guest that sleeps past its limit, so a wasmtime-wasi upgrade that
/// moves this version cannot silently drop the bound.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Replace the WASI clock subscriptions in `linker` (after the WASI interfaces were added).
pub(super) fn bound_waits(linker: &mut Linker<StepData>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, StepData>, (nanos,): (u64,)| {
            let data = store.data_mut();
            data.check_wait(Duration::from_nanos(nanos), "wait on the WASI clock")?;
            Ok((subscribe_duration(data, nanos)?,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, StepData>, (when,): (u64,)| {
            let data = store.data_mut();
            let now = MonotonicClock::now(&mut data.clocks())?;
            let wait = when.saturating_sub(now);
            data.check_wait(Duration::from_nanos(wait), "wait on the WASI clock")?;
            Ok((subscribe_duration(data, wait)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn subscribe_duration(data: &mut StepData, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
    MonotonicClock::subscribe_duration(&mut data.clocks(), nanos)
}
