//! Property tests: parsers never panic, formatting round-trips, and the allocator's invariants
//! hold after any sequence of operations.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::category::{Category, CategorySet};
use crate::context::{Context, ContextField, Identifier};
use crate::mcs::{McsAllocator, McsError, McsSpan};
use crate::mls::{Level, Range, Relation, Sensitivity};

fn category() -> impl Strategy<Value = Category> {
    (0u16..1024).prop_map(|n| Category::new(n).expect("below 1024"))
}

fn category_set() -> impl Strategy<Value = CategorySet> {
    prop_oneof![
        prop::collection::vec(category(), 0..12).prop_map(|v| v.into_iter().collect()),
        (category(), category()).prop_map(|(a, b)| CategorySet::span(a.min(b), a.max(b))),
    ]
}

fn level() -> impl Strategy<Value = Level> {
    ((0u16..16), category_set())
        .prop_map(|(s, cats)| Level::new(Sensitivity::new(s).expect("below 16"), cats))
}

fn range() -> impl Strategy<Value = Range> {
    (level(), level()).prop_map(|(a, b)| {
        let high = Level::new(
            a.sensitivity.max(b.sensitivity),
            a.categories.union(&b.categories),
        );
        Range::new(a, high).expect("the join dominates both")
    })
}

fn identifier(field: ContextField) -> impl Strategy<Value = Identifier> {
    "[a-z_][a-z0-9_.-]{0,20}".prop_map(move |s| Identifier::new(field, &s).expect("valid name"))
}

fn context() -> impl Strategy<Value = Context> {
    (
        identifier(ContextField::User),
        identifier(ContextField::Role),
        identifier(ContextField::Type),
        prop::option::of(range()),
    )
        .prop_map(|(u, r, t, range)| Context::new(u, r, t, range))
}

/// Text made mostly of the characters labels are made of, to reach deep into the parsers.
fn label_like() -> impl Strategy<Value = String> {
    "[sc0-9:.,_a-z-]{0,40}"
}

