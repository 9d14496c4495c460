//! The tick schedule has no ordering ambiguity: every pair of systems that touch the same
//! data runs in a fixed order, so a run cannot depend on executor scheduling.

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings};
use dealersim::mechanisms::dealer_market;
use dealersim::output;
use dealersim::schedule::{TickPhase, tick_schedule};

fn strict(schedule: &mut Schedule) {
    schedule.set_build_settings(ScheduleBuildSettings {
        ambiguity_detection: LogLevel::Error,
        ..Default::default()
    });
}

#[test]
fn the_full_tick_has_no_ordering_ambiguity() {
    let mut schedule = tick_schedule();
    dealer_market::install(&mut schedule);
    output::install(&mut schedule);
    strict(&mut schedule);
    let mut world = World::new();
    if let Err(error) = schedule.initialize(&mut world) {
        panic!(
            "ambiguous tick schedule: {}",
            error.to_string(schedule.graph(), &world)
        );
    }
}

#[test]
fn phase_timers_add_no_ambiguity_and_time_every_phase() {
    use dealersim::schedule::{PhaseTimes, install_phase_timers};
    let mut schedule = tick_schedule();
    dealer_market::install(&mut schedule);
    output::install(&mut schedule);
    install_phase_timers(&mut schedule);
    strict(&mut schedule);
    let mut world = World::new();
    if let Err(error) = schedule.initialize(&mut world) {
        panic!(
            "ambiguous timed schedule: {}",
            error.to_string(schedule.graph(), &world)
        );
    }
    // On an empty world with only the timers, the laps still add up to a (tiny) time.
    let mut timers_only = tick_schedule();
    install_phase_timers(&mut timers_only);
    let mut world = World::new();
    world.init_resource::<PhaseTimes>();
    timers_only.run(&mut world);
    let total: std::time::Duration = world.resource::<PhaseTimes>().totals.iter().sum();
    assert!(total > std::time::Duration::ZERO);
}

#[derive(Resource, Default)]
struct Counter(u32);

fn bump(mut counter: ResMut<Counter>) {
    counter.0 += 1;
}

fn double(mut counter: ResMut<Counter>) {
    counter.0 *= 2;
}

/// The check above would catch a mistake: two unordered writers in one phase are reported.
#[test]
fn an_unordered_pair_in_one_phase_is_reported() {
    let mut schedule = tick_schedule();
    schedule.add_systems((bump, double).in_set(TickPhase::Reward));
    strict(&mut schedule);
    let mut world = World::new();
    world.init_resource::<Counter>();
    assert!(schedule.initialize(&mut world).is_err());
}

/// Phases run in the documented order.
#[test]
fn phases_run_in_order() {
    #[derive(Resource, Default)]
    struct Seen(Vec<TickPhase>);
    let mut schedule = tick_schedule();
    let phases = TickPhase::ALL;
    // Added in reverse so that only the set ordering can put them right.
    for phase in phases.into_iter().rev() {
        schedule.add_systems((move |mut seen: ResMut<Seen>| seen.0.push(phase)).in_set(phase));
    }
    let mut world = World::new();
    world.init_resource::<Seen>();
    schedule.run(&mut world);
    assert_eq!(world.resource::<Seen>().0, phases);
}
