//! The tick schedule has no ordering ambiguity: every pair of systems that touch the same
//! data runs in a fixed order, so a run cannot depend on executor scheduling.

use std::path::Path;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings};
use dealersim::Simulation;
use dealersim::scenario::parse_scenario;
use dealersim::schedule::{TickPhase, tick_schedule};

fn strict(schedule: &mut Schedule) {
    schedule.set_build_settings(ScheduleBuildSettings {
        ambiguity_detection: LogLevel::Error,
        ..Default::default()
    });
}

fn paper() -> Simulation {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/paper.ron"))
        .expect("paper.ron");
    let scenario = parse_scenario(&text, Path::new("paper.ron")).expect("paper.ron parses");
    Simulation::new(&scenario).expect("valid")
}

/// Every bundled mechanism's systems, with the shared market's, in the tick.
#[test]
fn the_full_tick_has_no_ordering_ambiguity() {
    if let Err(error) = paper().check_schedule() {
        panic!("ambiguous tick schedule: {error}");
    }
}

#[test]
fn phase_timers_add_no_ambiguity_and_time_every_phase() {
    use dealersim::schedule::{PhaseTimes, install_phase_timers};
    let mut sim = paper();
    sim.enable_phase_timers();
    if let Err(error) = sim.check_schedule() {
        panic!("ambiguous timed schedule: {error}");
    }
    // On an empty world with only the timers, the laps still add up to a (tiny) time.
    let mut timers_only = tick_schedule(0);
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
    let mut schedule = tick_schedule(1);
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
    let mut schedule = tick_schedule(1);
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

/// Two mechanisms writing the same resource in one phase are ordered by their index in
/// the scenario (their sub-sets are chained), so they are not ambiguous.
#[test]
fn mechanisms_run_in_scenario_order_within_a_phase() {
    use dealersim::schedule::MechanismSet;
    let mut schedule = tick_schedule(2);
    let set = |mechanism| MechanismSet {
        phase: TickPhase::Reward,
        mechanism,
    };
    // Added in reverse so that only the set ordering can put them right.
    schedule.add_systems(double.in_set(set(1)));
    schedule.add_systems(bump.in_set(set(0)));
    strict(&mut schedule);
    let mut world = World::new();
    world.init_resource::<Counter>();
    assert!(schedule.initialize(&mut world).is_ok());
    schedule.run(&mut world);
    assert_eq!(
        world.resource::<Counter>().0,
        2,
        "bump (mechanism 0), then double"
    );
}