proptest! {
    #[test]
    fn parsers_never_panic(text in any::<String>(), near in label_like()) {
        for t in [&text, &near] {
            let _ = t.parse::<Context>();
            let _ = t.parse::<Range>();
            let _ = t.parse::<Level>();
            let _ = t.parse::<CategorySet>();
            let _ = Context::type_of(t);
            let _ = McsSpan::from_context_str(t);
        }
    }

    #[test]
    fn category_sets_round_trip(set in category_set()) {
        let text = set.to_string();
        if set.is_empty() {
            prop_assert!(text.is_empty());
        } else {
            let parsed: CategorySet = text.parse().unwrap();
            prop_assert_eq!(parsed, set);
            prop_assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn contexts_round_trip(ctx in context()) {
        let text = ctx.to_string();
        let parsed: Context = text.parse().unwrap();
        prop_assert_eq!(&parsed, &ctx);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parse_then_format_is_canonical(near in label_like()) {
        // Whatever parses formats to a string that parses to the same value and formats to itself.
        if let Ok(range) = near.parse::<Range>() {
            let text = range.to_string();
            prop_assert_eq!(text.parse::<Range>().unwrap(), range);
            prop_assert_eq!(text.parse::<Range>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn dominance_is_a_partial_order(a in level(), b in level(), c in level()) {
        prop_assert!(a.dom(&a));
        if a.dom(&b) && b.dom(&a) {
            prop_assert_eq!(a, b);
        }
        if a.dom(&b) && b.dom(&c) {
            prop_assert!(a.dom(&c));
        }
        let expected = match (a.dom(&b), a.domby(&b)) {
            (true, true) => Relation::Equal,
            (true, false) => Relation::Dominates,
            (false, true) => Relation::DominatedBy,
            (false, false) => Relation::Incomparable,
        };
        prop_assert_eq!(a.compare(&b), expected);
        prop_assert_eq!(a.incomp(&b), expected == Relation::Incomparable);
    }

    #[test]
    fn ranges_contain_their_levels(r in range(), l in level()) {
        prop_assert!(r.contains_level(r.low()));
        prop_assert!(r.contains_level(r.high()));
        prop_assert!(r.contains(&r));
        prop_assert_eq!(r.contains_level(&l), r.contains(&Range::single(l)));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Allocate,
    Reserve(Level),
    /// Release the live label at this position (modulo the number live), or a stranger.
    Release(usize),
    ReleaseStranger(Level),
}

/// Levels near the test span `c10.c21` at s0 (some outside it, some at s1), so that reservations
/// overlap allocated pairs often.
fn nearby_level() -> impl Strategy<Value = Level> {
    let cat = (6u16..26).prop_map(|n| Category::new(n).expect("small"));
    (
        prop_oneof![9 => Just(0u16), 1 => Just(1u16)],
        prop::collection::vec(cat, 0..5),
    )
        .prop_map(|(s, cats)| {
            Level::new(
                Sensitivity::new(s).expect("small"),
                cats.into_iter().collect(),
            )
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Allocate),
        2 => nearby_level().prop_map(Op::Reserve),
        3 => any::<usize>().prop_map(Op::Release),
        1 => nearby_level().prop_map(Op::ReleaseStranger),
    ]
}

fn test_span() -> McsSpan {
    McsSpan::new(
        Sensitivity::S0,
        Category::new(10).expect("small"),
        Category::new(21).expect("small"),
    )
    .expect("12 categories")
}

/// Every pair of the span, by brute force.
fn all_pairs(span: &McsSpan) -> Vec<Level> {
    let cats: Vec<Category> = span.as_level().categories.iter().collect();
    let mut out = Vec::new();
    for (i, a) in cats.iter().enumerate() {
        for b in &cats[i + 1..] {
            out.push(Level::new(
                span.sensitivity(),
                [*a, *b].into_iter().collect(),
            ));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn allocator_keeps_live_labels_isolated(ops in prop::collection::vec(op(), 1..120), seed in any::<u64>()) {
        let span = test_span();
        let mut alloc = McsAllocator::new(span);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut live: Vec<Level> = Vec::new();
        for op in ops {
            match op {
                Op::Allocate => match alloc.allocate(&mut rng) {
                    Ok(level) => {
                        prop_assert_eq!(level.categories.len(), 2);
                        prop_assert!(span.as_level().dom(&level));
                        prop_assert_eq!(level.sensitivity, span.sensitivity());
                        live.push(level);
                    }
                    Err(McsError::Exhausted { .. }) => prop_assert_eq!(alloc.free(), 0),
                    Err(other) => prop_assert!(false, "unexpected {other}"),
                },
                Op::Reserve(level) => {
                    let clash = live.iter().any(|l| l.comparable(&level));
                    let unisolated = level.categories.is_empty() && level.sensitivity <= span.sensitivity();
                    match alloc.reserve(&level) {
                        Ok(()) => {
                            prop_assert!(!clash && !unisolated);
                            live.push(level);
                        }
                        Err(_) => prop_assert!(clash || unisolated),
                    }
                }
                Op::Release(i) => {
                    if !live.is_empty() {
                        let level = live.swap_remove(i % live.len());
                        alloc.release(&level).unwrap();
                    }
                }
                Op::ReleaseStranger(level) => {
                    let known = live.contains(&level);
                    prop_assert_eq!(alloc.release(&level).is_ok(), known);
                    if known {
                        live.retain(|l| *l != level);
                    }
                }
            }
            // No two live labels are comparable (for one sensitivity: no subset relation).
            for (i, a) in live.iter().enumerate() {
                for b in &live[i + 1..] {
                    prop_assert!(a.incomp(b), "{a} and {b} are both live");
                }
            }
            // The allocator agrees with the model on what is live and on what is still free.
            let mut reported: Vec<Level> = alloc.live().collect();
            reported.sort_by_key(|l| l.to_string());
            let mut expected = live.clone();
            expected.sort_by_key(|l| l.to_string());
            prop_assert_eq!(reported, expected);
            let free = all_pairs(&span)
                .into_iter()
                .filter(|p| live.iter().all(|l| l.incomp(p)))
                .count();
            prop_assert_eq!(alloc.free(), free);
        }
    }
}
